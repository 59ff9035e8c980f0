// A run's stored events, read page by page from the history route and then only those after the
// last one read: `reload` is called whenever the run's event stream says something happened.
import { useCallback, useEffect, useRef, useState } from "react";
import type { Api } from "../../api";
import type { components } from "../../openapi";

export type StoredRunEvent = components["schemas"]["EventOut"];
type EventPage = components["schemas"]["EventPage"];

export interface RunEvents {
  items: StoredRunEvent[] | undefined;
  error: Error | null;
  reload: () => Promise<void>;
}

export function useRunEvents(api: Api, runId: string): RunEvents {
  const [items, setItems] = useState<StoredRunEvent[] | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const last = useRef(0);
  const busy = useRef<Promise<void> | null>(null);
  const again = useRef(false);

  const reload = useCallback(async () => {
    if (busy.current) {
      again.current = true; // something happened while reading: read once more after
      return busy.current;
    }
    const base = `/api/v1/runs/${encodeURIComponent(runId)}/events/history?limit=200`;
    const work = (async () => {
      try {
        do {
          again.current = false;
          const fresh: StoredRunEvent[] = [];
          for (;;) {
            const page = await api.get<EventPage>(`${base}&after=${last.current}`);
            fresh.push(...page.items);
            const end = page.items[page.items.length - 1];
            if (end) last.current = end.seq;
            if (page.next_after === null) break;
          }
          setItems((old) => [...(old ?? []), ...fresh]);
          setError(null);
        } while (again.current);
      } catch (caught) {
        setError(caught instanceof Error ? caught : new Error(String(caught)));
      } finally {
        busy.current = null;
      }
    })();
    busy.current = work;
    return work;
  }, [api, runId]);

  useEffect(() => {
    last.current = 0;
    setItems(undefined);
    void reload();
  }, [reload]);

  return { items, error, reload };
}

/** The last `run.cancelled` event: who cancelled (or dismissed) the run, and why. */
export function cancellation(events: StoredRunEvent[] | undefined): { by: string; reason: string } | null {
  const found = [...(events ?? [])].reverse().find((event) => event.type === "run.cancelled");
  if (!found) return null;
  return { by: String(found.data.by ?? ""), reason: String(found.data.reason ?? "") };
}
