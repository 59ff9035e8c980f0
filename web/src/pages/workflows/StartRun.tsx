// "Start run" for the version shown: the form its input schema describes; the new run opens.
// The Runs page's "Start a run" uses the same form.
import { useState } from "react";
import { SchemaForm } from "../../components/SchemaForm";
import { navigate } from "../../router";
import { useSession } from "../../session";
import type { NewRun, RunDetail, WorkflowDetail } from "../../types";
import { messageOf } from "../../ui";

export function StartRun({ workflow }: { workflow: WorkflowDetail }) {
  return (
    <section className="card" aria-labelledby="start-title">
      <h2 id="start-title">Start a run of v{workflow.version}</h2>
      <StartRunForm workflow={workflow} />
    </section>
  );
}

/** The inputs form of one workflow version; submitting starts a run and opens it. */
export function StartRunForm({ workflow }: { workflow: WorkflowDetail }) {
  const { api } = useSession();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <SchemaForm
      key={workflow.id}
      schema={workflow.inputs_schema}
      submitLabel={busy ? "Starting…" : "Start run"}
      busy={busy}
      onSubmit={async (inputs) => {
        setBusy(true);
        setError(null);
        try {
          const body: NewRun = { workflow_id: workflow.workflow_id, version: workflow.version, inputs };
          const run = await api.post<RunDetail>("/api/v1/runs", body);
          navigate(`/runs/${run.id}`);
        } catch (caught) {
          setError(caught);
          setBusy(false);
        }
      }}
    >
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
    </SchemaForm>
  );
}
