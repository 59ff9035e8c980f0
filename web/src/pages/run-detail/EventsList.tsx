// A run's stored events, oldest first and newest last, each with its number, type, time, step
// and data; for one step, only its events and those of its map items.
import { formatTime } from "../../format";
import { ErrorBox, Json, Loading } from "../../ui";
import type { RunEvents, StoredRunEvent } from "./events";

export function ofStep(events: StoredRunEvent[], step: string): StoredRunEvent[] {
  return events.filter((event) => event.step_key === step || event.step_key?.startsWith(`${step}[`));
}

export function EventsList({ events, step }: { events: RunEvents; step?: string }) {
  if (!events.items) return events.error ? <ErrorBox error={events.error} onRetry={() => void events.reload()} /> : <Loading label="Loading the events…" />;
  const shown = step ? ofStep(events.items, step) : events.items;
  if (shown.length === 0) return <p className="muted">{step ? "No events for this step yet." : "No events yet."}</p>;
  return (
    <ol className="events" aria-label={step ? `Events of step ${step}` : "Events of the run"} data-testid={step ? "step-events" : "run-events"}>
      {shown.map((event) => (
        <li key={event.seq} className="event">
          <div className="event-head">
            <span className="mono muted">#{event.seq}</span> <strong className="mono">{event.type}</strong>
            {event.step_key && !step ? <span className="mono"> · {event.step_key}</span> : null}
            {step && event.step_key !== step ? <span className="mono"> · {event.step_key}</span> : null}
            <span className="muted"> · {formatTime(event.created_at)}</span>
          </div>
          {Object.keys(event.data).length > 0 ? (
            <details>
              <summary>Data</summary>
              <Json value={event.data} label={`Data of event ${event.seq}`} />
            </details>
          ) : null}
        </li>
      ))}
    </ol>
  );
}
