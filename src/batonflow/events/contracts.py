"""Versioned event contracts. Every event is validated against its model before it is stored.

An event is `(type, version, run_id, seq, step_key, data)`; `data` follows the model registered
for `(type, version)` here. `schemas()` gives the JSON Schema of each, for clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from batonflow.llm.records import event_fields


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorInfo(_Data):
    code: str
    message: str
    details: dict[str, Any] = {}


class RunQueued(_Data):
    workflow_id: str
    workflow_version: str
    parent_run_id: str | None = None


class RunStarted(_Data):
    pass


class RunWaiting(_Data):
    steps: list[str]


class RunResumed(_Data):
    reason: str


class RunSucceeded(_Data):
    outputs: dict[str, Any]


class RunFailed(_Data):
    step: str
    error: ErrorInfo


class RunCancelled(_Data):
    by: str
    reason: str = ""


class RunRetried(_Data):
    by: str
    steps: list[str]


class StepStarted(_Data):
    attempt: int
    dispatch: int
    worker: str
    idempotency_key: str


class StepCompleted(_Data):
    attempt: int
    duration_ms: float
    agent: str | None = None
    capability: str | None = None


class StepFailedData(_Data):
    attempt: int
    error: ErrorInfo
    retry_in: float | None
    exhausted: bool


class StepSkipped(_Data):
    reason: str


class StepWaiting(_Data):
    kind: str
    review_id: str | None = None
    child_run_id: str | None = None


class StepLeaseExpired(_Data):
    attempt: int
    dispatch: int
    worker: str


class StepOverridden(_Data):
    by: str
    reason: str


class ReviewRequested(_Data):
    review_id: str
    kind: str
    reviewers: list[str]


class ReviewDecided(_Data):
    review_id: str
    decision: str
    by: str


LlmCall = create_model(
    "LlmCall",
    __base__=_Data,
    __doc__="One model call of a step attempt (a hop of its route); the ledger row has the rest.",
    **event_fields(),
)


class LlmDelta(_Data):
    """Text a model is generating, as it streams (live only; never stored)."""

    call_id: str
    model: str
    retry: int = 0  # a retried call streams again from index 0 under the next number
    index: int
    text: str


class KbSearched(_Data):
    """A step searched knowledge bases (a `retrieve` step, the `kb.search` tool)."""

    knowledge_bases: list[str]
    query: str
    mode: str
    k: int
    citations: list[str]  # the passages found, best first


class KbDocumentIngested(_Data):
    """A document was read, chunked, embedded and indexed (its ingestion run's step)."""

    knowledge_base: str
    document_id: str
    source: str
    title: str
    chunks: int


class ToolRefusedData(_Data):
    """The platform refused a tool call before it ran (`agents/gate.py`)."""

    tool: str
    refusal: (
        str  # not_granted, invalid_args, outside_policy, leak; outbound_refused, sandbox_stopped
    )
    reason: str
    by: str  # who asked: the step itself, an agent's code or a model
    attempt: int


class OutputLeakData(_Data):
    """Text about to leave a run (a step's output, an email) carried a secret, a credential or
    its system prompt, and was not kept or sent (`llm/leaks.py`)."""

    channel: str  # where the text was going: `step output`, `email`, ...
    found: list[str]  # what it carried (a setting's name, a credential's shape), never the value
    by: str  # who wrote it: the model of an `llm` step, or the agent
    attempt: int


CONTRACTS: dict[tuple[str, int], type[_Data]] = {
    ("run.queued", 1): RunQueued,
    ("run.started", 1): RunStarted,
    ("run.waiting", 1): RunWaiting,
    ("run.resumed", 1): RunResumed,
    ("run.succeeded", 1): RunSucceeded,
    ("run.failed", 1): RunFailed,
    ("run.dead", 1): RunFailed,
    ("run.cancelled", 1): RunCancelled,
    ("run.retried", 1): RunRetried,
    ("step.started", 1): StepStarted,
    ("step.completed", 1): StepCompleted,
    ("step.failed", 1): StepFailedData,
    ("step.skipped", 1): StepSkipped,
    ("step.waiting", 1): StepWaiting,
    ("step.lease_expired", 1): StepLeaseExpired,
    ("step.overridden", 1): StepOverridden,
    ("review.requested", 1): ReviewRequested,
    ("review.decided", 1): ReviewDecided,
    ("llm.call", 1): LlmCall,
    ("llm.delta", 1): LlmDelta,
    ("kb.searched", 1): KbSearched,
    ("kb.document.ingested", 1): KbDocumentIngested,
    ("tool.refused", 1): ToolRefusedData,
    ("output.leak", 1): OutputLeakData,
}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be stored; `seq` is assigned by the store in the same transaction."""

    type: str
    run_id: str
    tenant_id: str
    data: dict[str, Any]
    step_key: str | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int | None  # None until read back from the table
    type: str
    version: int
    tenant_id: str
    run_id: str
    seq: int
    step_key: str | None
    data: dict[str, Any]
    created_at: datetime


def event(
    type_: str, run_id: str, tenant_id: str, step_key: str | None = None, **data: Any
) -> NewEvent:
    """Build an event, validating `data` against its contract (a `KeyError` for unknown types)."""
    model = CONTRACTS[(type_, 1)]
    checked = model.model_validate(data).model_dump(mode="json")
    return NewEvent(type=type_, run_id=run_id, tenant_id=tenant_id, data=checked, step_key=step_key)


def schemas() -> dict[str, Any]:
    return {
        f"{type_}@{version}": model.model_json_schema()
        for (type_, version), model in sorted(CONTRACTS.items())
    }
