// A session's charter: any version as Markdown, the diff between two versions, the PDF
// download, and sign-off (the owner names stakeholders; each approves or requests changes).
import { useState } from "react";
import { query } from "../../api";
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { ActionButton, Empty, Show, StatusBadge, useLoad, usePageTitle } from "../../ui";
import { PAGE } from "./SessionsList";
import { BASE } from "./types";
import type { CharterDiff, CharterOut, CharterVersions } from "./types";

export function CharterView({ sessionId }: { sessionId: string }) {
  usePageTitle("Charter");
  const { api, me } = useSession();
  const path = `${BASE}/${sessionId}/charter`;
  const [version, setVersion] = useState<number | null>(null);
  const [compare, setCompare] = useState<number | null>(null);
  const [email, setEmail] = useState("");
  const [comment, setComment] = useState("");
  const versions = useLoad(() => api.get<CharterVersions>(`${path}/versions`), sessionId);
  const charter = useLoad(() => api.get<CharterOut>(`${path}${query({ version })}`), `${sessionId}:${version}`);
  const markdown = useLoad(async () => {
    const response = await api.authorized(`${path}${query({ version, format: "md" })}`);
    return response.ok ? response.text() : "";
  }, `${sessionId}:${version}:md`);
  const diff = useLoad(
    () =>
      compare && charter.data
        ? api.get<CharterDiff>(`${path}/diff${query({ from: compare, to: charter.data.version })}`)
        : Promise.resolve(null),
    `${sessionId}:${compare}:${charter.data?.version}`,
  );

  const download = async () => {
    const response = await api.authorized(`${path}${query({ version, format: "pdf" })}`);
    if (!response.ok) throw new Error(`the PDF could not be made (${response.status})`);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `charter-v${charter.data?.version ?? ""}.pdf`;
    document.body.append(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  };

  return (
    <section>
      <div className="page-head">
        <h1>Charter</h1>
        <Link to={`${PAGE}?session=${sessionId}`}>Back to the stages</Link>
      </div>
      <Show loaded={versions} label="Loading versions…">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No charter yet: answer the five stages, then write it.</Empty>
          ) : (
            <div className="filters">
              <label>
                Version{" "}
                <select value={version ?? ""} onChange={(e) => setVersion(e.target.value ? Number(e.target.value) : null)}>
                  <option value="">newest</option>
                  {list.items.map((v) => (
                    <option key={v.version} value={v.version}>
                      {v.version} · {formatTime(v.created_at)}
                    </option>
                  ))}
                </select>
              </label>{" "}
              <label>
                Compare with{" "}
                <select value={compare ?? ""} onChange={(e) => setCompare(e.target.value ? Number(e.target.value) : null)}>
                  <option value="">nothing</option>
                  {list.items.map((v) => (
                    <option key={v.version} value={v.version}>
                      version {v.version}
                    </option>
                  ))}
                </select>
              </label>{" "}
              <ActionButton onAction={download}>Download PDF</ActionButton>
            </div>
          )
        }
      </Show>
      <Show loaded={charter} label="Loading the charter…">
        {(out) => (
          <>
            <p className="muted">
              Version {out.version}, written by {out.model} ({Object.entries(out.prompts).map(([k, v]) => `${k} v${v}`).join(", ")}) on{" "}
              {formatTime(out.created_at)}.
            </p>
            {diff.data && diff.data.from_version !== diff.data.to_version ? (
              <div className="card" aria-label="Changes">
                <h2>
                  Changes from version {diff.data.from_version} to {diff.data.to_version}
                </h2>
                <p>Changed: {diff.data.changed.join(", ") || "nothing"}</p>
                <pre className="json">{diff.data.diff}</pre>
              </div>
            ) : null}
            <div className="card" aria-label="Sign-off">
              <h2>Sign-off</h2>
              <ul>
                {out.signoffs.map((s) => (
                  <li key={s.user_id}>
                    {s.name} ({s.role}) <StatusBadge status={s.decision} /> {s.comment}
                  </li>
                ))}
              </ul>
              <label>
                Ask a stakeholder (email) <input value={email} onChange={(e) => setEmail(e.target.value)} />
              </label>{" "}
              <ActionButton
                disabled={!email.trim()}
                onAction={async () => {
                  await api.post(`${path}/signoffs${query({ version: out.version })}`, { email });
                  setEmail("");
                  await charter.reload();
                }}
              >
                Request sign-off
              </ActionButton>
              {out.signoffs.some((s) => s.user_id === me?.user?.id && s.decision === "pending") ? (
                <div>
                  <label>
                    Comment <input value={comment} onChange={(e) => setComment(e.target.value)} />
                  </label>{" "}
                  {(["approved", "changes_requested"] as const).map((decision) => (
                    <ActionButton
                      key={decision}
                      onAction={async () => {
                        await api.post(`${path}/signoff${query({ version: out.version })}`, { decision, comment });
                        await charter.reload();
                      }}
                    >
                      {decision === "approved" ? "Approve" : "Request changes"}
                    </ActionButton>
                  ))}
                </div>
              ) : null}
            </div>
          </>
        )}
      </Show>
      <Show loaded={markdown} label="Loading the text…">
        {(text) => <pre className="scoping-charter" aria-label="Charter text">{text}</pre>}
      </Show>
    </section>
  );
}
