// How numbers, money, durations and times read in the dashboard.

const EMPTY = "—";

/** USD from the API's decimal string: cents for amounts over a cent, three significant digits
 * below (model calls often cost fractions of a cent). */
export function formatUsd(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === "") return EMPTY;
  const amount = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(amount)) return String(value);
  if (amount === 0) return "$0.00";
  const sign = amount < 0 ? "-" : "";
  const abs = Math.abs(amount);
  if (abs >= 0.01) {
    return `${sign}$${abs.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  }
  const digits = Math.min(20, Math.max(3, 2 - Math.floor(Math.log10(abs))));
  const text = abs.toFixed(digits).replace(/0+$/, "");
  return `${sign}$${text}`;
}

/** A duration in seconds: "850 ms", "4.2 s", "3 m 05 s", "2 h 03 m". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return EMPTY;
  }
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${(Math.round(seconds * 10) / 10).toFixed(1).replace(/\.0$/, "")} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) {
    return `${Math.floor(whole / 60)} m ${String(whole % 60).padStart(2, "0")} s`;
  }
  const minutes = Math.floor(whole / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} m`;
}

/** Seconds between two ISO times; to `now` while the second is missing. */
export function secondsBetween(
  start: string | null | undefined,
  end: string | null | undefined,
  now: number = Date.now(),
): number | null {
  if (!start) return null;
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now;
  if (Number.isNaN(from) || Number.isNaN(to)) return null;
  return Math.max(0, (to - from) / 1000);
}

export function formatMs(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? EMPTY : formatDuration(ms / 1000);
}

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? EMPTY : value.toLocaleString("en-US");
}

/** Short numbers for chart labels: 950, 12.3k, 4.5M. */
export function formatCompact(value: number): string {
  const abs = Math.abs(value);
  if (abs < 1000) return String(Math.round(value * 100) / 100);
  if (abs < 1_000_000) return `${(value / 1000).toFixed(abs < 10_000 ? 1 : 0).replace(/\.0$/, "")}k`;
  return `${(value / 1_000_000).toFixed(1).replace(/\.0$/, "")}M`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** A time as `YYYY-MM-DD HH:MM:SS` in the browser's zone. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return EMPTY;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** A local `YYYY-MM-DD` date input's value as the start (or the end) of that day, in UTC ISO. */
export function dayBoundary(day: string, end = false): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return null;
  const [year, month, date] = day.split("-").map(Number) as [number, number, number];
  const moment = end
    ? new Date(year, month - 1, date + 1, 0, 0, 0, 0)
    : new Date(year, month - 1, date, 0, 0, 0, 0);
  return moment.toISOString();
}

export function shortId(id: string): string {
  return id.length > 10 ? id.slice(0, 8) : id;
}
