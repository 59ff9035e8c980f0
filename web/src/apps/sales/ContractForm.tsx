// A draft contract for a deal, rendered from one of the tenant's templates with the agreed
// terms (a JSON object the template reads as `terms`); the new contract opens at once.
import { useState } from "react";
import type { FormEvent } from "react";
import { navigate } from "../../router";
import { useSession } from "../../session";
import { ErrorBox, useLoad } from "../../ui";
import { Problems } from "./shared";
import { BASE } from "./types";
import type { Contract, ContractTemplate, DealSummary, Page } from "./types";

interface Choices {
  deals: DealSummary[];
  templates: ContractTemplate[];
}

export function ContractForm() {
  const { api } = useSession();
  const choices = useLoad<Choices>(async () => {
    const [deals, templates] = await Promise.all([
      api.get<Page<DealSummary>>(`${BASE}/deals`),
      api.get<ContractTemplate[]>(`${BASE}/contract-templates`),
    ]);
    return { deals: deals.items, templates };
  }, "choices");
  const [dealId, setDealId] = useState("");
  const [templateId, setTemplateId] = useState("");
  const [title, setTitle] = useState("");
  const [terms, setTerms] = useState("{}");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    let agreed: unknown;
    try {
      agreed = JSON.parse(terms || "{}");
    } catch {
      setError(new Error('the terms are not JSON: write an object, like {"seats": 24}'));
      return;
    }
    setBusy(true);
    try {
      const made = await api.post<Contract>(`${BASE}/contracts`, { deal_id: dealId, template_id: templateId, title: title.trim() || null, terms: agreed });
      navigate(`/apps/sales/contracts?contract=${encodeURIComponent(made.id)}`);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card sales-form" aria-label="New contract" onSubmit={submit}>
      <h2>New contract</h2>
      {choices.error ? <ErrorBox error={choices.error} title="The deals and templates could not be loaded" onRetry={() => void choices.reload()} /> : null}
      <div className="inline-form">
        <label>
          Deal{" "}
          <select value={dealId} onChange={(event) => setDealId(event.target.value)} required>
            <option value="">choose…</option>
            {(choices.data?.deals ?? []).map((deal) => (
              <option key={deal.id} value={deal.id}>
                {deal.title}
              </option>
            ))}
          </select>
        </label>
        <label>
          Template{" "}
          <select value={templateId} onChange={(event) => setTemplateId(event.target.value)} required>
            <option value="">choose…</option>
            {(choices.data?.templates ?? []).map((template) => (
              <option key={template.id} value={template.id}>
                {template.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Title <input value={title} onChange={(event) => setTitle(event.target.value)} maxLength={200} placeholder="the deal's" />
        </label>
      </div>
      <div className="sales-notes-field">
        <label htmlFor="contract-terms">Agreed terms (JSON, read by the template as terms)</label>
        <textarea id="contract-terms" value={terms} onChange={(event) => setTerms(event.target.value)} rows={3} spellCheck={false} />
      </div>
      <button type="submit" disabled={busy || !dealId || !templateId} aria-busy={busy}>
        Make the contract
      </button>
      {error ? <Problems error={error} title="No contract was made" /> : null}
    </form>
  );
}
