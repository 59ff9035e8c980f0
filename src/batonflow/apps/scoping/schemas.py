"""The scoping API's request and response bodies. Request bodies are `Strict`: a field the
caller may not set (an owner, say) is a 422 naming it, not ignored."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from batonflow.api.routes.auth import Strict
from batonflow.apps.scoping.charter import Charter
from batonflow.apps.scoping.passages import Source

StageStatus = Literal[
    "locked", "asking", "answering", "waiting", "ready", "analysing", "analysed", "stale", "failed"
]


class NewSession(Strict):
    title: str = Field(min_length=1, max_length=200)


class SessionPatch(Strict):
    title: str | None = Field(None, min_length=1, max_length=200)
    archived: bool | None = None


class Share(BaseModel):
    user_id: str
    name: str
    email: str
    access: Literal["read", "edit"]
    created_at: datetime


class NewShare(Strict):
    email: str = Field(min_length=3, max_length=320)
    access: Literal["read", "edit"] = "read"


class SessionSummary(BaseModel):
    id: str
    title: str
    owner_id: str
    owner_name: str
    archived: bool
    created_at: datetime
    updated_at: datetime


class SessionPage(BaseModel):
    items: list[SessionSummary]
    next_cursor: str | None


class Question(BaseModel):
    id: str
    seq: int
    text: str
    kind: Literal["choice", "text"]
    choices: list[str]
    recommended: str | None
    rationale: str
    answer: str | None
    skipped: bool
    answered: bool
    answered_by: str | None
    answered_at: datetime | None
    revisions: int  # how many answers it has had (every one is kept)
    asked_at: datetime
    sources: list[Source] = Field(
        description="passages of the session's documents the question drew on"
    )


class Coverage(BaseModel):
    item: str
    covered: bool


class Analysis(BaseModel):
    stage: int
    version: int
    stale: bool
    summary: str
    key_points: list[str]
    gaps: list[str]
    coverage: list[Coverage]
    sources: list[Source]
    model: str
    run_id: str
    created_at: datetime


class Execution(BaseModel):
    run_id: str
    kind: Literal["question", "analysis", "charter"]
    stages: list[int]
    status: Literal["running", "succeeded", "failed"]
    error: dict[str, object] | None
    created_at: datetime


class Stage(BaseModel):
    number: int
    key: str
    title: str
    focus: str
    checklist: list[str]
    status: StageStatus
    done: bool
    agent_done: bool
    budget: int
    questions: list[Question]
    pending_question_id: str | None
    analysis: Analysis | None
    analysis_versions: int
    execution: Execution | None


class SessionRun(Execution):
    """A run of the session's workflow (`status`: what the session took from it)."""

    workflow: Literal["scoping-question", "scoping-analysis", "scoping-charter"]
    run_status: str = Field(description="the run's own status on the engine")
    settled_at: datetime | None


class WorkflowStep(BaseModel):
    """A step of the session's workflow: one of the five stages, or the charter."""

    step: str = Field(description="stage-1 ... stage-5, charter")
    stage: int | None
    title: str
    status: str = Field(
        description="a stage's status; the charter: locked, ready, writing, written or failed"
    )
    runs: list[SessionRun] = Field(description="the runs that executed this step, oldest first")


class Session(SessionSummary):
    access: Literal["owner", "edit", "read"]
    progress: int = Field(description="percent of the way through the five stages")
    stages: list[Stage]
    running: Execution | None
    charter_version: int | None
    workflow: list[WorkflowStep] = Field(
        description="the session's workflow: its five stages and the charter, each with its runs"
    )
    shares: list[Share]


class SessionDocument(BaseModel):
    """A document attached to a session, with its ingestion state."""

    id: str
    source: str
    title: str
    format: str
    size: int
    status: Literal["pending", "ingesting", "ready", "failed"]
    error: str | None
    chunk_count: int
    progress_done: int = Field(description="while ingesting: chunks embedded so far")
    progress_total: int
    run_id: str | None = Field(description="the kb-ingest run that indexes it")
    created_at: datetime
    updated_at: datetime


class SessionDocumentList(BaseModel):
    knowledge_base: str | None = Field(
        description="the id of the session's knowledge base (none before the first attach)"
    )
    items: list[SessionDocument]


class AnswerIn(Strict):
    question_id: str
    answer: str = Field(min_length=1, max_length=4000)


class SkipIn(Strict):
    question_id: str


class Started(BaseModel):
    run_id: str


class AnalysisList(BaseModel):
    items: list[Analysis]


class LogItem(BaseModel):
    stage: int
    question_id: str
    question: str
    answer: str | None
    skipped: bool
    by: str
    at: datetime


class QALog(BaseModel):
    items: list[LogItem]


class CharterVersion(BaseModel):
    version: int
    model: str
    prompts: dict[str, int]
    run_id: str
    created_by: str
    created_at: datetime


class CharterVersions(BaseModel):
    items: list[CharterVersion]


class SignOff(BaseModel):
    user_id: str
    name: str
    role: str
    decision: Literal["pending", "approved", "changes_requested"]
    comment: str
    requested_at: datetime
    decided_at: datetime | None


class CharterOut(CharterVersion):
    charter: Charter
    signoffs: list[SignOff]


class CharterDiff(BaseModel):
    from_version: int
    to_version: int
    changed: list[str]
    diff: str


class SignOffRequest(Strict):
    email: str = Field(min_length=3, max_length=320)
    role: str = Field("stakeholder", min_length=1, max_length=200)


class SignOffDecision(Strict):
    decision: Literal["approved", "changes_requested"]
    comment: str = Field("", max_length=4000)


class LimitsOut(BaseModel):
    user_concurrent: int
    user_hourly: int
    tenant_hourly: int | None
    installation_hourly: int
    custom: bool


class LimitsIn(Strict):
    user_concurrent: int = Field(ge=1, le=100)
    user_hourly: int = Field(ge=1)
    tenant_hourly: int | None = Field(None, ge=1)
