"""The scoping app's agents: the question agent asks a stage's next question, the analyst
analyses a stage against its checklist, and the charter writer drafts the charter. Each calls
the LLM gateway bound to its step attempt (`ctx.llm`): the local model by default, whatever
`BATONFLOW_SCOPING_MODEL` names otherwise. The question agent and the analyst also read the
documents attached to the session: a few passages of its knowledge base (`passages.py`), which
what they write cites as its `sources`. Their prompts are versioned here (`PROMPTS`), and what
they produced records those versions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext
from batonflow.apps.scoping import passages
from batonflow.apps.scoping.charter import CharterDraft
from batonflow.apps.scoping.passages import Source
from batonflow.apps.scoping.stages import QUESTION_BUDGET, stage
from batonflow.errors import StepFailed
from batonflow.llm.bounds import bounded, longest
from batonflow.llm.untrusted import with_notice

questioner = Agent("scoping-questioner", "Asks a scoping stage's next question")
analyst = Agent("scoping-analyst", "Analyses a scoping stage: summary, gaps, coverage")
writer = Agent("scoping-charter-writer", "Writes a project charter from the five stages")

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"scoping.question": 2, "scoping.analyse": 2, "scoping.charter": 1}


class QA(BaseModel):
    question: str
    answer: str | None = None  # None: skipped


class StageLog(BaseModel):
    number: int = Field(ge=1, le=5)
    qa: list[QA] = Field(default_factory=list)


class QuestionIn(BaseModel):
    title: str
    stage: int = Field(ge=1, le=5)
    earlier: list[StageLog] = Field(default_factory=list)
    asked: list[QA] = Field(default_factory=list)
    model: str | None = None
    knowledge_base: str = ""  # the session's documents, when one is ready to search


class QuestionDraft(BaseModel):
    """What the model writes: the next question, or that the stage is covered. Its schema
    bounds each string and list (`QUESTION`), so that the reply closes within its tokens."""

    question: str = ""
    choices: list[str] = Field(default_factory=list)
    recommended: str | None = None
    rationale: str = ""
    done: bool = False


# The question and its choices are required, so a grammar makes a small model write them
# rather than an empty object; the rest it may leave out.
QUESTION = bounded(
    QuestionDraft.model_json_schema(),
    {"question": 200, "choices": 60, "recommended": 60, "rationale": 200},
    {"choices": 4},
    length=200,
) | {"required": ["question", "choices", "done"]}


class Question(BaseModel):
    done: bool
    text: str
    kind: Literal["choice", "text"]
    choices: list[str]
    recommended: str | None
    rationale: str
    model: str
    sources: list[Source] = Field(default_factory=list)  # the passages it drew on


def _log(logs: list[StageLog]) -> str:
    lines = []
    for log in logs:
        lines.append(f"Stage {log.number} ({stage(log.number).title}):")
        for qa in log.qa:
            lines.append(f"- Q: {qa.question}\n  A: {qa.answer or '(skipped)'}")
    return "\n".join(lines) or "(nothing yet)"


def _latest_answers(earlier: list[StageLog], current: list[QA]) -> list[str | None]:
    """The answers of this stage so far, or the last stage's before its first question."""
    return [qa.answer for qa in current or (earlier[-1].qa if earlier else [])]


def _need_llm(ctx: CallContext) -> Any:
    if ctx.llm is None:
        raise StepFailed("the scoping agents need the LLM gateway", retryable=False)
    return ctx.llm


@questioner.capability("scoping.question")
async def ask(ctx: CallContext, args: QuestionIn) -> Question:
    """The stage's next question (multiple choice with a recommended answer where that fits,
    free text otherwise), shaped by the answers so far; or done when the stage is covered."""
    llm = _need_llm(ctx)
    current = stage(args.stage)
    if len(args.asked) >= QUESTION_BUDGET:
        return Question(
            done=True, text="", kind="text", choices=[], recommended=None, rationale="", model=""
        )
    prompt = (
        f"Project: {args.title}\n"
        f"Stage {current.number} of 5: {current.title}\n"
        f"Earlier stages:\n{_log(args.earlier)}\n\n"
        f"This stage is about {current.focus}.\n"
        f"Asked so far in this stage:\n{_log([StageLog(number=args.stage, qa=args.asked)])}\n\n"
        f"Ask question {len(args.asked) + 1} of at most {QUESTION_BUDGET}: one short question "
        "that fills the biggest gap. Give up to four choices and the recommended one when the "
        "answer is one of a few options; no choices when it needs free text. Set done to true "
        "only when nothing important is missing."
    )
    query = passages.query_for(args.title, current.focus, _latest_answers(args.earlier, args.asked))
    found = await passages.retrieve(ctx, args.knowledge_base, query)
    prompt = passages.framed(prompt, found)
    reply = await llm.complete(
        prompt,
        system=with_notice(
            prompt, "You help a person scope a project by asking one clear question at a time."
        ),
        model=args.model or None,
        output=(schema := passages.output(QUESTION, found)),
        max_tokens=longest(schema),
        temperature=0,
    )
    draft = QuestionDraft.model_validate(reply.value)
    choices = [c.strip()[:200] for c in draft.choices if c.strip()][:5]
    text = draft.question.strip()[:400]
    asked = {qa.question for qa in args.asked}
    if not text or text in asked:  # nothing usable: the stage's own question in turn
        text = next((q for q in current.fallback if q not in asked), current.fallback[-1])
        choices = []
    recommended = draft.recommended if draft.recommended in choices else None
    return Question(
        done=draft.done and bool(args.asked),  # the first question is always asked
        text=text,
        kind="choice" if len(choices) >= 2 else "text",
        choices=choices if len(choices) >= 2 else [],
        recommended=recommended,
        rationale=draft.rationale.strip()[:400],
        model=reply.model,
        sources=passages.sources(reply.value, found),
    )


class AnalyseIn(BaseModel):
    title: str
    stage: int = Field(ge=1, le=5)
    earlier: list[StageLog] = Field(default_factory=list)
    qa: list[QA] = Field(default_factory=list)
    model: str | None = None
    knowledge_base: str = ""  # as for a question


class AnalysisDraft(BaseModel):
    summary: str  # bounded in its schema (`analysis_schema`), as a question is
    key_points: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)
    covered: list[str] = Field(default_factory=list)


def analysis_schema(checklist: tuple[str, ...]) -> dict[str, Any]:
    """AnalysisDraft's schema, bounded, its `covered` items the stage's checklist items."""
    schema = bounded(
        AnalysisDraft.model_json_schema(),
        {"summary": 400, "key_points": 120, "gaps": 120},
        {"key_points": 4, "gaps": 4, "covered": len(checklist)},
        length=120,
    )
    schema["properties"]["covered"]["items"] = {"type": "string", "enum": list(checklist)}
    return schema


class Coverage(BaseModel):
    item: str
    covered: bool


class Analysis(BaseModel):
    stage: int
    summary: str
    key_points: list[str]
    gaps: list[str]
    coverage: list[Coverage]
    model: str
    prompt_version: int
    sources: list[Source] = Field(default_factory=list)


@analyst.capability("scoping.analyse")
async def analyse(ctx: CallContext, args: AnalyseIn) -> Analysis:
    """A stage's structured summary, its gaps, and which checklist items its answers cover."""
    llm = _need_llm(ctx)
    current = stage(args.stage)
    checklist = ", ".join(current.checklist)
    prompt = (
        f"Project: {args.title}\n"
        f"Stage {current.number} of 5: {current.title}\n"
        f"Earlier stages:\n{_log(args.earlier)}\n\n"
        f"Answers:\n{_log([StageLog(number=args.stage, qa=args.qa)])}\n\n"
        "Summarise what the answers establish, list the key points and the gaps, and list "
        f"which of these checklist items the answers cover: {checklist}."
    )
    query = passages.query_for(args.title, current.focus, _latest_answers(args.earlier, args.qa))
    found = await passages.retrieve(ctx, args.knowledge_base, query)
    prompt = passages.framed(prompt, found)
    reply = await llm.complete(
        prompt,
        system=with_notice(prompt, "You analyse project scoping answers carefully and briefly."),
        model=args.model or None,
        output=(schema := passages.output(analysis_schema(current.checklist), found)),
        max_tokens=longest(schema),
        temperature=0,
    )
    draft = AnalysisDraft.model_validate(reply.value)
    said = {item.strip().casefold() for item in draft.covered}
    coverage = [Coverage(item=item, covered=item.casefold() in said) for item in current.checklist]
    gaps = [gap.strip()[:300] for gap in draft.gaps if gap.strip()][:8]
    gaps += [f"not covered: {c.item}" for c in coverage if not c.covered and c.item not in gaps]
    return Analysis(
        stage=args.stage,
        summary=draft.summary.strip()[:1200],
        key_points=[p.strip()[:300] for p in draft.key_points if p.strip()][:8],
        gaps=gaps,
        coverage=coverage,
        model=reply.model,
        prompt_version=PROMPTS["scoping.analyse"],
        sources=passages.sources(reply.value, found),
    )


class StageBrief(BaseModel):
    number: int
    qa: list[QA]
    summary: str


class CharterIn(BaseModel):
    title: str
    stages: list[StageBrief]
    model: str | None = None


class CharterOut(BaseModel):
    charter: CharterDraft
    model: str
    prompt_version: int


# The charter's sections, bounded as a question is: a few items each, a line or two of text.
CHARTER = bounded(
    CharterDraft.model_json_schema(),
    {
        "problem_statement": 300,
        "timeline": 120,
        "budget": 120,
        "goal": 100,
        "text": 100,
        "risk": 100,
        "mitigation": 100,
        "name": 50,
        "role": 50,
        "target": 30,
    },
    {
        "goals": 3,
        "success_criteria": 2,
        "stakeholders": 4,
        "scope_in": 4,
        "scope_out": 3,
        "requirements": 5,
        "risks": 3,
        "constraints": 3,
        "assumptions": 3,
        "milestones": 4,
        "resources": 3,
        "open_questions": 3,
    },
    length=80,
)


@writer.capability("scoping.charter")
async def write_charter(ctx: CallContext, args: CharterIn) -> CharterOut:
    """The charter's sections, drafted from the five stages' answers and analyses."""
    llm = _need_llm(ctx)
    parts = []
    for brief in args.stages:
        parts.append(
            f"{_log([StageLog(number=brief.number, qa=brief.qa)])}\nSummary: {brief.summary}"
        )
    prompt = (
        f"Project: {args.title}\n\n" + "\n\n".join(parts) + "\n\nWrite the project charter: "
        "problem statement, goals with measurable success criteria, stakeholders and roles, "
        "scope in and out, requirements with priorities (must, should, could), risks with "
        "likelihood, impact (low, medium, high) and mitigation, constraints, assumptions, "
        "milestones with target dates, timeline, budget, resources and open questions. Use "
        "only what the answers say; list what they leave open as open questions."
    )
    reply = await llm.complete(
        prompt,
        system="You write concise, factual project charters.",
        model=args.model or None,
        output=CHARTER,
        max_tokens=longest(CHARTER),
        temperature=0,
    )
    return CharterOut(
        charter=CharterDraft.model_validate(reply.value),
        model=reply.model,
        prompt_version=PROMPTS["scoping.charter"],
    )


AGENTS = (questioner, analyst, writer)
