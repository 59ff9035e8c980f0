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

// The email log, invoices, contracts, negotiation and settings (email_schemas.py,
// finance_schemas.py, negotiation_schemas.py, policy.py, scoring.py, sdr_schemas.py).

export type EmailStatus = "sending" | "sent" | "failed" | "unconfirmed";

export const EMAIL_STATUSES: readonly EmailStatus[] = ["sending", "sent", "unconfirmed", "failed"];

export interface Email {
  id: string;
  idempotency_key: string;
  message_id: string;
  thread_id: string;
  in_reply_to: string | null;
  references: string;
  from_addr: string;
  to_addrs: string[];
  subject: string;
  body: string;
  attachments: { name: string; mime: string; size: number }[];
  status: EmailStatus;
  attempts: number;
  smtp_code: number | null;
  smtp_message: string | null;
  lead_id: string | null;
  deal_id: string | null;
  invoice_id: string | null;
  created_at: string;
  sent_at: string | null;
  replied_at: string | null;
  delivered_at: string | null;
}

export interface Reply {
  id: string;
  email_id: string;
  thread_id: string;
  message_id: string;
  from_addr: string;
  subject: string;
  body: string;
  matched_by: string;
  received_at: string;
}

export interface EmailDetail extends Email {
  raw: string;
  delivered_raw: string | null;
  thread: { thread_id: string; replied: boolean; emails: Email[]; replies: Reply[] };
}

export type InvoiceStatus = "draft" | "sent" | "overdue" | "paid" | "void";

export const INVOICE_STATUSES: readonly InvoiceStatus[] = ["draft", "sent", "overdue", "paid", "void"];

export interface InvoiceLine {
  position: number;
  product_id: string | null;
  description: string;
  quantity: string;
  unit_price: string;
  discount: string;
  net: string;
}

export interface Payment {
  id: string;
  amount: string;
  paid_on: string;
  reference: string;
  actor: string;
  created_at: string;
}

export interface Invoice {
  id: string;
  deal_id: string | null;
  company_id: string;
  number: string | null;
  currency: string;
  status: InvoiceStatus;
  terms_days: number;
  issue_date: string | null;
  due_date: string | null;
  tax_rate: string;
  subtotal: string;
  tax: string;
  total: string;
  paid: string;
  balance: string;
  notes: string;
  created_at: string;
  updated_at: string;
  lines?: InvoiceLine[] | null;
  payments?: Payment[] | null;
}

export interface Reminder {
  level: number;
  due_on: string;
  state: string;
  email_id: string | null;
  created_at: string;
}

export type ContractStatus = "draft" | "in_review" | "approved" | "sent" | "signed";

export const CONTRACT_STATUSES: readonly ContractStatus[] = ["draft", "in_review", "approved", "sent", "signed"];

/** The statuses a contract may move to from each (contracts.py `NEXT`); `signed` is final. */
export const CONTRACT_NEXT: Record<ContractStatus, readonly ContractStatus[]> = {
  draft: ["in_review"],
  in_review: ["approved", "draft"],
  approved: ["sent", "draft"],
  sent: ["signed"],
  signed: [],
};

export interface ContractVersion {
  version: number;
  terms: string;
  actor: string;
  reason: string;
  created_at: string;
}

export interface Contract {
  id: string;
  deal_id: string;
  template_id: string;
  title: string;
  status: ContractStatus;
  version: number;
  created_at: string;
  updated_at: string;
  versions?: ContractVersion[] | null;
}

export interface ContractTemplate {
  id: string;
  name: string;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface Offer {
  id: string;
  deal_id: string;
  round: number;
  party: "customer" | "us";
  action: "counter" | "accept" | "refuse";
  terms: Record<string, unknown>;
  discount: string;
  net_amount: string;
  currency: string;
  reasoning: string;
  reply: string;
  verdict: "within" | "needs_approval" | "refused";
  verdict_reasons: string[];
  role_needed: "reviewer" | "admin" | null;
  policy_version: number;
  approved_by: string | null;
  approved_at: string | null;
  run_id: string | null;
  actor: string;
  created_at: string;
}

export interface NegotiationRound {
  customer: Offer;
  response: Offer;
}

export interface CounterOffer {
  discount?: string;
  total?: string;
  message: string;
}

export interface PolicyBand {
  below: string | null;
  max_discount: string;
}

export interface ProductRule {
  sku: string;
  max_discount: string | null;
  floor_price: string | null;
}

export interface Policy {
  bands: PolicyBand[];
  products: ProductRule[];
  reviewer_above: string | null;
  admin_above: string | null;
  max_rounds: number;
}

export interface PolicyVersion {
  version: number;
  policy: Policy;
  changed_by: string;
  changed_at: string;
}

export interface ScoreBand {
  min: string;
  max: string | null;
  points: number;
}

export interface ScoreRules {
  industries: Record<string, number>;
  employee_bands: ScoreBand[];
  budget_currency: string;
  budget_bands: ScoreBand[];
  title_keywords: Record<string, number>;
  threshold: number;
  model_weight: number;
}

export interface ScoringRules {
  version: number;
  rules: ScoreRules;
  created_by: string | null;
  created_at: string | null;
}

/** POST /pipeline/run: the run started for a lead (sales-outreach) or a deal (sales-deal). */
export interface PipelineStarted {
  run_id: string;
  workflow_id: string;
  status: string;
}
