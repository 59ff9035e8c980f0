// Two versions of a workflow side by side as one line diff of their YAML: choose the older
// ("From") and the newer ("To"); changed lines are marked, with three unchanged lines around
// each change and the other unchanged lines folded.
import { useMemo, useState } from "react";
import { diffCounts, diffLines, foldUnchanged } from "../../diff";
import type { DiffLine } from "../../diff";
import { useSession } from "../../session";
import type { WorkflowDetail, WorkflowVersion } from "../../types";
import { ErrorBox, Loading, useLoad } from "../../ui";

const MARK: Record<DiffLine["kind"], string> = { same: " ", removed: "-", added: "+" };
const CLASS: Record<DiffLine["kind"], string> = { same: "diff-same", removed: "diff-del", added: "diff-add" };

export function LineDiff({ diff }: { diff: DiffLine[] }) {
  const counts = diffCounts(diff);
  if (counts.added === 0 && counts.removed === 0) return <p className="muted">The two versions have the same YAML.</p>;
  return (
    <>
      <p className="muted small" data-testid="diff-counts">
        {counts.added} {counts.added === 1 ? "line" : "lines"} added, {counts.removed} removed
      </p>
      <pre className="diff" tabIndex={0} aria-label="Differences">
        {foldUnchanged(diff).map((line, index) =>
          line.kind === "fold" ? (
            <span key={index} className="diff-hunk">
              {`⋯ ${line.count} unchanged ${line.count === 1 ? "line" : "lines"}`}
              {"\n"}
            </span>
          ) : (
            <span key={index} className={CLASS[line.kind]}>
              {MARK[line.kind]} {line.text}
              {"\n"}
            </span>
          ),
        )}
      </pre>
    </>
  );
}

function VersionSelect({ id, label, value, versions, onChange }: { id: string; label: string; value: string; versions: WorkflowVersion[]; onChange: (value: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {versions.map((item) => (
          <option key={item.id} value={item.version}>
            v{item.version}
          </option>
        ))}
      </select>
    </div>
  );
}

export function VersionDiff({ workflowId, versions }: { workflowId: string; versions: WorkflowVersion[] }) {
  if (versions.length < 2) return <p className="muted">Only one version so far.</p>;
  return <Compare workflowId={workflowId} versions={versions} />;
}

function Compare({ workflowId, versions }: { workflowId: string; versions: WorkflowVersion[] }) {
  const { api } = useSession();
  const newest = versions[versions.length - 1]?.version ?? "";
  const previous = versions[versions.length - 2]?.version ?? newest;
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const fromVersion = from ?? previous;
  const toVersion = to ?? newest;
  const base = `/api/v1/workflows/${encodeURIComponent(workflowId)}/versions`;
  const pair = useLoad(
    () =>
      Promise.all([
        api.get<WorkflowDetail>(`${base}/${encodeURIComponent(fromVersion)}`),
        api.get<WorkflowDetail>(`${base}/${encodeURIComponent(toVersion)}`),
      ]),
    `${workflowId}:${fromVersion}:${toVersion}`,
  );
  const diff = useMemo(() => (pair.data ? diffLines(pair.data[0].source, pair.data[1].source) : []), [pair.data]);

  return (
    <>
      <div className="filters">
        <VersionSelect id="diff-from" label="From" value={fromVersion} versions={versions} onChange={setFrom} />
        <VersionSelect id="diff-to" label="To" value={toVersion} versions={versions} onChange={setTo} />
      </div>
      {pair.error ? <ErrorBox error={pair.error} onRetry={() => void pair.reload()} /> : pair.loading || !pair.data ? <Loading label="Loading the versions…" /> : <LineDiff diff={diff} />}
    </>
  );
}
