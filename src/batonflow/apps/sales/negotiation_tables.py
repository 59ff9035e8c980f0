"""The negotiation's records (SQLAlchemy Core), on the sales app's `metadata`. Every row carries
`tenant_id` and every query filters on it.

    sales_discount_policies   the tenant's discount policy, a new version per change: the
                              policy (policy.Policy as JSON), who changed it and when
    sales_offers              every offer and counter-offer of a deal: its round, the party
                              (customer or us), what it does (counter, accept, refuse), the
                              terms, the overall discount and the net amount, the agent's
                              reasoning, the policy's verdict and reasons, the role an approval
                              needs and who gave it, and the run that recorded it
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.apps.sales.tables import metadata, tenant_column
from batonflow.store.columns import Dec, Json, UtcDateTime

discount_policies = sa.Table(
    "sales_discount_policies",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("version", sa.Integer, nullable=False),  # 1, 2, ... per tenant
    sa.Column("policy", Json, nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "version", name="uq_sales_discount_policies_version"),
)

offers = sa.Table(
    "sales_offers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "deal_id",
        sa.String(36),
        sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("round", sa.Integer, nullable=False),  # 1, 2, ...: a customer's offer and our reply
    sa.Column("party", sa.String(10), nullable=False),  # customer, us
    sa.Column("action", sa.String(10), nullable=False),  # counter, accept, refuse
    sa.Column("terms", Json, nullable=False),  # {"asked": ..., "lines": [...], "message": ...}
    sa.Column("discount", Dec(), nullable=False),  # overall, in percent
    sa.Column("net_amount", Dec(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reasoning", sa.Text, nullable=False),  # the agent's, or how code decided
    sa.Column("reply", sa.Text, nullable=False),  # the text for the customer ("" without a model)
    sa.Column("verdict", sa.String(20), nullable=False),  # within, needs_approval, refused
    sa.Column("verdict_reasons", Json, nullable=False),
    sa.Column("role_needed", sa.String(20)),  # reviewer, admin: who may approve it
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("approved_by", sa.String(200)),
    sa.Column("approved_at", UtcDateTime()),
    sa.Column("run_id", sa.String(36)),  # the agent run that recorded it
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("deal_id", "round", "party", "action", name="uq_sales_offers_round"),
    sa.Index("ix_sales_offers_deal", "tenant_id", "deal_id", "round"),
)
