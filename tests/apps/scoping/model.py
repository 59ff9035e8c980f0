"""A scripted model for the scoping app's tests, served by the loopback OpenAI server: it
answers each agent's structured request by the schema it asks for, so the tests drive whole
sessions without caring about the order of calls. It keeps every prompt it was sent, and when
a request offers passages to cite it cites the first one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from batonflow_testkit.fakeserver import Behaviour, Fail, Reply

MODEL = "openai:gpt-4.1-mini"
STAGE = re.compile(r"Stage (\d) of 5")
ASK = re.compile(r"Ask question (\d)")


def question(stage: int, seq: int) -> dict[str, Any]:
    if seq % 2:
        return {
            "done": False,
            "question": f"Stage {stage}, question {seq}: which option fits?",
            "choices": ["small", "medium", "large"],
            "recommended": "medium",
            "rationale": "sizes the work",
        }
    return {
        "done": False,
        "question": f"Stage {stage}, question {seq}: describe it",
        "choices": [],
        "recommended": None,
        "rationale": "free text",
    }


CHECKLISTS = {
    1: ["problem statement", "who is affected"],
    2: ["goals", "stakeholders"],
    3: ["in scope", "requirements"],
    4: ["risks", "constraints"],
    5: ["milestones", "budget"],
}


def charter_draft(tag: str) -> dict[str, Any]:
    return {
        "problem_statement": f"Invoices are keyed by hand ({tag})",
        "goals": [{"goal": "Automate invoice entry", "success_criteria": ["90% keyed by machine"]}],
        "stakeholders": [{"name": "Finance lead", "role": "sponsor"}],
        "scope_in": ["supplier invoices"],
        "scope_out": ["payroll"],
        "requirements": [{"text": "Read PDF invoices", "priority": "must"}],
        "risks": [
            {
                "risk": "Poor scans",
                "likelihood": "medium",
                "impact": "high",
                "mitigation": "Manual review queue",
            }
        ],
        "constraints": ["Existing ERP stays"],
        "assumptions": ["Suppliers send PDFs"],
        "milestones": [{"name": "Pilot", "target": "week 6"}],
        "timeline": "Three months",
        "budget": "40,000 EUR",
        "resources": ["two engineers"],
        "open_questions": ["Which ERP module?"],
    }


@dataclass
class Scoping:
    """Answers the scoping agents; `fail` makes the next calls fail (HTTP 500) that many times."""

    fail: int = 0
    delay: float = 0.0  # seconds each question takes
    blank: bool = False  # write empty questions, as a small local model may
    charter_tag: str = "v1"
    seen: list[str] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)  # each request's last message, in order

    def __call__(self, path: str, body: dict[str, Any]) -> Behaviour:
        if self.fail:
            self.fail -= 1
            return Fail(500, message="the model is down")
        prompt = body["messages"][-1]["content"]
        self.prompts.append(prompt)
        schema = json.dumps(body.get("response_format", {}))
        cite = _citable(body.get("response_format", {}))
        if "problem_statement" in schema:
            self.seen.append("charter")
            return Reply(json.dumps(charter_draft(self.charter_tag)))
        number = int(STAGE.search(prompt).group(1))  # type: ignore[union-attr]
        if "key_points" in schema:
            self.seen.append(f"analyse {number}")
            analysis = {
                "summary": f"Stage {number} summary",
                "key_points": [f"point of stage {number}"],
                "gaps": [],
                "covered": CHECKLISTS[number],
            }
            return Reply(json.dumps(analysis | cite))
        seq = int(ASK.search(prompt).group(1))  # type: ignore[union-attr]
        self.seen.append(f"ask {number}.{seq}")
        if self.blank:
            return Reply(json.dumps({"done": False, "question": "", "choices": ["a", "b"]}))
        return Reply(json.dumps(question(number, seq) | cite), delay=self.delay)


def _citable(response_format: dict[str, Any]) -> dict[str, Any]:
    """`{"citations": [the first id offered]}` when the schema offers ids to cite."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            cited = node.get("properties", {}).get("citations")
            if isinstance(cited, dict) and "enum" in cited.get("items", {}):
                found.append(cited["items"]["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(response_format)
    return {"citations": found[0][:1]} if found else {}
