"""The portfolio app's agents. The `financial_analyst` reads the ledger's positions at a pinned
commit, prices them on a pinned pack, computes the metrics and seals the result; the
`macro_hound` classifies the economy's regime from a pack's macro series; the `data_harvester`
builds packs (harvester.py) and fetches custodian statements to reconcile (custodian.py). Numbers are computed by code here; a model only writes the optional
narrative, and a narrative that states a number the result does not hold fails validation.

Each capability reads what it needs through `ctx.data` (the run's tenant), from the pins it is
given, so a retried attempt computes the same result as the first.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.portfolio import (
    actions,
    ledger,
    macro,
    metrics,
    narrative,
    packs,
    results,
    valuation,
)
from batonflow.apps.portfolio.custodian import data_harvester  # with custodian.reconcile
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.errors import InvalidInput, StepFailed
from batonflow.store.db import Conn

financial_analyst = Agent(
    "financial_analyst", "Values a portfolio on a pricing pack and computes its metrics"
)
macro_hound = Agent("macro_hound", "Classifies the economy's regime from macro series")

CENT = Decimal("0.01")

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"portfolio.narrative": 1}


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the portfolio agents need the database (ctx.data)", retryable=False)
    return ctx.data


def _settings() -> PortfolioSettings:
    """The app's settings, read when a capability runs (agents are declared at import, before
    any settings exist; the worker running them is configured by the same environment)."""
    return PortfolioSettings()


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


class Priced(BaseModel):
    """The portfolio valued on each date of the pack (`valuation.to_json`), the pack's splits the
    ledger lacks (`actions.py`), and its sources."""

    valuation: dict[str, Any]
    sources: list[str]
    unbooked_splits: list[dict[str, str]] = Field(default_factory=list)


@financial_analyst.capability("pricing.apply_pack")
async def apply_pack(ctx: CallContext, args: PackPinned) -> Priced:
    """The ledger replayed over the pack: the portfolio's value on each date, its flows, and
    its positions priced at the end (market value by position and currency)."""
    data = _data(ctx)

    async def work(conn: Conn) -> tuple[Any, Any, dict[str, Any]]:
        tenant_id = data.tenant_id
        found = await ledger.get_portfolio(conn, tenant_id, args.portfolio_id)
        txns = await ledger.history(
            conn, tenant_id, args.portfolio_id, commit_hash=args.ledger_commit_hash
        )
        symbols = {txn.symbol for txn in txns if txn.symbol}
        pack = await packs.load(conn, tenant_id, args.pricing_pack_id, symbols=symbols)
        return txns, pack, found

    txns, pack, found = await data.read(work)
    valued = valuation.daily_values(txns, pack, found["base_currency"])
    used = valuation.sources_used(txns, pack, found["base_currency"])
    unbooked = actions.unbooked_splits(txns, pack)
    return Priced(valuation=valuation.to_json(valued), sources=used, unbooked_splits=unbooked)


class MetricsIn(PackPinned):
    priced: Priced


@financial_analyst.capability("metrics.compute")
async def compute_metrics(ctx: CallContext, args: MetricsIn) -> Computed:
    """Returns, risk, drawdown, beta against the portfolio's benchmark and concentration, from
    the priced valuation; the result keeps the value series for charts."""
    data = _data(ctx)

    async def work(conn: Conn) -> tuple[dict[str, Any], Any]:
        found = await ledger.get_portfolio(conn, data.tenant_id, args.portfolio_id)
        wanted = [found["benchmark"]] if found["benchmark"] else []
        pack = await packs.load(conn, data.tenant_id, args.pricing_pack_id, symbols=wanted)
        return found, pack

    found, pack = await data.read(work)
    valued = valuation.from_json(args.priced.valuation)
    benchmark = pack.prices.get(found["benchmark"]) if found["benchmark"] else None
    sources = set(args.priced.sources)
    if benchmark is not None:
        sources.add(benchmark.source)
    figures = metrics.compute(
        valued,
        benchmark,
        periods_per_year=metrics.infer_periods(valued.dates),
        risk_free_rate=_settings().risk_free_rate,
    )
    result = {
        "portfolio_id": args.portfolio_id,
        "base_currency": valued.base_currency,
        "benchmark": found["benchmark"],
        "positions": figures.pop("positions"),
        "cash": figures.pop("cash"),
        "by_currency": figures.pop("by_currency"),
        "series": {
            "dates": [day.isoformat() for day in valued.dates],
            "values": [str(value.quantize(CENT)) for value in valued.values],
        },
        "metrics": figures,
        "unbooked_splits": args.priced.unbooked_splits,
    }
    return Computed(result=result, sources=sorted(sources))


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
    sources = sorted({pack.macro[key].source for key in macro.REQUIRED})
    return Computed(result=classified.as_dict(), sources=sources)


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
    prompt = (
        f"Write three sentences about this {args.subject} result for an investor. Use only "
        "these figures, written exactly as given, and no other numbers:\n"
        + "\n".join(f"- {name}: {value}" for name, value in _figures(args.computed))
    )
    reply = await ctx.llm.complete(
        prompt,
        system="You describe computed financial figures plainly. You never invent a number.",
        model=args.model or _settings().model or None,
        output=_Draft,
        max_tokens=300,
        temperature=0,
    )
    text = _Draft.model_validate(reply.value).text.strip()[:2000]
    try:
        narrative.validate(text, args.computed)
    except InvalidInput as wrong:  # the model may do better on the next attempt
        raise StepFailed(wrong.message, retryable=True, details=wrong.details) from None
    return NarrativeOut(text=text, model=reply.model, prompt_version=PROMPTS["portfolio.narrative"])


def _figures(computed: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The result's scalar figures by dotted name (lists of positions left out: too long for a
    prompt), for the narrative's prompt."""
    found: list[tuple[str, Any]] = []
    for name, value in computed.items():
        if isinstance(value, dict):
            found += _figures(value, f"{prefix}{name}.")
        elif value is not None and not isinstance(value, list):
            found.append((f"{prefix}{name}", value))
    return found


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
    return Sealed(
        result=body, sources=sorted(set(args.sources)), result_hash=results.result_hash(body)
    )


AGENTS = (financial_analyst, macro_hound, data_harvester)
