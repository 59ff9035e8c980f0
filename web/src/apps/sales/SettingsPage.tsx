// The sales settings: the discount policy the negotiation judges by (bands by deal size,
// per-product rules, approval thresholds, the rounds a customer may make) and the rules leads
// are scored by. Everyone who can read runs sees them; an admin edits them as a form or as JSON.
import { ApiError } from "../../api";
import { formatTime } from "../../format";
import { useSession } from "../../session";
import { Show, useLoad, usePageTitle } from "../../ui";
import { Field, RowsEditor, SettingsEditor } from "./SettingsEditor";
import type { FormProps } from "./SettingsEditor";
import { BASE } from "./types";
import type { Policy, PolicyVersion, ScoreBand, ScoreRules, ScoringRules } from "./types";

type Row = Record<string, string>;

interface PolicyForm {
  bands: Row[];
  products: Row[];
  reviewer_above: string;
  admin_above: string;
  max_rounds: string;
}

/** Where a tenant without a policy starts: one band for every deal, three rounds. */
const FIRST_POLICY: Policy = { bands: [{ below: null, max_discount: "10" }], products: [], reviewer_above: null, admin_above: null, max_rounds: 3 };

const text = (value: string | number | null | undefined) => (value === null || value === undefined ? "" : String(value));
const orNull = (value: string | undefined) => (value?.trim() ? value.trim() : null);
/** A whole number typed in a form; what is not one goes to the API as typed, which says why. */
const whole = (value: string | undefined) => (/^-?\d+$/.test(value?.trim() ?? "") ? Number(value) : (value ?? ""));

function policyForm(policy: Policy): PolicyForm {
  return {
    bands: policy.bands.map((band) => ({ below: text(band.below), max_discount: text(band.max_discount) })),
    products: policy.products.map((rule) => ({ sku: rule.sku, max_discount: text(rule.max_discount), floor_price: text(rule.floor_price) })),
    reviewer_above: text(policy.reviewer_above),
    admin_above: text(policy.admin_above),
    max_rounds: text(policy.max_rounds),
  };
}

function policyBody(form: PolicyForm): unknown {
  return {
    bands: form.bands.map((band) => ({ below: orNull(band.below), max_discount: band.max_discount?.trim() ?? "" })),
    products: form.products.map((rule) => ({ sku: rule.sku?.trim() ?? "", max_discount: orNull(rule.max_discount), floor_price: orNull(rule.floor_price) })),
    reviewer_above: orNull(form.reviewer_above),
    admin_above: orNull(form.admin_above),
    max_rounds: whole(form.max_rounds),
  };
}

function PolicyFields({ form, setForm }: FormProps<PolicyForm>) {
  return (
    <>
      <h3>Bands by deal size</h3>
      <RowsEditor
        label="Band"
        plural="Bands"
        columns={[
          { key: "below", label: "Below (empty: every larger deal)", numeric: true },
          { key: "max_discount", label: "Max discount %", numeric: true },
        ]}
        rows={form.bands}
        onChange={(bands) => setForm({ ...form, bands })}
      />
      <h3>Per-product rules</h3>
      <RowsEditor
        label="Product rule"
        plural="Product rules"
        columns={[
          { key: "sku", label: "SKU" },
          { key: "max_discount", label: "Max discount %", numeric: true },
          { key: "floor_price", label: "Floor price", numeric: true },
        ]}
        rows={form.products}
        onChange={(products) => setForm({ ...form, products })}
      />
      <h3>Approvals and rounds</h3>
      <div className="inline-form">
        <Field label="Reviewer above %" value={form.reviewer_above} onChange={(value) => setForm({ ...form, reviewer_above: value })} hint="none" />
        <Field label="Admin above %" value={form.admin_above} onChange={(value) => setForm({ ...form, admin_above: value })} hint="none" />
        <Field label="Max rounds" value={form.max_rounds} onChange={(value) => setForm({ ...form, max_rounds: value })} />
      </div>
    </>
  );
}

interface ScoringForm {
  industries: Row[];
  title_keywords: Row[];
  employee_bands: Row[];
  budget_bands: Row[];
  budget_currency: string;
  threshold: string;
  model_weight: string;
}

const pointsRows = (points: Record<string, number>) => Object.entries(points).map(([name, value]) => ({ name, points: String(value) }));
const bandRows = (bands: ScoreBand[]) => bands.map((band) => ({ min: text(band.min), max: text(band.max), points: text(band.points) }));
const pointsOf = (rows: Row[]) => Object.fromEntries(rows.map((row) => [row.name?.trim() ?? "", whole(row.points)]));
const bandsOf = (rows: Row[]) => rows.map((row) => ({ min: row.min?.trim() ?? "", max: orNull(row.max), points: whole(row.points) }));

function scoringForm(rules: ScoreRules): ScoringForm {
  return {
    industries: pointsRows(rules.industries),
    title_keywords: pointsRows(rules.title_keywords),
    employee_bands: bandRows(rules.employee_bands),
    budget_bands: bandRows(rules.budget_bands),
    budget_currency: rules.budget_currency,
    threshold: text(rules.threshold),
    model_weight: text(rules.model_weight),
  };
}

function scoringBody(form: ScoringForm): unknown {
  return {
    industries: pointsOf(form.industries),
    employee_bands: bandsOf(form.employee_bands),
    budget_currency: form.budget_currency.trim(),
    budget_bands: bandsOf(form.budget_bands),
    title_keywords: pointsOf(form.title_keywords),
    threshold: whole(form.threshold),
    model_weight: whole(form.model_weight),
  };
}

const BAND_COLUMNS = [
  { key: "min", label: "From", numeric: true },
  { key: "max", label: "Below (empty: no end)", numeric: true },
  { key: "points", label: "Points", numeric: true },
];

function ScoringFields({ form, setForm }: FormProps<ScoringForm>) {
  return (
    <>
      <h3>Points by industry</h3>
      <RowsEditor
        label="Industry"
        plural="Industries"
        columns={[
          { key: "name", label: "Industry" },
          { key: "points", label: "Points", numeric: true },
        ]}
        rows={form.industries}
        onChange={(industries) => setForm({ ...form, industries })}
      />
      <h3>Points by company size (employees)</h3>
      <RowsEditor label="Size band"
        plural="Size bands" columns={BAND_COLUMNS} rows={form.employee_bands} onChange={(employee_bands) => setForm({ ...form, employee_bands })} />
      <h3>Points by budget</h3>
      <RowsEditor label="Budget band"
        plural="Budget bands" columns={BAND_COLUMNS} rows={form.budget_bands} onChange={(budget_bands) => setForm({ ...form, budget_bands })} />
      <h3>Points by title keyword</h3>
      <RowsEditor
        label="Keyword"
        plural="Keywords"
        columns={[
          { key: "name", label: "Keyword" },
          { key: "points", label: "Points", numeric: true },
        ]}
        rows={form.title_keywords}
        onChange={(title_keywords) => setForm({ ...form, title_keywords })}
      />
      <div className="inline-form">
        <Field label="Budget currency" value={form.budget_currency} onChange={(value) => setForm({ ...form, budget_currency: value })} />
        <Field label="Qualifying score" value={form.threshold} onChange={(value) => setForm({ ...form, threshold: value })} />
        <Field label="Model weight" value={form.model_weight} onChange={(value) => setForm({ ...form, model_weight: value })} />
      </div>
    </>
  );
}

export function SettingsPage() {
  usePageTitle("Sales settings");
  const { api } = useSession();
  const policy = useLoad<PolicyVersion | null>(
    () => api.get<PolicyVersion>(`${BASE}/policy`).catch((caught: unknown) => (caught instanceof ApiError && caught.status === 404 ? null : Promise.reject(caught))),
    "policy",
  );
  const scoring = useLoad(() => api.get<ScoringRules>(`${BASE}/scoring`), "scoring");
  return (
    <section>
      <div className="page-head">
        <h1>Sales settings</h1>
      </div>
      <Show loaded={policy} label="Loading the discount policy…">
        {(found) => (
          <SettingsEditor
            title="Discount policy"
            about={`${found ? `Version ${found.version}, set by ${found.changed_by} ${formatTime(found.changed_at)}.` : "No discount policy yet: counter-offers cannot be judged until an admin sets one."} Percentages are in percent (15 is 15 %), amounts in the deal's currency.`}
            value={found?.policy ?? FIRST_POLICY}
            toForm={policyForm}
            fromForm={policyBody}
            Form={PolicyFields}
            save={async (body) => {
              const stored = await api.request<PolicyVersion>("PUT", `${BASE}/policy`, body);
              policy.setData(stored);
              return stored.policy;
            }}
          />
        )}
      </Show>
      <Show loaded={scoring} label="Loading the scoring rules…">
        {(found) => (
          <SettingsEditor
            title="Scoring rules"
            about={
              found.version === 0
                ? "The defaults: never changed."
                : `Version ${found.version}, set by ${found.created_by ?? "—"} ${formatTime(found.created_at)}. Leads are scored by them from their next qualifying on.`
            }
            value={found.rules}
            toForm={scoringForm}
            fromForm={scoringBody}
            Form={ScoringFields}
            save={async (body) => {
              const stored = await api.request<ScoringRules>("PUT", `${BASE}/scoring`, body);
              scoring.setData(stored);
              return stored.rules;
            }}
          />
        )}
      </Show>
    </section>
  );
}
