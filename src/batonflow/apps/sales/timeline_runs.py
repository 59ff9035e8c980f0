"""The runs that worked on a sales record, for its timeline (`timeline.py`): which runs they
are (a run whose input names the record, or a pipeline run of its deal), their start and end,
their reviews (asked, and who decided what and when), and a lead's scores from their steps.
Every query filters on `tenant_id`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import agent_runs, pipeline
from batonflow.apps.sales import timeline_records as records
from batonflow.apps.sales.sdr_agent import QUALIFY_WORKFLOW
from batonflow.apps.sales.timeline_records import Event, by
from batonflow.store.db import Conn
from batonflow.store.reviews import reviews_t
from batonflow.store.runs import runs_t
from batonflow.store.tables import Step, table

WORKFLOWS = (pipeline.OUTREACH, pipeline.DEAL, QUALIFY_WORKFLOW.id)
steps_t = table(Step)


@dataclass(frozen=True, slots=True)
class Worked:
    """Runs to show, by id, each with the review steps to show (None: all of them)."""

    runs: dict[str, frozenset[str] | None]

    def add(self, run_id: str, steps: frozenset[str] | None) -> None:
        if run_id in self.runs and self.runs[run_id] is None:
            return
        known = self.runs.get(run_id)
        self.runs[run_id] = steps if known is None or steps is None else known | steps


def _names(inputs: dict[str, Any] | None) -> Iterable[dict[str, Any]]:
    """A pipeline run's inputs, and a capability run's `input`."""
    inputs = inputs or {}
    yield inputs
    if isinstance(inputs.get("input"), dict):
        yield inputs["input"]


async def naming_runs(
    conn: Conn, tenant_id: str, named: list[tuple[str, str]], worked: Worked
) -> None:
    """The sales runs whose input names one of the records: all their reviews are shown. The
    database keeps the runs whose inputs' text holds one of the ids; the exact key is checked
    here, where the JSON is read the same way on SQLite and PostgreSQL."""
    text = sa.cast(runs_t.c.inputs, sa.Text)
    rows = await conn.execute(
        sa.select(runs_t.c.id, runs_t.c.inputs).where(
            runs_t.c.tenant_id == tenant_id,
            sa.or_(
                runs_t.c.workflow_id.in_(WORKFLOWS),
                runs_t.c.workflow_id.startswith(agent_runs.PREFIX, autoescape=True),
            ),
            sa.or_(*(text.contains(value, autoescape=True) for _, value in named)),
        )
    )
    for row in rows:
        if any(given.get(key) == value for given in _names(row.inputs) for key, value in named):
            worked.add(row.id, None)


async def pipeline_runs(
    conn: Conn, tenant_id: str, subject: pipeline.Subject, worked: Worked
) -> None:
    for run_id in await pipeline.runs_on(conn, tenant_id, subject):
        worked.add(run_id, subject.steps)


async def run_events(conn: Conn, tenant_id: str, worked: Worked) -> tuple[list[Event], list[str]]:
    if not worked.runs:
        return [], []
    rows = await conn.execute(
        sa.select(runs_t)
        .where(runs_t.c.tenant_id == tenant_id, runs_t.c.id.in_(list(worked.runs)))
        .order_by(runs_t.c.created_at, runs_t.c.id)
    )
    events: list[Event] = []
    ids: list[str] = []
    for run in rows:
        ids.append(run.id)
        what = _what(run)
        ended = run.status in agent_runs.ENDED
        now = "" if ended else f" (now {run.status})"
        events.append(
            by(
                run.created_by,
                "run.started",
                run.created_at,
                f"Started the {what}{now}.",
                run_id=run.id,
            )
        )
        if ended and run.finished_at is not None:
            error = (run.error or {}).get("message")
            why = f": {error}" if error and run.status != "succeeded" else ""
            events.append(
                by(
                    None,
                    f"run.{run.status}",
                    run.finished_at,
                    f"The {what} {ENDINGS.get(run.status, run.status)}{why}.",
                    run_id=run.id,
                )
            )
    return events, ids


ENDINGS = {"dead": "stopped for good (dead)", "cancelled": "was cancelled"}


def _what(run: Any) -> str:
    if run.workflow_id.startswith(agent_runs.PREFIX):
        return f"run of the capability {run.workflow_id.removeprefix(agent_runs.PREFIX)}"
    return f"{run.workflow_id} run"


DECIDED = {
    "approved": "approved",
    "edited": "edited and approved",
    "rejected": "rejected",
    "submitted": "answered",
    "cancelled": "cancelled",
    "overridden": "overrode",
}


async def review_events(
    conn: Conn, tenant_id: str, worked: Worked
) -> tuple[list[Event], list[str], dict[str, Event]]:
    """The reviews of the runs, and their decided events by review id (to link audit entries)."""
    if not worked.runs:
        return [], [], {}
    rows = await conn.execute(
        sa.select(reviews_t)
        .where(reviews_t.c.tenant_id == tenant_id, reviews_t.c.run_id.in_(list(worked.runs)))
        .order_by(reviews_t.c.created_at, reviews_t.c.id)
    )
    events: list[Event] = []
    ids: list[str] = []
    decided: dict[str, Event] = {}
    for row in rows:
        steps = worked.runs[row.run_id]
        if steps is not None and row.step_key not in steps:
            continue
        ids.append(row.id)
        links = {"run_id": row.run_id, "review_id": row.id}
        who = " or ".join(row.reviewers) or "anyone"
        asked = "an answer" if row.kind == "input" else "a review"
        events.append(
            by(
                None,
                f"{row.kind}.requested",
                row.created_at,
                f"Step {row.step_key} waits for {asked} by {who}.",
                **links,
            )
        )
        if row.decided_at is None:
            continue
        did = DECIDED.get(row.status, row.status)
        comment = f": {row.comment}" if row.comment else ""
        event = by(
            row.decided_by,
            f"{row.kind}.{row.status}",
            row.decided_at,
            f"{row.decided_by or records.SYSTEM} {did} step {row.step_key}{comment}.",
            **links,
        )
        events.append(event)
        decided[row.id] = event
    return events, ids, decided


async def scores(conn: Conn, tenant_id: str, run_ids: list[str], lead: Any) -> list[Event]:
    """Each time the lead was scored: the finished steps of its runs whose result is a score
    with its reasons; without any, the score on the lead at its last change."""
    found: list[Event] = []
    if run_ids:
        rows = await conn.execute(
            sa.select(steps_t.c.run_id, steps_t.c.result, steps_t.c.finished_at)
            .where(
                steps_t.c.tenant_id == tenant_id,
                steps_t.c.run_id.in_(run_ids),
                steps_t.c.status == "succeeded",
                steps_t.c.finished_at.is_not(None),
            )
            .order_by(steps_t.c.finished_at)
        )
        for row in rows:
            result = row.result
            if (
                isinstance(result, dict)
                and result.get("lead_id") == lead.id
                and {"score", "reasons"} <= result.keys()
            ):
                found.append(
                    records.score_event(
                        result["score"], result["reasons"], row.finished_at, row.run_id
                    )
                )
    if not found and lead.score is not None:
        found.append(records.score_event(lead.score, lead.score_reasons, lead.updated_at, None))
    return found
