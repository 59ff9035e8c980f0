"""The scheduled reconciliation: the `portfolio-reconcile` workflow fetches an account's
custodian statement (CSV, the format `reconcile.read_statement` reads) from the custodian's
URL and records the breaks against the ledger's head, like an uploaded statement. A tenant
schedules it (daily, say) with the platform's schedules.

A statement URL must start with one of the base URLs the installation allows
(`BATONFLOW_PORTFOLIO_CUSTODIAN_URLS`): a workflow's inputs cannot point the worker at an
address of the operator's choosing. The request goes through the outbound guard (no redirect
elsewhere, the answer's size capped), with `BATONFLOW_PORTFOLIO_CUSTODIAN_KEY` as a bearer
token when set. A retried attempt records nothing twice: the reconciliation is keyed by its run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import BaseModel, Field

from batonflow.agents.agent import CallContext
from batonflow.apps.portfolio import reconcile
from batonflow.apps.portfolio import tables as t
from batonflow.apps.portfolio.harvester import data_harvester
from batonflow.apps.portfolio.settings import PortfolioSettings
from batonflow.errors import InvalidInput, StepFailed
from batonflow.net.outbound import GuardedTransport, OutboundPolicy
from batonflow.store.db import Conn

MAX_BYTES = 5 * 1024 * 1024
__all__ = ["data_harvester", "reconcile_statement"]  # the harvester, with its capability


class ReconcileIn(BaseModel):
    portfolio_id: str
    account: str = Field(min_length=1, description="the account's name or id")
    statement_url: str = Field(min_length=1)
    statement_date: date | None = Field(None, description="default: the day the run fetches it")


class ReconcileOut(BaseModel):
    reconciliation_id: str
    ledger_commit_hash: str
    breaks: list[dict[str, str]]


def allowed_base(url: str, settings: PortfolioSettings) -> str:
    """The allowed custodian base URL `url` starts with; a non-retryable failure otherwise."""
    bases = [b.strip().rstrip("/") for b in settings.custodian_urls.split(",") if b.strip()]
    for base in bases:
        if url == base or url.startswith(base + "/") or url.startswith(base + "?"):
            return base
    allowed = ", ".join(bases) or "none are set"
    raise StepFailed(
        f"the statement URL {url} is not under a custodian URL this installation allows "
        f"({allowed}); an operator adds it to BATONFLOW_PORTFOLIO_CUSTODIAN_URLS",
        retryable=False,
    )


async def fetch(url: str, settings: PortfolioSettings) -> bytes:
    base = allowed_base(url, settings)
    policy = OutboundPolicy(max_bytes=MAX_BYTES, timeout=settings.provider_timeout)
    headers = {"Accept": "text/csv"}
    if settings.custodian_key is not None:
        headers["Authorization"] = f"Bearer {settings.custodian_key.get_secret_value()}"
    transport = GuardedTransport(policy, hosts=(), trusted=[base])
    async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
        try:
            answer = await http.get(url, headers=headers, timeout=settings.provider_timeout)
        except httpx.HTTPError as exc:
            raise StepFailed(f"the custodian at {base} did not answer: {exc}") from None
    if answer.status_code != 200:
        raise StepFailed(
            f"the custodian at {base} answered {answer.status_code} for the statement",
            retryable=answer.status_code >= 500 or answer.status_code == 429,
        )
    return answer.content


@data_harvester.capability("custodian.reconcile")
async def reconcile_statement(ctx: CallContext, args: ReconcileIn) -> ReconcileOut:
    """Fetch an account's custodian statement and record its breaks against the ledger."""
    if ctx.data is None:
        raise StepFailed("reconciling needs the database (ctx.data)", retryable=False)
    data, actor = ctx.data, f"run:{ctx.run_id}"
    done = await data.read(lambda conn: _recorded(conn, data.tenant_id, actor))
    if done is not None:
        return done
    settings = PortfolioSettings()
    try:
        statement = reconcile.read_statement(await fetch(args.statement_url, settings))
    except InvalidInput as wrong:
        raise StepFailed(
            f"the custodian's statement cannot be read: {wrong.message}",
            retryable=False,
            details=wrong.details,
        ) from None

    async def work(conn: Conn) -> dict[str, Any]:
        return await reconcile.reconcile(
            conn,
            data.tenant_id,
            args.portfolio_id,
            account=args.account,
            statement=statement,
            statement_date=args.statement_date or date.today(),
            actor=actor,
            now=datetime.now(UTC),
        )

    row = await data.write(work)
    return ReconcileOut(
        reconciliation_id=row["id"],
        ledger_commit_hash=row["ledger_commit_hash"],
        breaks=row["breaks"],
    )


async def _recorded(conn: Conn, tenant_id: str, actor: str) -> ReconcileOut | None:
    row = (
        await conn.execute(
            sa.select(t.reconciliations).where(
                t.reconciliations.c.tenant_id == tenant_id,
                t.reconciliations.c.created_by == actor,
            )
        )
    ).first()
    if row is None:
        return None
    return ReconcileOut(
        reconciliation_id=row.id, ledger_commit_hash=row.ledger_commit_hash, breaks=row.breaks
    )
