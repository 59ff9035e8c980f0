"""The in-process sales API the sales benchmark drives: the whole app with its lifespan and the
in-process executor, a tenant of its own signed in over ASGI, and a local `aiosmtpd` server
counting the mail it accepts. See bench/sales.py."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from batonflow.api.app import create_app
from batonflow.api.deps import ApiState
from batonflow.apps.app import load_apps, migration_branches
from batonflow.ids import new_id
from batonflow.settings import Settings
from batonflow.store import migrate
from batonflow.store.db import create_engine

PASSWORD = "correct horse battery staple"  # pragma: allowlist secret (a benchmark account)
SALES = "/api/v1/sales"
ENDED = ("succeeded", "failed", "dead", "cancelled")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Inbox:
    """An `aiosmtpd` handler that counts the messages it accepts, by recipient."""

    def __init__(self) -> None:
        self.arrived: list[tuple[list[str], int]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.arrived.append((list(envelope.rcpt_tos), len(envelope.original_content or b"")))
        return f"250 2.0.0 queued as m{len(self.arrived)}"

    def to(self, address: str) -> int:
        return sum(1 for recipients, _ in self.arrived if address in recipients)


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Inbox, int]]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, hostname="smtp.bench"), "127.0.0.1", 0)
    try:
        yield inbox, server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def settings_for(url: str, folder: Path, **more: Any) -> Settings:
    return Settings(
        data_dir=folder,
        database_url=url,
        dev=True,
        log_level="WARNING",
        rate_limit_user="1000000/minute",
        rate_limit_tenant="1000000/minute",
        rate_limit_global="1000000/minute",
        rate_limit_register="1000/minute",
        poll_seconds=0.05,
        access_token_seconds=86_400,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        **more,
    )


async def database(url: str | None, folder: Path, part: str) -> str:
    """A new SQLite file for the part, or the PostgreSQL database given, migrated."""
    if url is None:
        return f"sqlite:///{folder / f'sales-{part}.db'}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, branches=migration_branches(load_apps(["sales"])))
    finally:
        await engine.dispose()
    return url


@asynccontextmanager
async def sales_api(settings: Settings, smtp_port: int, model: str | None) -> AsyncIterator[Any]:
    """The whole sales app in this process (its workflows stored in each new tenant), sending
    mail to `smtp_port`; yields (its state, a signed-in tenant admin's client)."""
    os.environ["BATONFLOW_SALES_SMTP_HOST"] = "127.0.0.1"
    os.environ["BATONFLOW_SALES_SMTP_PORT"] = str(smtp_port)
    os.environ["BATONFLOW_SALES_MAIL_FROM"] = "Bench Sales <sales@bench.example>"
    os.environ.pop("BATONFLOW_SALES_MODEL", None)
    if model is not None:
        os.environ["BATONFLOW_SALES_MODEL"] = model
    app = create_app(settings, apps=load_apps(["sales"]))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as anon:
            slug = f"bench-{new_id()[:8].lower()}"
            body = {"tenant": slug, "email": f"b@{slug}.example", "password": PASSWORD}
            registered = await anon.post("/api/v1/auth/register", json=body | {"name": "B"})
            if registered.status_code != 201:
                raise RuntimeError(f"register: {registered.status_code} {registered.text}")
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers, timeout=None
        ) as client:
            state: ApiState = app.state.batonflow
            yield state, client, registered.json()["tenant"]["id"]


async def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    response = await client.request(method, path, **kw)
    if response.status_code not in (200, 201, 202):
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
    return response.json()


async def knowledge_ready(client: httpx.AsyncClient, name: str = "products") -> None:
    for _ in range(6000):
        docs = (await call(client, "GET", f"/api/v1/knowledge-bases/{name}/documents"))["items"]
        if docs and all(d["status"] == "ready" for d in docs):
            return
        if any(d["status"] == "failed" for d in docs):
            raise RuntimeError(f"the knowledge base '{name}' failed to ingest: {docs}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the knowledge base '{name}' was not ready after 10 minutes")


async def settle(client: httpx.AsyncClient, run_id: str, poll: float) -> dict[str, Any]:
    """Poll the run until it waits on a person or has ended."""
    while True:
        run: dict[str, Any] = await call(client, "GET", f"/api/v1/runs/{run_id}")
        if run["status"] in ENDED or (run["status"] == "waiting" and run["reviews"]):
            return run
        await asyncio.sleep(poll)


async def start(client: httpx.AsyncClient, record: dict[str, str]) -> str:
    key = {"Idempotency-Key": new_id()}
    return str(
        (await call(client, "POST", f"{SALES}/pipeline/run", json=record, headers=key))["run_id"]
    )


async def decide(client: httpx.AsyncClient, review_id: str, **body: Any) -> None:
    await call(client, "POST", f"/api/v1/reviews/{review_id}/decision", json=body)


async def running_step(url: str, run_id: str) -> str | None:
    """The step of the run that was running when its process died, from the database."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = sa.text("SELECT key FROM steps WHERE run_id = :run AND status = 'running'")
            return (await conn.execute(query, {"run": run_id})).scalar()
    finally:
        await engine.dispose()
