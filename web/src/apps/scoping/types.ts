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

// A session's attached documents (GET/POST/DELETE /api/v1/scoping/sessions/{id}/documents), what
// a question drew on, and the session as its workflow (the five stages and the charter, each
// step with the runs that executed it).
export type SessionDocument = Schemas["SessionDocument"];
export type SessionDocumentList = Schemas["SessionDocumentList"];
export type Source = Schemas["Source"];
export type SessionRun = Schemas["SessionRun"];
export type WorkflowStep = Schemas["WorkflowStep"];
