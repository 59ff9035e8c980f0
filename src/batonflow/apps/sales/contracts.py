"""Contracts on the database: a tenant's templates, and each deal's contract rendered from one
with the deal's agreed terms, every render a new version.

Templates are Jinja2 text rendered in the workflow engine's immutable sandbox (strict undefined,
bounded): a template reads `deal` (title, currency, close date, amount), `company`, `contact`,
`lines` (description, quantity, unit price, discount, net), `total` and the agreed `terms` the
caller passes, and nothing else.

Status: draft -> in_review -> approved -> sent -> signed; in_review and approved may go back to
draft. A new render is a new version and sends an in-review or approved contract back to draft;
a sent or signed contract is not rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from batonflow.apps.sales import money
from batonflow.apps.sales import tables as crm
from batonflow.apps.sales.finance_tables import contract_templates, contract_versions, contracts
from batonflow.errors import Conflict, InvalidInput, NotFound, TemplateError
from batonflow.ids import new_id
from batonflow.store.db import Conn
from batonflow.workflows import templates

STATUSES = ("draft", "in_review", "approved", "sent", "signed")
NEXT: dict[str, tuple[str, ...]] = {
    "draft": ("in_review",),
    "in_review": ("approved", "draft"),
    "approved": ("sent", "draft"),
    "sent": ("signed",),
    "signed": (),
}


async def create_template(
    conn: Conn, tenant_id: str, *, name: str, body: str, now: datetime
) -> dict[str, Any]:
    """A contract template; its text must parse, and its name is unique in the tenant."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("a template name has 1 to 200 characters")
    problem = templates.syntax_error(body) if templates.is_template(body) else None
    if problem:
        raise InvalidInput(f"the template text does not parse: {problem}")
    taken = await conn.scalar(
        sa.select(contract_templates.c.id).where(
            contract_templates.c.tenant_id == tenant_id, contract_templates.c.name == cleaned
        )
    )
    if taken is not None:
        raise Conflict(f"a contract template named '{cleaned}' exists; pick another name")
    row = {
        "id": new_id(),
        "tenant_id": tenant_id,
        "name": cleaned,
        "body": body,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(contract_templates.insert().values(row))
    return row


async def list_templates(conn: Conn, tenant_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(contract_templates)
        .where(contract_templates.c.tenant_id == tenant_id)
        .order_by(contract_templates.c.name)
    )
    return [dict(r._mapping) for r in rows]


async def get_template(conn: Conn, tenant_id: str, template_id: str) -> dict[str, Any]:
    row = (
        await conn.execute(
            sa.select(contract_templates).where(
                contract_templates.c.tenant_id == tenant_id,
                contract_templates.c.id == template_id,
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no contract template '{template_id}'")
    return dict(row._mapping)


async def _one(conn: Conn, table: sa.Table, tenant_id: str, row_id: str | None) -> Any:
    if row_id is None:
        return None
    return (
        await conn.execute(
            sa.select(table).where(table.c.tenant_id == tenant_id, table.c.id == row_id)
        )
    ).first()


async def deal_scope(
    conn: Conn, tenant_id: str, deal_id: str, terms: Mapping[str, Any]
) -> dict[str, Any]:
    """What a template reads about a deal: its fields, company, contact, lines and total."""
    deal = await _one(conn, crm.deals, tenant_id, deal_id)
    if deal is None:
        raise InvalidInput(f"no deal '{deal_id}'; a contract is for one of the tenant's deals")
    company = await _one(conn, crm.companies, tenant_id, deal.company_id)
    contact = await _one(conn, crm.contacts, tenant_id, deal.contact_id)
    rows = await conn.execute(
        sa.select(crm.deal_lines)
        .where(crm.deal_lines.c.tenant_id == tenant_id, crm.deal_lines.c.deal_id == deal_id)
        .order_by(crm.deal_lines.c.position)
    )
    code = deal.currency
    lines, total = [], Decimal(0)
    for r in rows:
        net = money.line_net(r.quantity, r.unit_price, r.discount, code)
        total += net
        lines.append(
            {
                "description": r.description,
                "quantity": f"{r.quantity:f}",
                "unit_price": f"{r.unit_price:f}",
                "discount": f"{r.discount:f}",
                "net": money.text(net, code),
            }
        )
    amount = total if lines else deal.amount
    return {
        "deal": {
            "title": deal.title,
            "currency": code,
            "close_date": str(deal.close_date) if deal.close_date else "",
            "amount": money.text(amount, code) if amount is not None else "",
        },
        "company": {
            "name": company.name,
            "domain": company.domain or "",
            "country": company.country or "",
        },
        "contact": {"name": contact.name, "email": contact.email, "title": contact.title or ""}
        if contact is not None
        else None,
        "lines": lines,
        "total": money.text(total, code),
        "terms": dict(terms),
    }


def render(body: str, scope: Mapping[str, Any]) -> str:
    try:
        return templates.render_text(body, scope)
    except TemplateError as exc:
        raise InvalidInput(f"the contract template cannot be rendered: {exc.message}") from None


async def _add_version(
    conn: Conn,
    tenant_id: str,
    contract_id: str,
    version: int,
    terms: str,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    await conn.execute(
        contract_versions.insert().values(
            id=new_id(),
            tenant_id=tenant_id,
            contract_id=contract_id,
            version=version,
            terms=terms,
            actor=actor,
            reason=reason,
            created_at=now,
        )
    )


async def create_contract(
    conn: Conn,
    tenant_id: str,
    *,
    deal_id: str,
    template_id: str,
    terms: Mapping[str, Any],
    title: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """A draft contract for a deal, its version 1 rendered from the template."""
    template = await get_template(conn, tenant_id, template_id)
    scope = await deal_scope(conn, tenant_id, deal_id, terms)
    text = render(template["body"], scope)
    contract_id = new_id()
    await conn.execute(
        contracts.insert().values(
            id=contract_id,
            tenant_id=tenant_id,
            deal_id=deal_id,
            template_id=template_id,
            title=(title or "").strip() or f"Contract: {scope['deal']['title']}",
            status="draft",
            version=1,
            created_at=now,
            updated_at=now,
        )
    )
    await _add_version(conn, tenant_id, contract_id, 1, text, actor, "first draft", now)
    return await get_contract(conn, tenant_id, contract_id)


async def _contract(conn: Conn, tenant_id: str, contract_id: str) -> Any:
    row = (
        await conn.execute(
            sa.select(contracts)
            .where(contracts.c.tenant_id == tenant_id, contracts.c.id == contract_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise NotFound(f"no contract '{contract_id}'")
    return row


async def rerender(
    conn: Conn,
    tenant_id: str,
    contract_id: str,
    *,
    terms: Mapping[str, Any],
    actor: str,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    """Render the contract again (the template and deal as they are now, with `terms`) as its
    next version; an in-review or approved contract goes back to draft."""
    row = await _contract(conn, tenant_id, contract_id)
    if row.status in ("sent", "signed"):
        raise Conflict(f"the contract is {row.status}; it is not rendered again")
    template = await get_template(conn, tenant_id, row.template_id)
    text = render(template["body"], await deal_scope(conn, tenant_id, row.deal_id, terms))
    version = row.version + 1
    await _add_version(conn, tenant_id, contract_id, version, text, actor, reason, now)
    await conn.execute(
        contracts.update()
        .where(contracts.c.tenant_id == tenant_id, contracts.c.id == contract_id)
        .values(version=version, status="draft", updated_at=now)
    )
    return await get_contract(conn, tenant_id, contract_id)


async def change_status(
    conn: Conn, tenant_id: str, contract_id: str, status: str, *, now: datetime
) -> dict[str, Any]:
    """Move a contract to `status`; a move the lifecycle does not allow is `InvalidInput`."""
    row = await _contract(conn, tenant_id, contract_id)
    allowed = NEXT[row.status]
    if status not in allowed:
        goes = " or ".join(allowed) if allowed else "nowhere (it is final)"
        raise InvalidInput(f"a contract in {row.status} can move to {goes}, not to {status}")
    await conn.execute(
        contracts.update()
        .where(contracts.c.tenant_id == tenant_id, contracts.c.id == contract_id)
        .values(status=status, updated_at=now)
    )
    return await get_contract(conn, tenant_id, contract_id)


async def get_contract(conn: Conn, tenant_id: str, contract_id: str) -> dict[str, Any]:
    """A contract with its versions, oldest first."""
    row = await _one(conn, contracts, tenant_id, contract_id)
    if row is None:
        raise NotFound(f"no contract '{contract_id}'")
    versions = await conn.execute(
        sa.select(contract_versions)
        .where(
            contract_versions.c.tenant_id == tenant_id,
            contract_versions.c.contract_id == contract_id,
        )
        .order_by(contract_versions.c.version)
    )
    return dict(row._mapping) | {"versions": [dict(v._mapping) for v in versions]}


async def page(
    conn: Conn,
    tenant_id: str,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
    status: str | None = None,
    deal_id: str | None = None,
) -> list[dict[str, Any]]:
    """Contracts newest first (without versions), after the keyset `(created_at, id)`."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status '{status}' is not one of {', '.join(STATUSES)}")
    query = sa.select(contracts).where(contracts.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(contracts.c.status == status)
    if deal_id is not None:
        query = query.where(contracts.c.deal_id == deal_id)
    if after is not None:
        query = query.where(sa.tuple_(contracts.c.created_at, contracts.c.id) < sa.tuple_(*after))
    query = query.order_by(contracts.c.created_at.desc(), contracts.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(query)]
