"""The portfolio app's tables (SQLAlchemy Core). Every row carries `tenant_id`, a foreign key to
its tenant (a tenant's rows go with it), and every query filters on it. Exact decimals (amounts,
quantities, prices) are stored as their canonical text (`Dec`), the same on SQLite and PostgreSQL.

    portfolio_portfolios       a portfolio: name, base currency, benchmark symbol
    portfolio_accounts         an account of a portfolio (at a custodian)
    portfolio_commits          a commit of transactions: its number and its link in the hash chain
    portfolio_transactions     the ledger: buy, sell, dividend, fee, deposit, withdrawal, split
    portfolio_reconciliations  a comparison with a custodian statement, and the breaks found
    portfolio_packs            a pricing pack build: warming -> fresh -> superseded (or failed)
    portfolio_pack_series      a pack's content: a price or FX series, corporate actions, a macro
                               series or news, one row per (kind, key)
    portfolio_rights           a tenant's data rights per source (over the registry's defaults)
    portfolio_results          a pattern's result: pinned pack and ledger hash, result hash
"""

from __future__ import annotations

import sqlalchemy as sa

from batonflow.store.columns import Dec, Json, UtcDateTime

metadata = sa.MetaData()


def _tenant() -> sa.Column[str]:
    return sa.Column(
        "tenant_id", sa.String(36), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


portfolios = sa.Table(
    "portfolio_portfolios",
    metadata,
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

accounts = sa.Table(
    "portfolio_accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    _tenant(),
    sa.Column("portfolio_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("custodian", sa.String(200)),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("portfolio_id", "name", name="uq_portfolio_accounts_name"),
    sa.Index("ix_portfolio_accounts_portfolio", "tenant_id", "portfolio_id"),
)

commits = sa.Table(
    "portfolio_commits",
    metadata,
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

transactions = sa.Table(
    "portfolio_transactions",
    metadata,
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
    sa.Column("quantity", Dec()),  # shares bought or sold
    sa.Column("price", Dec()),  # per share, in `currency`
    sa.Column("amount", Dec(), nullable=False),  # the cash effect, signed, in `currency`
    sa.Column("fee", Dec(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("ratio", Dec()),  # a split's new shares per old share
    sa.Column("note", sa.String(500), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_portfolio_transactions_ledger", "tenant_id", "portfolio_id", "commit_seq", "line"),
    sa.Index("ix_portfolio_transactions_date", "tenant_id", "portfolio_id", "trade_date"),
)

reconciliations = sa.Table(
    "portfolio_reconciliations",
    metadata,
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

packs = sa.Table(
    "portfolio_packs",
    metadata,
    sa.Column("build_id", sa.String(36), primary_key=True),
    _tenant(),
    sa.Column("pack_id", sa.String(64)),  # the content hash, once fresh
    sa.Column("same_as", sa.String(64)),  # unchanged: the existing pack of the same data
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("state", sa.String(12), nullable=False),  # warming|fresh|superseded|failed|unchanged
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

pack_series = sa.Table(
    "portfolio_pack_series",
    metadata,
    sa.Column("build_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(12), primary_key=True),  # price|fx|split|dividend|macro|news
    sa.Column("key", sa.String(64), primary_key=True),  # symbol, pair ("EURUSD"), series id
    _tenant(),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("body", Json, nullable=False),  # e.g. {"dates": [...], "values": ["1.23", ...]}
)

rights = sa.Table(
    "portfolio_rights",
    metadata,
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

results = sa.Table(
    "portfolio_results",
    metadata,
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
