"""The five stages of a scoping session: what each is about and the checklist its analysis
checks coverage against. Plain data, shared by the agents, the service and the charter."""

from __future__ import annotations

from dataclasses import dataclass

QUESTION_BUDGET = 5  # questions an agent may ask in one stage


@dataclass(frozen=True, slots=True)
class Stage:
    number: int
    key: str
    title: str
    focus: str
    checklist: tuple[str, ...]
    # Asked in turn when the model writes no usable question (a small local model may not).
    fallback: tuple[str, ...]


STAGES: tuple[Stage, ...] = (
    Stage(
        1,
        "problem",
        "Problem and context",
        "the problem to solve, who has it, why it matters now, and the current situation",
        ("problem statement", "who is affected", "why now", "current situation"),
        (
            "What problem should this project solve?",
            "Who has this problem, and how does it affect them?",
            "Why does it need solving now?",
            "How is it handled today?",
            "What else should we know about the context?",
        ),
    ),
    Stage(
        2,
        "goals",
        "Goals, success metrics and stakeholders",
        "the goals, how success is measured, and the stakeholders with their roles",
        ("goals", "measurable success criteria", "stakeholders", "decision maker"),
        (
            "What are the project's goals?",
            "How will you measure success, in numbers?",
            "Who are the stakeholders, and what is each one's role?",
            "Who decides, and who signs off the result?",
            "What would make the project a failure?",
        ),
    ),
    Stage(
        3,
        "scope",
        "Scope and requirements",
        "what is in scope, what is explicitly out of scope, and the requirements with priorities",
        ("in scope", "out of scope", "requirements", "priorities"),
        (
            "What is in scope?",
            "What is explicitly out of scope?",
            "Which requirements must the result meet?",
            "Which requirements matter most, and which could wait?",
            "Which requirements are still unclear?",
        ),
    ),
    Stage(
        4,
        "risks",
        "Risks, constraints, assumptions and dependencies",
        "the risks with likelihood and impact, constraints, assumptions and dependencies",
        ("risks", "mitigations", "constraints", "assumptions", "dependencies"),
        (
            "What could go wrong, and how likely and how bad would it be?",
            "How would you prevent or soften the biggest risks?",
            "What constraints must the project respect (time, money, rules, systems)?",
            "What are you assuming to be true?",
            "What does the project depend on (teams, suppliers, other projects)?",
        ),
    ),
    Stage(
        5,
        "plan",
        "Plan: milestones, timeline, resources and budget",
        "the milestones, the timeline, the people and resources needed, and the budget",
        ("milestones", "timeline", "resources", "budget"),
        (
            "What are the main milestones?",
            "When should each milestone be reached?",
            "Who will work on it, and what else is needed?",
            "What is the budget?",
            "What must happen first?",
        ),
    ),
)

STAGE_COUNT = len(STAGES)


def stage(number: int) -> Stage:
    return STAGES[number - 1]
