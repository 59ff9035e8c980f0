// What an operator may do to a whole run: cancel it (with a reason) while it is unfinished, and
// retry a failed or dead run from its failed step.
import { useState } from "react";
import { can } from "../../roles";
import { useMe, useSession } from "../../session";
import type { CancelRun, RunStatus } from "../../types";
import { ActionButton } from "../../ui";

function CancelForm({ runId, onDone }: { runId: string; onDone: () => void }) {
  const { api } = useSession();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  if (!open) {
    return (
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        Cancel run…
      </button>
    );
  }
  return (
    <form className="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Cancel the run">
      <label htmlFor="cancel-reason">Reason</label>
      <input id="cancel-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
      <ActionButton
        className="danger"
        onAction={async () => {
          await api.post(`/api/v1/runs/${runId}/cancel`, { reason: reason.trim() } satisfies CancelRun);
          setOpen(false);
          onDone();
        }}
      >
        Cancel run
      </ActionButton>
      <button type="button" className="link" onClick={() => setOpen(false)}>
        Keep it running
      </button>
    </form>
  );
}

export function Actions({ runId, status, finished, onChanged, onRetried }: {
  runId: string;
  status: RunStatus | undefined;
  finished: boolean;
  onChanged: () => Promise<void>;
  onRetried: () => void;
}) {
  const { api } = useSession();
  const me = useMe();
  return (
    <div className="actions">
      {can(me, "runs.cancel") && !finished ? <CancelForm runId={runId} onDone={() => void onChanged()} /> : null}
      {can(me, "runs.retry") && (status === "failed" || status === "dead") ? (
        <ActionButton
          className="primary"
          onAction={async () => {
            await api.post(`/api/v1/runs/${encodeURIComponent(runId)}/retry`);
            await onChanged();
            onRetried();
          }}
        >
          Retry from the failed step
        </ActionButton>
      ) : null}
    </div>
  );
}
