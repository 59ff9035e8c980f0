"""The negotiation agent (`sales-negotiation`): `offer.respond` answers a customer's
counter-offer within the tenant's discount policy.

Code decides everything with a number in it (`negotiation.prepare`: the verdict, our terms,
the net amounts); the model, through `ctx.llm` with structured output, writes only the reply to
the customer and its reasoning, from those figures. The round is stored with the verdict, the
run's id, the reply and the reasoning; a retried attempt of the same run returns the round it
stored instead of recording another. A reply that states a number the prompt did not give it
(a discount or an amount the model made up) fails the attempt, naming the number, and the step
is tried again. A round beyond policy comes back with `needs_review` and
the role whose approval it needs (`POST .../offers/{offer_id}/approve`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.sales import negotiation
from batonflow.apps.sales.negotiation import CounterOffer, Round
from batonflow.apps.sales.policy import shown
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import StepFailed
from batonflow.llm.untrusted import frame, with_notice
from batonflow.store.db import Conn

negotiator = Agent(
    "sales-negotiation", "Answers a customer's counter-offer within the tenant's discount policy"
)

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"offer.respond": 1}
ACTOR = "agent:sales-negotiation"
# The longest reply and reasoning, and tokens enough for both at a token a character (which a
# small model repeating short tokens comes close to): a grammar then always closes the JSON
# before the cap cuts it, and the prompt, the answer and one re-ask fit a 2,048-token context.
REPLY_CHARS = 600
REASONING_CHARS = 240
DRAFT_TOKENS = 40 + REPLY_CHARS + REASONING_CHARS
_TRAILING = re.compile(r"[ \t]+\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)")
_NUMBER = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


class RespondIn(BaseModel):
    deal_id: str
    counter: CounterOffer
    model: str | None = None  # a route or provider:model; unset: BATONFLOW_SALES_MODEL


class _Draft(BaseModel):
    """What the model writes: the reply to the customer, and the reasoning for the team."""

    reply: str = Field(min_length=1, max_length=REPLY_CHARS)
    reasoning: str = Field(min_length=1, max_length=REASONING_CHARS)


class TermLine(BaseModel):
    position: int
    sku: str
    discount: Decimal  # percent
    net: Decimal


class RespondOut(BaseModel):
    round: int
    offer_id: str  # the customer's offer: what a person approves
    response_id: str
    verdict: Literal["within", "needs_approval", "refused"]  # on the customer's terms
    reasons: list[str]
    action: Literal["accept", "counter", "refuse"]  # ours
    terms: list[TermLine]  # ours
    discount: Decimal  # ours, overall, in percent
    net_amount: Decimal  # ours
    currency: str
    reply: str
    reasoning: str
    needs_review: bool
    review_role: Literal["reviewer", "admin"] | None
    prompt_version: int = Field(default_factory=lambda: PROMPTS["offer.respond"])


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the negotiation agent needs the database (ctx.data)", retryable=False)
    return ctx.data


def _out(stored: dict[str, Any]) -> RespondOut:
    customer, ours = stored["customer"], stored["response"]
    needs = customer["verdict"] == "needs_approval" and customer["approved_by"] is None
    return RespondOut(
        round=customer["round"],
        offer_id=customer["id"],
        response_id=ours["id"],
        verdict=customer["verdict"],
        reasons=customer["verdict_reasons"],
        action=ours["action"],
        terms=[TermLine.model_validate(line) for line in ours["terms"]["lines"]],
        discount=ours["discount"],
        net_amount=ours["net_amount"],
        currency=ours["currency"],
        reply=ours["reply"],
        reasoning=ours["reasoning"],
        needs_review=needs,
        review_role=customer["role_needed"] if needs else None,
    )


def _prompt(found: Round) -> str:
    ours, theirs = found.response, found.verdict
    terms = "\n".join(
        f"- line {line.position} ({line.sku}): {shown(ours.discounts[line.position])} % off"
        for line in found.deal.lines
    )
    decision = {
        "accept": "We accept the customer's terms.",
        "counter": "We cannot accept the customer's terms as they are; we offer these instead.",
        "refuse": "The negotiation has used every round; we stand by our last offer.",
    }[ours.action]
    review = (
        f" A person with the {theirs.role} role may still approve the customer's terms; say "
        "that we will check with them."
        if theirs.role
        else ""
    )
    return (
        f"Round {found.number} of a negotiation on a deal in {found.deal.currency}.\n"
        f"The customer's message:\n{frame(found.counter.message or '(none)', 'customer')}\n\n"
        f"The policy's verdict on the customer's terms: {theirs.status}, because: "
        f"{'; '.join(theirs.reasons)}.\n"
        f"{decision}{review}\n"
        f"Our terms:\n{terms}\n"
        f"Overall discount: {shown(ours.verdict.discount)} %; the customer would pay "
        f"{shown(ours.verdict.net)} {found.deal.currency}.\n\n"
        "Write `reply`: a short, courteous email body to the customer that states our decision "
        "and terms using only the figures above, written exactly as given. Write `reasoning`: "
        "two sentences for the sales team on why this is the right response."
    )


def invented(reply: str, prompt: str) -> list[str]:
    """The numbers `reply` states that `prompt` does not hold ("26,100.00" matches "26100")."""

    def value(number: str) -> Decimal:
        return Decimal(number.replace(",", ""))

    given = {value(number) for number in _NUMBER.findall(prompt)}
    stated = [number for number in _NUMBER.findall(reply) if value(number) not in given]
    return list(dict.fromkeys(stated))


def kept_sentences(text: str, prompt: str) -> tuple[str, list[str]]:
    """`text` without the sentences that state a number `prompt` does not hold, and those
    numbers: a small model adds one of its own ("within 24 hours", "10 seats") where the rest
    of its reply is right, and only code's figures may reach the customer."""
    parts = _SENTENCE_END.split(text.strip())  # sentence, the space after it, sentence, ...
    kept, made_up = [], []
    for sentence, space in zip(parts[::2], [*parts[1::2], ""], strict=True):
        stated = invented(sentence, prompt)
        made_up += stated
        # A left-out sentence keeps its line break, so the paragraphs stay as written.
        kept.append(space if stated and "\n" in space else "" if stated else sentence + space)
    return _TRAILING.sub("\n", "".join(kept)).strip(), list(dict.fromkeys(made_up))


@negotiator.capability("offer.respond")
async def respond(ctx: CallContext, args: RespondIn) -> RespondOut:
    """Judge a customer's counter-offer against the discount policy, compute our response by
    code, have the model word the reply and its reasoning, and record the round."""
    data = _data(ctx)
    if ctx.llm is None:
        raise StepFailed("the negotiation agent needs the LLM gateway", retryable=False)

    async def earlier(conn: Conn) -> dict[str, Any] | None:
        rows = await negotiation.list_offers(conn, data.tenant_id, args.deal_id)
        mine = [row for row in rows if row["run_id"] == ctx.run_id]
        customer = next((row for row in mine if row["party"] == "customer"), None)
        ours = next((row for row in mine if row["party"] == "us"), None)
        return {"customer": customer, "response": ours} if customer and ours else None

    recorded = await data.read(earlier)
    if recorded is not None:  # a retried attempt: the round this run stored
        return _out(recorded)
    found = await data.read(
        lambda conn: negotiation.prepare(conn, data.tenant_id, args.deal_id, args.counter)
    )
    prompt = _prompt(found)
    reply = await ctx.llm.complete(
        prompt,
        system=with_notice(
            prompt,
            "You write for a sales team negotiating within a discount policy. You never "
            "change, invent or compute a figure: you use the ones given.",
        ),
        model=args.model or SalesSettings().model or None,
        output=_Draft,
        max_tokens=DRAFT_TOKENS,
        # Greedy first; a retried attempt (the reply stated a number of its own) samples, so
        # it can word the reply differently rather than repeat it.
        temperature=0 if ctx.attempt <= 1 else 0.7,
    )
    draft = _Draft.model_validate(reply.value)
    text, made_up = kept_sentences(draft.reply, prompt)
    reasoning, _ = kept_sentences(draft.reasoning, prompt)
    if not text:  # nothing the model said stands: it may do better on the next attempt
        raise StepFailed(
            f"the reply states numbers code did not compute: {', '.join(made_up)}; it may "
            "state only the figures it was given",
            retryable=True,
            details={"numbers": made_up},
        )
    stored = await data.write(
        lambda conn: negotiation.record(
            conn,
            data.tenant_id,
            found,
            actor=ACTOR,
            now=datetime.now(UTC),
            run_id=ctx.run_id,
            reasoning=reasoning or found.response.basis,
            reply=text,
        )
    )
    return _out(stored)


AGENTS = (negotiator,)
