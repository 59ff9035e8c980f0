// The shapes the dashboard reads and sends. The API's are aliases of the types generated from
// its OpenAPI document (src/openapi.ts, `make web-types`), so a change to the API that the UI
// does not follow fails `tsc`. Only UI-only shapes are written by hand here.
import { runStatusValues } from "./openapi";
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type Role = Schemas["UserDetail"]["role"];
export type User = Schemas["UserOut"];
export type Tenant = Schemas["TenantOut"];
export type Me = Schemas["MeOut"];
export type SessionTokens = Schemas["SessionOut"];
export type RunStatus = Schemas["RunStatus"];

/** Every run status, in the API's order. */
export const RUN_STATUSES: readonly RunStatus[] = runStatusValues;

/** The `{code, message, details}` of the API's error envelope. */
export type ErrorInfo = Schemas["ErrorBody"];

// The API types the `error` of runs, steps and attempts as any object; it is an `ErrorInfo`.
type WithError<T extends { error: unknown }> = Omit<T, "error"> & { error: ErrorInfo | null };

export type RunSummary = WithError<Schemas["RunSummary"]>;
export type StepState = WithError<Schemas["RunDetail"]["steps"][number]>;
export type RunDetail = Omit<WithError<Schemas["RunDetail"]>, "steps"> & { steps: StepState[] };
export type RunPage = Omit<Schemas["RunPage"], "items"> & { items: RunSummary[] };
export type Attempt = WithError<Schemas["AttemptOut"]>;
export type AttemptList = Omit<Schemas["AttemptList"], "items"> & { items: Attempt[] };
export type LlmCall = Schemas["ModelCall"];
export type LlmCallList = Schemas["LlmCallList"];

/** A keyset page of a list: pass `next_cursor` as `cursor` for the next one (null on the last). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type WorkflowStep = Schemas["VersionOut"]["steps"][number];

export type KnowledgeBase = Schemas["KnowledgeBaseOut"];
export type KnowledgeBaseList = Schemas["KnowledgeBaseList"];
export type KbDocument = Schemas["DocumentOut"];
export type DocumentList = Schemas["DocumentList"];
export type SearchResult = Schemas["SearchOut"];
export type SearchMode = Schemas["SearchIn"]["mode"];
export type Schedule = Schemas["ScheduleOut"];
export type ScheduleList = Schemas["ScheduleList"];
export type CreateSchedule = Schemas["CreateSchedule"];
export type Hook = Schemas["HookOut"];
export type HookList = Schemas["HookList"];
export type HookSecret = Schemas["HookSecret"];
export type WorkflowVersion = Schemas["VersionOut"];
export type WorkflowVersionList = Schemas["VersionList"];
// The API types JSON Schemas as any object; the forms read them as `JsonSchema`.
export type WorkflowDetail = Omit<Schemas["VersionDetail"], "inputs_schema"> & { inputs_schema: JsonSchema };
export type Review = Omit<Schemas["ReviewOut"], "input_schema"> & { input_schema: JsonSchema | null };
export type ReviewList = Omit<Schemas["ReviewList"], "items"> & { items: Review[] };
export type Prompt = Schemas["PromptOut"];
export type PromptList = Schemas["PromptList"];
export type PromptDiff = Schemas["PromptDiff"];
export type UsageRow = Schemas["UsageRow"];
export type Usage = Schemas["Usage"];
export type UserDetail = Schemas["UserDetail"];
export type ApiKey = Schemas["ApiKeyOut"];
export type ApiKeyCreated = Schemas["ApiKeyCreated"];
export type Invitation = Schemas["InvitationOut"];
export type InvitationCreated = Schemas["InvitationCreated"];
export type AuditEntry = Schemas["AuditEntryOut"];
export type AuditAction = Schemas["AuditAction"];

// What the dashboard sends.
export type Login = Schemas["Login"];
export type RefreshRequest = Schemas["RefreshRequest"];
export type JoinTenant = Schemas["JoinTenant"];
export type NewRun = Schemas["StartRun"];
export type CancelRun = Schemas["CancelRun"];
export type OverrideStep = Schemas["OverrideStep"];
export type Decision = Schemas["DecisionIn"];
export type PromptIn = Schemas["PromptIn"];
export type UserChange = Schemas["UserChange"];
export type ApiKeyCreate = Schemas["ApiKeyCreate"];
export type InvitationCreate = Schemas["InvitationCreate"];

/** The part of JSON Schema the dashboard's forms understand (UI-only). */
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

/** One event of a run, as the SSE stream sends it in `data:` (the stream's frames are not in
 * the OpenAPI document). */
export interface RunEvent {
  type: string;
  seq?: number | null;
  step_key?: string | null;
  data: Record<string, unknown>;
  run_id?: string;
  created_at?: string;
}

export type AppList = Schemas["AppList"];
export type OutboxEmail = Schemas["OutboxEmail"];
