// Prompts: every key with its newest version, a key's versions, a diff between two versions,
// and a new version (prefilled from the one shown).
import { useState } from "react";
import type { FormEvent } from "react";
import { When } from "../components/When";
import { can } from "../roles";
import { navigate, useLocation } from "../router";
import { useMe, useSession } from "../session";
import type { Prompt, PromptDiff, PromptIn, PromptList } from "../types";
import { Empty, ErrorBox, Loading, Show, messageOf, useLoad, usePageTitle } from "../ui";

export function DiffView({ diff }: { diff: string }) {
  if (!diff.trim()) return <p className="muted">The two versions have the same text.</p>;
  return (
    <pre className="diff" tabIndex={0} aria-label="Differences">
      {diff.replace(/\n$/, "").split("\n").map((line, index) => {
        const kind = line.startsWith("+++") || line.startsWith("---") ? "file" : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "same";
        return (
          <span key={index} className={`diff-${kind}`}>
            {line}
            {"\n"}
          </span>
        );
      })}
    </pre>
  );
}

function NewVersion({ base, onSaved }: { base: Prompt | null; onSaved: (prompt: Prompt) => void }) {
  const { api } = useSession();
  const [key, setKey] = useState(base?.key ?? "");
  const [template, setTemplate] = useState(base?.template ?? "");
  const [system, setSystem] = useState(base?.system ?? "");
  const [variables, setVariables] = useState(base?.variables.join(", ") ?? "");
  const [description, setDescription] = useState(base?.description ?? "");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await api.post<Prompt>("/api/v1/prompts", {
        key: key.trim(),
        template,
        system: system.trim() ? system : null,
        variables: variables.split(",").map((v) => v.trim()).filter(Boolean),
        description,
      } satisfies PromptIn);
      onSaved(saved);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-prompt-title">
      <h2 id="new-prompt-title">{base ? `New version of ${base.key}` : "New prompt"}</h2>
      <div className="field">
        <label htmlFor="prompt-key">Key</label>
        <input id="prompt-key" required value={key} readOnly={!!base} onChange={(e) => setKey(e.target.value)} placeholder="lead.summary" />
      </div>
      <div className="field">
        <label htmlFor="prompt-system">System message (optional)</label>
        <textarea id="prompt-system" rows={3} value={system} onChange={(e) => setSystem(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="prompt-template">Template</label>
        <textarea id="prompt-template" className="mono" rows={8} required value={template} onChange={(e) => setTemplate(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="prompt-variables">Variables (comma separated)</label>
        <input id="prompt-variables" value={variables} onChange={(e) => setVariables(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="prompt-description">Description</label>
        <input id="prompt-description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
      <button type="submit" className="primary" disabled={busy}>
        Save version
      </button>
    </form>
  );
}

function PromptVersions({ promptKey, onChanged }: { promptKey: string; onChanged: () => void }) {
  const { api } = useSession();
  const me = useMe();
  const path = `/api/v1/prompts/${encodeURIComponent(promptKey)}`;
  const versions = useLoad(() => api.get<PromptList>(`${path}/versions`), promptKey);
  const [shown, setShown] = useState<number | null>(null);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [creating, setCreating] = useState(false);
  const items = versions.data?.items ?? [];
  const newest = items[items.length - 1];
  const current = items.find((p) => p.version === shown) ?? newest;
  const fromVersion = from ?? (items.length > 1 ? (items[items.length - 2]?.version ?? null) : null);
  const toVersion = to ?? newest?.version ?? null;
  const diffKey = fromVersion && toVersion ? `${promptKey}:${fromVersion}:${toVersion}` : "";
  const diff = useLoad(
    () => (diffKey ? api.get<PromptDiff>(`${path}/diff?from=${fromVersion}&to=${toVersion}`) : Promise.resolve({ diff: "" })),
    diffKey,
  );
  return (
    <Show loaded={versions} label="Loading versions…">
      {() => (
        <div className="prompt-detail">
          <div className="page-head">
            <h2>
              <span className="mono">{promptKey}</span>
            </h2>
            {can(me, "prompts.create") ? (
              <button type="button" onClick={() => setCreating((open) => !open)} aria-expanded={creating}>
                {creating ? "Close" : "New version…"}
              </button>
            ) : null}
          </div>
          {creating && current ? (
            <NewVersion
              base={current}
              onSaved={(saved) => {
                setCreating(false);
                setShown(saved.version);
                setTo(null);
                setFrom(null);
                void versions.reload();
                onChanged();
              }}
            />
          ) : null}
          <div className="field inline">
            <label htmlFor="prompt-version">Version</label>
            <select id="prompt-version" value={current?.version ?? ""} onChange={(e) => setShown(Number(e.target.value))}>
              {items.map((p) => (
                <option key={p.version} value={p.version}>
                  v{p.version} · <When iso={p.created_at} /> · {p.created_by}
                </option>
              ))}
            </select>
          </div>
          {current ? (
            <>
              {current.description ? <p>{current.description}</p> : null}
              <p className="muted small">
                Variables: {current.variables.length ? current.variables.join(", ") : "none"} · <span className="mono">{current.content_hash.slice(0, 19)}</span>
              </p>
              {current.system ? (
                <>
                  <h3>System</h3>
                  <pre className="json">{current.system}</pre>
                </>
              ) : null}
              <h3>Template</h3>
              <pre className="json">{current.template}</pre>
            </>
          ) : null}
          <h3>Compare versions</h3>
          {items.length < 2 ? (
            <p className="muted">Only one version so far.</p>
          ) : (
            <>
              <div className="filters">
                <div className="field">
                  <label htmlFor="diff-from">From</label>
                  <select id="diff-from" value={fromVersion ?? ""} onChange={(e) => setFrom(Number(e.target.value))}>
                    {items.map((p) => (
                      <option key={p.version} value={p.version}>
                        v{p.version}
                      </option>
                    ))}
                  </select>
                </div>
                <div className="field">
                  <label htmlFor="diff-to">To</label>
                  <select id="diff-to" value={toVersion ?? ""} onChange={(e) => setTo(Number(e.target.value))}>
                    {items.map((p) => (
                      <option key={p.version} value={p.version}>
                        v{p.version}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              {diff.data ? <DiffView diff={diff.data.diff} /> : diff.error ? <ErrorBox error={diff.error} /> : <Loading />}
            </>
          )}
        </div>
      )}
    </Show>
  );
}

export function PromptsPage() {
  usePageTitle("Prompts");
  const { api } = useSession();
  const me = useMe();
  const { search } = useLocation();
  const selected = search.get("key");
  const [creating, setCreating] = useState(false);
  const prompts = useLoad(() => api.get<PromptList>("/api/v1/prompts"), "prompts");
  return (
    <section>
      <div className="page-head">
        <h1>Prompts</h1>
        {can(me, "prompts.create") ? (
          <button type="button" onClick={() => setCreating((open) => !open)} aria-expanded={creating}>
            {creating ? "Close" : "New prompt…"}
          </button>
        ) : null}
      </div>
      {creating ? (
        <NewVersion
          base={null}
          onSaved={(saved) => {
            setCreating(false);
            void prompts.reload();
            navigate(`/prompts?key=${encodeURIComponent(saved.key)}`);
          }}
        />
      ) : null}
      <Show loaded={prompts} label="Loading prompts…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No prompts yet. Prompts are versioned templates that `llm` steps and agents use by key.</Empty>
          ) : (
            <div className="split">
              <ul className="key-list" aria-label="Prompt keys">
                {page.items.map((prompt) => (
                  <li key={prompt.key}>
                    <button
                      type="button"
                      className={selected === prompt.key ? "selected" : ""}
                      aria-current={selected === prompt.key ? "true" : undefined}
                      onClick={() => navigate(`/prompts?key=${encodeURIComponent(prompt.key)}`, true)}
                    >
                      <span className="mono">{prompt.key}</span> <span className="muted">v{prompt.version}</span>
                    </button>
                  </li>
                ))}
              </ul>
              <div>{selected ? <PromptVersions key={selected} promptKey={selected} onChanged={() => void prompts.reload()} /> : <p className="muted">Choose a prompt to see its versions.</p>}</div>
            </div>
          )
        }
      </Show>
    </section>
  );
}
