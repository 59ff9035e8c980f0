// The shapes of the Batonflow HTTP API (src/batonflow/api/routes/*.py) the dashboard reads.

export type Role = "admin" | "operator" | "reviewer" | "viewer";

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface Tenant {
  id: string;
  slug: string;
  name: string;
}

export interface Me {
  kind: "user" | "api_key";
  user: User | null;
  tenant: Tenant;
  roles: Role[];
  scopes: string[];
}

export interface SessionTokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  user: User;
  tenant: Tenant;
}

export type RunStatus =
  | "queued"
  | "running"
  | "waiting"
  | "succeeded"
  | "failed"
  | "dead"
  | "cancelled";

export const RUN_STATUSES: RunStatus[] = [
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "dead",
  "cancelled",
];

export interface ErrorInfo {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface RunSummary {
  id: string;
  workflow_id: string;
  workflow_version: string;
  status: RunStatus;
  created_by: string;
  parent_run_id: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  llm_calls: number;
  tokens: number;
  cost_usd: string;
  error: ErrorInfo | null;
}

export interface StepState {
  key: string;
  kind: string;
  status: string;
  attempt: number;
  parent_key: string | null;
  item_index: number | null;
  result: unknown;
  error: ErrorInfo | null;
  started_at: string | null;
  finished_at: string | null;
  overridden_by: string | null;
  override_reason: string | null;
}

export interface RunDetail extends RunSummary {
  content_hash: string;
  inputs: Record<string, unknown>;
  ctx: Record<string, unknown>;
  outputs: Record<string, unknown> | null;
  steps: StepState[];
  reviews: { id: string; step_key: string; kind: string }[];
}

export interface RunPage {
  items: RunSummary[];
  next_cursor: string | null;
}

/** A keyset page of a list: pass `next_cursor` as `cursor` for the next one (null on the last). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Attempt {
  step_key: string;
  attempt: number;
  dispatch: number;
  status: string;
  worker: string;
  idempotency_key: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  error: ErrorInfo | null;
}

export interface LlmCall {
  id: string;
  step_key: string | null;
  attempt: number | null;
  provider: string;
  model: string;
  status: string;
  error_code: string | null;
  error_message: string | null;
  retries: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  prompt_key: string | null;
  prompt_version: number | null;
  created_at: string;
}

export interface LlmCallList {
  items: LlmCall[];
  tokens: number;
  cost_usd: string;
}

export interface WorkflowStep {
  id: string;
  kind: string;
  needs: string[];
}

export interface WorkflowVersion {
  id: string;
  workflow_id: string;
  version: string;
  content_hash: string;
  description: string;
  created_at: string;
  steps: WorkflowStep[];
}

export interface WorkflowDetail extends WorkflowVersion {
  inputs_schema: JsonSchema;
  spec: Record<string, unknown>;
  source: string;
}

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  format?: string;
  additionalProperties?: boolean | JsonSchema;
}

export interface Review {
  id: string;
  run_id: string;
  step_key: string;
  attempt: number;
  kind: "review" | "input";
  status: string;
  subject: unknown;
  instructions: string;
  input_schema: JsonSchema | null;
  reviewers: string[];
  allow_edit: boolean;
  decision: string | null;
  data: unknown;
  comment: string | null;
  decided_by: string | null;
  decided_at: string | null;
  created_at: string;
}

export interface Prompt {
  id: string;
  key: string;
  version: number;
  template: string;
  system: string | null;
  variables: string[];
  description: string;
  content_hash: string;
  created_by: string;
  created_at: string;
}

export interface UsageRow {
  key: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost_usd: string;
  unpriced_calls: number;
}

export interface Usage {
  group_by: string;
  since: string;
  until: string;
  items: UsageRow[];
  total: UsageRow;
}

export interface UserDetail extends User {
  active: boolean;
  created_at: string;
  last_login_at: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_by: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  status: "pending" | "accepted" | "revoked" | "expired";
  created_by: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
}

/** One event of a run, as the SSE stream sends it in `data:`. */
export interface RunEvent {
  type: string;
  seq?: number | null;
  step_key?: string | null;
  data: Record<string, unknown>;
  run_id?: string;
  created_at?: string;
}
