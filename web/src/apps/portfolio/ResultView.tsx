// An overview's result: what it was computed from (pack, ledger commit, result hash), the
// pack's splits the ledger lacks (values to doubt until they are booked), the metrics with
// their units, the priced positions with their weights, the value over time, the sources'
// attribution and the exports (refused, with the licence's reason, when a source forbids it).
import { useState } from "react";
import { errorFrom } from "../../api";
import { LineChart } from "../../components/LineChart";
import type { LinePoint } from "../../components/LineChart";
import { useSession } from "../../session";
import { messageOf } from "../../ui";
import { figures, formatDecimal, formatMoney, formatPercent } from "./figures";
import { Hash } from "./Hash";
import { BASE } from "./types";
import type { Execution, ExportFormat, PricedPosition } from "./types";

type Json = Record<string, unknown>;

function object(value: unknown): Json {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** The value over time: `{dates, values}` (under `series` or at the result's top), or a list
 * of `{date, value}`. */
function seriesOf(result: Json): { date: string; value: string }[] {
  if (Array.isArray(result.series)) {
    return result.series.map((point) => object(point)).map((point) => ({ date: String(point.date), value: String(point.value) }));
  }
  const series = object(result.series);
  const dates = strings(series.dates ?? result.dates);
  const values = strings(series.values ?? result.values);
  return dates.slice(0, values.length).map((date, index) => ({ date, value: values[index] as string }));
}

/** The overview's parts, wherever the result keeps them: at its top (valuation's summary) or
 * under `metrics` (which repeats the positions and the value by currency). */
export function readOverview(result: Json) {
  const metrics = object(result.metrics);
  const positions = (Array.isArray(result.positions) ? result.positions : Array.isArray(metrics.positions) ? metrics.positions : []) as PricedPosition[];
  const byCurrency = object(result.by_currency ?? metrics.by_currency);
  const series = seriesOf(result);
  const base = typeof result.base_currency === "string" ? result.base_currency : String(metrics.base_currency ?? "");
  return {
    base,
    benchmark: typeof result.benchmark === "string" ? result.benchmark : null,
    metrics,
    positions,
    byCurrency: Object.entries(byCurrency).map(([currency, value]) => [currency, String(value)] as const),
    series,
    narrative: typeof result.narrative === "string" ? result.narrative : "",
    unbookedSplits: (Array.isArray(result.unbooked_splits) ? result.unbooked_splits : []).map((item) => object(item)).map((item) => ({
      symbol: String(item.symbol),
      date: String(item.date),
      ratio: String(item.ratio),
      held: String(item.held),
      source: String(item.source),
    })),
  };
}

function UnbookedSplits({ splits }: { splits: ReturnType<typeof readOverview>["unbookedSplits"] }) {
  if (splits.length === 0) return null;
  return (
    <div className="notice" role="status" aria-label="Splits the ledger lacks">
      <p>The pricing pack records splits the ledger does not book, so the values after them are off by the ratio. Book each split to value it right:</p>
      <ul>
        {splits.map((split) => (
          <li key={`${split.symbol}-${split.date}`}>
            {split.symbol}: {formatDecimal(split.ratio)} new shares per share on {split.date} ({formatDecimal(split.held)} held before it; from {split.source})
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ResultView({ execution }: { execution: Execution }) {
  const overview = readOverview(execution.result ?? {});
  const base = overview.base;
  const points: LinePoint[] = overview.series.map(({ date, value }) => ({
    label: date,
    value: Number(value),
    display: formatMoney(value, base),
  }));
  return (
    <section className="card" aria-labelledby="overview-title">
      <h2 id="overview-title">Overview</h2>
      <dl className="facts" aria-label="Computed from">
        <dt>Pricing pack</dt>
        <dd>
          <Hash value={execution.pricing_pack_id} />
        </dd>
        <dt>Ledger commit</dt>
        <dd>
          <Hash value={execution.ledger_commit_hash} />
        </dd>
        <dt>Result hash</dt>
        <dd>
          <Hash value={execution.result_hash} />
        </dd>
        {overview.benchmark ? (
          <>
            <dt>Benchmark</dt>
            <dd>{overview.benchmark}</dd>
          </>
        ) : null}
      </dl>
      <UnbookedSplits splits={overview.unbookedSplits} />
      <h3>Metrics</h3>
      <dl className="facts portfolio-metrics" aria-label="Metrics">
        {figures(overview.metrics, base).map((figure) => (
          <div className="fact" key={figure.key}>
            <dt>{figure.label}</dt>
            <dd>
              {figure.value}
              {figure.note ? <span className="muted"> ({figure.note})</span> : null}
            </dd>
          </div>
        ))}
      </dl>
      <h3>Positions</h3>
      <div className="table-scroll">
        <table className="portfolio-table" aria-label="Priced positions">
          <thead>
            <tr>
              <th scope="col">Symbol</th>
              <th scope="col" className="num">Quantity</th>
              <th scope="col" className="num">Price</th>
              <th scope="col" className="num">Market value ({base})</th>
              <th scope="col" className="num">Weight</th>
            </tr>
          </thead>
          <tbody>
            {overview.positions.map((position) => (
              <tr key={position.symbol}>
                <th scope="row">{position.symbol}</th>
                <td className="num">{formatDecimal(position.quantity)}</td>
                <td className="num">{formatMoney(position.price, position.currency)}</td>
                <td className="num">{formatDecimal(position.market_value)}</td>
                <td className="num">{formatPercent(position.weight)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {overview.byCurrency.length > 0 ? (
        <>
          <h3>Value by currency</h3>
          <dl className="facts" aria-label="Value by currency">
            {overview.byCurrency.map(([currency, value]) => (
              <div className="fact" key={currency}>
                <dt>{currency}</dt>
                <dd>{formatMoney(value, base)}</dd>
              </div>
            ))}
          </dl>
        </>
      ) : null}
      <LineChart title="Portfolio value over time" points={points} xLabel="Date" yLabel={`Value (${base})`} />
      {overview.narrative ? <p className="portfolio-narrative">{overview.narrative}</p> : null}
      {execution.attribution.length > 0 ? (
        <ul className="portfolio-attribution" aria-label="Attribution">
          {execution.attribution.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      ) : null}
      {execution.result_id ? <Exports resultId={execution.result_id} /> : <p className="muted">This result was not kept, so it cannot be exported.</p>}
    </section>
  );
}

const FORMATS: { format: ExportFormat; label: string }[] = [
  { format: "csv", label: "Export CSV" },
  { format: "json", label: "Export JSON" },
  { format: "pdf", label: "Export PDF" },
];

function Exports({ resultId }: { resultId: string }) {
  const { api } = useSession();
  const [busy, setBusy] = useState<ExportFormat | null>(null);
  const [refused, setRefused] = useState<Partial<Record<ExportFormat, string>>>({});
  const download = async (format: ExportFormat) => {
    setBusy(format);
    setRefused((old) => ({ ...old, [format]: undefined }));
    try {
      const response = await api.authorized(`${BASE}/results/${encodeURIComponent(resultId)}/export?format=${format}`);
      if (!response.ok) throw await errorFrom(response);
      const disposition = response.headers.get("Content-Disposition") ?? "";
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `result-${resultId}.${format}`;
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(url);
    } catch (caught) {
      setRefused((old) => ({ ...old, [format]: messageOf(caught) }));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="actions" role="group" aria-label="Export">
      {FORMATS.map(({ format, label }) => (
        <span className="action" key={format}>
          <button type="button" disabled={busy !== null} aria-busy={busy === format} onClick={() => void download(format)}>
            {label}
          </button>
          {refused[format] ? (
            <span className="inline-error" role="alert">
              {refused[format]}
            </span>
          ) : null}
        </span>
      ))}
    </div>
  );
}
