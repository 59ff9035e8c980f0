"""Leads on the database: a company and a contact someone may sell to, where it came from, who
owns it, its status and its score with the reasons behind it.

A lead's status moves only along

    new -> qualified | disqualified
    qualified -> contacted | disqualified
    contacted -> converted | disqualified
    disqualified -> new            (reopened)

and `converted` (it became a deal) is final. The SDR agent writes the score (`set_score`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import companies, money
from batonflow.apps.sales import tables as t
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

STATUSES = ("new", "qualified", "disqualified", "contacted", "converted")
NEXT: dict[str, tuple[str, ...]] = {
    "new": ("qualified", "disqualified"),
    "qualified": ("contacted", "disqualified"),
    "contacted": ("converted", "disqualified"),
    "disqualified": ("new",),
    "converted": (),
}
EDITABLE = ("source", "owner", "notes", "budget", "currency")


def check_transition(current: str, status: str) -> None:
    """Refuse a status the lead cannot move to from `current`, naming the ones it can."""
    if status not in STATUSES:
        raise InvalidInput(f"status '{status}' is not one of {', '.join(STATUSES)}")
    if status == current:
        return
    allowed = NEXT[current]
    if status not in allowed:
        then = " or ".join(allowed) if allowed else "nothing (it is final)"
        raise InvalidInput(f"a {current} lead cannot become {status}; it can become {then}")


def _money(budget: Decimal | None, currency: str | None) -> dict[str, Any]:
    if budget is not None and budget < 0:
        raise InvalidInput("a budget is 0 or more")
    if budget is not None and not currency:
        raise InvalidInput("a budget needs its currency (like EUR)")
    return {"budget": budget, "currency": money.currency(currency) if currency else None}


async def create_lead(
    conn: Conn,
    tenant_id: str,
    *,
    company_id: str,
    contact_id: str,
    source: str,
    owner: str | None = None,
    notes: str = "",
    budget: Decimal | None = None,
    currency: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """A new lead of an existing company and contact; it starts `new`, unscored."""
    await companies.get_company(conn, tenant_id, company_id)
    await companies.get_contact(conn, tenant_id, contact_id)
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "company_id": company_id,
        "contact_id": contact_id,
        "source": companies.name(source, "source", 100),
        "status": "new",
        "owner": owner or None,
        "notes": notes,
        **_money(budget, currency),
        "score": None,
        "score_reasons": None,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(t.leads.insert().values(row))
    return await get_lead(conn, tenant_id, row["id"])


async def create_lead_inline(
    conn: Conn,
    tenant_id: str,
    *,
    company_id: str | None,
    contact_id: str | None,
    company: dict[str, Any] | None,
    contact: dict[str, Any] | None,
    now: datetime,
    **lead: Any,
) -> dict[str, Any]:
    """A lead whose company and contact are named by id, or given inline (`company` by its
    name, `contact` by its email: found, else created)."""
    if contact_id is None and contact is None:
        raise InvalidInput("a lead needs a contact: contact_id, or contact with name and email")
    if company_id is None and company is not None:
        made, _ = await companies.find_or_create_company(conn, tenant_id, now=now, **company)
        company_id = made["id"]
    if contact_id is None and contact is not None:
        found, _ = await companies.find_or_create_contact(
            conn, tenant_id, now=now, **(contact | {"company_id": company_id})
        )
    else:
        found = await companies.get_contact(conn, tenant_id, str(contact_id))
    company_id = company_id or found["company_id"]
    if company_id is None:
        raise InvalidInput("a lead needs a company: company_id, or company with its name")
    if found["company_id"] is None:
        await conn.execute(
            t.contacts.update()
            .where(t.contacts.c.tenant_id == tenant_id, t.contacts.c.id == found["id"])
            .values(company_id=company_id, updated_at=now)
        )
    return await create_lead(
        conn, tenant_id, company_id=company_id, contact_id=found["id"], now=now, **lead
    )


_co, _ct = t.companies.alias("co"), t.contacts.alias("ct")


def _joined() -> sa.Select[Any]:
    co, ct = _co, _ct
    return sa.select(
        t.leads,
        *[co.c[c].label(f"company__{c}") for c in ("id", *companies.COMPANY_FIELDS)],
        *[ct.c[c].label(f"contact__{c}") for c in ("id", "name", "email", "title", "phone")],
    ).select_from(
        t.leads.join(co, co.c.id == t.leads.c.company_id).join(ct, ct.c.id == t.leads.c.contact_id)
    )


def _nest(mapping: Any) -> dict[str, Any]:
    lead: dict[str, Any] = {"company": {}, "contact": {}}
    for key, value in mapping.items():
        part, sep, field = key.partition("__")
        if sep:
            lead[part][field] = value
        else:
            lead[key] = value
    return lead


async def get_lead(conn: Conn, tenant_id: str, lead_id: str) -> dict[str, Any]:
    """The lead with its `company` and `contact` (each a dict)."""
    row = (
        await conn.execute(
            _joined().where(t.leads.c.tenant_id == tenant_id, t.leads.c.id == lead_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no lead '{lead_id}'")
    return _nest(row._mapping)


async def update_lead(
    conn: Conn, tenant_id: str, lead_id: str, *, now: datetime, **changes: Any
) -> dict[str, Any]:
    """Change the given fields; a `status` must be a legal transition (see the module)."""
    current = await get_lead(conn, tenant_id, lead_id)
    values = {k: v for k, v in changes.items() if k in EDITABLE}
    if "source" in values:
        values["source"] = companies.name(values["source"], "source", 100)
    if "notes" in values:
        values["notes"] = values["notes"] or ""
    if "budget" in values or "currency" in values:
        values |= _money(
            values.get("budget", current["budget"]), values.get("currency", current["currency"])
        )
    if changes.get("status") is not None:
        check_transition(current["status"], changes["status"])
        values["status"] = changes["status"]
    values["updated_at"] = now
    await conn.execute(
        t.leads.update()
        .where(t.leads.c.tenant_id == tenant_id, t.leads.c.id == lead_id)
        .values(values)
    )
    return await get_lead(conn, tenant_id, lead_id)


async def set_status(
    conn: Conn, tenant_id: str, lead_id: str, status: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """Move the lead to `status` (a legal transition, or `InvalidInput` saying which are)."""
    return await update_lead(conn, tenant_id, lead_id, status=status, now=now or datetime.now(UTC))


async def set_score(
    conn: Conn,
    tenant_id: str,
    lead_id: str,
    score: int,
    reasons: list[dict[str, Any]],
    *,
    now: datetime | None = None,
) -> None:
    """Record the lead's score (0 to 100) and the reasons for it."""
    if not 0 <= score <= 100:
        raise InvalidInput(f"a score is 0 to 100, not {score}")
    done = await conn.execute(
        t.leads.update()
        .where(t.leads.c.tenant_id == tenant_id, t.leads.c.id == lead_id)
        .values(score=score, score_reasons=reasons, updated_at=now or datetime.now(UTC))
    )
    if done.rowcount == 0:
        raise NotFound(f"no lead '{lead_id}'")


async def delete_lead(conn: Conn, tenant_id: str, lead_id: str) -> None:
    """Delete a lead; refused while a deal came from it."""
    await get_lead(conn, tenant_id, lead_id)
    deals = (
        (
            await conn.execute(
                sa.select(t.deals.c.id).where(
                    t.deals.c.tenant_id == tenant_id, t.deals.c.lead_id == lead_id
                )
            )
        )
        .scalars()
        .all()
    )
    if deals:
        raise Conflict(f"the lead became deal(s) {', '.join(deals)}; delete them first")
    await conn.execute(
        t.leads.delete().where(t.leads.c.tenant_id == tenant_id, t.leads.c.id == lead_id)
    )


async def list_leads(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    status: str | None = None,
    owner: str | None = None,
    source: str | None = None,
    min_score: int | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """A page of leads with their company and contact, newest first. `q` searches the
    company's name, the contact's name and email, and the notes."""
    query = _joined().where(t.leads.c.tenant_id == tenant_id)
    for column, value in ((t.leads.c.status, status), (t.leads.c.owner, owner)):
        if value is not None:
            query = query.where(column == value)
    if source is not None:
        query = query.where(t.leads.c.source == source)
    if min_score is not None:
        query = query.where(t.leads.c.score >= min_score)
    if q:
        pattern = companies.like(q)
        query = query.where(
            sa.or_(
                sa.func.lower(_co.c.name).like(pattern, escape="\\"),
                sa.func.lower(_ct.c.name).like(pattern, escape="\\"),
                _ct.c.email.like(pattern, escape="\\"),
                sa.func.lower(t.leads.c.notes).like(pattern, escape="\\"),
            )
        )
    rows = await conn.execute(companies.newest_first(query, t.leads, after, limit))
    return [_nest(row._mapping) for row in rows]
