// The contracts: newest first, filtered by status, with "Load more", a form to make one from a
// deal and a template, and the tenant's contract templates (listed, and a form to add one); the chosen contract (?contract=<id>) opens with
// its versions, its status actions and its PDF.
import { useState } from "react";
import type { FormEvent } from "react";
import { query } from "../../api";
import { formatTime } from "../../format";
import { Link, useLocation } from "../../router";
import { useSession } from "../../session";
import { Can, Empty, Show, useLoad, usePageTitle } from "../../ui";
import { ContractDetail } from "./ContractDetail";
import { ContractForm } from "./ContractForm";
import { dealPath } from "./lookups";
import { Badge, Pager, Problems } from "./shared";
import { BASE, CONTRACT_STATUSES } from "./types";
import type { Contract, ContractTemplate, Page } from "./types";

export const contractPath = (id: string) => `/apps/sales/contracts?contract=${encodeURIComponent(id)}`;

export function ContractsPage() {
  const { search } = useLocation();
  const chosen = search.get("contract");
  usePageTitle(chosen ? "Contract" : "Contracts");
  return chosen ? <ContractDetail key={chosen} contractId={chosen} /> : <ContractList />;
}

function ContractList() {
  const { api } = useSession();
  const [status, setStatus] = useState("");
  const path = `${BASE}/contracts${query({ status })}`;
  const contracts = useLoad(() => api.get<Page<Contract>>(path), path);
  const loadMore = async (cursor: string) => {
    const next = await api.get<Page<Contract>>(`${BASE}/contracts${query({ status, cursor })}`);
    contracts.setData((old) => (old ? { items: [...old.items, ...next.items], next_cursor: next.next_cursor } : next));
  };
  return (
    <section>
      <div className="page-head">
        <h1>Contracts</h1>
      </div>
      <Can action="runs.start">
        <ContractForm />
      </Can>
      <form className="filters" role="search" aria-label="Filter contracts" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor="contract-status">Status</label>
          <select id="contract-status" value={status} onChange={(event) => setStatus(event.target.value)}>
            <option value="">any</option>
            {CONTRACT_STATUSES.map((each) => (
              <option key={each} value={each}>
                {each.replace("_", " ")}
              </option>
            ))}
          </select>
        </div>
      </form>
      <Show loaded={contracts} label="Loading contracts…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{status ? "No contract has this status." : "No contracts yet."}</Empty>
          ) : (
            <>
              <div className="table-scroll">
                <table className="sales-table" aria-label="Contracts">
                  <thead>
                    <tr>
                      <th scope="col">Title</th>
                      <th scope="col">Status</th>
                      <th scope="col" className="num">Version</th>
                      <th scope="col">Deal</th>
                      <th scope="col">Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.items.map((contract) => (
                      <tr key={contract.id}>
                        <th scope="row">
                          <Link to={contractPath(contract.id)}>{contract.title}</Link>
                        </th>
                        <td>
                          <Badge status={contract.status} />
                        </td>
                        <td className="num">{contract.version}</td>
                        <td>
                          <Link to={dealPath(contract.deal_id)}>deal</Link>
                        </td>
                        <td>{formatTime(contract.updated_at)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <Pager label="More contracts" cursor={page.next_cursor} onMore={loadMore} />
            </>
          )
        }
      </Show>
      <Templates />
    </section>
  );
}

function Templates() {
  const { api } = useSession();
  const templates = useLoad(() => api.get<ContractTemplate[]>(`${BASE}/contract-templates`), "templates");
  return (
    <div className="card">
      <h2>Templates</h2>
      <Show loaded={templates} label="Loading templates…">
        {(items) =>
          items.length === 0 ? (
            <p className="muted">No templates yet: a contract is made from one.</p>
          ) : (
            <ul aria-label="Templates">
              {items.map((template) => (
                <li key={template.id}>
                  <details>
                    <summary>{template.name}</summary>
                    <pre className="sales-terms">{template.body}</pre>
                  </details>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      <Can action="runs.start">
        <TemplateForm onCreated={() => void templates.reload()} />
      </Can>
    </div>
  );
}

function TemplateForm({ onCreated }: { onCreated: () => void }) {
  const { api } = useSession();
  const [name, setName] = useState("");
  const [body, setBody] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.post<ContractTemplate>(`${BASE}/contract-templates`, { name: name.trim(), body });
      setName("");
      setBody("");
      onCreated();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="sales-form" aria-label="New template" onSubmit={submit}>
      <h3>New template</h3>
      <div className="sales-notes-field">
        <label htmlFor="template-name">Name</label>
        <input id="template-name" value={name} onChange={(event) => setName(event.target.value)} maxLength={200} required />
      </div>
      <div className="sales-notes-field">
        <label htmlFor="template-body">Text (Jinja2)</label>
        <textarea id="template-body" value={body} onChange={(event) => setBody(event.target.value)} rows={8} maxLength={100000} required />
      </div>
      <button type="submit" disabled={busy} aria-busy={busy}>
        Add template
      </button>
      {error ? <Problems error={error} title="The template was not added" /> : null}
    </form>
  );
}
