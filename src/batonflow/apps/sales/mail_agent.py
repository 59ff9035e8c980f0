"""The `sales-mail` agent: its capability `sales.email.send` sends one email from a workflow,
exactly once under the step's idempotency key (`ctx.idempotency_key`), through `ctx.data` (the
run's tenant). An attempt dispatched again (its worker died) has the same key: it returns the
email the first dispatch sent, or, finding it still `sending`, returns it `unconfirmed` for a
person to resend. A refused email fails the step; the retry is a new attempt, with a new key.

The agent reads the app's settings when it is called: agents are declared at import, before any
settings exist, and the worker that runs it is configured by the same environment.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from batonflow.agents.agent import Agent, CallContext
from batonflow.apps.sales import emails
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import StepFailed

mail_agent = Agent("sales-mail", "Sends the sales app's email, once per step")


class SendIn(BaseModel):
    to: list[str] = Field(min_length=1, description="recipients (one address, or several)")
    subject: str = Field(min_length=1, max_length=900)
    body: str
    lead_id: str | None = None
    deal_id: str | None = None
    invoice_id: str | None = None
    in_reply_to: str | None = Field(None, description="the id of the email this follows up")

    @field_validator("to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("lead_id", "deal_id", "invoice_id", "in_reply_to", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


class SendOut(BaseModel):
    email_id: str
    message_id: str
    thread_id: str
    status: str  # sent, failed, unconfirmed


@mail_agent.capability("sales.email.send", "Send an email once (SMTP), linked to its records")
async def send_email(ctx: CallContext, args: SendIn) -> SendOut:
    if ctx.data is None:
        raise StepFailed("sending email needs the database (ctx.data)", retryable=False)
    row = await emails.send_once(
        ctx.data,
        SalesSettings(),
        ctx.data.tenant_id,
        ctx.idempotency_key,
        emails.Outgoing(
            to=args.to,
            subject=args.subject,
            body=args.body,
            lead_id=args.lead_id,
            deal_id=args.deal_id,
            invoice_id=args.invoice_id,
            in_reply_to=args.in_reply_to,
        ),
        leaks=ctx.leaks() if ctx.leaks else None,
    )
    if row["status"] == "failed":
        # Retryable: the step's next attempt has a key of its own and sends anew; this email
        # stays `failed` in the log (the server never took it).
        raise StepFailed(f"email {row['id']} was not sent: {row['smtp_message']}", retryable=True)
    return SendOut(
        email_id=row["id"],
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        status=row["status"],
    )


MAIL_AGENTS = (mail_agent,)
