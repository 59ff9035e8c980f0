"""The SDR agent's typed inputs and outputs, what its model writes, and the scoring API's bodies.

The model's replies (`NotesReading`, `OutreachDraft`) are validated against these schemas by the
gateway; lengths are cut in code rather than in the schema (a local model's grammar would spell a
length limit out character by character)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from batonflow.apps.sales.scoring import ScoreRules


class ScoreReason(BaseModel):
    source: Literal["rules", "model"] = Field(description="who gave the points")
    rule: str = Field(description="industry, employees, budget, title; notes for the model")
    points: int
    why: str


class QualifyIn(BaseModel):
    lead_id: str


class Qualified(BaseModel):
    lead_id: str
    score: int = Field(ge=0, le=100)
    reasons: list[ScoreReason]
    status: str = Field(description="the lead's status after qualifying")
    rules_version: int = Field(description="the scoring rules' version (0: the defaults)")
    intent: str = Field(description="the model's reading of what the lead wants")
    concerns: list[str] = Field(description="what the model reads as holding the lead back")
    model: str
    prompt_version: int


class NotesReading(BaseModel):
    """What the model writes about a lead's notes."""

    intent: str
    concerns: list[str] = Field(default_factory=list)
    adjustment: int = Field(ge=-100, le=100)
    why: str


class OutreachIn(BaseModel):
    lead_id: str
    knowledge_bases: list[str] | None = Field(
        None, description="the knowledge bases to ground in (default: the app's knowledge_base)"
    )


class Citation(BaseModel):
    id: str = Field(description="the passage's citation id")
    document: str = Field(description="the document's title, or its source")
    text: str = Field(description="the passage")


class Outreach(BaseModel):
    lead_id: str
    to: str
    subject: str
    body: str
    citations: list[Citation]
    model: str
    prompt_version: int


class OutreachDraft(BaseModel):
    """What the model writes for a first email (its `citations` restricted to the passages)."""

    subject: str
    body: str
    citations: list[str] = Field(default_factory=list)


class ScoringRules(BaseModel):
    """The scoring rules in force and their version (0: the defaults, never set)."""

    version: int
    rules: ScoreRules
    created_by: str | None = None
    created_at: datetime | None = None


class QualifyStarted(BaseModel):
    run_id: str = Field(description="the durable run qualifying the lead: follow /api/v1/runs/{id}")
    lead_id: str
