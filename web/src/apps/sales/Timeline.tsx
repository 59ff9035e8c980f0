// A sales record's timeline: what happened to a lead, deal, contract or invoice, oldest first,
// with who did it (a person, an agent or the platform) and links to the runs, emails and
// records it concerns. It loads when opened, so a detail view costs nothing until asked.
import { useState } from "react";
import { formatTime } from "../../format";
import { Link } from "../../router";
import { useSession } from "../../session";
import { Empty, Show, useLoad } from "../../ui";
import { BASE } from "./types";

export type TimelineEntity = "lead" | "deal" | "contract" | "invoice";

export interface TimelineEvent {
  at: string;
  kind: string;
  actor_kind: "user" | "agent" | "system";
  actor: string;
  summary: string;
  links: Record<string, string>;
}

export interface TimelineData {
  entity: TimelineEntity;
  entity_id: string;
  events: TimelineEvent[];
}

const WHO: Record<TimelineEvent["actor_kind"], string> = { user: "person", agent: "agent", system: "platform" };

/** Where an event's links lead, in the order shown. */
function linksOf(event: TimelineEvent): { label: string; to: string }[] {
  const at = (id: string) => encodeURIComponent(id);
  const { run_id, email_id, invoice_id, contract_id } = event.links;
  const found: { label: string; to: string }[] = [];
  if (run_id) found.push({ label: "run", to: `/runs/${at(run_id)}` });
  if (email_id) found.push({ label: "email", to: `/apps/sales/emails?email=${at(email_id)}` });
  if (contract_id) found.push({ label: "contract", to: `/apps/sales/contracts?contract=${at(contract_id)}` });
  if (invoice_id) found.push({ label: "invoice", to: `/apps/sales/invoices?invoice=${at(invoice_id)}` });
  return found;
}

export function TimelineEvents({ events, label }: { events: TimelineEvent[]; label: string }) {
  if (events.length === 0) return <Empty>Nothing has happened to it yet.</Empty>;
  return (
    <ol className="sales-timeline" aria-label={label}>
      {events.map((event, index) => (
        <li key={index} className={`sales-timeline-${event.actor_kind}`}>
          <time dateTime={event.at}>{formatTime(event.at)}</time>{" "}
          <span className="sales-timeline-actor">
            {event.actor} <span className="muted small">({WHO[event.actor_kind]})</span>
          </span>{" "}
          <span className="sales-timeline-summary">{event.summary}</span>
          {linksOf(event).map((link) => (
            <span key={link.label}>
              {" "}
              <Link to={link.to}>{link.label}</Link>
            </span>
          ))}
        </li>
      ))}
    </ol>
  );
}

function Loaded({ entity, id }: { entity: TimelineEntity; id: string }) {
  const { api } = useSession();
  const path = `${BASE}/${entity}s/${encodeURIComponent(id)}/timeline`;
  const timeline = useLoad(() => api.get<TimelineData>(path), path);
  return (
    <Show loaded={timeline} label="Loading the timeline…">
      {(found) => <TimelineEvents events={found.events} label={`Timeline of the ${entity}`} />}
    </Show>
  );
}

/** The Timeline section of a record's view: a button opens it (and loads it). */
export function Timeline({ entity, id }: { entity: TimelineEntity; id: string }) {
  const [open, setOpen] = useState(false);
  return (
    <section className="card" aria-label={`Timeline of the ${entity}`}>
      <h2>Timeline</h2>
      <button type="button" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? "Hide the timeline" : "Show the timeline"}
      </button>
      {open ? <Loaded entity={entity} id={id} /> : null}
    </section>
  );
}
