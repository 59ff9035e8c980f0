// Usage: the tenant's tokens and cost per day (days in UTC, as the server counts them), model and
// workflow, over a chosen period.
import { BarChart } from "../components/BarChart";
import { formatCompact, formatCount, formatUsd } from "../format";
import { navigate, useLocation } from "../router";
import { useSession } from "../session";
import type { Usage, UsageRow } from "../types";
import { ErrorBox, Loading, useLoad, usePageTitle } from "../ui";

const PERIODS = [7, 30, 90];
const GROUPS = [
  ["day", "per UTC day"],
  ["model", "per model"],
  ["workflow", "per workflow"],
] as const;

function tokens(row: UsageRow): number {
  return row.input_tokens + row.output_tokens;
}

function Group({ group, title, since }: { group: string; title: string; since: string }) {
  const { api } = useSession();
  const usage = useLoad(() => api.get<Usage>(`/api/v1/usage?group_by=${group}&since=${encodeURIComponent(since)}`), `${group}:${since.slice(0, 13)}`);
  if (!usage.data) {
    return usage.error ? <ErrorBox error={usage.error} onRetry={() => void usage.reload()} /> : <Loading label={`Loading usage ${title}…`} />;
  }
  const items = usage.data.items;
  return (
    <section className="card usage-group" aria-labelledby={`usage-${group}`}>
      <h2 id={`usage-${group}`}>{title.charAt(0).toUpperCase() + title.slice(1)}</h2>
      <div className="charts">
        <BarChart title="Tokens" unit="tokens" bars={items.map((row) => ({ label: row.key, value: tokens(row), display: formatCompact(tokens(row)) }))} />
        <BarChart title="Cost (USD)" unit="USD" bars={items.map((row) => ({ label: row.key, value: Number(row.cost_usd), display: formatUsd(row.cost_usd) }))} />
      </div>
    </section>
  );
}

export function UsagePage() {
  usePageTitle("Usage");
  const { api } = useSession();
  const { search } = useLocation();
  const days = PERIODS.includes(Number(search.get("days"))) ? Number(search.get("days")) : 30;
  const since = new Date(Date.now() - days * 86_400_000);
  since.setMinutes(0, 0, 0);
  const sinceIso = since.toISOString();
  const total = useLoad(() => api.get<Usage>(`/api/v1/usage?group_by=day&since=${encodeURIComponent(sinceIso)}`), `total:${sinceIso.slice(0, 13)}`);
  return (
    <section>
      <div className="page-head">
        <h1>Usage</h1>
        <div className="segmented" role="group" aria-label="Period">
          {PERIODS.map((value) => (
            <button key={value} type="button" aria-pressed={value === days} onClick={() => navigate(`/usage?days=${value}`, true)}>
              {value} days
            </button>
          ))}
        </div>
      </div>
      {total.data ? (
        <dl className="totals" aria-label="Totals">
          <div>
            <dt>Model calls</dt>
            <dd>{formatCount(total.data.total.calls)}</dd>
          </div>
          <div>
            <dt>Tokens</dt>
            <dd>{formatCount(tokens(total.data.total))}</dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd>{formatUsd(total.data.total.cost_usd)}</dd>
          </div>
          {total.data.total.unpriced_calls ? (
            <div>
              <dt>Unpriced calls</dt>
              <dd>{formatCount(total.data.total.unpriced_calls)}</dd>
            </div>
          ) : null}
        </dl>
      ) : total.error ? (
        <ErrorBox error={total.error} onRetry={() => void total.reload()} />
      ) : (
        <Loading />
      )}
      {total.data && total.data.total.calls === 0 ? <p className="muted">No model calls in the last {days} days.</p> : null}
      {GROUPS.map(([group, title]) => (
        <Group key={group} group={group} title={title} since={sinceIso} />
      ))}
    </section>
  );
}
