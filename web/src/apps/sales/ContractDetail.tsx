// One contract: its status with only the moves its lifecycle allows (draft → in review →
// approved → sent → signed; in review and approved may go back to draft), its PDF, and every
// version's rendered terms, newest first, with who made it and why.
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { ActionButton, Can, Show, useLoad } from "../../ui";
import { dealPath } from "./lookups";
import { Badge, DownloadButton } from "./shared";
import { Timeline } from "./Timeline";
import { BASE, CONTRACT_NEXT } from "./types";
import type { Contract, ContractStatus } from "./types";

const MOVES: Record<ContractStatus, string> = {
  draft: "Back to draft",
  in_review: "Send for review",
  approved: "Approve",
  sent: "Mark as sent",
  signed: "Mark as signed",
};

export function ContractDetail({ contractId }: { contractId: string }) {
  const { api } = useSession();
  const path = `${BASE}/contracts/${encodeURIComponent(contractId)}`;
  const contract = useLoad(() => api.get<Contract>(path), contractId);
  return (
    <section>
      <p>
        <Link to="/apps/sales/contracts">All contracts</Link>
      </p>
      <Show loaded={contract} label="Loading the contract…">
        {(found) => {
          const versions = [...(found.versions ?? [])].sort((a, b) => b.version - a.version);
          return (
            <>
              <div className="page-head">
                <h1>{found.title}</h1>
              </div>
              <dl className="facts" aria-label="Contract">
                <dt>Status</dt>
                <dd>
                  <Badge status={found.status} />
                </dd>
                <dt>Version</dt>
                <dd>{found.version}</dd>
                <dt>Deal</dt>
                <dd>
                  <Link to={dealPath(found.deal_id)}>open the deal</Link>
                </dd>
                <dt>Updated</dt>
                <dd>{formatTime(found.updated_at)}</dd>
              </dl>
              <div className="sales-actions" role="group" aria-label="Contract actions">
                <DownloadButton path={`${path}/pdf`} fallback={`contract-${found.id}.pdf`}>
                  Download PDF
                </DownloadButton>
                <Can action="runs.start">
                  {CONTRACT_NEXT[found.status].map((next) => (
                    <ActionButton
                      key={next}
                      onAction={async () => {
                        contract.setData(await api.post<Contract>(`${path}/status`, { status: next, reason: "" }));
                        await contract.reload();
                      }}
                    >
                      {MOVES[next]}
                    </ActionButton>
                  ))}
                </Can>
              </div>
              <h2>Versions</h2>
              <ol className="sales-thread" aria-label="Versions">
                {versions.map((version) => (
                  <li key={version.version} className="card">
                    <h3>
                      Version {version.version}
                      {version.version === found.version ? " (current)" : ""} · {version.actor} · {formatTime(version.created_at)}
                    </h3>
                    {version.reason ? <p>{version.reason}</p> : null}
                    {version.version === found.version ? (
                      <pre className="sales-terms">{version.terms}</pre>
                    ) : (
                      <details>
                        <summary>Terms of version {version.version}</summary>
                        <pre className="sales-terms">{version.terms}</pre>
                      </details>
                    )}
                  </li>
                ))}
              </ol>
              <Timeline entity="contract" id={found.id} />
            </>
          );
        }}
      </Show>
    </section>
  );
}
