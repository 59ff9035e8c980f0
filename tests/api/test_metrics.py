"""GET /metrics through the real app: only the operator's token reads it, and a run driven
through the API moves the run, step, model, HTTP, queue and breaker metrics by exact amounts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from dirty_equals import IsFloat
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from batonflow.settings import Settings
from batonflow_testkit.fakeserver import Fail, FakeProvider, Reply
from tests.api.conftest import Signup, with_provider
from tests.api.flows import QUICK, settled, start, store

TOKEN = "metrics-token-for-the-scraper-0123456789"
PITCH = """
id: pitch
version: "1"
inputs:
  company: {type: string}
steps:
  - id: pitch
    kind: llm
    model: openai:gpt-4.1-mini
    prompt: "Write one line about {{ inputs.company }}."
    max_tokens: 20
outputs:
  pitch: "{{ state.pitch.text }}"
"""


@pytest.fixture
def api_settings(api_settings: Settings, provider: FakeProvider) -> Settings:
    return with_provider(
        api_settings,
        provider,
        llm_retry_initial=0.01,
        metrics_token=SecretStr(TOKEN),
    )


def samples(text: str, *prefixes: str) -> dict[str, float]:
    """`name{label="value",...}` -> value for the samples of the families named by `prefixes`
    (histograms by their count and sum)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith(prefixes) or sample.name.endswith("_bucket"):
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


async def test_only_the_metrics_token_reads_metrics(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    admin = await signup()
    answers = [
        await client.get("/metrics"),
        await client.get("/metrics", headers={"Authorization": "Bearer wrong"}),
        await admin.client.get("/metrics"),  # a tenant's admin is still a tenant
        await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}),
    ]
    assert [
        (r.status_code, r.json()["error"]["code"] if r.status_code != 200 else None)
        for r in answers
    ] == [
        (401, "unauthenticated"),
        (401, "unauthenticated"),
        (401, "unauthenticated"),
        (200, None),
    ]


async def test_metrics_are_off_without_a_token(app: object, client: httpx.AsyncClient) -> None:
    state = client._transport.app.state.batonflow  # type: ignore[attr-defined]
    state.platform.settings = state.settings.model_copy(update={"metrics_token": None})
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


async def test_a_run_through_the_api_moves_the_metrics_by_exact_amounts(
    client: httpx.AsyncClient, signup: Signup, provider: FakeProvider
) -> None:
    admin = await signup("acme")
    await store(admin.client, QUICK)
    await store(admin.client, PITCH)
    provider.script(Fail(500), Reply("A line about Analytical."))
    quick = await start(admin.client, "quick", {"text": "hi"})
    pitch = await start(admin.client, "pitch", {"company": "Analytical"})
    await settled(admin.client, quick["id"], ("succeeded",))
    await settled(admin.client, pitch["id"], ("succeeded",))

    runs = ("batonflow_runs_", "batonflow_step_", "batonflow_llm_", "batonflow_leases_")
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the executor publishes a commit's events just after the commit
        text = await scrape(client)
        finished = samples(text, "batonflow_runs_finished")
        if sum(finished.values()) == 2 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.02)
    assert samples(text, *runs) == {
        'batonflow_runs_started_total{workflow="quick"}': 1.0,
        'batonflow_runs_started_total{workflow="pitch"}': 1.0,
        'batonflow_runs_finished_total{status="succeeded",workflow="quick"}': 1.0,
        'batonflow_runs_finished_total{status="succeeded",workflow="pitch"}': 1.0,
        'batonflow_step_duration_seconds_count{capability="demo.sleep",kind="agent",workflow="quick"}': 1.0,
        'batonflow_step_duration_seconds_sum{capability="demo.sleep",kind="agent",workflow="quick"}': IsFloat(
            gt=0
        ),
        'batonflow_step_duration_seconds_count{capability="openai:gpt-4.1-mini",kind="llm",workflow="pitch"}': 1.0,
        'batonflow_step_duration_seconds_sum{capability="openai:gpt-4.1-mini",kind="llm",workflow="pitch"}': IsFloat(
            gt=0
        ),
        'batonflow_step_attempts_total{kind="agent",status="succeeded",workflow="quick"}': 1.0,
        'batonflow_step_attempts_total{kind="llm",status="succeeded",workflow="pitch"}': 1.0,
        'batonflow_llm_calls_total{model="gpt-4.1-mini",provider="openai",status="ok"}': 1.0,
        'batonflow_llm_latency_seconds_count{model="gpt-4.1-mini",provider="openai"}': 1.0,
        'batonflow_llm_latency_seconds_sum{model="gpt-4.1-mini",provider="openai"}': IsFloat(gt=0),
        'batonflow_llm_time_to_first_token_seconds_count{model="gpt-4.1-mini",provider="openai"}': 1.0,
        'batonflow_llm_time_to_first_token_seconds_sum{model="gpt-4.1-mini",provider="openai"}': IsFloat(
            gt=0
        ),
        'batonflow_llm_tokens_total{kind="input",model="gpt-4.1-mini",provider="openai"}': 10.0,
        'batonflow_llm_tokens_total{kind="output",model="gpt-4.1-mini",provider="openai"}': 5.0,
        # 10 in at $0.40/M + 5 out at $1.60/M
        'batonflow_llm_cost_usd_total{model="gpt-4.1-mini",provider="openai",tenant="acme"}': 1.2e-05,
    }
    assert samples(text, "batonflow_queue_", "batonflow_breaker_", "batonflow_rate_limit") == {
        'batonflow_queue_depth{queue="steps"}': 0.0,
        'batonflow_queue_depth{queue="runs"}': 0.0,
        'batonflow_queue_oldest_age_seconds{queue="steps"}': 0.0,
        'batonflow_queue_oldest_age_seconds{queue="runs"}': 0.0,
        'batonflow_breaker_state{name="demo.sleep",scope="capability",state="closed"}': 1.0,
        'batonflow_breaker_state{name="demo.sleep",scope="capability",state="open"}': 0.0,
        'batonflow_breaker_state{name="demo.sleep",scope="capability",state="half_open"}': 0.0,
        'batonflow_breaker_state{name="openai:gpt-4.1-mini",scope="model",state="closed"}': 1.0,
        'batonflow_breaker_state{name="openai:gpt-4.1-mini",scope="model",state="open"}': 0.0,
        'batonflow_breaker_state{name="openai:gpt-4.1-mini",scope="model",state="half_open"}': 0.0,
    }
    http = samples(text, "batonflow_http_requests_total")
    assert {k: v for k, v in http.items() if "POST" in k} == {
        'batonflow_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"}': 1.0,
        'batonflow_http_requests_total{method="POST",route="/api/v1/workflows",status="201"}': 2.0,
        'batonflow_http_requests_total{method="POST",route="/api/v1/runs",status="201"}': 2.0,
    }
    polls = http[
        'batonflow_http_requests_total{method="GET",route="/api/v1/runs/{run_id}",status="200"}'
    ]
    durations = samples(text, "batonflow_http_request_duration_seconds_count")
    assert (
        durations[
            'batonflow_http_request_duration_seconds_count{method="GET",route="/api/v1/runs/{run_id}",status="200"}'
        ]
        == polls
    )
