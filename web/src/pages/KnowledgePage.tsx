// Knowledge bases: the tenant's list (create one), a knowledge base's documents with their
// ingestion status (upload more), and a search box showing ranked passages with highlights.
import { useEffect, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { errorFrom } from "../api";
import { shortId } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import type { DocumentList, KnowledgeBase, KnowledgeBaseList, SearchMode, SearchResult } from "../types";
import { ActionButton, Can, Empty, ErrorBox, Show, StatusBadge, useLoad, usePageTitle } from "../ui";

const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'" };

/** The API's highlight (escaped text with `<mark>` around matches) as React nodes: the text is
 * unescaped and rendered as text, never as HTML. */
export function highlighted(highlight: string): ReactNode[] {
  const unescape = (text: string) => text.replace(/&(amp|lt|gt|quot|#x27);/g, (entity) => ENTITIES[entity] ?? entity);
  return highlight.split(/<mark>(.*?)<\/mark>/g).map((part, index) =>
    index % 2 === 1 ? <mark key={index}>{unescape(part)}</mark> : unescape(part),
  );
}

export function KnowledgePage() {
  usePageTitle("Knowledge");
  const { api } = useSession();
  const kbs = useLoad(() => api.get<KnowledgeBaseList>("/api/v1/knowledge-bases"), "kbs");
  const [selected, setSelected] = useState<string | null>(null);
  const [name, setName] = useState("");
  const current = kbs.data?.items.find((kb) => kb.name === selected) ?? kbs.data?.items[0];
  return (
    <section>
      <div className="page-head">
        <h1>Knowledge</h1>
      </div>
      <p className="muted">Documents that workflows and agents search and cite: by keyword, by meaning, or both.</p>
      <Show loaded={kbs} label="Loading knowledge bases…">
        {(page) => (
          <>
            {page.items.length === 0 ? <Empty>No knowledge bases yet.</Empty> : null}
            <ul className="kb-list" aria-label="Knowledge bases">
              {page.items.map((kb) => (
                <li key={kb.id}>
                  <button type="button" className={kb.id === current?.id ? "primary" : undefined} aria-pressed={kb.id === current?.id} onClick={() => setSelected(kb.name)}>
                    {kb.name}
                  </button>{" "}
                  <span className="muted">
                    {kb.documents} documents · {kb.chunks} chunks{kb.private_to ? " · private to one user" : ""}
                  </span>
                </li>
              ))}
            </ul>
          </>
        )}
      </Show>
      <Can action="kb.write">
        <form
          className="card"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
          }}
        >
          <label>
            New knowledge base <input value={name} onChange={(event) => setName(event.target.value)} placeholder="handbook" />
          </label>{" "}
          <ActionButton
            disabled={!name}
            onAction={async () => {
              await api.post("/api/v1/knowledge-bases", { name });
              setSelected(name);
              setName("");
              await kbs.reload();
            }}
          >
            Create
          </ActionButton>
        </form>
      </Can>
      {current ? <KnowledgeBasePanel key={current.id} kb={current} onChange={() => void kbs.reload()} /> : null}
    </section>
  );
}

function KnowledgeBasePanel({ kb, onChange }: { kb: KnowledgeBase; onChange: () => void }) {
  const { api } = useSession();
  const path = `/api/v1/knowledge-bases/${encodeURIComponent(kb.id)}`;
  const docs = useLoad(() => api.get<DocumentList>(`${path}/documents`), kb.id);
  const busy = docs.data?.items.some((doc) => doc.status === "pending" || doc.status === "ingesting") ?? false;
  const reload = docs.reload;
  useEffect(() => {
    if (!busy) return;
    const interval = setInterval(() => void reload().then(onChange), 1000);
    return () => clearInterval(interval);
  }, [busy, reload, onChange]);

  const upload = async (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      const response = await api.authorized(`${path}/documents?source=${encodeURIComponent(file.name)}`, {
        method: "POST",
        headers: { "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
      if (!response.ok) throw await errorFrom(response);
    }
    await docs.reload();
    onChange();
  };
  return (
    <>
      <div className="card">
        <h2>{kb.name} · documents</h2>
        <Can action="kb.write">
          <UploadInput onFiles={upload} />
        </Can>
        <Show loaded={docs} label="Loading documents…">
          {(page) =>
            page.items.length === 0 ? (
              <Empty>No documents yet: upload text, Markdown, HTML or PDF files.</Empty>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>Document</th>
                    <th>Status</th>
                    <th>Chunks</th>
                    <th>Ingestion run</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((doc) => (
                    <tr key={doc.id}>
                      <td>{doc.title || doc.source}</td>
                      <td>
                        <StatusBadge status={doc.status} />
                        {doc.status === "ingesting" && doc.progress_total > 0 ? (
                          <span className="muted"> {Math.round((100 * doc.progress_done) / doc.progress_total)}%</span>
                        ) : null}
                        {doc.error ? <span className="inline-error"> {doc.error}</span> : null}
                      </td>
                      <td>{doc.chunk_count}</td>
                      <td>{doc.run_id ? <Link to={`/runs/${doc.run_id}`} className="mono">{shortId(doc.run_id)}</Link> : <span className="muted">none</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Show>
      </div>
      <SearchPanel path={path} />
    </>
  );
}

function UploadInput({ onFiles }: { onFiles: (files: FileList | null) => Promise<void> }) {
  const [error, setError] = useState<unknown>(null);
  return (
    <p>
      <label>
        Upload documents{" "}
        <input
          type="file"
          multiple
          accept=".txt,.md,.markdown,.html,.htm,.pdf,text/plain,text/markdown,text/html,application/pdf"
          onChange={(event) => {
            setError(null);
            onFiles(event.target.files).catch(setError);
          }}
        />
      </label>
      {error ? <ErrorBox error={error} title="Upload failed" /> : null}
    </p>
  );
}

function SearchPanel({ path }: { path: string }) {
  const { api } = useSession();
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState<SearchMode>("hybrid");
  const [result, setResult] = useState<SearchResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const search = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      setResult(await api.post<SearchResult>(`${path}/search`, { query, mode, k: 10 }));
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <div className="card">
      <h2>Search</h2>
      <form onSubmit={(event) => void search(event)}>
        <label>
          Query <input type="search" value={query} onChange={(event) => setQuery(event.target.value)} />
        </label>{" "}
        <label>
          Mode{" "}
          <select value={mode} onChange={(event) => setMode(event.target.value as SearchMode)}>
            <option value="hybrid">hybrid</option>
            <option value="keyword">keyword</option>
            <option value="vector">vector</option>
          </select>
        </label>{" "}
        <button type="submit" className="primary" disabled={!query.trim()}>
          Search
        </button>
      </form>
      {error ? <ErrorBox error={error} title="Search failed" /> : null}
      {result ? (
        result.items.length === 0 ? (
          <Empty>No passages match.</Empty>
        ) : (
          <ol className="passages" aria-label="Passages">
            {result.items.map((passage) => (
              <li key={passage.chunk_id}>
                <div>
                  <strong>{[passage.title, ...passage.heading_path].join(" › ")}</strong>{" "}
                  <span className="muted mono">
                    [{passage.citation}] score {passage.score.toFixed(4)}
                  </span>
                </div>
                <p>{highlighted(passage.highlight)}</p>
              </li>
            ))}
          </ol>
        )
      ) : null}
    </div>
  );
}
