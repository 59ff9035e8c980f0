"""Companies and the people at them (contacts), on the database. Every query filters on the
tenant; a contact's email is lower-cased and unique in its tenant.

Lists are keyset pages, newest first: `newest_first` adds the `(created_at, id)` position of
the last row of the previous page to any of the app's listing queries.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import tables as t
from batonflow.errors import Conflict, InvalidInput, NotFound
from batonflow.ids import new_id
from batonflow.store.db import Conn

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
COMPANY_FIELDS = ("name", "domain", "industry", "employees", "country")
CONTACT_FIELDS = ("company_id", "name", "email", "title", "phone")


def newest_first(
    query: sa.Select[Any], table: sa.Table, after: tuple[datetime, str] | None, limit: int
) -> sa.Select[Any]:
    """`query` in the order of a keyset page (newest first), from after `after`."""
    if after is not None:
        at, row_id = after
        query = query.where(
            sa.or_(
                table.c.created_at < at,
                sa.and_(table.c.created_at == at, table.c.id < row_id),
            )
        )
    return query.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)


def like(text: str) -> str:
    """A case-insensitive `LIKE` pattern for `text` anywhere (its wildcards taken literally)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def name(value: str | None, what: str, most: int = 200) -> str:
    cleaned = (value or "").strip()
    if not cleaned or len(cleaned) > most:
        raise InvalidInput(f"a {what} has 1 to {most} characters")
    return cleaned


def email(value: str | None) -> str:
    cleaned = (value or "").strip().lower()
    if len(cleaned) > 320 or not EMAIL.fullmatch(cleaned):
        raise InvalidInput(f"'{value}' is not an email address (like jane@example.com)")
    return cleaned


def _company_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    if "name" in values:
        values["name"] = name(values["name"], "company name")
    if values.get("country"):
        country = str(values["country"]).strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise InvalidInput(f"country '{values['country']}' is not an ISO 3166 code (like DE)")
        values["country"] = country
    if values.get("domain"):
        values["domain"] = str(values["domain"]).strip().lower()
    if values.get("employees") is not None and values["employees"] < 0:
        raise InvalidInput("employees is a count: 0 or more")
    return values


async def _company_named(conn: Conn, tenant_id: str, company_name: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(t.companies).where(
                t.companies.c.tenant_id == tenant_id,
                sa.func.lower(t.companies.c.name) == company_name.lower(),
            )
        )
    ).first()
    return None if row is None else dict(row._mapping)


async def create_company(
    conn: Conn, tenant_id: str, *, now: datetime, **fields: Any
) -> dict[str, Any]:
    """A new company (`name`, and any of `domain`, `industry`, `employees`, `country`)."""
    values = _company_values({k: fields.get(k) for k in COMPANY_FIELDS})
    taken = await _company_named(conn, tenant_id, values["name"])
    if taken is not None:
        raise Conflict(f"a company named '{taken['name']}' exists ({taken['id']}); use it")
    row = {"id": new_id(), "tenant_id": tenant_id, **values, "created_at": now, "updated_at": now}
    await conn.execute(t.companies.insert().values(row))
    return row


async def find_or_create_company(
    conn: Conn, tenant_id: str, *, now: datetime, **fields: Any
) -> tuple[dict[str, Any], bool]:
    """The company of that name (case aside), or a new one; and whether it was created."""
    found = await _company_named(conn, tenant_id, name(fields["name"], "company name"))
    if found is not None:
        return found, False
    return await create_company(conn, tenant_id, now=now, **fields), True


async def get_company(conn: Conn, tenant_id: str, company_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(t.companies).where(
                t.companies.c.tenant_id == tenant_id, t.companies.c.id == company_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no company '{company_id}'")
    return dict(row._mapping)


async def update_company(
    conn: Conn, tenant_id: str, company_id: str, *, now: datetime, **changes: Any
) -> dict[str, Any]:
    """Change the given fields (a None value clears an optional one)."""
    current = await get_company(conn, tenant_id, company_id)
    values = _company_values({k: v for k, v in changes.items() if k in COMPANY_FIELDS})
    if "name" in values and values["name"].lower() != current["name"].lower():
        taken = await _company_named(conn, tenant_id, values["name"])
        if taken is not None:
            raise Conflict(f"a company named '{taken['name']}' exists ({taken['id']})")
    values["updated_at"] = now
    await conn.execute(
        t.companies.update()
        .where(t.companies.c.tenant_id == tenant_id, t.companies.c.id == company_id)
        .values(values)
    )
    return current | values


async def _ids(conn: Conn, query: sa.Select[Any]) -> list[str]:
    return [str(v) for v in (await conn.execute(query.limit(6))).scalars()]


def _which(what: str, ids: list[str]) -> str:
    shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
    return f"{what} {shown}"


async def delete_company(conn: Conn, tenant_id: str, company_id: str) -> None:
    """Delete a company with its contacts; refused while deals or leads refer to it."""
    await get_company(conn, tenant_id, company_id)
    deals = await _ids(
        conn,
        sa.select(t.deals.c.id).where(
            t.deals.c.tenant_id == tenant_id, t.deals.c.company_id == company_id
        ),
    )
    leads = await _ids(
        conn,
        sa.select(t.leads.c.id).where(
            t.leads.c.tenant_id == tenant_id, t.leads.c.company_id == company_id
        ),
    )
    if deals or leads:
        held = " and ".join(
            _which(what, ids) for what, ids in (("deal(s)", deals), ("lead(s)", leads)) if ids
        )
        raise Conflict(f"the company has {held}; delete or move them first")
    await _refuse_if_used(conn, tenant_id, contact_ids=None, company_id=company_id)
    await conn.execute(
        t.contacts.delete().where(
            t.contacts.c.tenant_id == tenant_id, t.contacts.c.company_id == company_id
        )
    )
    await conn.execute(
        t.companies.delete().where(
            t.companies.c.tenant_id == tenant_id, t.companies.c.id == company_id
        )
    )


async def list_companies(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """A page of companies, newest first; `q` searches the name and the domain."""
    query = sa.select(t.companies).where(t.companies.c.tenant_id == tenant_id)
    if q:
        pattern = like(q)
        query = query.where(
            sa.or_(
                sa.func.lower(t.companies.c.name).like(pattern, escape="\\"),
                sa.func.lower(t.companies.c.domain).like(pattern, escape="\\"),
            )
        )
    rows = await conn.execute(newest_first(query, t.companies, after, limit))
    return [dict(row._mapping) for row in rows]


async def _contact_with_email(conn: Conn, tenant_id: str, address: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            sa.select(t.contacts).where(
                t.contacts.c.tenant_id == tenant_id, t.contacts.c.email == address
            )
        )
    ).first()
    return None if row is None else dict(row._mapping)


def _taken(existing: dict[str, Any]) -> Conflict:
    return Conflict(
        f"the email {existing['email']} belongs to contact {existing['id']} "
        f"({existing['name']}); update that contact instead"
    )


async def _contact_values(conn: Conn, tenant_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    if "name" in values:
        values["name"] = name(values["name"], "contact name")
    if "email" in values:
        values["email"] = email(values["email"])
    if values.get("company_id"):
        await get_company(conn, tenant_id, values["company_id"])
    return values


async def create_contact(
    conn: Conn, tenant_id: str, *, now: datetime, **fields: Any
) -> dict[str, Any]:
    """A new contact (`name`, `email`, and any of `company_id`, `title`, `phone`)."""
    values = await _contact_values(conn, tenant_id, {k: fields.get(k) for k in CONTACT_FIELDS})
    existing = await _contact_with_email(conn, tenant_id, values["email"])
    if existing is not None:
        raise _taken(existing)
    row = {"id": new_id(), "tenant_id": tenant_id, **values, "created_at": now, "updated_at": now}
    await conn.execute(t.contacts.insert().values(row))
    return row


async def find_or_create_contact(
    conn: Conn, tenant_id: str, *, now: datetime, **fields: Any
) -> tuple[dict[str, Any], bool]:
    """The contact with that email, or a new one; and whether it was created."""
    found = await _contact_with_email(conn, tenant_id, email(fields["email"]))
    if found is not None:
        return found, False
    return await create_contact(conn, tenant_id, now=now, **fields), True


async def get_contact(conn: Conn, tenant_id: str, contact_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(t.contacts).where(
                t.contacts.c.tenant_id == tenant_id, t.contacts.c.id == contact_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no contact '{contact_id}'")
    return dict(row._mapping)


async def update_contact(
    conn: Conn, tenant_id: str, contact_id: str, *, now: datetime, **changes: Any
) -> dict[str, Any]:
    current = await get_contact(conn, tenant_id, contact_id)
    values = await _contact_values(
        conn, tenant_id, {k: v for k, v in changes.items() if k in CONTACT_FIELDS}
    )
    if "email" in values and values["email"] != current["email"]:
        existing = await _contact_with_email(conn, tenant_id, values["email"])
        if existing is not None:
            raise _taken(existing)
    values["updated_at"] = now
    await conn.execute(
        t.contacts.update()
        .where(t.contacts.c.tenant_id == tenant_id, t.contacts.c.id == contact_id)
        .values(values)
    )
    return current | values


async def _refuse_if_used(
    conn: Conn, tenant_id: str, *, contact_ids: list[str] | None, company_id: str | None
) -> None:
    """Refuse when deals or leads (of any company) refer to the contacts."""
    if contact_ids is None:
        contact_ids = [
            str(v)
            for v in (
                await conn.execute(
                    sa.select(t.contacts.c.id).where(
                        t.contacts.c.tenant_id == tenant_id, t.contacts.c.company_id == company_id
                    )
                )
            ).scalars()
        ]
    if not contact_ids:
        return
    deals = await _ids(
        conn,
        sa.select(t.deals.c.id).where(
            t.deals.c.tenant_id == tenant_id, t.deals.c.contact_id.in_(contact_ids)
        ),
    )
    leads = await _ids(
        conn,
        sa.select(t.leads.c.id).where(
            t.leads.c.tenant_id == tenant_id, t.leads.c.contact_id.in_(contact_ids)
        ),
    )
    if deals or leads:
        held = " and ".join(
            _which(what, ids) for what, ids in (("deal(s)", deals), ("lead(s)", leads)) if ids
        )
        raise Conflict(f"the contact is on {held}; delete them or change their contact first")


async def delete_contact(conn: Conn, tenant_id: str, contact_id: str) -> None:
    await get_contact(conn, tenant_id, contact_id)
    await _refuse_if_used(conn, tenant_id, contact_ids=[contact_id], company_id=None)
    await conn.execute(
        t.contacts.delete().where(
            t.contacts.c.tenant_id == tenant_id, t.contacts.c.id == contact_id
        )
    )


async def list_contacts(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    q: str | None = None,
    company_id: str | None = None,
) -> list[dict[str, Any]]:
    """A page of contacts, newest first; `q` searches the name and the email."""
    query = sa.select(t.contacts).where(t.contacts.c.tenant_id == tenant_id)
    if company_id:
        query = query.where(t.contacts.c.company_id == company_id)
    if q:
        pattern = like(q)
        query = query.where(
            sa.or_(
                sa.func.lower(t.contacts.c.name).like(pattern, escape="\\"),
                t.contacts.c.email.like(pattern, escape="\\"),
            )
        )
    rows = await conn.execute(newest_first(query, t.contacts, after, limit))
    return [dict(row._mapping) for row in rows]
