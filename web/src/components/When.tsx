// A moment as the dashboard shows it: how long ago, with the exact time and its zone on hover
// (and in `dateTime` for machines). It reads again every 30 s so "just now" does not stay.
import { useEffect, useState } from "react";
import { formatRelative, formatTime } from "../format";

function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

export function When({ iso, empty = "—" }: { iso: string | null | undefined; empty?: string }) {
  const now = useNow(30_000);
  if (!iso) return <span className="muted">{empty}</span>;
  const exact = formatTime(iso);
  return (
    <time dateTime={iso} title={exact}>
      {formatRelative(iso, now)}
    </time>
  );
}
