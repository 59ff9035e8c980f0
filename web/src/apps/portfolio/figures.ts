// How the overview's figures read: decimal strings grouped without going through a float,
// fractions as percentages, and each metric of metrics.py under a label that says what it is
// and in which unit (src/batonflow/apps/portfolio/metrics.py documents the conventions).

const NONE = "not defined";

/** "1234567.5" as "1,234,567.5", exactly as given (no float in between). */
export function formatDecimal(text: string): string {
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(text.trim());
  if (!match) return text;
  const [, sign, whole = "", fraction = ""] = match;
  return `${sign}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${fraction}`;
}

/** An amount with its currency and at least two decimals ("10209.9" as "10,209.90 USD"), its
 * exact digits kept (a cost of "4679.975" stays three decimals: nothing is rounded away). */
export function formatMoney(text: string, currency: string): string {
  const match = /^-?\d+(?:\.(\d*))?$/.exec(text.trim());
  const decimals = match ? (match[1]?.length ?? 0) : 2;
  const padded = match ? `${text.trim()}${decimals === 0 && match[1] === undefined ? "." : ""}${"0".repeat(Math.max(0, 2 - decimals))}` : text;
  return `${formatDecimal(padded)} ${currency}`;
}

/** A fraction (0.0123, or "0.0123") as a percentage ("1.23%"); `null` is not defined. */
export function formatPercent(value: unknown, digits = 2): string {
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number)) return NONE;
  return `${(number * 100).toFixed(digits)}%`;
}

export function formatRatio(value: unknown, digits = 2): string {
  const number = typeof value === "string" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number)) return NONE;
  return number.toFixed(digits);
}

export interface Figure {
  key: string;
  label: string;
  value: string;
  note?: string;
}

type Json = Record<string, unknown>;

function object(value: unknown): Json | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : null;
}

/** The keys shown by a figure of their own, or elsewhere in the result (positions, currencies). */
const SHOWN = new Set([
  "base_currency",
  "start",
  "end",
  "periods",
  "periods_per_year",
  "risk_free_rate",
  "value_start",
  "value_end",
  "net_flows",
  "twr",
  "twr_annualized",
  "mwr_annualized",
  "volatility",
  "sharpe",
  "sortino",
  "max_drawdown",
  "benchmark",
  "concentration",
  "positions",
  "cash",
  "by_currency",
]);

function other(key: string, value: unknown): Figure | null {
  if (value === null || value === undefined) return { key, label: key.replace(/_/g, " "), value: NONE };
  if (typeof value === "number") return { key, label: key.replace(/_/g, " "), value: String(value) };
  if (typeof value === "string") return { key, label: key.replace(/_/g, " "), value: formatDecimal(value) };
  return null;
}

/** The metrics as labelled figures, in reading order; `base` is the money's currency. */
export function figures(metrics: Json, base: string): Figure[] {
  const out: Figure[] = [];
  const money = (key: string, label: string) => {
    const value = metrics[key];
    if (typeof value === "string") out.push({ key, label, value: formatMoney(value, base) });
  };
  const percent = (key: string, label: string, note?: string) => {
    if (key in metrics) out.push({ key, label, value: formatPercent(metrics[key]), ...(note ? { note } : {}) });
  };
  const ratio = (key: string, label: string, note?: string) => {
    if (key in metrics) out.push({ key, label, value: formatRatio(metrics[key]), ...(note ? { note } : {}) });
  };
  if (typeof metrics.start === "string" && typeof metrics.end === "string") {
    const periods = typeof metrics.periods === "number" ? `${metrics.periods} periods` : "";
    const perYear = typeof metrics.periods_per_year === "number" ? `, ${metrics.periods_per_year} a year` : "";
    out.push({ key: "period", label: "Period", value: `${metrics.start} to ${metrics.end}`, note: periods ? `${periods}${perYear}` : undefined });
  }
  money("value_start", "Value at the start");
  money("value_end", "Value at the end");
  money("net_flows", "Net deposits less withdrawals");
  percent("twr", "Time-weighted return, cumulative");
  percent("twr_annualized", "Time-weighted return, annualised");
  percent("mwr_annualized", "Money-weighted return (IRR), annualised");
  percent("volatility", "Volatility, annualised");
  const riskFree = metrics.risk_free_rate;
  const rfNote = typeof riskFree === "number" ? `risk-free rate ${formatPercent(riskFree)} a year` : undefined;
  ratio("sharpe", "Sharpe ratio", rfNote);
  ratio("sortino", "Sortino ratio", rfNote);
  const drawdown = object(metrics.max_drawdown);
  if (drawdown) {
    const span = typeof drawdown.peak === "string" && typeof drawdown.trough === "string" ? `peak ${drawdown.peak}, trough ${drawdown.trough}` : undefined;
    out.push({ key: "max_drawdown", label: "Maximum drawdown", value: formatPercent(drawdown.depth), note: span });
  }
  const benchmark = object(metrics.benchmark);
  if (benchmark) {
    const name = typeof benchmark.key === "string" ? benchmark.key : "the benchmark";
    const note = typeof benchmark.periods === "number" ? `over ${benchmark.periods} common periods` : undefined;
    out.push({ key: "beta", label: `Beta against ${name}`, value: formatRatio(benchmark.beta), note });
    out.push({ key: "correlation", label: `Correlation with ${name}`, value: formatRatio(benchmark.correlation), note });
  }
  const concentration = object(metrics.concentration);
  if (concentration) {
    out.push({ key: "largest_weight", label: "Largest position's weight", value: formatPercent(concentration.largest_weight) });
    out.push({ key: "top5_share", label: "Five largest positions' weight", value: formatPercent(concentration.top5_share) });
    out.push({
      key: "herfindahl",
      label: "Herfindahl index",
      value: formatRatio(concentration.herfindahl, 4),
      note: "sum of squared weights: 1 is a single position",
    });
  }
  for (const [key, value] of Object.entries(metrics)) {
    if (SHOWN.has(key)) continue;
    const figure = other(key, value);
    if (figure) out.push(figure);
  }
  return out;
}
