"""The sales agent: `deal.propose` writes a priced proposal for a deal, `deal.advance` moves a
deal to its next stage when the deal has what that stage requires.

Every number of a proposal is computed by code (`proposals.price`, from the catalog, in the
deal's currency); the model writes the text only (a title, an executive summary and one value
statement per priced line, checked against the lines: a statement for a product that is not
priced, a line without one, or text stating money or a percentage fails the attempt, and the
step is tried again).

Both are idempotent per call (the run and step that call them): a retried attempt of a call
that already wrote its proposal, or already moved the deal, answers what the first one did and
writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.sales import companies, deals, pipelines, proposals
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import InvalidInput, NotFound, StepFailed
from batonflow.llm import untrusted
from batonflow.store.db import Conn

T = TypeVar("T")

sales = Agent("sales", "Writes priced proposals for deals and moves deals through their pipeline")

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"sales.proposal": 1}
SYSTEM = (
    "You write clear, concrete B2B sales proposals. You never state a number of price, "
    "discount or total: the system computes and shows those."
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _now() -> datetime:
    return datetime.now(UTC)


def call_key(ctx: CallContext) -> str:
    """The call's key: its run and step, the same for every attempt of the step."""
    return f"{ctx.run_id}:{ctx.step_id}"


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the sales agent needs the database (ctx.data)", retryable=False)
    return ctx.data


async def _checked(work: Callable[[], Awaitable[T]]) -> T:
    """`work()`, its caller's mistakes (a deal that is not there, a retired product...) failing
    the step for good: trying again would not change them."""
    try:
        return await work()
    except (InvalidInput, NotFound) as wrong:
        raise StepFailed(wrong.message, retryable=False, details=wrong.details) from None


class Item(_In):
    sku: str = Field(min_length=1, max_length=64, description="a product of the catalog")
    quantity: Decimal = Field(gt=0, description="how many")
    discount: Decimal | None = Field(
        None,
        ge=0,
        le=1,
        description="a fraction (0.15 is 15 %); default: the deal's line's, else none",
    )


class ProposeIn(_In):
    deal_id: str = Field(min_length=1)
    items: list[Item] | None = Field(
        None, description="the lines to propose (they replace the deal's); default: its lines"
    )
    note: str | None = Field(None, max_length=2000, description="for the model: what to stress")


class ProposalLine(BaseModel):
    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    net: Decimal


class ProposalTotals(BaseModel):
    subtotal: Decimal = Field(description="before discounts")
    discount: Decimal
    total: Decimal


class Statement(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    statement: str = Field(min_length=1, max_length=1000)


class Text(BaseModel):
    """What the model writes: text only, never a number of the proposal."""

    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=1, max_length=4000)
    lines: list[Statement] = Field(description="one value statement per priced line, by SKU")


class ProposalOut(BaseModel):
    proposal_id: str
    deal_id: str
    version: int
    currency: str
    lines: list[ProposalLine]
    totals: ProposalTotals
    text: Text
    model: str | None


def _out(kept: dict[str, Any]) -> ProposalOut:
    return ProposalOut(
        proposal_id=kept["id"],
        deal_id=kept["deal_id"],
        version=kept["version"],
        currency=kept["currency"],
        lines=[ProposalLine.model_validate(x) for x in kept["lines"]],
        totals=ProposalTotals.model_validate(kept["totals"]),
        text=Text.model_validate(kept["text"]),
        model=kept["model"],
    )


def _prompt(deal: dict[str, Any], company: str, lines: list[dict[str, Any]], note: str) -> str:
    """The request for the text; what people typed (the deal's title, the company's name, the
    note) is framed as data the model reads and never obeys."""
    offered = "\n".join(
        f"- SKU {x['sku']}: {x['description']}, quantity {x['quantity']}" for x in lines
    )
    about = {"deal": deal["title"], "customer": company}
    return (
        f"Write the text of a sales proposal for this deal:\n{untrusted.frame(about, 'deal')}\n"
        f"The products offered:\n{offered}\n"
        + (f"The account owner's note:\n{untrusted.frame(note, 'note')}\n" if note else "")
        + "Answer with a title, an executive summary, and for each SKU above one statement "
        "of the value it brings (lines: [{sku, statement}], every SKU once, no other SKU). "
        "Do not state prices, amounts, discounts or totals: the proposal shows those."
    )


def _figures(text: Text, code: str) -> list[str]:
    """The money and percentages `text` states (those are the app's to compute and show)."""
    amount = r"\d(?:[\d,.]*\d)?"
    money = re.compile(
        rf"(?:[$€£¥]\s?{amount}|{amount}\s?(?:[$€£¥]|{code}\b)|\b{code}\s?{amount}"
        rf"|{amount}\s?(?:%|percent\b|per cent\b))",
        re.IGNORECASE,
    )
    said = [text.title, text.summary, *(x.statement for x in text.lines)]
    return list(dict.fromkeys(m.group(0) for part in said for m in money.finditer(part)))


def _ordered(text: Text, lines: list[dict[str, Any]]) -> Text:
    """`text` with one statement per priced line, in the lines' order; else the attempt fails."""
    priced = [x["sku"] for x in lines]
    said = [x.sku for x in text.lines]
    missing = [sku for sku in priced if sku not in said]
    extra = sorted({sku for sku in said if sku not in priced or said.count(sku) > 1})
    if missing or extra:
        problems = ([f"no statement for {', '.join(missing)}"] if missing else []) + (
            [f"statements for {', '.join(extra)}, not once each of the priced lines"]
            if extra
            else []
        )
        raise StepFailed(
            "the proposal's text must give one value statement per priced line: "
            + "; ".join(problems),
            retryable=True,
            details={"priced": priced, "stated": said},
        )
    by_sku = {x.sku: x for x in text.lines}
    return text.model_copy(update={"lines": [by_sku[sku] for sku in priced]})


@sales.capability("deal.propose")
async def propose(ctx: CallContext, args: ProposeIn) -> ProposalOut:
    """A proposal for the deal: its lines priced from the catalog (replacing the deal's lines),
    the totals, and the text the model writes about them; kept as the deal's next version."""
    data, key = _data(ctx), call_key(ctx)
    tenant_id = data.tenant_id
    kept = await data.read(lambda conn: proposals.find_by_call(conn, tenant_id, key))
    if kept is not None:
        return _out(kept)
    items = None if args.items is None else [x.model_dump() for x in args.items]

    async def priced(conn: Conn) -> tuple[Any, ...]:
        deal = await deals.get_deal(conn, tenant_id, args.deal_id)
        company = await companies.get_company(conn, tenant_id, deal["company_id"])
        return deal, company["name"], *await proposals.price(conn, tenant_id, deal, items)

    deal, company, lines, totals = await _checked(lambda: data.read(priced))
    if ctx.llm is None:
        raise StepFailed("the sales agent needs the LLM gateway", retryable=False)
    prompt = _prompt(deal, company, lines, args.note or "")
    reply = await ctx.llm.complete(
        prompt,
        system=untrusted.with_notice(prompt, SYSTEM),
        model=SalesSettings().model or None,
        output=Text,
        max_tokens=1200,
        temperature=0,
    )
    try:
        text = _ordered(Text.model_validate(reply.value), lines)
    except ValidationError as wrong:  # the model may do better on the next attempt
        raise StepFailed(f"the proposal's text does not fit: {wrong}", retryable=True) from None
    stated = _figures(text, deal["currency"])
    if stated:
        raise StepFailed(
            f"the proposal's text states figures: {', '.join(stated)}; prices, discounts and "
            "totals are the app's to show",
            retryable=True,
            details={"figures": stated},
        )

    async def write(conn: Conn) -> dict[str, Any]:
        return await proposals.record(
            conn,
            tenant_id,
            args.deal_id,
            lines=lines,
            totals=totals,
            text=text.model_dump(mode="json"),
            note=args.note,
            model=reply.model,
            run_id=ctx.run_id,
            call_key=key,
            now=_now(),
        )

    return _out(await _checked(lambda: data.write(write)))


class AdvanceIn(_In):
    deal_id: str = Field(min_length=1)
    stage_id: str | None = Field(None, description="default: the next open stage")
    reason: str = Field(min_length=1, max_length=2000, description="kept in the stage history")


class StageRef(BaseModel):
    id: str
    name: str


class AdvanceOut(BaseModel):
    deal_id: str
    moved: bool = Field(description="false: the deal lacks what the stage requires, or is there")
    from_stage: StageRef
    to_stage: StageRef
    missing: list[str] = Field(description="the fields the stage requires that the deal lacks")


def _ref(stage: dict[str, Any]) -> StageRef:
    return StageRef(id=stage["id"], name=stage["name"])


async def _target(conn: Conn, tenant_id: str, deal: dict[str, Any]) -> dict[str, Any]:
    """The open stage after the deal's, in its pipeline."""
    current = deal["stage"]
    if current["kind"] != "open":
        raise InvalidInput(f"the deal is closed ({current['name']}); name the stage to move it to")
    stages = (await pipelines.get_pipeline(conn, tenant_id, deal["pipeline_id"]))["stages"]
    later = [s for s in stages if s["position"] > current["position"] and s["kind"] == "open"]
    if not later:
        closing = ", ".join(s["name"] for s in stages if s["kind"] != "open")
        raise InvalidInput(
            f"'{current['name']}' is the last open stage; name the stage to move the deal to "
            f"({closing})"
        )
    stage: dict[str, Any] = later[0]
    return stage


@sales.capability("deal.advance")
async def advance(ctx: CallContext, args: AdvanceIn) -> AdvanceOut:
    """Move the deal to the stage (default: the next open one) if it has the fields the stage
    requires; otherwise `moved` is false and `missing` lists them (a workflow branches on it)."""
    data, key = _data(ctx), call_key(ctx)
    tenant_id = data.tenant_id

    async def work(conn: Conn) -> dict[str, Any]:
        kept = await proposals.recall(conn, tenant_id, key)
        if kept is not None:
            return kept
        deal = await deals.get_deal(conn, tenant_id, args.deal_id)
        if args.stage_id is None:
            stage = await _target(conn, tenant_id, deal)
        else:
            stage = await pipelines.get_stage(conn, tenant_id, args.stage_id)
            if stage["pipeline_id"] != deal["pipeline_id"]:
                raise InvalidInput(
                    f"the stage '{stage['name']}' is in another pipeline than the deal; name "
                    "one of the deal's pipeline"
                )
        missing = deals.missing_fields(deal, stage)
        moved = not missing and stage["id"] != deal["stage_id"]
        if moved:
            await deals.move(
                conn,
                tenant_id,
                deal["id"],
                stage["id"],
                actor_kind="agent",
                actor=sales.name,
                reason=args.reason,
                run_id=ctx.run_id,
                now=_now(),
            )
        answer = AdvanceOut(
            deal_id=deal["id"],
            moved=moved,
            from_stage=_ref(deal["stage"]),
            to_stage=_ref(stage),
            missing=missing,
        ).model_dump(mode="json")
        await proposals.remember(conn, tenant_id, key, "deal.advance", answer, _now())
        return answer

    return AdvanceOut.model_validate(await _checked(lambda: data.write(work)))


AGENTS = (sales,)
