// The portfolio app's API shapes, written by hand from its routes (src/batonflow/apps/portfolio:
// ledger_routes.py, pack_routes.py, pattern_routes.py, rights_routes.py) until the OpenAPI
// document is regenerated with them. Decimals travel as strings ("1234.5"), times as ISO text.

import type { ErrorInfo } from "../../types";

export const BASE = "/api/v1/portfolio";

export interface Portfolio {
  id: string;
  name: string;
  base_currency: string;
  benchmark: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface NewPortfolio {
  name: string;
  base_currency: string;
  benchmark: string | null;
}

/** A bad cell of an imported CSV: `row` is the file's line, the header being row 1. */
export interface RowProblem {
  row: number;
  column: string;
  message: string;
}

/** What an import found and did; the `details` of its 422 when a row is bad. */
export interface ImportReport {
  rows: number;
  errors: RowProblem[];
  accounts_created: string[];
  dry_run: boolean;
  commit: { seq: number; hash: string; count: number } | null;
}

export interface HeldPosition {
  account_id: string;
  symbol: string;
  quantity: string;
  cost: string;
  currency: string;
}

export interface Positions {
  portfolio_id: string;
  ledger_commit_hash: string;
  base_currency: string;
  positions: HeldPosition[];
  cash: Record<string, string>;
}

export interface ExecuteIn {
  pattern_id: string;
  portfolio_id?: string | null;
  inputs?: Record<string, unknown>;
  pricing_pack_id?: string | null;
  ledger_commit_hash?: string | null;
  wait?: boolean;
  timeout?: number | null;
}

/** A pattern execution: 200 once its run ended, 202 while it runs (poll `/executions/{run_id}`). */
export interface Execution {
  run_id: string;
  pattern_id: string;
  status: string;
  pricing_pack_id: string | null;
  ledger_commit_hash: string | null;
  pattern_version: number | null;
  result_id: string | null;
  result_hash: string | null;
  result: Record<string, unknown> | null;
  sources: string[];
  attribution: string[];
  /** The run's error, once it ended without succeeding. */
  error: ErrorInfo | null;
}

/** A priced position of the overview's result: money and weights as decimal strings. */
export interface PricedPosition {
  symbol: string;
  quantity: string;
  price: string;
  currency: string;
  market_value: string;
  weight: string;
}

/** The `details` of a 503 `not_ready`: the pack build that is warming and when to ask again. */
export interface NotReadyDetails {
  build_id?: string;
  retry_after?: number;
  estimated_ready?: string | null;
}

export type PackState = "warming" | "fresh" | "superseded" | "failed" | "unchanged";

export interface PackBuild {
  build_id: string;
  pack_id: string | null;
  as_of: string;
  state: PackState;
  same_as: string | null;
  sources: string[];
  counts: Record<string, unknown>;
  estimated_ready: string | null;
  error: Record<string, unknown> | null;
  run_id: string | null;
  started_at: string;
  ready_at: string | null;
  superseded_at: string | null;
}

export interface PackPage {
  items: PackBuild[];
  next_cursor: string | null;
}

export interface PackHealth {
  state: "warming" | "fresh" | "failed" | "none";
  pack_id: string | null;
  as_of: string | null;
  sources: string[];
  ready_at: string | null;
  building: string | null;
  estimated_ready: string | null;
  retry_after_seconds: number | null;
  superseded: string | null;
  last_error: Record<string, unknown> | null;
}

export type ExportFormat = "csv" | "json" | "pdf";
