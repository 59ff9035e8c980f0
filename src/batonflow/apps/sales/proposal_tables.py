"""The sales agent's records, on the app's `metadata`:

sales_proposals     a deal's proposals: version, priced lines and totals (JSON, exact
                    decimals as text), the model's text, the run and call that wrote it
sales_agent_calls   what an agent call that changes records answered, by call key, so a
                    retried attempt answers the same without acting twice
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.apps.sales.tables import metadata, tenant_column
from batonflow.store.columns import Json, UtcDateTime

proposals = sa.Table(
    "sales_proposals",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column(
        "deal_id",
        sa.String(36),
        sa.ForeignKey("sales_deals.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("version", sa.Integer, nullable=False),  # 1, 2, ... per deal
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("lines", Json, nullable=False),  # [{sku, description, quantity, unit_price, ...}]
    sa.Column("totals", Json, nullable=False),  # {subtotal, discount, total}
    sa.Column("text", Json, nullable=False),  # {title, summary, lines: [{sku, statement}]}
    sa.Column("note", sa.Text),  # what the person who asked for it said
    sa.Column("model", sa.String(200)),  # the model that wrote the text
    sa.Column("run_id", sa.String(36)),
    sa.Column("call_key", sa.String(300), nullable=False),  # run and step that wrote it
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "deal_id", "version", name="uq_sales_proposals_version"),
    sa.UniqueConstraint("tenant_id", "call_key", name="uq_sales_proposals_call"),
)

agent_calls = sa.Table(
    "sales_agent_calls",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    tenant_column(),
    sa.Column("call_key", sa.String(300), nullable=False),
    sa.Column("capability", sa.String(100), nullable=False),
    sa.Column("result", Json, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "call_key", name="uq_sales_agent_calls_key"),
)
