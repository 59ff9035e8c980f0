"""The finance commands as a person runs them (in this process, on SQLite and PostgreSQL):
invoices and contracts listed, an invoice's PDF written, and dunning sending a real reminder to
a local SMTP server, once."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from typer.testing import CliRunner

import batonflow.apps.sales as sales_package
from batonflow.apps.sales import contracts, invoices
from batonflow.cli.main import app as batonflow
from batonflow.store.db import Conn, Database, create_engine
from batonflow.store.tenants import find_tenant
from tests.apps.sales import finance_records as records

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def sales_cli(
    api_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inbox: tuple[Inbox, int]
) -> CliRunner:
    """The CLI's environment: its own database and data folder, the sales app alone (without
    its workflows), mail to the local SMTP server."""
    for name in [n for n in os.environ if n.startswith("BATONFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BATONFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BATONFLOW_DATABASE_URL", api_db_url)
    monkeypatch.setenv("BATONFLOW_APPS", "sales")
    monkeypatch.setenv("BATONFLOW_SALES_SMTP_PORT", str(inbox[1]))
    monkeypatch.setenv("BATONFLOW_SALES_MAIL_FROM", "billing@acme.example")
    monkeypatch.setattr(sales_package, "app", replace(sales_package.app, workflows=None))
    return CliRunner()


def call(cli: CliRunner, *args: str | Path, code: int = 0) -> str:
    done = cli.invoke(batonflow, ["sales", *map(str, args)])
    assert done.exit_code == code, (done.output, done.exception)
    return done.output


def as_json(cli: CliRunner, *args: str | Path) -> Any:
    return json.loads(call(cli, *args, "--json"))


async def seed(url: str) -> dict[str, str]:
    """In the CLI's tenant: an issued invoice (due 2026-03-02) and a contract of its deal."""
    engine = create_engine(url)
    db = Database(engine)
    try:
        tenant_id = await db.read(lambda conn: find_tenant(conn, "default"))
        assert tenant_id is not None
        company_id = await records.company(db, tenant_id)
        deal_id = await records.deal(db, tenant_id, company_id, [("Seats", "4", "25", "0")])

        async def work(conn: Conn) -> dict[str, str]:
            made = await invoices.from_deal(
                conn, tenant_id, deal_id, tax_rate=Decimal("0.2"), terms_days=0, now=NOW
            )
            issued = await invoices.issue(conn, tenant_id, made["id"], today=NOW.date(), now=NOW)
            template = await contracts.create_template(
                conn, tenant_id, name="Short", body="{{ deal.title }} for {{ total }}", now=NOW
            )
            contract = await contracts.create_contract(
                conn,
                tenant_id,
                deal_id=deal_id,
                template_id=template["id"],
                terms={},
                title=None,
                actor="cli",
                now=NOW,
            )
            return {"invoice": issued["id"], "contract": contract["id"], "deal": deal_id}

        return await db.write(work)
    finally:
        db.close()
        await engine.dispose()


def test_list_pdf_and_dunning(
    sales_cli: CliRunner, api_db_url: str, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    cli = sales_cli
    assert as_json(cli, "invoices", "list") == []  # the CLI's tenant is made on first use
    made = asyncio.run(seed(api_db_url))

    listed = as_json(cli, "invoices", "list")
    assert [
        {k: i[k] for k in ("id", "number", "status", "due_date", "total", "balance", "deal_id")}
        for i in listed
    ] == [
        {
            "id": made["invoice"],
            "number": "INV-2026-0001",
            "status": "sent",
            "due_date": "2026-03-02",
            "total": "120.00",
            "balance": "120.00",
            "deal_id": made["deal"],
        }
    ]
    assert "INV-2026-0001" in call(cli, "invoices", "list", "--status", "sent")
    assert as_json(cli, "invoices", "list", "--status", "paid") == []

    output = tmp_path / "invoice.pdf"
    call(cli, "invoices", "pdf", made["invoice"], "--output", output)
    text = " ".join(
        " ".join(
            page.extract_text() for page in PdfReader(io.BytesIO(output.read_bytes())).pages
        ).split()
    )
    assert "Invoice INV-2026-0001" in text
    assert "Total 120.00 EUR" in text

    contracts_listed = as_json(cli, "contracts", "list")
    assert [(c["id"], c["title"], c["status"], c["version"]) for c in contracts_listed] == [
        (made["contract"], "Contract: Rollout", "draft", 1)
    ]

    # levels on 03-05, 03-12 and 03-22; the first run is on 03-25: one reminder, level 3
    done = as_json(cli, "dunning", "run", "--today", "2026-03-25")
    [email] = as_json(cli, "emails", "list")
    assert done == [
        {
            "invoice_id": made["invoice"],
            "number": "INV-2026-0001",
            "level": level,
            "due_on": on,
            "state": state,
            "email_id": sent,
            "error": None,
        }
        for level, on, state, sent in (
            (1, "2026-03-05", "skipped", None),
            (2, "2026-03-12", "skipped", None),
            (3, "2026-03-22", "sent", email["id"]),
        )
    ]
    # the reminder went through the email log: linked to its invoice, sent once under its key
    assert (email["invoice_id"], email["status"], email["to_addrs"], email["subject"]) == (
        made["invoice"],
        "sent",
        ["hank@globex.example"],
        "Reminder 3: invoice INV-2026-0001 is overdue",
    )
    messages = inbox[0].messages
    assert [(m["Message-ID"], m["From"], m["To"], m["Subject"]) for m in messages] == [
        (
            email["message_id"],
            "billing@acme.example",
            "hank@globex.example",
            "Reminder 3: invoice INV-2026-0001 is overdue",
        )
    ]
    body = messages[0].get_payload()
    assert "The open balance is 120.00 EUR." in str(body)
    assert "no reminders are due" in call(cli, "dunning", "run", "--today", "2026-04-30")
    assert len(messages) == 1
    bad = cli.invoke(batonflow, ["sales", "dunning", "run", "--today", "soon"])
    assert bad.exit_code == 2
    assert "'soon' is not a date (YYYY-MM-DD)" in bad.output
