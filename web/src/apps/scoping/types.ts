// The scoping app's API shapes, aliases of the types generated from the OpenAPI document.
import type { components } from "../../openapi";

type Schemas = components["schemas"];

export type ScopingSession = Schemas["Session"];
export type SessionSummary = Schemas["SessionSummary"];
export type SessionPage = Schemas["SessionPage"];
export type Stage = Schemas["Stage"];
export type Question = Schemas["Question"];
export type CharterOut = Schemas["CharterOut"];
export type CharterVersions = Schemas["CharterVersions"];
export type CharterDiff = Schemas["CharterDiff"];
export type Started = Schemas["Started"];

export const BASE = "/api/v1/scoping/sessions";

// Written by hand until the generated types include them: a session's attached documents
// (GET/POST/DELETE /api/v1/scoping/sessions/{id}/documents) and what a question drew on.
export interface SessionDocument {
  id: string;
  source: string;
  title: string;
  format: string;
  size: number;
  status: "pending" | "ingesting" | "ready" | "failed";
  error: string | null;
  chunk_count: number;
  progress_done: number;
  progress_total: number;
  run_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface SessionDocumentList {
  knowledge_base: string | null;
  items: SessionDocument[];
}

export interface Source {
  citation: string;
  document_id: string;
  title: string;
  source: string;
  heading_path: string[];
}

// The session as its workflow (the `workflow` field of GET /api/v1/scoping/sessions/{id}):
// the five stages and the charter, each step with the runs that executed it.
export interface SessionRun {
  run_id: string;
  workflow: "scoping-question" | "scoping-analysis" | "scoping-charter";
  kind: "question" | "analysis" | "charter";
  stages: number[];
  status: "running" | "succeeded" | "failed";
  run_status: string;
  error: Record<string, unknown> | null;
  created_at: string;
  settled_at: string | null;
}

export interface WorkflowStep {
  step: string;
  stage: number | null;
  title: string;
  status: string;
  runs: SessionRun[];
}
