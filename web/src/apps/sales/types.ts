// The sales app's CRM API shapes, written by hand from its routes (src/batonflow/apps/sales:
// company_routes.py, lead_routes.py, deal_routes.py, crm_schemas.py) until the OpenAPI document
// is regenerated with them. Decimals travel as strings ("1234.5"), times as ISO text.

export const BASE = "/api/v1/sales";

export type LeadStatus = "new" | "qualified" | "disqualified" | "contacted" | "converted";

export const LEAD_STATUSES: readonly LeadStatus[] = ["new", "qualified", "contacted", "converted", "disqualified"];

/** The statuses a lead may move to from each (leads.py `NEXT`); `converted` is final. */
export const NEXT_STATUSES: Record<LeadStatus, readonly LeadStatus[]> = {
  new: ["qualified", "disqualified"],
  qualified: ["contacted", "disqualified"],
  contacted: ["converted", "disqualified"],
  disqualified: ["new"],
  converted: [],
};

/** One reason behind a lead's score: a rule's or the model's, its points and why. */
export interface ScoreReason {
  rule?: string;
  model?: string;
  points: number;
  why: string;
}

export interface Lead {
  id: string;
  company_id: string;
  contact_id: string;
  source: string;
  status: LeadStatus;
  owner: string | null;
  notes: string;
  budget: string | null;
  currency: string | null;
  score: number | null;
  score_reasons: ScoreReason[] | null;
  company: { id: string; name: string; domain: string | null; industry: string | null; employees: number | null; country: string | null };
  contact: { id: string; name: string; email: string; title: string | null; phone: string | null };
  created_at: string;
  updated_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface NewLead {
  company: { name: string };
  contact: { name: string; email: string; title: string | null };
  source: string;
  owner: string | null;
  notes: string;
  budget: string | null;
  currency: string | null;
}

export interface RowProblem {
  row: number;
  column: string;
  message: string;
}

export interface LeadImport {
  rows: number;
  leads_created: number;
  duplicates: number;
  companies_created: number;
  contacts_created: number;
  errors: RowProblem[];
}

export interface Company {
  id: string;
  name: string;
  domain: string | null;
}

export interface Contact {
  id: string;
  company_id: string | null;
  name: string;
  email: string;
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  unit_price: string;
  currency: string;
  active: boolean;
  created_at: string;
}

export interface NewProduct {
  sku: string;
  name: string;
  description: string;
  unit_price: string;
  currency: string;
}

export type RequiredField = "amount" | "close_date" | "contact_id" | "lines" | "owner";

export interface Stage {
  id: string;
  pipeline_id: string;
  position: number;
  name: string;
  kind: "open" | "won" | "lost";
  probability: number;
  required_fields: RequiredField[];
}

export interface Pipeline {
  id: string;
  name: string;
  is_default: boolean;
  created_at: string;
  stages: Stage[];
}

export interface DealSummary {
  id: string;
  pipeline_id: string;
  stage_id: string;
  company_id: string;
  contact_id: string | null;
  lead_id: string | null;
  title: string;
  amount: string | null;
  currency: string;
  close_date: string | null;
  probability: number | null;
  owner: string | null;
  created_at: string;
  updated_at: string;
}

export interface Line {
  id: string;
  position: number;
  product_id: string;
  description: string;
  quantity: string;
  unit_price: string;
  discount: string;
  net: string;
}

export interface LineIn {
  product_id: string;
  quantity: string;
  unit_price?: string | null;
  discount: string;
  description?: string | null;
}

export interface StageMove {
  id: string;
  from_stage_id: string | null;
  to_stage_id: string;
  actor_kind: string;
  actor: string;
  reason: string;
  run_id: string | null;
  at: string;
}

export interface Deal extends DealSummary {
  stage: Stage;
  lines: Line[];
  history: StageMove[];
  totals: { subtotal: string | null; discount: string; net: string | null };
}

export interface DealPatch {
  title?: string;
  amount?: string | null;
  close_date?: string | null;
  contact_id?: string | null;
  lines?: LineIn[];
}

export interface BoardColumn {
  stage: Stage;
  count: number;
  amounts: Record<string, string>;
  deals: DealSummary[];
}

export interface Board {
  pipeline: { id: string; name: string; is_default: boolean; created_at: string };
  stages: BoardColumn[];
}

/** How a deal field a stage requires is named to a person. */
export const FIELD_LABELS: Record<string, string> = {
  amount: "amount",
  close_date: "close date",
  contact_id: "contact",
  lines: "line items",
  owner: "owner",
};
