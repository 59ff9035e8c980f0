"""The scoping commands as a person runs them: `batonflow scoping new`, `answer` at the
terminal (answers typed on standard input), and `charter --format md|pdf`."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from batonflow_testkit.fakeserver import FakeProvider
from tests.apps.scoping.model import MODEL, Scoping
from tests.cli.conftest import BATONFLOW, Cli, cli

__all__ = ["cli"]  # the CLI tests' fixture, for this test too


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeProvider, Scoping]]:
    script = Scoping()
    async with FakeProvider(respond=script) as provider:
        yield provider, script


async def batonflow(
    cli: Cli, provider: FakeProvider, *args: str, stdin: str = ""
) -> tuple[int, str, str]:
    env = cli.env | {
        "BATONFLOW_OPENAI_BASE_URL": provider.openai_url,
        "BATONFLOW_OPENAI_API_KEY": "sk-test-not-a-secret",  # pragma: allowlist secret
        "BATONFLOW_SCOPING_MODEL": MODEL,
        "BATONFLOW_POLL_SECONDS": "0.05",
        "BATONFLOW_APPS": "scoping",
    }
    proc = await asyncio.create_subprocess_exec(
        str(BATONFLOW),
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode()


async def test_new_answer_and_charter_at_the_terminal(
    cli: Cli, served: tuple[FakeProvider, Scoping], tmp_path: object
) -> None:
    provider, script = served
    code, out, err = await batonflow(
        cli, provider, "scoping", "new", "Invoice automation", "--json"
    )
    assert (code, err) == (0, ""), out
    session = json.loads(out)["id"]

    # Stage 1: a choice by its number, a free answer, then done; stages 2-5: a choice, done.
    typed = "2\nInvoices are keyed by hand\nd\n" + "\nd\n" * 4
    code, out, err = await batonflow(cli, provider, "scoping", "answer", session[:13], stdin=typed)
    assert (code, err) == (0, ""), out
    flat = " ".join(out.split())
    assert "Stage 1, question 1: which option fits?" in flat
    assert "2. medium (recommended)" in flat
    assert "stage 1 analysed: Stage 1 summary" in flat
    assert "all five stages are analysed" in flat
    assert script.seen[:4] == ["ask 1.1", "ask 1.2", "ask 1.3", "analyse 1"]

    code, out, err = await batonflow(cli, provider, "scoping", "show", session, "--json")
    shown = json.loads(out)
    assert [s["status"] for s in shown["stages"]] == ["analysed"] * 5
    assert [q["answer"] for q in shown["stages"][0]["questions"]] == [
        "medium",
        "Invoices are keyed by hand",
        None,
    ]
    # Stages 2 to 5 took the recommended answer (an empty line).
    assert [q["answer"] for q in shown["stages"][1]["questions"]] == ["medium", None]

    target = f"{tmp_path}/charter.pdf"
    code, out, err = await batonflow(
        cli, provider, "scoping", "charter", session, "--write", "--format", "pdf", "-o", target
    )
    assert (code, err) == (0, ""), out
    assert "wrote version 1 to" in out
    with open(target, "rb") as pdf:
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read())).pages)
    assert "Project charter: Invoice automation (version 1)" in " ".join(text.split())

    code, out, err = await batonflow(cli, provider, "scoping", "charter", session, "--format", "md")
    assert code == 0, err
    assert out.startswith("# Project charter: Invoice automation (version 1)\n")
    assert "A: Invoices are keyed by hand" in out


async def test_attach_waits_until_the_document_is_indexed(
    cli: Cli, served: tuple[FakeProvider, Scoping], tmp_path: Path
) -> None:
    provider, script = served
    code, out, err = await batonflow(
        cli, provider, "scoping", "new", "Invoice automation", "--json"
    )
    session = json.loads(out)["id"]
    brief = tmp_path / "brief.md"
    brief.write_text("# Supplier invoices\n\nSuppliers email 4,000 PDF invoices a month.\n")

    code, out, err = await batonflow(cli, provider, "scoping", "attach", session[:13], str(brief))
    assert (code, err) == (0, ""), out
    assert " ".join(out.split()) == f"brief.md attached to {session[:13]}: ready, 1 chunks"

    code, out, err = await batonflow(
        cli, provider, "scoping", "attach", session, str(brief), "--json"
    )
    assert (code, err) == (0, ""), out
    shown = json.loads(out)
    assert shown | {"id": None} == {
        "id": None,
        "source": "brief.md",
        "title": "brief.md",
        "format": "markdown",
        "status": "ready",
        "chunk_count": 1,
        "error": None,
    }

    # The next question draws on it.
    typed = "q\n"
    code, out, err = await batonflow(cli, provider, "scoping", "answer", session, stdin=typed)
    assert code == 0, err
    assert "Suppliers email 4,000 PDF invoices a month." in script.prompts[-1]
