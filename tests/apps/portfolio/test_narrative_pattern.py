"""The overview's narrative through the real pipeline, on SQLite and PostgreSQL: the financial
analyst asks the model (a loopback server speaking OpenAI's wire format) to describe the computed
figures; a narrative that cites them is kept with the result, one that states a number the
result does not hold fails the step, naming the number."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI

from batonflow.api.app import create_app
from batonflow.apps.portfolio import results
from batonflow.settings import Settings
from batonflow_testkit.fakeserver import Behaviour, FakeProvider, Reply
from tests.api.conftest import with_provider
from tests.apps.portfolio.pack_fixtures import Register, portfolio_apps, tenants
from tests.apps.portfolio.test_execute import fresh_pack, ledger_of, overview

__all__ = ["tenants"]

FIGURE = re.compile(r"^- metrics\.value_end: (\S+)$", re.M)


@dataclass
class Analyst:
    """Writes the narrative from the figures in the prompt; `invent` adds a number of its own."""

    invent: bool = False
    prompts: list[str] = field(default_factory=list)

    def __call__(self, path: str, body: dict[str, Any]) -> Behaviour:
        prompt = body["messages"][-1]["content"]
        self.prompts.append(prompt)
        value = FIGURE.search(prompt)
        assert value is not None, prompt
        text = f"The portfolio ended at {value.group(1)} USD."
        if self.invent:
            text += " It beat its peers by 42.7%."
        return Reply(json.dumps({"text": text}))


@pytest.fixture
def analyst() -> Analyst:
    return Analyst()


@pytest.fixture
async def pack_app(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch, analyst: Analyst
) -> AsyncIterator[FastAPI]:
    async with FakeProvider(respond=analyst) as server:
        settings = with_provider(api_settings, server, llm_max_retries=0)
        apps = portfolio_apps(monkeypatch, providers="offline", model="openai:gpt-4.1-mini")
        app = create_app(settings, apps=apps)
        async with app.router.lifespan_context(app):
            yield app


async def test_a_narrative_citing_the_computed_figures_is_kept(
    tenants: Register, analyst: Analyst
) -> None:
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)

    done = (await overview(acme.client, portfolio_id=growth["id"], inputs={"narrate": True})).json()

    assert done["status"] == "succeeded", done
    value_end = done["result"]["metrics"]["value_end"]
    assert done["result"]["narrative"] == f"The portfolio ended at {value_end} USD."
    assert done["result_hash"] == results.result_hash(done["result"])
    (prompt,) = analyst.prompts
    assert f"- metrics.value_end: {value_end}" in prompt.splitlines()


async def test_a_narrative_with_an_invented_number_fails_naming_it(
    tenants: Register, analyst: Analyst
) -> None:
    analyst.invent = True
    acme = await tenants("acme")
    growth = await ledger_of(acme.client)
    await fresh_pack(acme.client)

    done = (await overview(acme.client, portfolio_id=growth["id"], inputs={"narrate": True})).json()

    assert (done["status"], done["result"]) == ("dead", None)  # its attempts used up
    assert done["error"]["message"] == (
        "the narrative states numbers the computed result does not hold: 42.7%; state only "
        "computed figures (as shown, rounded, or as a percentage of a fraction)"
    )
    assert len(analyst.prompts) == 2  # the step's two attempts
