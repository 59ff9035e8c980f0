// Records the email, invoice, contract and negotiation tests share.
import { AT } from "./testData.testing";
import type { Contract, ContractTemplate, Email, EmailDetail, Invoice, Offer, PolicyVersion, ScoringRules } from "./types";

export const welcome: Email = {
  id: "e1",
  idempotency_key: "welcome-d1",
  message_id: "<e1@acme.example>",
  thread_id: "th1",
  in_reply_to: null,
  references: "",
  from_addr: "sales@acme.example",
  to_addrs: ["ana@globex.com"],
  subject: "Your quote",
  body: "Dear Ana, here is your quote.",
  attachments: [],
  status: "sent",
  attempts: 1,
  smtp_code: 250,
  smtp_message: "OK",
  lead_id: null,
  deal_id: "d1",
  invoice_id: null,
  created_at: AT,
  sent_at: AT,
  replied_at: "2026-12-01T12:00:00Z",
  delivered_at: AT,
};

export const followUp: Email = {
  ...welcome,
  id: "e2",
  idempotency_key: "follow-d1",
  message_id: "<e2@acme.example>",
  subject: "Re: Your quote",
  body: "Any questions?",
  status: "unconfirmed",
  attempts: 3,
  smtp_code: null,
  smtp_message: null,
  created_at: "2026-12-02T10:00:00Z",
  sent_at: null,
  replied_at: null,
  delivered_at: null,
};

export const followUpDetail: EmailDetail = {
  ...followUp,
  raw: "Message-ID: <e2@acme.example>\r\nSubject: Re: Your quote\r\n\r\nAny questions?",
  delivered_raw: null,
  thread: {
    thread_id: "th1",
    replied: true,
    emails: [welcome, followUp],
    replies: [
      {
        id: "r1",
        email_id: "e1",
        thread_id: "th1",
        message_id: "<x@globex.com>",
        from_addr: "ana@globex.com",
        subject: "Re: Your quote",
        body: "Looks good, 10% off?",
        matched_by: "headers",
        received_at: "2026-12-01T12:00:00Z",
      },
    ],
  },
};

export const draftInvoice: Invoice = {
  id: "i1",
  deal_id: "d1",
  company_id: "co1",
  number: null,
  currency: "EUR",
  status: "draft",
  terms_days: 30,
  issue_date: null,
  due_date: null,
  tax_rate: "0.19",
  subtotal: "2100.00",
  tax: "399.00",
  total: "2499.00",
  paid: "0.00",
  balance: "2499.00",
  notes: "",
  created_at: AT,
  updated_at: AT,
  lines: [{ position: 0, product_id: "pr1", description: "Seat licence", quantity: "24", unit_price: "100.00", discount: "0.125", net: "2100.00" }],
  payments: [],
};

export const issuedInvoice: Invoice = {
  ...draftInvoice,
  number: "INV-2026-0001",
  status: "sent",
  issue_date: "2026-12-01",
  due_date: "2026-12-31",
};

export const template: ContractTemplate = {
  id: "tp1",
  name: "Standard",
  body: "Between {{ company }} and us: {{ terms.seats }} seats.",
  created_at: AT,
  updated_at: AT,
};

export const contractDraft: Contract = {
  id: "c1",
  deal_id: "d1",
  template_id: "tp1",
  title: "Globex rollout",
  status: "in_review",
  version: 2,
  created_at: AT,
  updated_at: AT,
  versions: [
    { version: 1, terms: "Between Globex and us: 20 seats.", actor: "ada@acme.example", reason: "created", created_at: AT },
    { version: 2, terms: "Between Globex and us: 24 seats.", actor: "ada@acme.example", reason: "24 seats agreed", created_at: "2026-12-02T09:00:00Z" },
  ],
};

export const asked: Offer = {
  id: "o1",
  deal_id: "d1",
  round: 1,
  party: "customer",
  action: "counter",
  terms: { basis: "discount", asked: "25" },
  discount: "25",
  net_amount: "1800.00",
  currency: "EUR",
  reasoning: "",
  reply: "",
  verdict: "needs_approval",
  verdict_reasons: ["25% is above the band's 15% maximum", "25% is above the reviewer threshold of 10%"],
  role_needed: "reviewer",
  policy_version: 1,
  approved_by: null,
  approved_at: null,
  run_id: null,
  actor: "ada@acme.example",
  created_at: AT,
};

export const answered: Offer = {
  ...asked,
  id: "o2",
  party: "us",
  action: "counter",
  discount: "15",
  net_amount: "2040.00",
  reply: "We can offer 15%.",
  verdict: "within",
  verdict_reasons: [],
  role_needed: null,
};

export const policy: PolicyVersion = {
  version: 1,
  policy: {
    bands: [
      { below: "10000", max_discount: "15" },
      { below: null, max_discount: "25" },
    ],
    products: [{ sku: "SEAT", max_discount: "20", floor_price: "70" }],
    reviewer_above: "10",
    admin_above: "20",
    max_rounds: 3,
  },
  changed_by: "ada@acme.example",
  changed_at: AT,
};

export const scoring: ScoringRules = {
  version: 0,
  rules: {
    industries: { software: 25 },
    employee_bands: [{ min: "0", max: "50", points: 5 }],
    budget_currency: "EUR",
    budget_bands: [{ min: "10000", max: null, points: 20 }],
    title_keywords: { chief: 20 },
    threshold: 50,
    model_weight: 15,
  },
  created_by: null,
  created_at: null,
};
