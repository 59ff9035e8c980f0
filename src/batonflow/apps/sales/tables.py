"""The sales app's records (SQLAlchemy Core): the CRM half. Every row carries `tenant_id`, a
foreign key to its tenant (a tenant's rows go with it), and every query filters on it. Money and
quantities are exact decimals stored as canonical text (`Dec`); currencies are ISO 4217 codes.

    sales_companies      a company: name, domain, industry, size, country
    sales_contacts       a person at a company: name, email, title
    sales_leads          a lead: source, status, owner, notes, budget; its score and the reasons
    sales_products       the catalog: SKU, name, unit price and currency, active or retired
    sales_pipelines      a pipeline of stages (a tenant may have several; one is the default)
    sales_stages         a pipeline's ordered stages: probability, kind, fields a deal needs there
    sales_deals          a deal: company, contact, lead, amount, currency, close date, stage
    sales_deal_lines     a deal's line items: product, quantity, unit price, discount
    sales_stage_moves    a deal's stage history: from, to, who or which agent, why, which run

The other records live beside their code's tables modules and share this `metadata`.
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.store.columns import Dec, Json, UtcDateTime

metadata = sa.MetaData()


def tenant_column() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


companies = sa.Table(
    "sales_companies",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("domain", sa.String(253)),
    sa.Column("industry", sa.String(100)),
    sa.Column("employees", sa.Integer),
    sa.Column("country", sa.String(2)),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_sales_companies_name"),
)

contacts = sa.Table(
    "sales_contacts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("sales_companies.id", ondelete="CASCADE")),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),  # lower-cased
    sa.Column("title", sa.String(200)),
    sa.Column("phone", sa.String(50)),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "email", name="uq_sales_contacts_email"),
    sa.Index("ix_sales_contacts_company", "tenant_id", "company_id"),
)

leads = sa.Table(
    "sales_leads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("sales_companies.id"), nullable=False),
    sa.Column("contact_id", sa.String(36), sa.ForeignKey("sales_contacts.id"), nullable=False),
    sa.Column("source", sa.String(100), nullable=False),  # web, event, referral, import, ...
    # new -> qualified | disqualified -> contacted -> converted (to a deal)
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("owner", sa.String(200)),
    sa.Column("notes", sa.Text, nullable=False),
    sa.Column("budget", Dec()),
    sa.Column("currency", sa.String(3)),
    sa.Column("score", sa.Integer),  # 0..100, set by `lead.qualify`
    sa.Column("score_reasons", Json),  # [{"rule"|"model": ..., "points": n, "why": ...}, ...]
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_sales_leads_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_sales_leads_status", "tenant_id", "status"),
)

products = sa.Table(
    "sales_products",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("unit_price", Dec(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "sku", name="uq_sales_products_sku"),
)

pipelines = sa.Table(
    "sales_pipelines",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_sales_pipelines_name"),
)

stages = sa.Table(
    "sales_stages",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "pipeline_id",
        sa.String(36),
        sa.ForeignKey("sales_pipelines.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),  # 0, 1, ... in the pipeline's order
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # open, won, lost
    sa.Column("probability", sa.Integer, nullable=False),  # 0..100
    sa.Column("required_fields", Json, nullable=False),  # deal fields a deal needs to enter
    sa.UniqueConstraint("pipeline_id", "name", name="uq_sales_stages_name"),
    sa.Index("ix_sales_stages_pipeline", "tenant_id", "pipeline_id", "position"),
)

deals = sa.Table(
    "sales_deals",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("pipeline_id", sa.String(36), sa.ForeignKey("sales_pipelines.id"), nullable=False),
    sa.Column("stage_id", sa.String(36), sa.ForeignKey("sales_stages.id"), nullable=False),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("sales_companies.id"), nullable=False),
    sa.Column("contact_id", sa.String(36), sa.ForeignKey("sales_contacts.id")),
    sa.Column("lead_id", sa.String(36), sa.ForeignKey("sales_leads.id")),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("amount", Dec()),  # the sum of the lines when it has lines, else as entered
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("close_date", sa.Date),
    sa.Column("probability", sa.Integer),  # unset: the stage's
    sa.Column("owner", sa.String(200)),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_sales_deals_tenant_created", "tenant_id", "created_at", "id"),
    sa.Index("ix_sales_deals_stage", "tenant_id", "pipeline_id", "stage_id"),
)

deal_lines = sa.Table(
    "sales_deal_lines",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "deal_id",
        sa.String(36),
        sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("product_id", sa.String(36), sa.ForeignKey("sales_products.id"), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("quantity", Dec(), nullable=False),
    sa.Column("unit_price", Dec(), nullable=False),  # copied from the catalog when added
    sa.Column("discount", Dec(), nullable=False),  # a fraction: 0.15 is 15 %
    sa.UniqueConstraint("deal_id", "position", name="uq_sales_deal_lines_position"),
)

stage_moves = sa.Table(
    "sales_stage_moves",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "deal_id",
        sa.String(36),
        sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("from_stage_id", sa.String(36)),  # None: the deal was created in `to_stage_id`
    sa.Column("to_stage_id", sa.String(36), nullable=False),
    sa.Column("actor_kind", sa.String(10), nullable=False),  # user, agent
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(36)),  # the run of the agent that moved it
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_sales_stage_moves_deal", "tenant_id", "deal_id", "at"),
)
