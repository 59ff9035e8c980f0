"""The sales agent: `deal.propose` writes a priced proposal for a deal, `deal.advance` moves a
deal to its next stage when the deal has what that stage requires.

Every number of a proposal is computed by code (`proposals.price`, from the catalog, in the
deal's currency), and its title is the deal's; the model writes words only: a summary and one
value statement per priced line, keyed by the product's name. The answer's schema holds both
rules (every line's name and no other; text with no digit, currency sign or percent sign:
`llm.local.words`), so a misfitting answer is asked again by the gateway, and the local model
cannot write one at all.

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

from pydantic import BaseModel, ConfigDict, Field

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.sales import catalog, companies, deals, pipelines, proposals
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import InvalidInput, NotFound, StepFailed
from batonflow.llm import untrusted
from batonflow.llm.local import words
from batonflow.store.db import Conn

T = TypeVar("T")

sales = Agent("sales", "Writes priced proposals for deals and moves deals through their pipeline")

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"sales.proposal": 2}
SYSTEM = (
    "You write clear, concrete B2B sales proposals in words only. You never state a price, "
    "discount, total or any other figure: the system computes and shows those."
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
    sku: str
    statement: str


class Text(BaseModel):
    """The proposal's words: the deal's title, and what the model wrote (never a number)."""

    title: str
    summary: str
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


# The longest summary, and the characters the value statements share (each takes at most 200).
SUMMARY_CHARS = 300
_SENTENCE = re.compile(r"[^.!?]*[.!?]")
STATEMENT_CHARS = 1000


def _names(lines: list[dict[str, Any]]) -> list[str]:
    """Each priced line's key in the model's answer: its product's name (and its line number
    where two lines name the same product)."""
    names = [x["description"] for x in lines]
    return [
        name if names.count(name) == 1 else f"{name} (line {number})"
        for number, name in enumerate(names, 1)
    ]


def _answer(names: list[str]) -> tuple[dict[str, Any], int]:
    """The schema of the model's answer, and enough tokens for its longest (at a token a
    character, which a small model repeating short tokens comes close to), so that a grammar
    always closes the JSON before the cap cuts it."""
    each = max(40, min(200, STATEMENT_CHARS // len(names)))
    schema = {
        "type": "object",
        "properties": {
            "summary": words(40, SUMMARY_CHARS),
            "value": {
                "type": "object",
                "properties": {name: words(20, each) for name in names},
                "required": names,
                "additionalProperties": False,
            },
        },
        "required": ["summary", "value"],
        "additionalProperties": False,
    }
    return schema, 40 + SUMMARY_CHARS + sum(each + len(name) + 8 for name in names)


def _prompt(
    deal: dict[str, Any], company: str, names: list[str], details: list[str], note: str
) -> str:
    """The request for the words: the products by name and catalog description, with no number
    a model could copy. What people typed (the deal's title, the company's name, the note) is
    framed as data the model reads and never obeys."""
    offered = "\n".join(
        f"- {name}: {detail}" if detail else f"- {name}"
        for name, detail in zip(names, details, strict=True)
    )
    about = {"deal": deal["title"], "customer": company}
    return (
        f"Write the text of a sales proposal for this deal:\n{untrusted.frame(about, 'deal')}\n"
        f"The products offered:\n{offered}\n"
        + (f"The account owner's note:\n{untrusted.frame(note, 'note')}\n" if note else "")
        + "Answer with `summary`: two or three sentences on what the customer gains, and "
        "`value`: for each product above, by its name, one sentence on how it helps the "
        "customer. Write about benefits, never about cost or payment: no prices, amounts, "
        "discounts, percentages or other figures; the proposal shows those."
    )


def _sentences(text: str) -> str:
    """`text` as its whole sentences, each once, its spacing tidied: a small model repeats a
    sentence, and runs to the length bound in the middle of one. Text with no whole sentence
    is kept as it is."""
    whole = [s.strip() for s in _SENTENCE.findall(" ".join(text.split()))]
    return " ".join(dict.fromkeys(whole)) if whole else " ".join(text.split())


def _text(deal: dict[str, Any], lines: list[dict[str, Any]], names: list[str], answer: Any) -> Text:
    return Text(
        title=deal["title"],
        summary=_sentences(answer["summary"]),
        lines=[
            Statement(sku=x["sku"], statement=_sentences(answer["value"][name]))
            for name, x in zip(names, lines, strict=True)
        ],
    )


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
        lines, totals = await proposals.price(conn, tenant_id, deal, items)
        details = [
            (await catalog.get_product(conn, tenant_id, x["product_id"]))["description"]
            for x in lines
        ]
        return deal, company["name"], lines, totals, details

    deal, company, lines, totals, details = await _checked(lambda: data.read(priced))
    if ctx.llm is None:
        raise StepFailed("the sales agent needs the LLM gateway", retryable=False)
    names = _names(lines)
    schema, tokens = _answer(names)
    prompt = _prompt(deal, company, names, details, args.note or "")
    reply = await ctx.llm.complete(
        prompt,
        system=untrusted.with_notice(prompt, SYSTEM),
        model=SalesSettings().model or None,
        output=schema,
        max_tokens=tokens,
        temperature=0,
    )
    text = _text(deal, lines, names, reply.value)

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
