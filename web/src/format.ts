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

// Times follow one convention: where the moment matters more than the clock ("when did this
// run start?"), the dashboard says how long ago (`formatRelative`) and gives the exact time with
// its zone on hover; an exact time is always written with its zone (`formatTime`).

const clocks = new Map<string, Intl.DateTimeFormat>();

function clock(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? "";
  let found = clocks.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
    });
    clocks.set(key, found);
  }
  return found;
}

/** A time as `YYYY-MM-DD HH:MM:SS ZONE`, in the browser's zone unless one is given
 * (`2026-12-03 11:34:16 UTC`, `2026-12-03 12:34:16 GMT+1`). */
export function formatTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return EMPTY;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const part: Record<string, string> = {};
  for (const { type, value } of clock(timeZone).formatToParts(date)) part[type] = value;
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second} ${part.timeZoneName}`;
}

/** How long ago (or how soon), coarsely, as the CLI says it: `just now`, `45 s ago`,
 * `3 min ago`, `2 h ago`, `5 days ago`, `in 3 min`. */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return EMPTY;
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = (now - at) / 1000;
  const span = Math.abs(seconds);
  if (span < 5) return "just now";
  let text: string;
  if (span < 60) text = `${Math.floor(span)} s`;
  else if (span < 3600) text = `${Math.floor(span / 60)} min`;
  else if (span < 86_400 * 2) text = `${Math.floor(span / 3600)} h`;
  else text = `${Math.floor(span / 86_400)} days`;
  return seconds < 0 ? `in ${text}` : `${text} ago`;
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

/** How many of an id's last characters tell it apart (what the CLI shows, and accepts). */
export const SHORT_ID = 12;

/** An id's random end: ids begin with their timestamp, so runs started together share their
 * first characters; the CLI and `/runs/<short id>` accept this end in place of the whole id. */
export function shortId(id: string): string {
  return id.length > SHORT_ID ? id.slice(-SHORT_ID) : id;
}

