// The operator's override of an unfinished step: the output to set (JSON) and the reason, which
// is kept with the run.
import { useState } from "react";
import type { FormEvent } from "react";
import { useSession } from "../../session";
import type { OverrideStep } from "../../types";
import { messageOf } from "../../ui";

export function OverrideForm({ runId, stepKey, onDone }: { runId: string; stepKey: string; onDone: () => void }) {
  const { api } = useSession();
  const [output, setOutput] = useState("{}");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      setError(new Error("The output is not valid JSON"));
      return;
    }
    if (!reason.trim()) {
      setError(new Error("Give a reason; it is kept with the run"));
      return;
    }
    try {
      await api.post(`/api/v1/runs/${runId}/steps/${encodeURIComponent(stepKey)}/override`, { output: parsed, reason: reason.trim() } satisfies OverrideStep);
      onDone();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form className="override" onSubmit={submit} aria-label={`Override ${stepKey}`}>
      <div className="field">
        <label htmlFor="override-output">Output of {stepKey} (JSON)</label>
        <textarea id="override-output" className="mono" rows={5} value={output} onChange={(e) => setOutput(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="override-reason">Reason</label>
        <input id="override-reason" required value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      {error ? (
        <p className="inline-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
      <button type="submit">Set output and continue</button>
    </form>
  );
}
