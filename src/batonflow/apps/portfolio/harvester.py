"""The data harvester: the agent behind the `portfolio-pack-build` workflow. Its one
capability, `packs.build`, builds a pricing pack for the run's tenant through `ctx.data` (the
database, for the app's own rows) from the providers `BATONFLOW_PORTFOLIO_PROVIDERS` names.

It is safe to retry: the build row is keyed by the run, so a retried attempt warms the row the
first attempt began (never a second one), and an attempt after a finished build returns it. A
provider's failure is recorded on the row (`failed`) and raised as the provider's
`StepFailed`: retryable when a later attempt may succeed (429, 5xx, no connection), not for a
refused key.

The agent reads the app's settings when it is called: agents are declared at import, before
any settings exist, and the worker that runs it is configured by the same environment.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, field_validator

from batonflow.agents.agent import Agent, CallContext
from batonflow.apps.portfolio.pack_build import build
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.errors import StepFailed

data_harvester = Agent("data_harvester", "Builds pricing packs from the configured providers")


class BuildIn(BaseModel):
    as_of: date | None = Field(None, description="the pack's date; unset or empty: today")
    symbols: list[str] | None = Field(
        None, description="the symbols to price; unset or empty: the tenant's ledgers'"
    )

    @field_validator("as_of", mode="before")
    @classmethod
    def _empty_is_today(cls, value: Any) -> Any:
        return None if value == "" else value


class BuildOut(BaseModel):
    build_id: str
    pack_id: str | None  # the new pack, or the existing one an `unchanged` build matched
    state: str  # fresh | unchanged
    counts: dict[str, Any]


@data_harvester.capability("packs.build")
async def build_pack(ctx: CallContext, args: BuildIn) -> BuildOut:
    """Build a pricing pack: fetch every series the tenant needs, store them, and make the pack
    current (or point at the identical pack that exists)."""
    if ctx.data is None:
        raise StepFailed("the data harvester needs the database (ctx.data)", retryable=False)
    row = await build(
        ctx.data.write,
        ctx.data.read,
        PortfolioSettings(),
        ctx.data.tenant_id,
        as_of=args.as_of,
        symbols=args.symbols or None,
        run_id=ctx.run_id,
    )
    return BuildOut(
        build_id=row["build_id"],
        pack_id=row["pack_id"] or row["same_as"],
        state=row["state"],
        counts=row["counts"],
    )


HARVESTER = (data_harvester,)
