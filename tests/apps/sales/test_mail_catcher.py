"""The local SMTP catcher, on SQLite and PostgreSQL: inside the API process when
`BATONFLOW_SALES_SMTP_CATCHER=1`, it records each email it receives against the email log, so
the email shows it arrived; and `batonflow sales smtp-catcher` with `emails list`, as a person
runs them."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator

import pytest
from dirty_equals import IsStr
from fastapi import FastAPI
from typer.testing import CliRunner

from batonflow.api.app import create_app
from batonflow.apps.sales import emails
from batonflow.apps.sales.email_commands import serve_catcher
from batonflow.apps.sales.settings import SalesSettings
from batonflow.cli.main import app as batonflow
from batonflow.cli.session import open_session
from batonflow.settings import Settings
from tests.apps.sales.conftest import SALES, Join, sales_apps


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture
async def sales_api(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FastAPI]:
    """The API with the catcher on, on the port the app sends to."""
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_CATCHER", "1")
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(free_port()))
    app = create_app(api_settings, apps=sales_apps())
    async with app.router.lifespan_context(app):
        yield app


async def test_the_catcher_in_the_api_records_what_arrived(sales_member: Join) -> None:
    acme = await sales_member("acme")
    sent = await acme.client.post(
        f"{SALES}/emails",
        json={"key": "k1", "to": ["ada@client.example"], "subject": "Demo", "body": "Hi"},
    )
    assert sent.status_code == 201, sent.text
    assert (sent.json()["status"], sent.json()["smtp_message"]) == (
        "sent",
        IsStr(regex=r"^OK: caught <[0-9a-f]{40}@batonflow\.localhost> as email .+$"),
    )
    email = (await acme.client.get(f"{SALES}/emails/{sent.json()['id']}")).json()
    assert email["delivered_at"] is not None
    assert email["delivered_raw"] == email["raw"]


@pytest.fixture
def sales_cli(
    api_db_url: str, tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    for name in [n for n in os.environ if n.startswith("BATONFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATONFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BATONFLOW_DATABASE_URL", api_db_url)
    monkeypatch.setenv("BATONFLOW_APPS", "sales")
    return CliRunner()


def test_the_catcher_command_and_the_email_list(sales_cli: CliRunner) -> None:
    port = free_port()

    async def scenario() -> tuple[dict[str, object], int]:
        settings = Settings()
        stop = asyncio.Event()
        catching = asyncio.create_task(serve_catcher(settings, "127.0.0.1", port, stop))
        await listening(port)
        async with open_session(settings) as session:
            row = await emails.send_once(
                session.platform,
                SalesSettings(smtp_port=port),
                session.tenant_id,
                "demo:1",
                emails.Outgoing(["ada@client.example"], "Demo", "Hello"),
            )
        stop.set()
        return row, await catching

    row, caught = asyncio.run(scenario())
    assert (row["status"], caught) == ("sent", 1)

    listed = sales_cli.invoke(batonflow, ["sales", "emails", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [email] = json.loads(listed.output)
    assert {k: email[k] for k in ("id", "status", "to_addrs", "subject")} == {
        "id": row["id"],
        "status": "sent",
        "to_addrs": ["ada@client.example"],
        "subject": "Demo",
    }
    assert email["delivered_at"] is not None
    none = sales_cli.invoke(batonflow, ["sales", "emails", "list", "--status", "failed", "--json"])
    assert (none.exit_code, json.loads(none.output)) == (0, [])
    table = sales_cli.invoke(batonflow, ["sales", "emails", "list"])
    assert table.exit_code == 0, table.output
    assert f"{row['id']}" in table.output
    assert "ada@client.example" in table.output
    bad = sales_cli.invoke(batonflow, ["sales", "emails", "list", "--status", "lost"])
    assert bad.exit_code == 2
    assert "status 'lost' is not an email status" in bad.output
