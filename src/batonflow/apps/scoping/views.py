"""What a session and its stages look like to a person, worked out from the rows (pure).

A stage is `locked` until reached, then `asking` (its question agent runs), `answering` (a
question waits for an answer), `waiting` (the next step needs `resume`: the last execution was
refused or nothing is running), `ready` (no more questions: say done), `analysing`,
`analysed`, `stale` (an earlier stage changed since its analysis) or `failed` (its last
execution failed after its retries; `resume` runs it again, no answer is lost).
"""

from __future__ import annotations

from typing import Any

from batonflow.apps.scoping.stages import QUESTION_BUDGET, STAGES, stage


def qa_of(questions: list[dict[str, Any]], number: int) -> list[dict[str, Any]]:
    """The answered (or skipped) questions of a stage, as the agents read them."""
    return [
        {"question": q["text"], "answer": q["answer"]["text"]}
        for q in questions
        if q["stage"] == number and q["answer"] is not None
    ]


def pending(questions: list[dict[str, Any]], number: int) -> dict[str, Any] | None:
    return next((q for q in questions if q["stage"] == number and q["answer"] is None), None)


def last_execution(executions: list[dict[str, Any]], number: int) -> dict[str, Any] | None:
    mine = [e for e in executions if e["kind"] != "charter" and number in e["stages"]]
    return mine[-1] if mine else None


def latest_analysis(analyses: list[dict[str, Any]], number: int) -> dict[str, Any] | None:
    mine = [a for a in analyses if a["stage"] == number]
    return mine[-1] if mine else None


def status(
    row: dict[str, Any] | None,
    questions: list[dict[str, Any]],
    executions: list[dict[str, Any]],
    analyses: list[dict[str, Any]],
    number: int,
) -> str:
    if row is None:
        return "locked"
    last = last_execution(executions, number)
    if last is not None and last["status"] == "running":
        return "asking" if last["kind"] == "question" else "analysing"
    if last is not None and last["status"] == "failed":
        return "failed"
    analysis = latest_analysis(analyses, number)
    if row["done"]:
        if analysis is not None and last is not None and last["kind"] == "analysis":
            return "stale" if analysis["stale"] else "analysed"
        return "waiting"
    if analysis is not None and analysis["stale"]:
        return "stale"
    if pending(questions, number) is not None:
        return "answering"
    asked = sum(1 for q in questions if q["stage"] == number)
    if asked >= QUESTION_BUDGET or row["agent_done"]:
        return "ready"
    return "waiting"


def question_view(q: dict[str, Any]) -> dict[str, Any]:
    answer = q["answer"]
    return {
        "id": q["id"],
        "seq": q["seq"],
        "text": q["text"],
        "kind": q["kind"],
        "choices": q["choices"],
        "recommended": q["recommended"],
        "rationale": q["rationale"],
        "answer": None if answer is None else answer["text"],
        "skipped": bool(answer and answer["skipped"]),
        "answered": answer is not None,
        "answered_by": None if answer is None else answer["by_name"],
        "answered_at": None if answer is None else answer["answered_at"],
        "revisions": q["answers"],
        "asked_at": q["asked_at"],
        "sources": q["sources"] or [],
    }


def analysis_view(a: dict[str, Any]) -> dict[str, Any]:
    body = a["body"]
    return {
        "stage": a["stage"],
        "version": a["version"],
        "stale": a["stale"],
        "summary": body["summary"],
        "key_points": body["key_points"],
        "gaps": body["gaps"],
        "coverage": body["coverage"],
        "sources": body.get("sources", []),
        "model": a["model"],
        "run_id": a["run_id"],
        "created_at": a["created_at"],
    }


def execution_view(e: dict[str, Any] | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "run_id": e["run_id"],
        "kind": e["kind"],
        "stages": e["stages"],
        "status": e["status"],
        "error": e["error"],
        "created_at": e["created_at"],
    }


def stage_view(
    rows: dict[int, dict[str, Any]],
    questions: list[dict[str, Any]],
    executions: list[dict[str, Any]],
    analyses: list[dict[str, Any]],
    number: int,
) -> dict[str, Any]:
    info = stage(number)
    row = rows.get(number)
    analysis = latest_analysis(analyses, number)
    waiting = pending(questions, number)
    mine = [q for q in questions if q["stage"] == number]
    return {
        "number": number,
        "key": info.key,
        "title": info.title,
        "focus": info.focus,
        "checklist": list(info.checklist),
        "status": status(row, questions, executions, analyses, number),
        "done": bool(row and row["done"]),
        "agent_done": bool(row and row["agent_done"]),
        "budget": QUESTION_BUDGET,
        "questions": [question_view(q) for q in mine],
        "pending_question_id": None if waiting is None else waiting["id"],
        "analysis": None if analysis is None else analysis_view(analysis),
        "analysis_versions": sum(1 for a in analyses if a["stage"] == number),
        "execution": execution_view(last_execution(executions, number)),
    }


WORKFLOWS = {
    "question": "scoping-question",
    "analysis": "scoping-analysis",
    "charter": "scoping-charter",
}


def run_view(e: dict[str, Any]) -> dict[str, Any]:
    """An execution as a run of the session's workflow: which workflow, and the run's own
    status beside what the session took from it."""
    return {
        **(execution_view(e) or {}),
        "workflow": WORKFLOWS[e["kind"]],
        "run_status": e["run_status"],
        "settled_at": e["settled_at"],
    }


def _charter_status(
    stages: list[dict[str, Any]], writes: list[dict[str, Any]], versions: int
) -> str:
    last = writes[-1]["status"] if writes else None
    if last == "running":
        return "writing"
    if last == "failed":
        return "failed"
    if versions:
        return "written"
    return "ready" if all(s["status"] == "analysed" for s in stages) else "locked"


def workflow_view(
    stages: list[dict[str, Any]], executions: list[dict[str, Any]], versions: int
) -> list[dict[str, Any]]:
    """The session as its workflow: the five stages and the charter, in order, each step with
    the runs that executed it (an analysis run that re-analysed stale stages is under each)."""
    steps = [
        {
            "step": f"stage-{s['number']}",
            "stage": s["number"],
            "title": s["title"],
            "status": s["status"],
            "runs": [
                run_view(e)
                for e in executions
                if e["kind"] != "charter" and s["number"] in e["stages"]
            ],
        }
        for s in stages
    ]
    writes = [e for e in executions if e["kind"] == "charter"]
    steps.append(
        {
            "step": "charter",
            "stage": None,
            "title": "Charter",
            "status": _charter_status(stages, writes, versions),
            "runs": [run_view(e) for e in writes],
        }
    )
    return steps


def progress(stages: list[dict[str, Any]]) -> int:
    """Percent of the way through the five stages: each analysed stage counts a fifth, a
    stage under way a share by the questions answered."""
    total = 0.0
    for view in stages:
        if view["status"] == "analysed":
            total += 1
        elif view["status"] != "locked":
            answered = sum(1 for q in view["questions"] if q["answered"])
            total += 0.8 * min(answered, view["budget"]) / view["budget"]
    return round(100 * total / len(STAGES))
