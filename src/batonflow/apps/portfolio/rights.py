"""Data rights: what each data source's licence lets a tenant do with a result built from it.

A result remembers every source it used; before a result leaves the platform as a file, every
one of those sources must allow export. The registry below holds each source's defaults (from
its published terms, summarised in `terms`); a tenant that negotiated other terms overrides a
source in `portfolio_rights`, whole (attribution and the three flags together).

    export_allowed          a result may be downloaded as CSV, JSON or PDF
    redistribution_allowed  the downloaded file may be passed on outside the tenant
    watermark_required      a PDF must carry a visible licence watermark naming the source

A source no registry entry and no override knows has no known rights: its results cannot be
exported (a licence nobody wrote down is not a licence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.portfolio.tables import rights as rights_t
from batonflow.errors import InvalidInput
from batonflow.store.db import Conn

FORMATS = ("csv", "json", "pdf")
WATERMARK = "Licensed data - not for redistribution"


@dataclass(frozen=True, slots=True)
class Rights:
    """One source's rights for one tenant; `overridden` when the tenant set them."""

    source: str
    attribution: str
    export_allowed: bool
    redistribution_allowed: bool
    watermark_required: bool
    terms: str  # the licence term behind the flags, quoted in a refusal
    overridden: bool = False
    updated_by: str | None = None
    updated_at: datetime | None = None


DEFAULTS: dict[str, Rights] = {
    "offline": Rights(
        source="offline",
        attribution="Sample data: vega-datasets, the Vega project's example data sets "
        "(BSD-3-Clause); for demonstration, not for investment decisions",
        export_allowed=True,
        redistribution_allowed=True,
        watermark_required=False,
        terms="the vega-datasets BSD-3-Clause licence permits redistribution with its notice",
    ),
    "fmp": Rights(
        source="fmp",
        attribution="Market data: Financial Modeling Prep (financialmodelingprep.com)",
        export_allowed=False,
        redistribution_allowed=False,
        watermark_required=False,
        terms="the Financial Modeling Prep licence forbids redistributing raw prices",
    ),
    "polygon": Rights(
        source="polygon",
        attribution="Market data: Polygon.io, licensed for internal use",
        export_allowed=True,
        redistribution_allowed=False,
        watermark_required=True,
        terms="the Polygon.io licence allows internal reports that carry a licence watermark",
    ),
    "fred": Rights(
        source="fred",
        attribution="Source: FRED, Federal Reserve Bank of St. Louis",
        export_allowed=True,
        redistribution_allowed=True,
        watermark_required=False,
        terms="the FRED terms of use allow reuse with attribution to the source",
    ),
    "news": Rights(
        source="news",
        attribution="Headlines: the configured news API, (c) their publishers",
        export_allowed=False,
        redistribution_allowed=False,
        watermark_required=False,
        terms="the news API licence forbids republishing publishers' headlines",
    ),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a result built from `sources` may be exported, and what the file must carry."""

    allowed: bool
    reasons: tuple[str, ...]  # one per forbidding source, naming it and its licence term
    attribution: tuple[str, ...]  # one line per source, every export carries them
    watermark: str | None  # the watermark text, when any source requires one
    restricted: tuple[str, ...]  # sources whose data may not be passed on

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def notice(self) -> str | None:
        """The line that says the file may not be passed on (None when it may)."""
        if not self.restricted:
            return None
        return f"Internal use only: redistribution is not licensed for {', '.join(self.restricted)}"


async def effective(conn: Conn, tenant_id: str) -> dict[str, Rights]:
    """Every known source's rights for the tenant: the defaults, with its overrides applied
    (an override of a source outside the registry is listed too), by source name."""
    found = dict(DEFAULTS)
    rows = await conn.execute(
        sa.select(rights_t).where(rights_t.c.tenant_id == tenant_id).order_by(rights_t.c.source)
    )
    for row in rows.mappings():
        found[row["source"]] = _override(dict(row))
    return dict(sorted(found.items()))


def _override(row: Mapping[str, Any]) -> Rights:
    default = DEFAULTS.get(row["source"])
    terms = f"the tenant's data rights for {row['source']}, set by {row['updated_by']}"
    if default is not None:
        terms += f" (the default: {default.terms})"
    return Rights(
        source=row["source"],
        attribution=row["attribution"],
        export_allowed=bool(row["export_allowed"]),
        redistribution_allowed=bool(row["redistribution_allowed"]),
        watermark_required=bool(row["watermark_required"]),
        terms=terms,
        overridden=True,
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


async def set_rights(
    conn: Conn,
    tenant_id: str,
    source: str,
    *,
    attribution: str,
    export_allowed: bool,
    redistribution_allowed: bool,
    watermark_required: bool,
    actor: str,
    now: datetime,
) -> Rights:
    """Override one registry source's rights for the tenant (replacing an earlier override)."""
    _registered(source)
    attribution = " ".join(attribution.split())
    if not attribution:
        raise InvalidInput("attribution must not be empty: every export prints it")
    if len(attribution) > 500:
        raise InvalidInput("attribution is longer than 500 characters; shorten it")
    values = {
        "attribution": attribution,
        "export_allowed": export_allowed,
        "redistribution_allowed": redistribution_allowed,
        "watermark_required": watermark_required,
        "updated_by": actor[:200],
        "updated_at": now,
    }
    key = (rights_t.c.tenant_id == tenant_id) & (rights_t.c.source == source)
    updated = await conn.execute(sa.update(rights_t).where(key).values(**values))
    if updated.rowcount == 0:
        await conn.execute(sa.insert(rights_t).values(tenant_id=tenant_id, source=source, **values))
    return (await effective(conn, tenant_id))[source]


async def reset_rights(conn: Conn, tenant_id: str, source: str) -> Rights:
    """Drop the tenant's override of a source: its defaults apply again."""
    _registered(source)
    await conn.execute(
        sa.delete(rights_t).where(rights_t.c.tenant_id == tenant_id, rights_t.c.source == source)
    )
    return DEFAULTS[source]


def _registered(source: str) -> None:
    if source not in DEFAULTS:
        raise InvalidInput(
            f"'{source}' is not a data source; sources: {', '.join(sorted(DEFAULTS))}"
        )


def _known(rights: Mapping[str, Rights], source: str) -> Rights:
    found = rights.get(source)
    if found is not None:
        return found
    return Rights(
        source=source,
        attribution=f"Source: {source}",
        export_allowed=False,
        redistribution_allowed=False,
        watermark_required=False,
        terms="no licence is recorded for this source",
    )


async def attribution_lines(conn: Conn, tenant_id: str, sources: Iterable[str]) -> list[str]:
    """The attribution line of each source for the tenant, once each, in source-name order."""
    found = await effective(conn, tenant_id)
    return [_known(found, source).attribution for source in sorted(set(sources))]


def check_export(rights: Mapping[str, Rights], sources: Iterable[str], fmt: str) -> Verdict:
    """Whether a result built from `sources` may be exported as `fmt`: refused when any source
    forbids export (each such source named with its term), else what the file must carry."""
    if fmt not in FORMATS:
        raise InvalidInput(f"'{fmt}' is not an export format; formats: {', '.join(FORMATS)}")
    used = [_known(rights, source) for source in sorted(set(sources))]
    reasons = tuple(
        f"{r.source}: export is not allowed ({r.terms})" for r in used if not r.export_allowed
    )
    marked = [r.source for r in used if r.watermark_required]
    return Verdict(
        allowed=not reasons,
        reasons=reasons,
        attribution=tuple(r.attribution for r in used),
        watermark=f"{WATERMARK} ({', '.join(marked)})" if marked else None,
        restricted=tuple(r.source for r in used if not r.redistribution_allowed),
    )
