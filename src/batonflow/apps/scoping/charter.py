"""The charter: its typed schema (JSON), its Markdown, and the diff between two versions.

The model drafts the sections (`CharterDraft`); the service adds the title and the session's
Q -> A log as the appendix, so the log is always the one the person gave, word for word.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, Field

Level = Literal["low", "medium", "high"]


class Goal(BaseModel):
    goal: str
    success_criteria: list[str] = Field(default_factory=list)


class Stakeholder(BaseModel):
    name: str
    role: str


class Requirement(BaseModel):
    text: str
    priority: Literal["must", "should", "could"]


class Risk(BaseModel):
    risk: str
    likelihood: Level
    impact: Level
    mitigation: str


class Milestone(BaseModel):
    name: str
    target: str  # a date or a relative time ("week 6")


class CharterDraft(BaseModel):
    problem_statement: str
    goals: list[Goal] = Field(default_factory=list)
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    scope_in: list[str] = Field(default_factory=list)
    scope_out: list[str] = Field(default_factory=list)
    requirements: list[Requirement] = Field(default_factory=list)
    risks: list[Risk] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    timeline: str = ""
    budget: str = ""
    resources: list[str] = Field(default_factory=list)
    open_questions: list[str] = Field(default_factory=list)


class LogEntry(BaseModel):
    stage: int
    stage_title: str
    question: str
    answer: str | None  # None: skipped


class Charter(CharterDraft):
    """A whole charter as stored and served: the draft, its title and the Q -> A appendix."""

    title: str
    qa_log: list[LogEntry] = Field(default_factory=list)


def _bullets(items: list[str]) -> list[str]:
    return [f"- {item}" for item in items] or ["- (none)"]


def markdown(charter: Charter, *, version: int | None = None) -> str:
    """The charter as Markdown, section by section, with the Q -> A log as the appendix."""
    c = charter
    head = f"# Project charter: {c.title}"
    lines = [head + (f" (version {version})" if version else ""), ""]
    lines += ["## Problem statement", "", c.problem_statement or "(not stated)", ""]
    lines += ["## Goals and success criteria", ""]
    for goal in c.goals:
        lines.append(f"- {goal.goal}")
        lines += [f"  - success: {criterion}" for criterion in goal.success_criteria]
    lines += ["- (none)"] if not c.goals else []
    lines += ["", "## Stakeholders and roles", ""]
    lines += [f"- {s.name}: {s.role}" for s in c.stakeholders] or ["- (none)"]
    lines += ["", "## Scope", "", "In scope:", *_bullets(c.scope_in), "", "Out of scope:"]
    lines += [*_bullets(c.scope_out), "", "## Requirements", ""]
    lines += [f"- [{r.priority}] {r.text}" for r in c.requirements] or ["- (none)"]
    lines += ["", "## Risks", ""]
    lines += [
        f"- {r.risk} (likelihood {r.likelihood}, impact {r.impact}); mitigation: {r.mitigation}"
        for r in c.risks
    ] or ["- (none)"]
    lines += ["", "## Constraints", "", *_bullets(c.constraints)]
    lines += ["", "## Assumptions", "", *_bullets(c.assumptions)]
    lines += ["", "## Milestones and timeline", ""]
    lines += [f"- {m.name}: {m.target}" for m in c.milestones] or ["- (none)"]
    lines += ["", f"Timeline: {c.timeline or '(not stated)'}"]
    lines += ["", "## Budget and resources", "", f"Budget: {c.budget or '(not stated)'}", ""]
    lines += ["Resources:", *_bullets(c.resources)]
    lines += ["", "## Open questions", "", *_bullets(c.open_questions)]
    lines += ["", "## Appendix: questions and answers", ""]
    stage_seen = None
    for entry in c.qa_log:
        if entry.stage != stage_seen:
            lines += [f"### Stage {entry.stage}: {entry.stage_title}", ""]
            stage_seen = entry.stage
        lines += [f"- Q: {entry.question}", f"  A: {entry.answer or '(skipped)'}"]
    return "\n".join(lines).rstrip() + "\n"


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The top-level fields whose values differ, in the schema's order."""
    return [name for name in Charter.model_fields if old.get(name) != new.get(name)]


def diff(old: Charter, new: Charter, old_version: int, new_version: int) -> str:
    """A unified diff of the two versions' Markdown."""
    return "".join(
        difflib.unified_diff(
            markdown(old).splitlines(keepends=True),
            markdown(new).splitlines(keepends=True),
            fromfile=f"version {old_version}",
            tofile=f"version {new_version}",
        )
    )
