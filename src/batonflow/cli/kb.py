"""Knowledge bases from the terminal: create, list, add files, search.

`add` stores each file (the same content again is skipped) and indexes the new and changed ones
with runs of the `kb-ingest` workflow, driven here to their end; a file that cannot be read or
indexed is reported and the command exits 1 after the others are added.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from batonflow.cli.session import Session, open_session
from batonflow.cli.terminal import JsonFlag, TenantOpt, console, dump, errors, run, settings_for
from batonflow.errors import BatonflowError
from batonflow.retrieval.service import Knowledge
from batonflow.retrieval.tools import start_ingestion
from batonflow.store.db import Conn

kb_app = typer.Typer(no_args_is_help=True, help="Knowledge bases: documents agents search.")


class Mode(StrEnum):
    keyword = "keyword"
    vector = "vector"
    hybrid = "hybrid"


class Rerank(StrEnum):
    none = "none"
    local = "local"
    hosted = "hosted"


def knowledge(session: Session) -> Knowledge:
    return Knowledge(session.platform.write, session.platform.read, session.platform.embedders)


def _kb_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "name", "description", "embedding_model", "dimensions", "documents", "chunks")
    return {k: row[k] for k in keys} | {"created_at": row["created_at"]}


def _doc_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ["id", "kb_id", "source", "title", "format", "status", "chunk_count", "size", "error"]
    return {k: row[k] for k in [*keys, "run_id"]}


@kb_app.command("create")
def create(
    name: str,
    description: Annotated[str, typer.Option(help="What the knowledge base holds.")] = "",
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Create a knowledge base (on the local embedding model)."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            row = await knowledge(session).create(
                session.tenant_id, name, actor=session.actor.name, description=description
            )
        if as_json:
            dump(_kb_view(row))
        else:
            console.print(f"knowledge base {row['name']} created ({row['id']})", highlight=False)
        return 0

    raise typer.Exit(run(main()))


@kb_app.command("list")
def list_kbs(as_json: JsonFlag = False, tenant: TenantOpt = None) -> None:
    """The tenant's knowledge bases with their document and chunk counts."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            rows = await knowledge(session).all(session.tenant_id)
        if as_json:
            dump([_kb_view(r) for r in rows])
            return 0
        table = Table("name", "documents", "chunks", "model", "description")
        for row in rows:
            table.add_row(
                row["name"],
                str(row["documents"]),
                str(row["chunks"]),
                row["embedding_model"],
                row["description"],
            )
        console.print(table)
        return 0

    raise typer.Exit(run(main()))


@kb_app.command("add")
def add(
    name: str,
    files: Annotated[list[Path], typer.Argument(help="Text, Markdown, HTML or PDF files.")],
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """Add files to a knowledge base and index them; unchanged files are skipped."""

    async def main() -> int:
        results: list[dict[str, Any]] = []
        code = 0
        async with open_session(settings_for(tenant)) as session:
            service = knowledge(session)
            await service.get(session.tenant_id, name)  # not found: nothing is read
            for path in files:
                try:
                    added = await service.add(session.tenant_id, name, str(path), path.read_bytes())
                except (OSError, BatonflowError) as exc:
                    error = exc.message if isinstance(exc, BatonflowError) else str(exc)
                    results.append({"file": str(path), "outcome": "failed", "error": error})
                    code = 1
                    continue
                outcome = "indexed" if added.changed else "unchanged"
                results.append({"file": str(path), "outcome": outcome, "document": added.document})
            code = max(code, await _ingest(session, service, results))
        if as_json:
            dump(results)
            return code
        for result in results:
            if result["outcome"] == "failed":
                errors.print(f"{result['file']}: failed: {result['error']}", markup=False)
                continue
            doc = result["document"]
            console.print(
                f"{result['file']}: {result['outcome']}, {doc['chunk_count']} chunks ({doc['id']})",
                highlight=False,
                markup=False,
            )
        return code

    raise typer.Exit(run(main()))


async def _ingest(session: Session, service: Knowledge, results: list[dict[str, Any]]) -> int:
    """Run the `kb-ingest` workflow for every new or changed document, here, to its end."""
    new = [r for r in results if r["outcome"] == "indexed"]

    async def start(conn: Conn) -> list[str]:
        now = session.platform.now()
        return [
            (await start_ingestion(conn, session.tenant_id, r["document"], session.actor, now)).id
            for r in new
        ]

    runs = await session.platform.write(start) if new else []
    statuses = await session.platform.executor().drain(runs, grace=30) if runs else {}
    code = 0
    for result in results:
        if "document" not in result:
            continue
        doc = await service.document(session.tenant_id, name_of(result), result["document"]["id"])
        result["document"] = _doc_view(doc)
        if result["outcome"] == "indexed" and statuses.get(doc["run_id"]) != "succeeded":
            result.update(
                outcome="failed", error=doc["error"] or "the ingestion run did not finish"
            )
            code = 1
    return code


def name_of(result: dict[str, Any]) -> str:
    return str(result["document"]["kb_id"])


@kb_app.command("search")
def search(
    name: str,
    query: str,
    mode: Annotated[Mode, typer.Option(help="By keyword, by meaning, or both.")] = Mode.hybrid,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many passages.")] = 5,
    rerank: Annotated[Rerank, typer.Option(help="Rerank the candidates.")] = Rerank.none,
    as_json: JsonFlag = False,
    tenant: TenantOpt = None,
) -> None:
    """The passages that best match a query, ranked, with their citation ids."""

    async def main() -> int:
        async with open_session(settings_for(tenant)) as session:
            passages = await knowledge(session).search(
                session.tenant_id,
                [name],
                query,
                mode=mode.value,
                k=k,
                reranker=session.platform.rerankers.get(rerank.value),
            )
        if as_json:
            dump([p.as_dict() for p in passages])
            return 0
        if not passages:
            console.print("no passages match", highlight=False)
        for rank, p in enumerate(passages, start=1):
            where = " > ".join([p.title, *p.heading_path])
            console.print(
                f"{rank}. [{p.citation}] {where} (score {p.score:.4f})",
                highlight=False,
                markup=False,
            )
            console.print(f"   {_snippet(p.text)}", highlight=False, markup=False)
        return 0

    raise typer.Exit(run(main()))


def _snippet(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
