"""The OpenAPI document against the API itself: schemathesis generates requests for every
operation from `/openapi.json` and sends them, with an admin's credentials, to the real app
served by Uvicorn on a loopback port (SQLite).

No answer may be a 5xx, and every answer's status code, content type and body must be one the
document declares for that operation. Examples are bounded and derandomized, so the run is the
same every time. Event streams are left out: they do not end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from batonflow.api.app import create_app
from batonflow.settings import Settings
from tests.api.conftest import PASSWORD, core_apps
from tests.api.flows import FAILING, LEAD, OUTREACH

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = hypothesis.settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


def is_stream(operation: object) -> bool:
    definition = getattr(operation, "definition", None)
    responses = getattr(definition, "raw", {}).get("responses", {})
    return any("text/event-stream" in (r.get("content") or {}) for r in responses.values())


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """The API under Uvicorn in a thread of its own, until the test ends."""
    settings = Settings(
        dev=True,
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'fuzz.db'}",
        poll_seconds=0.05,
        worker_id="fuzz",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        rate_limit_user="1000000/minute",
        rate_limit_tenant="1000000/minute",
        rate_limit_global="1000000/minute",
        rate_limit_login="1000000/minute",
    )
    config = uvicorn.Config(
        create_app(settings, apps=core_apps()),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-fuzz", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the API did not start"
        assert time.monotonic() < deadline, "the API did not start in time"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def seed(base_url: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """An admin of a new tenant with one of each object, and the ids that name them: a GET's
    path parameter is one of these in half the examples, so reads reach real objects, not only
    404s. Changes keep made-up ids: on real runs their answers would hang on the executor's
    timing, and the examples would not replay the same."""
    with httpx.Client(base_url=base_url) as client:
        signed_up = client.post(
            "/api/v1/auth/register",
            json={
                "tenant": "fuzz",
                "email": "admin@fuzz.example",
                "password": PASSWORD,
                "name": "A",
            },
        )
        assert signed_up.status_code == 201, signed_up.text
        client.headers["Authorization"] = f"Bearer {signed_up.json()['access_token']}"
        created = [
            client.post("/api/v1/workflows", json={"source": OUTREACH}),
            client.post("/api/v1/workflows", json={"source": FAILING}),
            client.post("/api/v1/runs", json={"workflow_id": "outreach", "inputs": LEAD}),
            client.post("/api/v1/runs", json={"workflow_id": "failing"}),
            client.post(
                "/api/v1/prompts",
                json={"key": "greeting", "template": "Hi {{ n }}", "variables": ["n"]},
            ),
            client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["runs:read"]}),
            client.post("/api/v1/invitations", json={"email": "bo@fuzz.example", "role": "viewer"}),
        ]
        assert [r.status_code for r in created] == [201] * len(created), [r.text for r in created]
        _, _, waiting, dead, prompt, key, invitation = (r.json() for r in created)
        deadline = time.monotonic() + 30
        while not (reviews := client.get("/api/v1/reviews").json()["items"]):
            assert time.monotonic() < deadline, "the outreach run never waited for its review"
            time.sleep(0.05)
        headers = dict(client.headers)
    ids = {
        "run_id": [waiting["id"], dead["id"]],
        "review_id": [reviews[0]["id"]],
        "workflow_id": ["outreach", "failing"],
        "version": ["1"],
        "step_key": ["approve", "send", "boom"],
        "key": [prompt["key"]],
        "user_id": [signed_up.json()["user"]["id"]],
        "key_id": [key["id"]],
        "invitation_id": [invitation["id"]],
    }
    return {"Authorization": headers["authorization"]}, ids


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_every_operation_answers_as_its_openapi_entry_says(base_url: str) -> None:
    headers, ids = seed(base_url)
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if is_stream(operation):
            continue
        operations += 1

        @EXAMPLES
        @hypothesis.given(case=operation.as_strategy(), data=st.data())
        def exercise(case: Case, data: st.DataObject) -> None:
            for name in case.path_parameters or {} if case.method == "GET" else ():
                if name in ids and data.draw(st.booleans(), label=f"real {name}"):
                    case.path_parameters[name] = data.draw(st.sampled_from(ids[name]))
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            exercise()
        except (Exception, FailureGroup) as error:  # gathered: one run shows every failure
            inner = getattr(error, "exceptions", ())
            failures[operation.label] = "\n".join([str(error), *map(str, inner)])
    assert operations >= 25
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
