"""The source of a tiny app, written into a temporary package by the seam tests: an agent, a
workflow, a table with its migration branch, a router, a CLI group, settings and a page."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import installed_apps

INIT = '''
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer
from fastapi import APIRouter
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from batonflow.agents.agent import Agent, CallContext
from batonflow.api.deps import State, require
from batonflow.apps.app import App, Page
from batonflow.auth.scopes import Principal
from batonflow.store.db import Conn
from batonflow.store.migrate import Branch

HERE = Path(__file__).parent
notes = sa.Table(
    "tiny_notes",
    sa.MetaData(),
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("text", sa.Text, nullable=False),
)


class TinySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATONFLOW_TINY_")
    greeting: str = Field("hello", min_length=1)


greeter = Agent("tiny-greeter", "Greets people")


class GreetIn(BaseModel):
    name: str = Field(min_length=1)


class Greeted(BaseModel):
    text: str


@greeter.capability("tiny.greet")
async def greet(ctx: CallContext, args: GreetIn) -> Greeted:
    return Greeted(text=f"greetings, {args.name}")


class NoteIn(BaseModel):
    text: str = Field(min_length=1)


class Note(BaseModel):
    id: int
    text: str


def router() -> APIRouter:
    api = APIRouter(tags=["tiny"])

    @api.post("/notes", status_code=201)
    async def add_note(
        state: State, caller: Annotated[Principal, require("runs:write")], body: NoteIn
    ) -> Note:

        async def add(conn: Conn) -> Note:
            count = await conn.scalar(
                sa.select(sa.func.count()).where(notes.c.tenant_id == caller.tenant_id)
            )
            note = Note(id=int(count) + 1, text=body.text)
            await conn.execute(notes.insert().values(tenant_id=caller.tenant_id, **note.model_dump()))
            return note

        return await state.transact(add)

    @api.get("/notes")
    async def list_notes(
        state: State, caller: Annotated[Principal, require("runs:read")]
    ) -> dict[str, object]:

        async def notes_of_tenant(conn: Conn) -> list[Note]:
            rows = await conn.execute(
                sa.select(notes.c.id, notes.c.text)
                .where(notes.c.tenant_id == caller.tenant_id)
                .order_by(notes.c.id)
            )
            return [Note(id=row.id, text=row.text) for row in rows]

        items = await state.query(notes_of_tenant)
        greeting = state.apps.settings_of("tiny").greeting
        return {"greeting": greeting, "items": [item.model_dump() for item in items]}

    return api


def commands() -> typer.Typer:
    group = typer.Typer(no_args_is_help=True, help="The tiny app.")

    @group.command("greeting")
    def greeting() -> None:
        """Print the configured greeting."""
        typer.echo(TinySettings().greeting)

    @group.command("today")
    def today() -> None:
        """Print today's date."""
        typer.echo(datetime.now(UTC).date().isoformat())

    return group


app = App(
    name="tiny",
    title="Tiny",
    description="A tiny app for the seam tests",
    agents=(greeter,),
    workflows=HERE / "workflows",
    migrations=Branch(HERE / "migrations", "tiny_0001"),
    router=router,
    commands=commands,
    settings=TinySettings,
    pages=(Page("notes", "Notes"),),
)
'''

MIGRATION = """
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tiny_0001"
down_revision = None
branch_labels = ("tiny",)
depends_on = "0006"


def upgrade() -> None:
    op.create_table(
        "tiny_notes",
        sa.Column("tenant_id", sa.String(36), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tiny_notes")
"""

WORKFLOW = """
id: tiny-greet
version: 1
description: Greet someone through the tiny app's agent.
inputs:
  name: {type: string}
steps:
  - id: greet
    kind: agent
    capability: tiny.greet
    args: {name: "{{ inputs.name }}"}
outputs:
  text: "{{ state.greet.text }}"
"""


def write_tiny_app(folder: Path) -> Path:
    """Write the package `tinyapp` into `folder` and make it look installed; returns `folder`."""
    package = folder / "tinyapp"
    (package / "workflows").mkdir(parents=True)
    (package / "migrations").mkdir()
    (package / "__init__.py").write_text(INIT, encoding="utf-8")
    (package / "migrations" / "tiny_0001_notes.py").write_text(MIGRATION, encoding="utf-8")
    (package / "workflows" / "greet.yaml").write_text(WORKFLOW, encoding="utf-8")
    return installed_apps(folder, {"tiny": "tinyapp:app"})
