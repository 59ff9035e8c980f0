"""The finance agent (`sales-finance`): contracts, invoices and payment reminders, as steps of
the sales workflows. Code does all of it, over the finance functions (`contracts`, `invoices`,
`dunning`, `emails`); there is no model call and no number a model could change.

- `contract.prepare`: a deal's contract from a template (the one named, or the tenant's first by
  name) with the agreed terms of the deal's latest accepted negotiation round, if any, put
  `in_review`.
- `contract.send`: an approved contract (or one in review that the workflow's review approved)
  emailed to the deal's contact with its PDF attached; the contract becomes `sent`.
- `invoice.issue`: the deal's invoice, its lines at the negotiated discounts, issued (its number
  taken) and emailed with its PDF. A deal is invoiced once: one with an issued invoice that is
  not void gets that one again.
- `payment.remind`: the tenant's dunning for today, through the email log.

Each is idempotent per call key (`ctx.idempotency_key`): a repeated attempt finds what the first
one stored, and `emails.send_once` sends each email once under that key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from pydantic import BaseModel, Field

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.sales import contracts, dunning, emails, finance_pdf, invoices, negotiation
from batonflow.apps.sales import tables as crm
from batonflow.apps.sales.finance_tables import contract_templates, contract_versions
from batonflow.apps.sales.finance_tables import invoices as invoices_t
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import InvalidInput, NotFound, StepFailed
from batonflow.store.db import Conn, Database

finance = Agent("sales-finance", "Prepares and sends contracts, issues invoices, chases payment")
ACTOR = "agent:sales-finance"


class PrepareIn(BaseModel):
    deal_id: str
    template_id: str | None = Field(None, description="default: the tenant's first template")
    title: str | None = None
    accepted_round: int | None = Field(
        None,
        ge=1,
        description="the round whose terms (ours) the customer accepted; default: the latest "
        "round in which we accepted the customer's",
    )


class Prepared(BaseModel):
    contract_id: str
    deal_id: str
    version: int
    status: str
    terms: dict[str, Any] = Field(description="the agreed terms the contract was rendered with")


class SendContractIn(BaseModel):
    contract_id: str
    approved_by: str | None = Field(
        None, description="who approved a contract still in review (the workflow's reviewer)"
    )


class ContractSent(BaseModel):
    contract_id: str
    status: str
    email_id: str
    message_id: str
    to: str


class IssueIn(BaseModel):
    deal_id: str
    tax_rate: Decimal = Field(Decimal(0), ge=0, lt=1, description="a fraction: 0.2 is 20 %")
    terms_days: int = Field(30, ge=0, le=365)


class Issued(BaseModel):
    invoice_id: str
    number: str
    currency: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    due_date: date
    email_id: str
    message_id: str


class RemindIn(BaseModel):
    today: date | None = Field(None, description="default: today (UTC)")


class Reminder(BaseModel):  # one level of one invoice: sent, skipped or failed
    invoice_id: str
    number: str | None
    level: int
    due_on: date
    state: str
    email_id: str | None
    error: str | None


class Reminded(BaseModel):
    reminders: list[Reminder]


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the finance agent needs the database (ctx.data)", retryable=False)
    return ctx.data


def _final(exc: InvalidInput | NotFound) -> StepFailed:
    """A record missing or in the wrong state: trying again changes nothing."""
    return StepFailed(exc.message, retryable=False)


async def agreed_terms(
    conn: Conn, tenant_id: str, deal_id: str, accepted_round: int | None = None
) -> dict[str, Any]:
    """The terms of our response in `accepted_round`, or of the deal's latest round in which
    we accepted the customer's terms (empty when there is none)."""
    accepted = [
        row
        for row in await negotiation.list_offers(conn, tenant_id, deal_id)
        if row["party"] == "us"
        and (row["round"] == accepted_round if accepted_round else row["action"] == "accept")
    ]
    if accepted_round and not accepted:
        raise InvalidInput(f"deal '{deal_id}' has no negotiation round {accepted_round}")
    if not accepted:
        return {}
    last = accepted[-1]
    return {
        "round": last["round"],
        "discount": str(last["discount"]),
        "net_amount": str(last["net_amount"]),
        "currency": last["currency"],
        "lines": last["terms"]["lines"],
    }


async def _template_id(conn: Conn, tenant_id: str, given: str | None) -> str:
    if given:
        return given
    first = await conn.scalar(
        sa.select(contract_templates.c.id)
        .where(contract_templates.c.tenant_id == tenant_id)
        .order_by(contract_templates.c.name, contract_templates.c.id)
        .limit(1)
    )
    if first is None:
        raise InvalidInput("the tenant has no contract template; add one first")
    return str(first)


async def _prepared_under(conn: Conn, tenant_id: str, actor: str) -> str | None:
    found = await conn.scalar(
        sa.select(contract_versions.c.contract_id).where(
            contract_versions.c.tenant_id == tenant_id,
            contract_versions.c.actor == actor,
            contract_versions.c.version == 1,
        )
    )
    return None if found is None else str(found)


@finance.capability("contract.prepare", "A deal's contract with the agreed terms, in review")
async def prepare_contract(ctx: CallContext, args: PrepareIn) -> Prepared:
    data = _data(ctx)
    tenant_id = data.tenant_id
    actor = f"{ACTOR} {ctx.idempotency_key}"[:200]  # the call key marks what it prepared

    async def work(conn: Conn) -> tuple[dict[str, Any], dict[str, Any]]:
        terms = await agreed_terms(conn, tenant_id, args.deal_id, args.accepted_round)
        now = datetime.now(UTC)
        earlier = await _prepared_under(conn, tenant_id, actor)
        if earlier is not None:
            return await contracts.get_contract(conn, tenant_id, earlier), terms
        template_id = await _template_id(conn, tenant_id, args.template_id)
        made = await contracts.create_contract(
            conn,
            tenant_id,
            deal_id=args.deal_id,
            template_id=template_id,
            terms=terms,
            title=args.title,
            actor=actor,
            now=now,
        )
        moved = await contracts.change_status(conn, tenant_id, made["id"], "in_review", now=now)
        return moved, terms

    try:
        row, terms = await data.write(work)
    except (InvalidInput, NotFound) as exc:
        raise _final(exc) from None
    return Prepared(
        contract_id=row["id"],
        deal_id=row["deal_id"],
        version=row["version"],
        status=row["status"],
        terms=terms,
    )


async def _deal_contact(conn: Conn, tenant_id: str, deal_id: str) -> str:
    email = await conn.scalar(
        sa.select(crm.contacts.c.email)
        .select_from(crm.deals.join(crm.contacts, crm.contacts.c.id == crm.deals.c.contact_id))
        .where(crm.deals.c.tenant_id == tenant_id, crm.deals.c.id == deal_id)
    )
    if email is None:
        raise InvalidInput(f"deal '{deal_id}' has no contact to send to; set its contact")
    return str(email)


@finance.capability("contract.send", "Email an approved contract with its PDF; it becomes sent")
async def send_contract(ctx: CallContext, args: SendContractIn) -> ContractSent:
    data = _data(ctx)
    tenant_id = data.tenant_id

    async def approve(conn: Conn) -> tuple[dict[str, Any], str]:
        row = await contracts.get_contract(conn, tenant_id, args.contract_id)
        if row["status"] == "in_review" and args.approved_by:
            row = await contracts.change_status(
                conn, tenant_id, row["id"], "approved", now=datetime.now(UTC)
            )
        if row["status"] not in ("approved", "sent"):
            raise InvalidInput(
                f"contract '{row['id']}' is {row['status']}; only an approved contract is sent"
            )
        return row, await _deal_contact(conn, tenant_id, row["deal_id"])

    try:
        row, to = await data.write(approve)
    except (InvalidInput, NotFound) as exc:
        raise _final(exc) from None
    pdf = emails.Attachment(
        f"contract-{row['id']}.pdf", "application/pdf", finance_pdf.render_contract(row)
    )
    outgoing = emails.Outgoing(
        to=[to],
        subject=f"{row['title']} (version {row['version']})",
        body=f"Hello,\n\nPlease find attached {row['title']}, version {row['version']}, for "
        "your signature.\n\nThe sales team",
        deal_id=row["deal_id"],
        attachments=(pdf,),
    )
    sent = await emails.send_once(
        data,
        SalesSettings(),
        tenant_id,
        ctx.idempotency_key,
        outgoing,
        leaks=ctx.leaks() if ctx.leaks else None,
    )
    if sent["status"] == "failed":
        raise StepFailed(f"the contract email was not sent: {sent['smtp_message']}", retryable=True)

    async def mark(conn: Conn) -> dict[str, Any]:
        current = await contracts.get_contract(conn, tenant_id, row["id"])
        if current["status"] == "approved":
            return await contracts.change_status(
                conn, tenant_id, row["id"], "sent", now=datetime.now(UTC)
            )
        return current

    done = await data.write(mark)
    return ContractSent(
        contract_id=done["id"],
        status=done["status"],
        email_id=sent["id"],
        message_id=sent["message_id"],
        to=to,
    )


async def _invoice_of(conn: Conn, tenant_id: str, deal_id: str) -> str | None:
    found = await conn.scalar(
        sa.select(invoices_t.c.id)
        .where(
            invoices_t.c.tenant_id == tenant_id,
            invoices_t.c.deal_id == deal_id,
            invoices_t.c.status != "void",
            invoices_t.c.number.is_not(None),
        )
        .order_by(invoices_t.c.created_at, invoices_t.c.id)
        .limit(1)
    )
    return None if found is None else str(found)


async def _draft(conn: Conn, tenant_id: str, args: IssueIn, now: datetime) -> dict[str, Any]:
    """A draft invoice of the deal's lines, each at the discount the negotiation agreed (the
    latest round we accepted), else the line's own."""
    return await invoices.from_deal(
        conn, tenant_id, args.deal_id, tax_rate=args.tax_rate, terms_days=args.terms_days, now=now
    )


@finance.capability("invoice.issue", "Issue a deal's invoice and email it with its PDF")
async def issue_invoice(ctx: CallContext, args: IssueIn) -> Issued:
    data = _data(ctx)
    tenant_id = data.tenant_id

    async def work(conn: Conn) -> tuple[finance_pdf.InvoiceDocument, str]:
        invoice_id = await _invoice_of(conn, tenant_id, args.deal_id)
        if invoice_id is None:
            now = datetime.now(UTC)
            draft = await _draft(conn, tenant_id, args, now)
            await invoices.issue(conn, tenant_id, draft["id"], today=now.date(), now=now)
            invoice_id = draft["id"]
        document = await finance_pdf.invoice_document(conn, tenant_id, invoice_id)
        return document, await dunning.recipient(conn, tenant_id, document.invoice)

    try:
        document, to = await data.write(work)
    except (InvalidInput, NotFound) as exc:
        raise _final(exc) from None
    invoice = document.invoice
    outgoing = emails.Outgoing(
        to=[to],
        subject=f"Invoice {invoice['number']}",
        body=f"Hello,\n\nPlease find attached invoice {invoice['number']} for "
        f"{invoice['total']} {invoice['currency']}, due on {invoice['due_date']}.\n\n"
        "The sales team",
        deal_id=invoice["deal_id"],
        invoice_id=invoice["id"],
        attachments=(
            emails.Attachment(
                document.filename, "application/pdf", finance_pdf.render_invoice(document)
            ),
        ),
    )
    sent = await emails.send_once(
        data,
        SalesSettings(),
        tenant_id,
        ctx.idempotency_key,
        outgoing,
        leaks=ctx.leaks() if ctx.leaks else None,
    )
    if sent["status"] == "failed":
        raise StepFailed(f"the invoice email was not sent: {sent['smtp_message']}", retryable=True)
    return Issued(
        invoice_id=invoice["id"],
        number=invoice["number"],
        currency=invoice["currency"],
        subtotal=invoice["subtotal"],
        tax=invoice["tax"],
        total=invoice["total"],
        due_date=invoice["due_date"],
        email_id=sent["id"],
        message_id=sent["message_id"],
    )


@finance.capability("payment.remind", "Send the payment reminders due today (dunning)")
async def remind(ctx: CallContext, args: RemindIn) -> Reminded:
    data = _data(ctx)
    # dunning reads and writes through `read`/`write` only, which `ctx.data` has
    db = cast(Database, data)
    done = await dunning.run(
        db,
        data.tenant_id,
        args.today or datetime.now(UTC).date(),
        dunning.mail_sender(db, SalesSettings()),
    )
    return Reminded(reminders=[Reminder.model_validate(row) for row in done])


AGENTS = (finance,)
