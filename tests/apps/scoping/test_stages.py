"""A whole session through the API: five stages of questions and analyses, going back to a
stage (later stages marked stale and analysed again, earlier versions kept), a model that
fails in the middle of a stage, and the session's progress over Server-Sent Events."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI

from tests.api.test_events import Hangup
from tests.apps.scoping.conftest import Person, S, answer_stage, new_session, settled_stage
from tests.apps.scoping.model import Scoping, question

ANSWERS = ["medium", "Invoices are keyed by hand", None, "Finance", "large"]


async def test_five_stages_asked_answered_and_analysed(people: Person, script: Scoping) -> None:
    ada = await people("acme")
    session = await new_session(ada)

    first = await answer_stage(ada, session, 1, ANSWERS[:2])
    assert first["status"] == "answering"
    assert [(q["seq"], q["kind"], q["answer"]) for q in first["questions"]] == [
        (1, "choice", "medium"),
        (2, "text", "Invoices are keyed by hand"),
        (3, "choice", None),
    ]
    assert first["questions"][0] | {"id": None, "asked_at": None, "answered_at": None} == {
        "id": None,
        "seq": 1,
        "text": "Stage 1, question 1: which option fits?",
        "kind": "choice",
        "choices": ["small", "medium", "large"],
        "recommended": "medium",
        "rationale": "sizes the work",
        "answer": "medium",
        "skipped": False,
        "answered": True,
        "answered_by": "admin@acme.example",
        "answered_at": None,
        "revisions": 1,
        "asked_at": None,
        "sources": [],
    }
    # Done before the budget is spent: the stage is analysed against its checklist.
    done = await ada.post(f"{S}/{session}/stages/1/done")
    assert done.status_code == 200, done.text
    first = await settled_stage(ada, session, 1)
    assert first["status"] == "analysed"
    assert first["analysis"] | {"run_id": None, "created_at": None} == {
        "stage": 1,
        "version": 1,
        "stale": False,
        "summary": "Stage 1 summary",
        "key_points": ["point of stage 1"],
        "gaps": ["not covered: why now", "not covered: current situation"],
        "coverage": [
            {"item": "problem statement", "covered": True},
            {"item": "who is affected", "covered": True},
            {"item": "why now", "covered": False},
            {"item": "current situation", "covered": False},
        ],
        "sources": [],
        "model": "openai:gpt-4.1-mini",
        "run_id": None,
        "created_at": None,
    }

    # Stages 2 to 5: five answers each (one skipped), after which the stage is analysed itself.
    for number in range(2, 6):
        stage = await answer_stage(ada, session, number, ANSWERS)
        assert stage["status"] == "analysed", stage
        assert [q["skipped"] for q in stage["questions"]] == [False, False, True, False, False]
        assert stage["analysis"]["summary"] == f"Stage {number} summary"

    whole = (await ada.get(f"{S}/{session}")).json()
    assert (whole["progress"], [s["status"] for s in whole["stages"]]) == (100, ["analysed"] * 5)
    assert script.seen == [
        "ask 1.1",
        "ask 1.2",
        "ask 1.3",
        "analyse 1",
        *[s for n in range(2, 6) for s in [*(f"ask {n}.{q}" for q in range(1, 6)), f"analyse {n}"]],
    ]
    # Earlier answers shape later questions: stage 3's first question saw stages 1 and 2.
    asked = script.prompts[script.seen.index("ask 3.1")]
    earlier = asked.split("Earlier stages:\n")[1].split("\n\n")[0]
    assert earlier.splitlines()[:3] == [
        "Stage 1 (Problem and context):",
        "- Q: Stage 1, question 1: which option fits?",
        "  A: medium",
    ]
    assert "Stage 2 (Goals, success metrics and stakeholders):" in earlier
    assert "  A: Finance" in earlier
    assert "  A: (skipped)" in earlier
    assert "Stage 3" not in earlier
    log = (await ada.get(f"{S}/{session}/log")).json()["items"]
    assert len(log) == 2 + 4 * 5
    assert [i["answer"] for i in log[:2]] == ["medium", "Invoices are keyed by hand"]


async def test_going_back_marks_later_stages_stale_and_analyses_them_again(
    people: Person, script: Scoping
) -> None:
    ada = await people("acme")
    session = await new_session(ada)
    for number in range(1, 5):
        await answer_stage(ada, session, number, ANSWERS)

    # Stage 5 cannot be skipped to, nor stage 6 reached.
    assert (await ada.post(f"{S}/{session}/stages/6/open")).status_code == 404
    back = await ada.post(f"{S}/{session}/stages/2/open")
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "ready"  # its five questions are answered: change or finish
    statuses = [s["status"] for s in (await ada.get(f"{S}/{session}")).json()["stages"]]
    assert statuses == ["analysed", "ready", "stale", "stale", "locked"]

    question = back.json()["questions"][1]
    changed = await ada.post(
        f"{S}/{session}/stages/2/answer",
        json={"question_id": question["id"], "answer": "Revenue per customer"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["questions"][1] | {"answered_at": None} == question | {
        "answer": "Revenue per customer",
        "revisions": 2,
        "answered_at": None,
    }
    script.seen.clear()
    assert (await ada.post(f"{S}/{session}/stages/2/done")).status_code == 200
    stage = await settled_stage(ada, session, 2)
    assert stage["status"] == "analysed"
    assert sorted(script.seen) == ["analyse 2", "analyse 3", "analyse 4"]

    for number, versions in [(2, 2), (3, 2), (4, 2)]:
        kept = (await ada.get(f"{S}/{session}/stages/{number}/analyses")).json()["items"]
        assert [(a["version"], a["stale"]) for a in kept] == [(1, number > 2), (2, False)]
        assert len(kept) == versions
    statuses = [s["status"] for s in (await ada.get(f"{S}/{session}")).json()["stages"]]
    assert statuses == ["analysed"] * 4 + ["locked"]
    # Both answers to the changed question stay in the log, in order.
    log = (await ada.get(f"{S}/{session}/log")).json()["items"]
    mine = [i["answer"] for i in log if i["question_id"] == question["id"]]
    assert mine == ["Invoices are keyed by hand", "Revenue per customer"]

    # The session's workflow: the five stages and the charter, each with the runs that executed
    # it; the one analysis run after going back is under stages 2, 3 and 4.
    workflow = (await ada.get(f"{S}/{session}")).json()["workflow"]
    assert [(w["step"], w["status"]) for w in workflow] == [
        ("stage-1", "analysed"),
        ("stage-2", "analysed"),
        ("stage-3", "analysed"),
        ("stage-4", "analysed"),
        ("stage-5", "locked"),
        ("charter", "locked"),
    ]
    three = workflow[2]["runs"]
    assert [
        (r["workflow"], r["kind"], r["stages"], r["status"], r["run_status"]) for r in three
    ] == [
        *[("scoping-question", "question", [3], "succeeded", "succeeded")] * 5,
        ("scoping-analysis", "analysis", [3], "succeeded", "succeeded"),
        ("scoping-analysis", "analysis", [2, 3, 4], "succeeded", "succeeded"),
    ]
    assert workflow[1]["runs"][-1] == three[-1] == workflow[3]["runs"][-1]
    assert (workflow[4]["runs"], workflow[5]["runs"]) == ([], [])
    # Each is a run of the tenant's, as any run: the engine's record names the session.
    run = (await ada.get(f"/api/v1/runs/{three[-1]['run_id']}")).json()
    assert (run["workflow_id"], run["status"], run["ctx"]["scoping_session"]) == (
        "scoping-analysis",
        "succeeded",
        session,
    )


async def test_a_model_failure_mid_stage_keeps_the_answers_and_resumes(
    people: Person, script: Scoping
) -> None:
    ada = await people("acme")
    session = await new_session(ada)
    stage = await answer_stage(ada, session, 1, ["medium"])
    # The model goes down for longer than the gateway's and the step's retries last.
    script.fail = 100
    pending = stage["pending_question_id"]
    answered = await ada.post(
        f"{S}/{session}/stages/1/answer", json={"question_id": pending, "answer": "By hand"}
    )
    assert answered.status_code == 200
    stage = await settled_stage(ada, session, 1)
    assert stage["status"] == "failed"
    assert stage["execution"]["status"] == "failed"
    assert stage["execution"]["error"]["code"] == "model_unavailable"
    assert [q["answer"] for q in stage["questions"]] == ["medium", "By hand"]

    # The model is back: resuming asks the next question; nothing was lost.
    script.fail = 0
    resumed = await ada.post(f"{S}/{session}/stages/1/resume")
    assert resumed.status_code == 201, resumed.text
    stage = await settled_stage(ada, session, 1)
    assert stage["status"] == "answering"
    assert [q["answer"] for q in stage["questions"]] == ["medium", "By hand", None]
    runs = (await ada.get(f"{S}/{session}")).json()["workflow"][0]["runs"]
    assert [(r["status"], r["run_status"]) for r in runs] == [
        ("succeeded", "succeeded"),
        ("succeeded", "succeeded"),
        ("failed", "dead"),
        ("succeeded", "succeeded"),
    ]
    assert runs[2]["error"]["code"] == "model_unavailable"

    # A failure the step's own retries ride out is invisible but for the time it took.
    script.fail = 2
    pending = stage["pending_question_id"]
    await ada.post(f"{S}/{session}/stages/1/skip", json={"question_id": pending})
    stage = await settled_stage(ada, session, 1)
    assert (stage["status"], len(stage["questions"])) == ("answering", 4)


async def test_a_model_that_writes_no_question_gets_the_stages_own_in_turn(
    people: Person, script: Scoping
) -> None:
    script.blank = True
    ada = await people("acme")
    session = await new_session(ada)
    stage = await answer_stage(ada, session, 1, ["Invoices are keyed by hand"])
    assert [(q["text"], q["kind"], q["choices"]) for q in stage["questions"]] == [
        ("What problem should this project solve?", "text", []),
        ("Who has this problem, and how does it affect them?", "text", []),
    ]


async def test_progress_streams_over_server_sent_events(people: Person, scoping: FastAPI) -> None:
    ada = await people("acme")
    session = await new_session(ada)
    token = ada.headers["Authorization"].removeprefix("Bearer ")
    stream = Hangup(scoping, SimpleNamespace(access_token=token), f"{S}/{session}/events")  # type: ignore[arg-type]
    frames = []
    async with stream.open():
        frames.append(await stream.frame())
        assert (await ada.post(f"{S}/{session}/stages/1/open")).status_code == 200
        while True:
            frames.append(await stream.frame())
            if frames[-1]["event"] == "session" and status_of(frames[-1]) == "answering":
                break
    assert (b"content-type", b"text/event-stream; charset=utf-8") in stream.start["headers"]
    # A frame comes whenever the session changes, the run's own status too (queued, running):
    # the stage's status goes through these, in order.
    sessions = [status_of(f) for f in frames if f["event"] == "session"]
    assert [s for i, s in enumerate(sessions) if i == 0 or s != sessions[i - 1]] == [
        "waiting",
        "asking",
        "answering",
    ]
    runs = frames[-1]["data"]["workflow"][0]["runs"]
    assert [(r["workflow"], r["status"], r["run_status"]) for r in runs] == [
        ("scoping-question", "succeeded", "succeeded")
    ]
    text = "".join(f["data"]["text"] for f in frames if f["event"] == "delta")
    assert text == json.dumps(question(1, 1))

    once = await ada.get(f"{S}/{session}/events", params={"follow": "false"})
    assert once.text.startswith("event: session\ndata: ")
    assert once.text.count("event: ") == 1


def status_of(frame: dict[str, Any]) -> str:
    return str(frame["data"]["stages"][0]["status"])
