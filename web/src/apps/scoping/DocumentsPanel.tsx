// A session's attached documents: upload (text, Markdown, HTML, PDF), each with its ingestion
// state (refreshed while one is being indexed), and remove. The questions and analyses draw on
// the ready ones. People who may only read the session see the list alone.
import { useEffect, useState } from "react";
import { errorFrom } from "../../api";
import { useSession } from "../../session";
import { ActionButton, Empty, ErrorBox, Show, StatusBadge, useLoad } from "../../ui";
import { BASE } from "./types";
import type { SessionDocumentList } from "./types";

const ACCEPT = ".txt,.md,.markdown,.html,.htm,.pdf,text/plain,text/markdown,text/html,application/pdf";

export function DocumentsPanel({ sessionId, editable }: { sessionId: string; editable: boolean }) {
  const { api } = useSession();
  const path = `${BASE}/${sessionId}/documents`;
  const docs = useLoad(() => api.get<SessionDocumentList>(path), sessionId);
  const [error, setError] = useState<unknown>(null);
  const busy = docs.data?.items.some((doc) => doc.status === "pending" || doc.status === "ingesting") ?? false;
  const reload = docs.reload;
  useEffect(() => {
    if (!busy) return;
    const interval = setInterval(() => void reload(), 1000);
    return () => clearInterval(interval);
  }, [busy, reload]);

  const upload = async (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      const response = await api.authorized(`${path}?source=${encodeURIComponent(file.name)}`, {
        method: "POST",
        headers: { "Content-Type": file.type || "application/octet-stream" },
        body: file,
      });
      if (!response.ok) throw await errorFrom(response);
    }
    await reload();
  };

  return (
    <div className="card">
      <h2>Documents</h2>
      <p className="muted">The questions and analyses draw on the documents attached to the session.</p>
      <Show loaded={docs} label="Loading documents…">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No documents attached.</Empty>
          ) : (
            <table aria-label="Documents">
              <thead>
                <tr>
                  <th>Document</th>
                  <th>Status</th>
                  <th>Chunks</th>
                  {editable ? <th aria-label="Actions" /> : null}
                </tr>
              </thead>
              <tbody>
                {list.items.map((doc) => (
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
                    {editable ? (
                      <td>
                        <ActionButton
                          onAction={async () => {
                            await api.request("DELETE", `${path}/${encodeURIComponent(doc.id)}`);
                            await reload();
                          }}
                        >
                          Remove {doc.title || doc.source}
                        </ActionButton>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      {editable ? (
        <p>
          <label>
            Attach documents{" "}
            <input
              type="file"
              multiple
              accept={ACCEPT}
              onChange={(event) => {
                setError(null);
                upload(event.target.files).catch(setError);
              }}
            />
          </label>
        </p>
      ) : null}
      {error ? <ErrorBox error={error} title="Attaching failed" /> : null}
    </div>
  );
}
