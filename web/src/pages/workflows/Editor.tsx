// The YAML editor that stores a workflow version: "Validate" asks the API for every problem
// with its place, without storing; "Save as new version" stores it (versions are immutable, so a
// changed workflow needs a new `version`). A refused save shows the same list of problems.
import { useState } from "react";
import { ApiError } from "../../api";
import { useSession } from "../../session";
import type { WorkflowDetail } from "../../types";
import { messageOf } from "../../ui";

/** What a new workflow starts from: one model step, valid as it stands. */
export const STARTER = `id: my-workflow
version: "1"
description: What this workflow does, in one sentence.
inputs:
  topic:
    type: string
    description: what to write about
steps:
  - id: draft
    kind: llm
    prompt: |
      Write two short sentences about {{ inputs.topic }}.
    max_tokens: 120
outputs:
  text: "{{ state.draft.text }}"
`;

interface Validation {
  valid: boolean;
  issues: string[];
  workflow_id: string | null;
  version: string | null;
}

type Outcome =
  | { kind: "valid"; workflowId: string; version: string }
  | { kind: "problems"; issues: string[] }
  | { kind: "error"; message: string }
  | { kind: "unchanged"; version: string };

/** The problems a refused save names (a spec's issues), or its message alone. */
export function problemsOf(error: unknown): Outcome {
  if (error instanceof ApiError && Array.isArray(error.details.issues)) {
    return { kind: "problems", issues: error.details.issues.map(String) };
  }
  return { kind: "error", message: messageOf(error) };
}

interface Props {
  title: string;
  initial: string;
  /** The file name problems are reported against. */
  name: string;
  /** Ids of the versions already stored, to tell a save of unchanged content apart. */
  known: string[];
  onSaved: (saved: WorkflowDetail) => void;
  onClose: () => void;
}

export function Editor({ title, initial, name, known, onSaved, onClose }: Props) {
  const { api } = useSession();
  const [source, setSource] = useState(initial);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [busy, setBusy] = useState(false);

  const act = async (work: () => Promise<Outcome | null>) => {
    setBusy(true);
    setOutcome(null);
    try {
      setOutcome(await work());
    } catch (caught) {
      setOutcome(problemsOf(caught));
    } finally {
      setBusy(false);
    }
  };
  const validate = () =>
    act(async () => {
      const result = await api.post<Validation>("/api/v1/workflows/validate", { source, name });
      return result.valid
        ? { kind: "valid", workflowId: result.workflow_id ?? "", version: result.version ?? "" }
        : { kind: "problems", issues: result.issues };
    });
  const save = () =>
    act(async () => {
      const saved = await api.post<WorkflowDetail>("/api/v1/workflows", { source, name });
      if (known.includes(saved.id)) return { kind: "unchanged", version: saved.version };
      onSaved(saved);
      return null;
    });

  return (
    <section className="card workflow-editor" aria-labelledby="editor-title">
      <h2 id="editor-title">{title}</h2>
      <div className="field">
        <label htmlFor="workflow-source">Workflow YAML</label>
        <textarea
          id="workflow-source"
          className="mono"
          rows={18}
          spellCheck={false}
          value={source}
          onChange={(e) => {
            setSource(e.target.value);
            setOutcome(null);
          }}
        />
        <small>Versions are immutable: give a changed workflow a new <code>version</code>.</small>
      </div>
      <div role="status" aria-live="polite">
        {outcome?.kind === "valid" ? (
          <p className="ok-note">
            Valid: <span className="mono">{outcome.workflowId}</span> version {outcome.version}.
          </p>
        ) : null}
        {outcome?.kind === "unchanged" ? <p className="ok-note">Version {outcome.version} already holds exactly this; nothing new was stored.</p> : null}
      </div>
      {outcome?.kind === "problems" ? (
        <div className="inline-error" role="alert">
          <p>
            {outcome.issues.length === 1 ? "1 problem" : `${outcome.issues.length} problems`} to fix:
          </p>
          <ul className="issues" aria-label="Problems">
            {outcome.issues.map((issue, index) => (
              <li key={`${index}:${issue}`} className="mono">
                {issue}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {outcome?.kind === "error" ? (
        <p className="inline-error" role="alert">
          {outcome.message}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="button" disabled={busy} onClick={() => void validate()}>
          Validate
        </button>
        <button type="button" className="primary" disabled={busy} onClick={() => void save()}>
          Save as new version
        </button>
        <button type="button" className="link" onClick={onClose}>
          Cancel
        </button>
      </div>
    </section>
  );
}
