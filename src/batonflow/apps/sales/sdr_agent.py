"""The SDR agent (`sales-sdr`): qualifies leads and drafts the first email to them.

`lead.qualify` scores a lead by the tenant's rules (`scoring.py`), asks the model to read the
lead's notes (its intent, its concerns, an adjustment of the score and why: structured output,
validated), combines both into a score 0..100 with every reason marked by its source, and stores
score and reasons on the lead in one transaction after the model answered: a model that fails or
answers out of schema fails the step (retryably) with nothing written. A `new` lead becomes
`qualified` or `disqualified` by the rules' threshold; a lead past `new` keeps its status.

`outreach.draft` searches the tenant's knowledge bases (by default the app's `knowledge_base`
setting, "products") for the company's industry and the lead's notes, and asks the model for a
subject and a body grounded in the passages found, citing them by id. The reply's schema allows
only the ids of those passages: a citation of anything else is refused (the gateway asks again,
then fails the step retryably: the model may do better on the next attempt).

`start_qualify` runs `lead.qualify` for one lead as a durable run of the one-step workflow
`sales-lead-qualify`, stored in the tenant on first use, so the result is reviewable like any run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from batonflow.agents.agent import Agent, CallContext, TenantData
from batonflow.apps.sales import leads as crm_leads
from batonflow.apps.sales import scoring, scoring_tables
from batonflow.apps.sales.sdr_schemas import (
    Citation,
    NotesReading,
    Outreach,
    OutreachDraft,
    OutreachIn,
    Qualified,
    QualifyIn,
    ScoreReason,
)
from batonflow.apps.sales.settings import SalesSettings
from batonflow.errors import ConfigError, NotFound, StepFailed
from batonflow.llm.client import LlmClient
from batonflow.llm.untrusted import frame, with_notice
from batonflow.retrieval import grounding
from batonflow.runs.service import Actor, start_run
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.workflows.spec import WorkflowSpec

sdr = Agent(
    "sales-sdr", "Qualifies leads and drafts the first email, grounded in product knowledge"
)

# The version of each prompt below; bump one when its text changes.
PROMPTS = {"lead.qualify": 1, "outreach.draft": 1}
PASSAGES = 4  # passages per prompt: a small model reads a short context best
QUERY_CHARS = 1000


def _data(ctx: CallContext) -> TenantData:
    if ctx.data is None:
        raise StepFailed("the SDR agent needs the database (ctx.data)", retryable=False)
    return ctx.data


def _llm(ctx: CallContext) -> LlmClient:
    if ctx.llm is None:
        raise StepFailed("the SDR agent needs the LLM gateway", retryable=False)
    return ctx.llm


async def lead_facts(conn: Conn, tenant_id: str, lead_id: str) -> dict[str, Any]:
    """The lead with what scoring and outreach read of its company and contact; `NotFound` for
    another tenant's lead."""
    lead = await crm_leads.get_lead(conn, tenant_id, lead_id)
    company, contact = lead["company"], lead["contact"]
    own = ("id", "status", "source", "notes", "budget", "currency")
    return {key: lead[key] for key in own} | {
        "company": company["name"],
        "industry": company["industry"],
        "employees": company["employees"],
        "contact": contact["name"],
        "email": contact["email"],
        "title": contact["title"],
    }


async def _read_lead(
    data: TenantData, lead_id: str
) -> tuple[dict[str, Any], scoring_tables.RulesVersion]:
    async def work(conn: Conn) -> tuple[dict[str, Any], scoring_tables.RulesVersion]:
        return (
            await lead_facts(conn, data.tenant_id, lead_id),
            await scoring_tables.current(conn, data.tenant_id),
        )

    try:
        return await data.read(work)
    except NotFound as missing:  # the lead was deleted: trying again will not bring it back
        raise StepFailed(missing.message, retryable=False) from None


def _facts(lead: dict[str, Any]) -> scoring.LeadFacts:
    return scoring.LeadFacts(
        industry=lead["industry"],
        employees=lead["employees"],
        budget=lead["budget"],
        currency=lead["currency"],
        title=lead["title"],
    )


def _describe(lead: dict[str, Any]) -> str:
    return (
        f"Company: {lead['company']} (industry: {lead['industry'] or 'unknown'}, employees: "
        f"{lead['employees'] if lead['employees'] is not None else 'unknown'})\n"
        f"Contact: {lead['contact']}, {lead['title'] or 'no title given'}\n"
        f"Source: {lead['source']}"
    )


@sdr.capability("lead.qualify")
async def qualify(ctx: CallContext, args: QualifyIn) -> Qualified:
    """The lead's score 0..100 by the tenant's rules and the model's reading of its notes, with
    every reason; stored on the lead, which a new lead's status follows."""
    data, llm = _data(ctx), _llm(ctx)
    lead, rules = await _read_lead(data, args.lead_id)
    points, reasons = scoring.score(rules.rules, _facts(lead))
    weight = rules.rules.model_weight
    prompt = (
        f"{_describe(lead)}\n\nRead the lead's notes below. Say what the lead intends, list its "
        "concerns, and give an adjustment of its fit score from "
        f"-{weight} to {weight} points (positive for a clear, urgent need and a budget, "
        "negative for no need, no budget or no authority) with one sentence saying why.\n\n"
        f"Notes:\n{frame(lead['notes'] or '(none)', 'lead-notes')}"
    )
    reply = await llm.complete(
        prompt,
        system=with_notice(prompt, "You are a sales development rep who reads leads carefully."),
        model=SalesSettings().model or None,
        output=_reading_schema(),
        max_tokens=READING_TOKENS,
        temperature=0,
    )
    reading = NotesReading.model_validate(reply.value)
    why = reading.why.strip()[:500] or "the notes say nothing either way"
    final, reasons = scoring.combine(rules.rules, points, reasons, reading.adjustment, why)
    passed = scoring.status_for(rules.rules, final)

    async def store(conn: Conn) -> str:
        now = datetime.now(UTC)
        await crm_leads.set_score(conn, data.tenant_id, args.lead_id, final, reasons, now=now)
        lead = await crm_leads.get_lead(conn, data.tenant_id, args.lead_id)
        if lead["status"] == "new":  # a lead past `new` keeps the status a person gave it
            lead = await crm_leads.set_status(conn, data.tenant_id, args.lead_id, passed, now=now)
        status: str = lead["status"]
        return status

    status = await data.write(store)
    return Qualified(
        lead_id=args.lead_id,
        score=final,
        reasons=[ScoreReason.model_validate(r) for r in reasons],
        status=status,
        rules_version=rules.version,
        intent=reading.intent.strip()[:500],
        concerns=[c.strip()[:300] for c in reading.concerns if c.strip()][:8],
        model=reply.model,
        prompt_version=PROMPTS["lead.qualify"],
    )


async def _search(ctx: CallContext, names: list[str], query: str) -> list[dict[str, Any]]:
    if ctx.kb is None:
        raise StepFailed("the SDR agent needs the knowledge bases (ctx.kb)", retryable=False)
    try:
        try:
            return await ctx.kb(names, query, k=PASSAGES)
        except ConfigError:  # no vector search on this database: the keyword half still works
            return await ctx.kb(names, query, k=PASSAGES, mode="keyword")
    except NotFound as missing:
        raise StepFailed(
            f"{missing.message}; create the knowledge base {', '.join(names)} and add product "
            "documents to it, or name the knowledge bases to use",
            retryable=False,
        ) from None


# Enough tokens for the longest answer the bounds below allow, at a token a character (a small
# model repeating short tokens comes close), so the grammar always closes the JSON in time.
READING_TOKENS = 700  # intent 160 + 3 concerns of 80 + why 200, and the JSON around them
DRAFT_TOKENS = 1200  # subject 120 + body 900, the citation ids and the JSON around them


def _reading_schema() -> dict[str, Any]:
    """NotesReading with every string and list bounded: a small model under grammar-constrained
    decoding otherwise writes one string until `max_tokens` cuts the JSON short, on every try.
    (The adjustment is clamped to the rules' model_weight by `scoring.combine`.)"""
    schema = NotesReading.model_json_schema()
    props = schema["properties"]
    props["intent"]["maxLength"] = 160
    props["concerns"].update({"items": {"type": "string", "maxLength": 80}, "maxItems": 3})
    props["why"]["maxLength"] = 200
    schema["required"] = ["intent", "concerns", "adjustment", "why"]
    return schema


def _draft_schema(ids: list[str]) -> dict[str, Any]:
    schema = OutreachDraft.model_json_schema()
    # Bounded so that the JSON closes within max_tokens (about 150 words of body), and within
    # what llama.cpp accepts as a grammar (a body of 1,200 characters is refused).
    schema["properties"]["subject"]["maxLength"] = 120
    schema["properties"]["body"]["maxLength"] = 900
    schema["properties"]["citations"] = {
        "type": "array",
        "items": {"type": "string", "enum": ids},
        "minItems": 1,
        "maxItems": len(ids),
    }
    schema["required"] = ["subject", "body", "citations"]
    return schema


@sdr.capability("outreach.draft")
async def draft_outreach(ctx: CallContext, args: OutreachIn) -> Outreach:
    """A first email to the lead's contact, grounded in the tenant's product knowledge and
    citing the passages it drew on."""
    data, llm = _data(ctx), _llm(ctx)
    settings = SalesSettings()
    lead, _ = await _read_lead(data, args.lead_id)
    names = args.knowledge_bases or [settings.knowledge_base]
    query = " ".join(filter(None, [lead["industry"], lead["notes"]]))[:QUERY_CHARS]
    found = await _search(ctx, names, query or lead["company"])
    if not found:
        raise StepFailed(
            f"the knowledge base {', '.join(names)} has nothing to ground an email in; add "
            "documents about your products to it",
            retryable=False,
        )
    ids = list(dict.fromkeys(str(p["citation"]) for p in found))
    prompt = grounding.frame(
        f"{_describe(lead)}\n\nWrite a short first email to {lead['contact']} (a subject and a "
        "body of at most 150 words, signed 'The sales team') that answers the lead's notes "
        "below with what the passages say about our products. Cite the ids of the passages "
        "you used in `citations`; state nothing the passages do not say.\n\n"
        f"Notes:\n{frame(lead['notes'] or '(none)', 'lead-notes')}",
        found,
    )
    reply = await llm.complete(
        prompt,
        system=with_notice(prompt, grounding.system_for("You write clear, honest sales email.")),
        model=settings.model or None,
        output=_draft_schema(ids),
        max_tokens=DRAFT_TOKENS,
        temperature=0,
    )
    # The schema allows only the given ids, at least one: the gateway re-asks a model that
    # cites anything else, then fails the call (output_invalid), and the step is tried again.
    drafted = OutreachDraft.model_validate(reply.value)
    cited = list(dict.fromkeys(drafted.citations))
    by_id = {str(p["citation"]): p for p in found}
    return Outreach(
        lead_id=args.lead_id,
        to=lead["email"],
        subject=" ".join(drafted.subject.split())[:200],
        body=drafted.body.strip()[:5000],
        citations=[
            Citation(
                id=c,
                document=str(by_id[c].get("title") or by_id[c].get("source") or ""),
                text=str(by_id[c]["text"]),
            )
            for c in cited
        ],
        model=reply.model,
        prompt_version=PROMPTS["outreach.draft"],
    )


QUALIFY_WORKFLOW = WorkflowSpec.model_validate(
    {
        "id": "sales-lead-qualify",
        "version": "1",
        "description": "Qualify one lead: the SDR agent scores it by the rules and its notes",
        "inputs": {"lead_id": {"type": "string"}},
        "steps": [
            {
                "id": "qualify",
                "kind": "agent",
                "capability": "lead.qualify",
                "timeout": 600,
                "retry": {"max_attempts": 2, "backoff": {"initial": 1, "multiplier": 2, "max": 10}},
                "args": {"lead_id": "{{ inputs.lead_id }}"},
            }
        ],
        "outputs": {"qualified": "{{ state.qualify }}"},
    }
)


async def start_qualify(
    conn: Conn,
    tenant_id: str,
    lead_id: str,
    actor: Actor,
    now: datetime,
    max_active_runs: int | None = None,
) -> str:
    """Queue a run of `lead.qualify` for the tenant's lead (`NotFound` for another's); its id."""
    await lead_facts(conn, tenant_id, lead_id)
    source = json.dumps(QUALIFY_WORKFLOW.model_dump(mode="json", by_alias=True), indent=2)
    version, _ = await workflow_store.save_version(conn, tenant_id, QUALIFY_WORKFLOW, source, now)
    run = await start_run(
        conn,
        tenant_id=tenant_id,
        version=version,
        inputs={"lead_id": lead_id},
        actor=actor,
        now=now,
        ctx={"labels": {"lead_id": lead_id}},
        max_active_runs=max_active_runs,
    )
    return run.id


AGENTS = (sdr,)
