"""Retrieval inside runs: the `retrieve` step kind, the knowledge bases an attempt's agents and
tools get (`CallContext.kb`: search, and ingestion for the `kb-ingest` workflow), and the `llm`
step's grounding in retrieved passages.

Everything is confined to the run's tenant (a knowledge base of another tenant is not found).
Searches only read; the local embedding model runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from batonflow.agents.agent import KnowledgeBases
from batonflow.llm.ledger import CallScope
from batonflow.llm.records import CallRecord
from batonflow.retrieval import grounding
from batonflow.retrieval.embeddings import Embedders
from batonflow.retrieval.rerank import Rerankers
from batonflow.retrieval.search import Passage
from batonflow.retrieval.service import Knowledge, search_tenant
from batonflow.runs.run import reads_as
from batonflow.store.db import Conn
from batonflow.workflows import templates
from batonflow.workflows.attempts import Claim, Outcome
from batonflow.workflows.spec import LlmStep, RetrieveStep

T = TypeVar("T")
Read = Callable[[Callable[[Conn], Awaitable[T]]], Awaitable[T]]


@dataclass(slots=True)
class TenantKnowledge:
    """`CallContext.kb`: one tenant's knowledge bases, for an attempt; `events` collects the
    attempt's `kb.searched` and `kb.document.ingested` events, `calls` its embeddings calls
    to a paid endpoint (recorded as `scope`'s: the run, step and attempt)."""

    read: Read[Any]
    write: Read[Any]
    tenant_id: str
    embedders: Embedders
    scope: CallScope | None = None
    calls: list[CallRecord] | None = None
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Whom the run searches as (`runs/run.py::reads_as`): a knowledge base private to another
    # user than the run's own is not there for it.
    reader: str = ""

    async def __call__(
        self, knowledge_bases: list[str], query: str, *, k: int = 5, mode: str = "hybrid"
    ) -> list[dict[str, Any]]:
        found = await search_tenant(
            self.read,
            self.embedders,
            self.tenant_id,
            knowledge_bases,
            query,
            mode=mode,
            k=k,
            scope=self.scope,
            calls=self.calls,
            viewer=self.reader,
        )
        self.events.append(searched(knowledge_bases, query, mode, k, found))
        return [p.as_dict() for p in found]

    async def ingest(self, document_id: str) -> dict[str, Any]:
        knowledge = Knowledge(self.write, self.read, self.embedders, self.reader)
        doc = await knowledge.ingest(
            self.tenant_id, document_id, scope=self.scope, calls=self.calls
        )
        kb = await knowledge.get(self.tenant_id, doc["kb_id"])
        data = {
            "knowledge_base": kb["name"],
            "document_id": doc["id"],
            "source": doc["source"],
            "title": doc["title"],
            "chunks": doc["chunk_count"],
        }
        self.events.append(("kb.document.ingested", data))
        return {**doc, "knowledge_base": kb["name"]}


def tenant_knowledge(
    read: Read[Any],
    write: Read[Any],
    embedders: Embedders,
    scope: CallScope,
    calls: list[CallRecord] | None = None,
    *,
    reader: str = "",
) -> KnowledgeBases:
    return TenantKnowledge(read, write, scope.tenant_id, embedders, scope, calls, reader=reader)


def searched(
    refs: list[str], query: str, mode: str, k: int, found: list[Passage]
) -> tuple[str, dict[str, Any]]:
    data = {
        "knowledge_bases": refs,
        "query": query,
        "mode": mode,
        "k": k,
        "citations": [p.citation for p in found],
    }
    return ("kb.searched", data)


@dataclass(frozen=True, slots=True)
class Models:
    """The process's retrieval models a `retrieve` step uses, and where its calls go."""

    embedders: Embedders
    rerankers: Rerankers
    calls: list[CallRecord] | None = None  # the attempt's model calls


async def run_retrieve(
    read: Read[Any],
    worker: str,
    claim: Claim,
    step: RetrieveStep,
    scope: dict[str, Any],
    models: Models,
) -> Outcome:
    query = templates.render_text(step.query, scope)
    names = [step.knowledge_base] if isinstance(step.knowledge_base, str) else step.knowledge_base
    refs = [templates.render_text(name, scope) for name in names]
    found = await search_tenant(
        read,
        models.embedders,
        claim.tenant_id,
        refs,
        query,
        mode=step.mode,
        k=step.k,
        reranker=models.rerankers.get(step.rerank),
        scope=CallScope(claim.tenant_id, claim.run_id, claim.key, claim.attempt),
        calls=models.calls,
        viewer=reads_as(claim.private_to),
    )
    result = {"query": query, "passages": [_passage(p.as_dict()) for p in found]}
    events = (searched(refs, query, step.mode, step.k, found),)
    meta = {"agent": "retrieval", "capability": f"kb.search:{step.mode}"}
    return Outcome(
        run_id=claim.run_id,
        key=claim.key,
        dispatch=claim.dispatch,
        worker=worker,
        status="succeeded",
        result=result,
        meta=meta,
        events=events,
    )


def _passage(p: dict[str, Any]) -> dict[str, Any]:
    """What a run keeps of a passage (its highlight and chunk row id are for the dashboard)."""
    keep = ("citation", "text", "score", "knowledge_base", "document_id", "title", "source")
    return {k: p[k] for k in keep} | {"heading_path": p["heading_path"], "position": p["position"]}


@dataclass(frozen=True, slots=True)
class Grounded:
    """An `llm` step's request parts once its passages are framed."""

    system: str
    text: str
    schema: dict[str, Any]
    passages: list[dict[str, Any]]

    def result(self, value: dict[str, Any]) -> dict[str, Any]:
        """The answer, each citation once, and the cited passages' sources."""
        value = {**value, "citations": list(dict.fromkeys(value["citations"]))}
        return {**value, "sources": grounding.sources(value, self.passages)}


def ground(step: LlmStep, scope: dict[str, Any], system: str | None, text: str) -> Grounded:
    assert step.context is not None
    passages = grounding.passages_of(templates.evaluate(step.context, scope))
    return Grounded(
        system=grounding.system_for(system),
        text=grounding.frame(text, passages),
        schema=grounding.schema_for(step.output_schema, [p["citation"] for p in passages]),
        passages=passages,
    )
