// Records the sales pages' tests share: the default pipeline "Sales", a deal in it, a catalog.
import type { Board, Deal, DealSummary, Pipeline, Product, Stage } from "./types";

export const S = "/api/v1/sales";
export const AT = "2026-12-01T10:00:00Z";

function stage(id: string, position: number, name: string, probability: number, extra: Partial<Stage> = {}): Stage {
  return { id, pipeline_id: "pl1", position, name, kind: "open", probability, required_fields: [], ...extra };
}

export const qualification = stage("s1", 0, "Qualification", 10);
export const proposal = stage("s2", 1, "Proposal", 30, { required_fields: ["contact_id"] });
export const contract = stage("s3", 2, "Contract", 80, { required_fields: ["amount", "close_date", "contact_id", "lines"] });
export const won = stage("s4", 3, "Won", 100, { kind: "won" });

export const sales: Pipeline = { id: "pl1", name: "Sales", is_default: true, created_at: AT, stages: [qualification, proposal, contract, won] };
export const renewals: Pipeline = {
  id: "pl2",
  name: "Renewals",
  is_default: false,
  created_at: AT,
  stages: [{ ...qualification, id: "r1", pipeline_id: "pl2", name: "Due" }],
};

export const rollout: DealSummary = {
  id: "d1",
  pipeline_id: "pl1",
  stage_id: "s1",
  company_id: "co1",
  contact_id: null,
  lead_id: null,
  title: "Globex rollout",
  amount: "12000.00",
  currency: "EUR",
  close_date: "2027-01-31",
  probability: null,
  owner: "sam",
  created_at: AT,
  updated_at: AT,
};

export const support: DealSummary = { ...rollout, id: "d2", title: "Globex support", amount: "800", currency: "USD", close_date: null, owner: null };

export const board: Board = {
  pipeline: { id: "pl1", name: "Sales", is_default: true, created_at: AT },
  stages: [
    { stage: qualification, count: 2, amounts: { EUR: "12000.00", USD: "800" }, deals: [rollout, support] },
    { stage: proposal, count: 0, amounts: {}, deals: [] },
    { stage: contract, count: 0, amounts: {}, deals: [] },
    { stage: won, count: 0, amounts: {}, deals: [] },
  ],
};

export const globex = { id: "co1", name: "Globex", domain: "globex.com", industry: null, employees: null, country: "DE", created_at: AT, updated_at: AT };

export const seats: Product = {
  id: "pr1",
  sku: "SEAT",
  name: "Seat licence",
  description: "one user for a year",
  unit_price: "100.00",
  currency: "EUR",
  active: true,
  created_at: AT,
};
export const onboarding: Product = { ...seats, id: "pr2", sku: "ONB", name: "Onboarding", description: "", unit_price: "2500.00" };
export const legacy: Product = { ...seats, id: "pr3", sku: "OLD", name: "Legacy plan", description: "", unit_price: "50.00", active: false };

export const dealWithLines: Deal = {
  ...rollout,
  stage_id: "s2",
  contact_id: "ct1",
  amount: "2200.00",
  stage: proposal,
  lines: [{ id: "ln1", position: 0, product_id: "pr1", description: "Seat licence", quantity: "24", unit_price: "100.00", discount: "0.125", net: "2100.00" }],
  totals: { subtotal: "2400.00", discount: "300.00", net: "2100.00" },
  history: [
    { id: "m1", from_stage_id: null, to_stage_id: "s1", actor_kind: "user", actor: "ada@acme.example", reason: "", run_id: null, at: AT },
    { id: "m2", from_stage_id: "s1", to_stage_id: "s2", actor_kind: "agent", actor: "sales.sdr", reason: "asked for a quote", run_id: "run-7", at: "2026-12-02T09:30:00Z" },
  ],
};
