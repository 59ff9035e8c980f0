"""The prompt registry on both databases: numbered immutable versions, declared variables."""

from __future__ import annotations

import pytest
from dirty_equals import IsDatetime, IsStr
from sqlalchemy.ext.asyncio import AsyncEngine

from batonflow.errors import InvalidArgs, InvalidInput, NotFound, TemplateError
from batonflow.llm import prompts
from batonflow.llm.prompts import PromptDraft
from batonflow.store import prompts as prompt_store
from batonflow.store.db import reading
from batonflow.store.tenants import ensure_tenant
from tests.conftest import now


async def test_versions_are_numbered_and_identical_content_is_not_stored_twice(
    engine: AsyncEngine, tenant: str
) -> None:
    first = PromptDraft("summary", "Summarise {{ text }}", variables=("text",))
    second = PromptDraft(
        "summary", "Summarise {{ text }} in {{ words }} words", variables=("text", "words")
    )
    async with engine.begin() as conn:
        v1, created1 = await prompts.save(conn, tenant, first, "ada", now())
        again, created_again = await prompts.save(conn, tenant, first, "bob", now())
        v2, created2 = await prompts.save(conn, tenant, second, "bob", now())
    assert (v1["version"], created1, again["version"], created_again, v2["version"], created2) == (
        1,
        True,
        1,
        False,
        2,
        True,
    )
    async with reading(engine) as conn:
        newest = await prompt_store.get(conn, tenant, "summary")
        pinned = await prompt_store.get(conn, tenant, "summary", 1)
        listed = await prompt_store.list_latest(conn, tenant)
        versions = await prompt_store.list_versions(conn, tenant, "summary")
    assert newest == {
        "id": IsStr(),
        "tenant_id": tenant,
        "key": "summary",
        "version": 2,
        "template": "Summarise {{ text }} in {{ words }} words",
        "system": None,
        "variables": ["text", "words"],
        "description": "",
        "content_hash": second.content_hash(),
        "created_by": "bob",
        "created_at": IsDatetime(),
    }
    assert pinned["template"] == "Summarise {{ text }}"
    assert [(p["key"], p["version"]) for p in listed] == [("summary", 2)]
    assert [p["version"] for p in versions] == [1, 2]


async def test_another_tenants_prompt_is_not_found(engine: AsyncEngine, tenant: str) -> None:
    async with engine.begin() as conn:
        other = await ensure_tenant(conn, "globex", now())
        await prompts.save(conn, tenant, PromptDraft("secret", "x"), "ada", now())
    async with reading(engine) as conn:
        with pytest.raises(NotFound, match="no prompt 'secret'"):
            await prompt_store.get(conn, other, "secret")
        assert await prompt_store.list_latest(conn, other) == []
        with pytest.raises(NotFound, match="no version 3 of prompt 'secret'"):
            await prompt_store.get(conn, tenant, "secret", 3)


def test_a_draft_reading_an_undeclared_variable_or_with_a_bad_key_is_refused() -> None:
    draft = PromptDraft(
        "Bad Key", "Hello {{ name }} {{ nme | upper }}", variables=("name",), system="{{ tone }"
    )
    assert prompts.check(draft) == [
        "key 'Bad Key': use lowercase letters, digits, '.', '_' or '-' (up to 128)",
        "template: reads 'nme', which is not a declared variable (add 'nme' to the prompt's variables)",
        "system: template syntax error: unexpected '}'",
    ]


async def test_saving_an_invalid_draft_raises_with_every_issue(
    engine: AsyncEngine, tenant: str
) -> None:
    async with engine.begin() as conn:
        with pytest.raises(InvalidInput) as caught:
            await prompts.save(conn, tenant, PromptDraft("k", "  "), "ada", now())
    assert caught.value.details == {"issues": ["template: is empty"]}


def test_render_needs_exactly_the_declared_variables() -> None:
    stored = {
        "key": "greet",
        "version": 3,
        "template": "Hello {{ name }}",
        "system": "Be {{ tone }}.",
        "variables": ["name", "tone"],
    }
    assert prompts.render(stored, {"name": "Ada", "tone": "brief"}) == ("Be brief.", "Hello Ada")
    with pytest.raises(InvalidArgs) as caught:
        prompts.render(stored, {"name": "Ada", "mood": "x"})
    assert caught.value.message == (
        "prompt 'greet' v3 declares variables ['name', 'tone']: missing tone; unknown mood"
    )


def test_rendering_stays_in_the_sandbox() -> None:
    stored = {
        "key": "evil",
        "version": 1,
        "template": "{{ name.__class__.__mro__ }}",
        "system": None,
        "variables": ["name"],
    }
    with pytest.raises(TemplateError):
        prompts.render(stored, {"name": "x"})
