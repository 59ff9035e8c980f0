"""The portfolio app: portfolios, accounts, the ledger and its hash chain, reconciliations,
pricing packs and their series, data rights and results

Revision ID: portfolio_0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from batonflow.store.columns import Json, UtcDateTime

revision = "portfolio_0001"
down_revision = None
branch_labels = ("portfolio",)
depends_on = "0004"


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "portfolio_portfolios",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("base_currency", sa.String(3), nullable=False),
        sa.Column("benchmark", sa.String(32)),  # a symbol priced in the packs, for beta
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_portfolio_portfolios_name"),
    )

    op.create_table(
        "portfolio_accounts",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("portfolio_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("custodian", sa.String(200)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("portfolio_id", "name", name="uq_portfolio_accounts_name"),
        sa.Index("ix_portfolio_accounts_portfolio", "tenant_id", "portfolio_id"),
    )

    op.create_table(
        "portfolio_commits",
        sa.Column("portfolio_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),  # 1, 2, ... per portfolio
        _tenant(),
        sa.Column("parent_hash", sa.String(64), nullable=False),  # "" for the first commit
        sa.Column("hash", sa.String(64), nullable=False),  # the ledger_commit_hash
        sa.Column("count", sa.Integer, nullable=False),  # transactions in this commit
        sa.Column("source", sa.String(200), nullable=False),  # "api", "csv:<file name>", ...
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "hash", name="uq_portfolio_commits_hash"),
    )

    op.create_table(
        "portfolio_transactions",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("portfolio_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("commit_seq", sa.Integer, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),  # its order in the commit
        sa.Column(
            "kind", sa.String(16), nullable=False
        ),  # buy|sell|dividend|fee|deposit|withdrawal|split
        sa.Column("trade_date", sa.Date, nullable=False),
        sa.Column("symbol", sa.String(32)),  # none for cash movements
        sa.Column("quantity", sa.String(48)),  # shares bought or sold
        sa.Column("price", sa.String(48)),  # per share, in `currency`
        sa.Column(
            "amount", sa.String(48), nullable=False
        ),  # the cash effect, signed, in `currency`
        sa.Column("fee", sa.String(48), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("ratio", sa.String(48)),  # a split's new shares per old share
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Index(
            "ix_portfolio_transactions_ledger", "tenant_id", "portfolio_id", "commit_seq", "line"
        ),
        sa.Index("ix_portfolio_transactions_date", "tenant_id", "portfolio_id", "trade_date"),
    )

    op.create_table(
        "portfolio_reconciliations",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("portfolio_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("statement_date", sa.Date, nullable=False),
        sa.Column("ledger_commit_hash", sa.String(64), nullable=False),
        sa.Column("breaks", Json, nullable=False),  # [{symbol, ledger, custodian, difference}]
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Index("ix_portfolio_reconciliations", "tenant_id", "portfolio_id", "created_at"),
    )

    op.create_table(
        "portfolio_packs",
        sa.Column("build_id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("pack_id", sa.String(64)),  # the content hash, once fresh
        sa.Column("same_as", sa.String(64)),  # unchanged: the existing pack of the same data
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column(
            "state", sa.String(12), nullable=False
        ),  # warming|fresh|superseded|failed|unchanged
        sa.Column("sources", Json, nullable=False),  # the sources that contributed
        sa.Column("counts", Json, nullable=False),  # series per kind
        sa.Column("estimated_ready", UtcDateTime()),  # while warming
        sa.Column("error", Json),  # why a build failed
        sa.Column("run_id", sa.String(36)),  # the build's run
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ready_at", UtcDateTime()),
        sa.Column("superseded_at", UtcDateTime()),
        sa.UniqueConstraint("tenant_id", "pack_id", name="uq_portfolio_packs_pack"),
        sa.Index("ix_portfolio_packs_state", "tenant_id", "state", "started_at"),
    )

    op.create_table(
        "portfolio_pack_series",
        sa.Column("build_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(12), primary_key=True),  # price|fx|action|macro|news
        sa.Column("key", sa.String(64), primary_key=True),  # symbol, pair ("EURUSD"), series id
        _tenant(),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3)),
        sa.Column("body", Json, nullable=False),  # e.g. {"dates": [...], "values": ["1.23", ...]}
    )

    op.create_table(
        "portfolio_rights",
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("attribution", sa.String(500), nullable=False),
        sa.Column("export_allowed", sa.Boolean, nullable=False),
        sa.Column("redistribution_allowed", sa.Boolean, nullable=False),
        sa.Column("watermark_required", sa.Boolean, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )

    op.create_table(
        "portfolio_results",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant(),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("pattern_id", sa.String(64), nullable=False),
        sa.Column("pattern_version", sa.Integer, nullable=False),
        sa.Column("portfolio_id", sa.String(36)),
        sa.Column("pricing_pack_id", sa.String(64), nullable=False),
        sa.Column("ledger_commit_hash", sa.String(64)),
        sa.Column("inputs", Json, nullable=False),
        sa.Column("result", Json, nullable=False),
        sa.Column("result_hash", sa.String(64), nullable=False),  # sha256 of the canonical result
        sa.Column("sources", Json, nullable=False),  # every source the result used
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "run_id", name="uq_portfolio_results_run"),
        sa.Index("ix_portfolio_results_tenant", "tenant_id", "created_at", "id"),
    )


def downgrade() -> None:
    for table in (
        "portfolio_results",
        "portfolio_rights",
        "portfolio_pack_series",
        "portfolio_packs",
        "portfolio_reconciliations",
        "portfolio_transactions",
        "portfolio_commits",
        "portfolio_accounts",
        "portfolio_portfolios",
    ):
        op.drop_table(table)
