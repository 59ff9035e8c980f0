"""The portfolio app's agents. The `financial_analyst` reads the ledger's positions at a pinned
commit, prices them on a pinned pack, computes the metrics and seals the result; the
`macro_hound` classifies the economy's regime from a pack's macro series; the `data_harvester`
builds packs (harvester.py). Numbers are computed by code here; a model only writes the optional
narrative, and a narrative that states a number the result does not hold fails validation.

Each capability reads what it needs through `ctx.data` (the run's tenant), from the pins it is
given, so a retried attempt computes the same result as the first.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.portfolio import ledger, macro, metrics, narrative, packs, results, valuation
from batonflow.apps.portfolio.harvester import data_harvester
from batonflow.errors import StepFailed
from batonflow.store.db import Conn

financial_analyst = Agent(
    "financial_analyst", "Values a portfolio on a pricing pack and computes its metrics"
)
macro_hound = Agent("macro_hound", "Classifies the economy's regime from macro series")

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"portfolio.narrative": 1}


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the portfolio agents need the database (ctx.data)", retryable=False)
    return ctx.data


class Pinned(BaseModel):
    portfolio_id: str
    ledger_commit_hash: str


class PositionsOut(BaseModel):
    portfolio_id: str
    ledger_commit_hash: str
    base_currency: str
    positions: list[dict[str, str]]
    cash: dict[str, str]


@financial_analyst.capability("ledger.positions")
async def positions(ctx: CallContext, args: Pinned) -> PositionsOut:
    """The positions and cash the ledger holds at the pinned commit."""
    data = _data(ctx)

    async def work(conn: Conn) -> Any:
        return await ledger.holdings(
            conn, data.tenant_id, args.portfolio_id, commit_hash=args.ledger_commit_hash
        )

    held = await data.read(work)
    return PositionsOut(
        portfolio_id=held.portfolio_id,
        ledger_commit_hash=held.ledger_commit_hash,
        base_currency=held.base_currency,
        positions=[
            {
                "account_id": p.account_id,
                "symbol": p.symbol,
                "quantity": str(p.quantity),
                "cost": str(p.cost),
                "currency": p.currency,
            }
            for p in held.positions
        ],
        cash={currency: str(amount) for currency, amount in sorted(held.cash.items())},
    )


class PackPinned(Pinned):
    pricing_pack_id: str


class Computed(BaseModel):
    """A computed result and the sources it used."""

    result: dict[str, Any]
    sources: list[str]


async def _valued(ctx: CallContext, args: PackPinned) -> tuple[Any, Any, dict[str, Any]]:
    """The portfolio valued day by day on the pack, the benchmark's series, the portfolio."""
    data = _data(ctx)

    async def work(conn: Conn) -> tuple[Any, Any, dict[str, Any]]:
        tenant_id = data.tenant_id
        found = await ledger.get_portfolio(conn, tenant_id, args.portfolio_id)
        txns = await ledger.history(
            conn, tenant_id, args.portfolio_id, commit_hash=args.ledger_commit_hash
        )
        symbols = {txn.symbol for txn in txns if txn.symbol}
        if found["benchmark"]:
            symbols.add(found["benchmark"])
        pack = await packs.load(conn, tenant_id, args.pricing_pack_id, symbols=symbols)
        return txns, pack, found

    txns, pack, found = await data.read(work)
    return valuation.daily_values(txns, pack, found["base_currency"]), pack, found


@financial_analyst.capability("pricing.apply_pack")
async def apply_pack(ctx: CallContext, args: PackPinned) -> Computed:
    """The positions priced on the pack: market value by position and currency, and the
    portfolio's value on each day of the pack."""
    valued, pack, _found = await _valued(ctx, args)
    return Computed(result=valuation.summary(valued), sources=sorted(pack.sources))


@financial_analyst.capability("metrics.compute")
async def compute_metrics(ctx: CallContext, args: PackPinned) -> Computed:
    """Returns, risk, drawdown, beta against the portfolio's benchmark and concentration, with
    the valuation they were computed from."""
    valued, pack, found = await _valued(ctx, args)
    benchmark = pack.prices.get(found["benchmark"]) if found["benchmark"] else None
    figures = metrics.compute(
        valued, benchmark, periods_per_year=metrics.infer_periods(valued.dates)
    )
    result = {
        "portfolio_id": args.portfolio_id,
        "base_currency": found["base_currency"],
        "benchmark": found["benchmark"],
        **valuation.summary(valued),
        "metrics": figures,
    }
    return Computed(result=result, sources=sorted(pack.sources))


class MacroIn(BaseModel):
    pricing_pack_id: str


@macro_hound.capability("macro.regime")
async def regime(ctx: CallContext, args: MacroIn) -> Computed:
    """The regime the pack's macro series point to, with the figures behind it."""
    data = _data(ctx)

    async def work(conn: Conn) -> Any:
        return await packs.load(conn, data.tenant_id, args.pricing_pack_id, symbols=())

    pack = await data.read(work)
    classified = macro.classify(pack.macro)
    sources = sorted({series.source for series in pack.macro.values()})
    return Computed(result=classified, sources=sources)


class NarrativeIn(BaseModel):
    enabled: bool
    subject: str = Field(pattern="^(portfolio|macro)$")
    computed: dict[str, Any]
    model: str | None = None


class NarrativeOut(BaseModel):
    text: str
    model: str | None = None
    prompt_version: int | None = None


class _Draft(BaseModel):
    text: str


@financial_analyst.capability("narrative.write")
async def write_narrative(ctx: CallContext, args: NarrativeIn) -> NarrativeOut:
    """A short narrative of a computed result, citing only numbers the result holds (checked:
    a narrative that states any other number fails, and the step is tried again)."""
    if not args.enabled:
        return NarrativeOut(text="")
    if ctx.llm is None:
        raise StepFailed("the narrative needs the LLM gateway", retryable=False)
    figures = narrative.citable(args.computed)
    prompt = (
        f"Write three sentences about this {args.subject} result for an investor. Use only "
        "these figures, written exactly as given, and no other numbers:\n"
        + "\n".join(f"- {name}: {value}" for name, value in figures)
    )
    reply = await ctx.llm.complete(
        prompt,
        system="You describe computed financial figures plainly. You never invent a number.",
        model=args.model or None,
        output=_Draft,
        max_tokens=300,
        temperature=0,
    )
    text = _Draft.model_validate(reply.value).text.strip()[:2000]
    narrative.check(text, args.computed)  # raises StepFailed naming the uncomputed numbers
    return NarrativeOut(text=text, model=reply.model, prompt_version=PROMPTS["portfolio.narrative"])


class SealIn(BaseModel):
    result: dict[str, Any]
    sources: list[str]
    narrative: str = ""


class Sealed(BaseModel):
    result: dict[str, Any]
    sources: list[str]
    result_hash: str


@financial_analyst.capability("result.seal")
async def seal(ctx: CallContext, args: SealIn) -> Sealed:
    """The result as it is kept: its canonical form's hash, and the sources it used."""
    body = {**args.result, "narrative": args.narrative} if args.narrative else args.result
    return Sealed(result=body, sources=sorted(set(args.sources)), result_hash=results.digest(body))


AGENTS = (financial_analyst, macro_hound, data_harvester)
