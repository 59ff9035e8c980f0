"""The scoping app on the seam: found through its entry point, its migration branch's head,
its workflows stored in a new tenant, its page listed."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from batonflow.apps.app import installed
from batonflow.apps.scoping import HEAD, app
from batonflow.store import migrate
from tests.apps.scoping.conftest import Person


def test_the_branch_head_is_the_folders_real_head() -> None:
    assert app.migrations is not None
    script = ScriptDirectory.from_config(migrate._config(None, [app.migrations]))
    assert sorted(script.get_heads()) == [migrate.HEAD, HEAD]  # the core's, and the branch's
    assert script.get_revision("scoping@head").revision == HEAD


def test_the_app_is_installed() -> None:
    assert installed()["scoping"] is app


async def test_a_new_tenant_has_the_apps_workflows_and_page(people: Person) -> None:
    ada = await people("acme")
    workflows = (await ada.get("/api/v1/workflows")).json()["items"]
    assert sorted(w["workflow_id"] for w in workflows) == [
        "scoping-analysis",
        "scoping-charter",
        "scoping-question",
    ]
    apps = (await ada.get("/api/v1/apps")).json()["items"]
    assert [(a["name"], a["pages"]) for a in apps] == [
        (
            "scoping",
            [{"key": "sessions", "title": "Scoping sessions", "path": "/apps/scoping/sessions"}],
        )
    ]
