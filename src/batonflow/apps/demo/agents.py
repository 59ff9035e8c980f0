"""The demo app's agents and tools, for its workflows and for tests. All but `brief.write` are
deterministic and use no model; `brief.write` shows an agent calling the LLM gateway (the local
model by default)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext, Toolbox
from batonflow.agents.needs import ToolNeeds
from batonflow.errors import StepFailed

sales = Agent("demo-sales", "Scores leads and drafts outreach from fixed rules")
market = Agent("demo-market", "Prices symbols and summarises them, deterministically")
ops = Agent("demo-ops", "Building blocks for trying the engine: sleep, fail, flake")
writer = Agent("demo-writer", "Writes short briefs with a model through the gateway")
mail = Toolbox("demo-mail", "Sends email into the effects outbox, once per idempotency key")


class Lead(BaseModel):
    name: str = Field(min_length=1)
    company: str = Field(min_length=1)
    employees: int = Field(ge=0)
    budget: float = Field(ge=0)


class LeadScore(BaseModel):
    score: int
    tier: str


def _score(employees: int, budget: float) -> int:
    """0-100: half from company size (500 people or more is full), half from budget (100k)."""
    size = min(employees / 500, 1.0) * 50
    money = min(budget / 100_000, 1.0) * 50
    return round(size + money)


@sales.capability("lead.score")
async def score_lead(ctx: CallContext, args: Lead) -> LeadScore:
    """Score a lead 0-100 from company size and budget."""
    score = _score(args.employees, args.budget)
    tier = "A" if score >= 70 else "B" if score >= 40 else "C"
    return LeadScore(score=score, tier=tier)


class Company(BaseModel):
    company: str = Field(min_length=1)
    employees: int = Field(ge=0)
    budget: float = Field(ge=0)


class Fit(BaseModel):
    score: int
    fit: str


@sales.capability("lead.fit")
async def fit_lead(ctx: CallContext, args: Company) -> Fit:
    """The lead's score and its fit label, both computed here: a label is never left to a model."""
    score = _score(args.employees, args.budget)
    return Fit(score=score, fit="good" if score >= 70 else "maybe" if score >= 40 else "poor")


class DraftIn(BaseModel):
    to: str
    name: str
    company: str
    tier: str


class Email(BaseModel):
    to: str
    subject: str
    body: str


@sales.capability("email.draft")
async def draft_email(ctx: CallContext, args: DraftIn) -> Email:
    """Draft an outreach email whose offer depends on the lead's tier."""
    offers = {
        "A": "a dedicated onboarding engineer",
        "B": "a guided pilot",
        "C": "our starter guide",
    }
    body = (
        f"Hello {args.name},\n\n"
        f"Teams like {args.company} use Batonflow to run their agents reliably. "
        f"We would like to offer you {offers.get(args.tier, offers['C'])}.\n\n"
        "Best regards,\nThe Batonflow team"
    )
    return Email(to=args.to, subject=f"{args.company} + Batonflow", body=body)


class Symbol(BaseModel):
    symbol: str = Field(min_length=1, max_length=12)
    delay_ms: int = Field(0, ge=0, le=60_000)


class Quote(BaseModel):
    symbol: str
    price: float


@market.capability("quote.price")
async def price(ctx: CallContext, args: Symbol) -> Quote:
    """A stable pseudo-price for a symbol (a hash, not a market)."""
    if args.delay_ms:
        await asyncio.sleep(args.delay_ms / 1000)
    digest = int(hashlib.sha256(args.symbol.upper().encode()).hexdigest()[:8], 16)
    return Quote(symbol=args.symbol.upper(), price=round(10 + digest % 99_000 / 100, 2))


class Topic(BaseModel):
    topic: str


class Headline(BaseModel):
    headline: str


@market.capability("news.headline")
async def headline(ctx: CallContext, args: Topic) -> Headline:
    """A headline for a topic."""
    return Headline(headline=f"{args.topic.title()}: markets steady as agents take the baton")


class SummaryIn(BaseModel):
    quotes: list[Quote]
    headline: str = ""


class Summary(BaseModel):
    count: int
    total: float
    mean: float
    text: str


@market.capability("report.summarize")
async def summarize(ctx: CallContext, args: SummaryIn) -> Summary:
    """Count, total and mean of the quotes, with a one-line report."""
    total = round(sum(q.price for q in args.quotes), 2)
    mean = round(total / len(args.quotes), 2) if args.quotes else 0.0
    symbols = ", ".join(q.symbol for q in args.quotes)
    text = f"{len(args.quotes)} symbols ({symbols}) average {mean:.2f}. {args.headline}".strip()
    return Summary(count=len(args.quotes), total=total, mean=mean, text=text)


class SleepIn(BaseModel):
    ms: int = Field(0, ge=0, le=3_600_000)
    value: Any = None


class SleepOut(BaseModel):
    value: Any = None
    slept_ms: int


@ops.capability("demo.sleep")
async def sleep(ctx: CallContext, args: SleepIn) -> SleepOut:
    """Sleep `ms` milliseconds, then return `value`."""
    if args.ms:
        await asyncio.sleep(args.ms / 1000)
    return SleepOut(value=args.value, slept_ms=args.ms)


class Empty(BaseModel):
    pass


@ops.capability("demo.noop")
async def noop(ctx: CallContext, args: Empty) -> Empty:
    """Do nothing (for measuring the engine)."""
    return Empty()


class FlakyIn(BaseModel):
    fail_times: int = Field(1, ge=0)
    value: Any = None


class FlakyOut(BaseModel):
    value: Any = None
    attempt: int


@ops.capability("demo.flaky")
async def flaky(ctx: CallContext, args: FlakyIn) -> FlakyOut:
    """Fail the first `fail_times` attempts, then succeed."""
    if ctx.attempt <= args.fail_times:
        raise StepFailed(f"flaky failure on attempt {ctx.attempt} of {args.fail_times + 1}")
    return FlakyOut(value=args.value, attempt=ctx.attempt)


class FailIn(BaseModel):
    message: str = "this step always fails"
    retryable: bool = True


@ops.capability("demo.fail")
async def fail(ctx: CallContext, args: FailIn) -> Empty:
    """Always fail with `message`."""
    raise StepFailed(args.message, retryable=args.retryable)


class Sent(BaseModel):
    message_id: str
    sent_now: bool


@mail.tool("email.send", needs=ToolNeeds(side_effects=True, bounded=("to",)))
async def send_email(ctx: CallContext, args: Email) -> Sent:
    """Put the email in the outbox once per attempt key; a repeated attempt sends nothing new."""
    record = await ctx.effects.apply("email", args.model_dump())
    return Sent(message_id=record.key, sent_now=record.applied_now)


class BriefIn(BaseModel):
    company: str = Field(min_length=1)
    fit: str
    reason: str = ""
    score: int | None = Field(None, ge=0, le=100)
    model: str | None = None


class Brief(BaseModel):
    text: str
    opening: str
    model: str


def _first_sentence(text: str) -> str:
    """Up to the first sentence's end: a small model tends to run on past what was asked."""
    found = re.match(r"(.+?[.!?])(\s|$)", text, re.DOTALL)
    return found.group(1).strip() if found else text


@writer.capability("brief.write")
async def write_brief(ctx: CallContext, args: BriefIn) -> Brief:
    """A brief for a salesperson: the facts, score and fit come from the arguments (code);
    the model writes only a friendly opening line for the first email, which is the kind of
    short text a tiny model writes coherently."""
    if ctx.llm is None:
        raise StepFailed("brief.write needs the LLM gateway", retryable=False)
    reply = await ctx.llm.complete(
        f"Write one friendly sentence thanking the team at {args.company} "
        "for their interest in our workflow software.",
        system="You write one short, friendly sentence.",
        model=args.model,
        max_tokens=50,
        temperature=0,
    )
    opening = _first_sentence(reply.text.strip().strip('"').strip())
    scored = f", scored {args.score}/100" if args.score is not None else ""
    why = f" ({args.reason})" if args.reason else ""
    text = f"{args.company}: a {args.fit} fit{scored}{why}.\nOpening line: {opening}"
    return Brief(text=text, opening=opening, model=reply.model)


AGENTS = (sales, market, ops, writer, mail)
