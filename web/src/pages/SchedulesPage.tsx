// Schedules: each with its timing, its next fire times and the runs it started (linked); an
// operator pauses, resumes, deletes and adds them. The schedulers fire them (docs/schedules.md).
import { useState } from "react";
import type { ReactNode } from "react";
import { formatTime, shortId } from "../format";
import { Link } from "../router";
import { useSession } from "../session";
import type { CreateSchedule, Schedule, ScheduleList } from "../types";
import { ActionButton, Can, Empty, Show, StatusBadge, useLoad, usePageTitle } from "../ui";

/** How a schedule fires, in words. */
export function timingOf(schedule: Pick<Schedule, "kind" | "cron" | "timezone" | "interval_seconds" | "at">): string {
  if (schedule.kind === "cron") return `cron ${schedule.cron ?? ""} (${schedule.timezone})`;
  if (schedule.kind === "interval") return `every ${schedule.interval_seconds ?? 0}s`;
  return `once at ${formatTime(schedule.at)}`;
}

export function SchedulesPage() {
  usePageTitle("Schedules");
  const { api } = useSession();
  const schedules = useLoad(() => api.get<ScheduleList>("/api/v1/schedules"), "schedules");
  const act = async (schedule: Schedule, verb: "pause" | "resume" | "delete") => {
    const path = `/api/v1/schedules/${encodeURIComponent(schedule.id)}`;
    if (verb === "delete") await api.request("DELETE", path);
    else await api.post(`${path}/${verb}`);
    await schedules.reload();
  };
  return (
    <section>
      <div className="page-head">
        <h1>Schedules</h1>
      </div>
      <p className="muted">Workflows started on a cron, at an interval or once. Each due time starts exactly one run.</p>
      <Show loaded={schedules} label="Loading schedules…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No schedules yet.</Empty>
          ) : (
            <div className="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th>Schedule</th>
                    <th>Workflow</th>
                    <th>When</th>
                    <th>Next fire times</th>
                    <th>Runs started</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((schedule) => (
                    <tr key={schedule.id}>
                      <td>
                        {schedule.name} {schedule.paused ? <StatusBadge status="paused" /> : null}
                      </td>
                      <td>
                        {schedule.workflow_id}
                        {schedule.version ? <span className="muted"> v{schedule.version}</span> : null}
                      </td>
                      <td>
                        {timingOf(schedule)}
                        <div className="muted">catch-up: {schedule.catch_up}</div>
                      </td>
                      <td>
                        <List items={schedule.upcoming.map((time) => formatTime(time))} empty={schedule.paused ? "paused" : "none"} label={`Next fire times of ${schedule.name}`} />
                      </td>
                      <td>
                        <List
                          label={`Runs of ${schedule.name}`}
                          empty="none yet"
                          items={schedule.fires.map((fire) =>
                            fire.run_id ? (
                              <Link to={`/runs/${fire.run_id}`} className="mono">
                                {shortId(fire.run_id)}
                              </Link>
                            ) : (
                              <span className="inline-error">not started: {fire.error}</span>
                            ),
                          )}
                        />
                      </td>
                      <td>
                        <Can action="triggers.write">
                          {schedule.paused ? (
                            <ActionButton onAction={() => act(schedule, "resume")}>Resume</ActionButton>
                          ) : (
                            <ActionButton onAction={() => act(schedule, "pause")}>Pause</ActionButton>
                          )}{" "}
                          <ActionButton className="danger" onAction={() => act(schedule, "delete")}>
                            Delete
                          </ActionButton>
                        </Can>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
      <Can action="triggers.write">
        <NewScheduleForm onCreated={() => void schedules.reload()} />
      </Can>
    </section>
  );
}

function List({ items, empty, label }: { items: ReactNode[]; empty: string; label: string }) {
  if (items.length === 0) return <span className="muted">{empty}</span>;
  return (
    <ul className="plain" aria-label={label}>
      {items.map((item, index) => (
        <li key={index}>{item}</li>
      ))}
    </ul>
  );
}

function NewScheduleForm({ onCreated }: { onCreated: () => void }) {
  const { api } = useSession();
  const [form, setForm] = useState({ name: "", workflow_id: "", kind: "cron" as CreateSchedule["kind"], cron: "0 9 * * 1-5", timezone: "UTC", every: "3600", at: "", inputs: "{}", catch_up: "skip" as NonNullable<CreateSchedule["catch_up"]> });
  const set = (name: keyof typeof form) => (event: { target: { value: string } }) => setForm({ ...form, [name]: event.target.value });
  const create = async () => {
    let inputs: Record<string, unknown>;
    try {
      inputs = JSON.parse(form.inputs) as Record<string, unknown>;
    } catch {
      throw new Error("Inputs must be a JSON object, such as {\"topic\": \"sales\"}");
    }
    const body: CreateSchedule = { name: form.name, workflow_id: form.workflow_id, kind: form.kind, inputs, catch_up: form.catch_up, catch_up_limit: 10, paused: false, timezone: "UTC" };
    if (form.kind === "cron") Object.assign(body, { cron: form.cron, timezone: form.timezone });
    if (form.kind === "interval") body.interval_seconds = Number(form.every);
    if (form.kind === "once") body.at = form.at ? new Date(form.at).toISOString() : null;
    await api.post("/api/v1/schedules", body);
    setForm({ ...form, name: "" });
    onCreated();
  };
  return (
    <form className="card" aria-label="New schedule" onSubmit={(event) => event.preventDefault()}>
      <h2>New schedule</h2>
      <label>
        Name <input value={form.name} onChange={set("name")} placeholder="nightly-digest" />
      </label>{" "}
      <label>
        Workflow <input value={form.workflow_id} onChange={set("workflow_id")} placeholder="digest" />
      </label>{" "}
      <label>
        Kind{" "}
        <select value={form.kind} onChange={set("kind")}>
          <option value="cron">cron</option>
          <option value="interval">interval</option>
          <option value="once">once</option>
        </select>
      </label>{" "}
      {form.kind === "cron" ? (
        <>
          <label>
            Cron <input value={form.cron} onChange={set("cron")} />
          </label>{" "}
          <label>
            Time zone <input value={form.timezone} onChange={set("timezone")} />
          </label>
        </>
      ) : null}
      {form.kind === "interval" ? (
        <label>
          Every (seconds) <input type="number" min={1} value={form.every} onChange={set("every")} />
        </label>
      ) : null}
      {form.kind === "once" ? (
        <label>
          At <input type="datetime-local" value={form.at} onChange={set("at")} />
        </label>
      ) : null}{" "}
      <label>
        Catch-up{" "}
        <select value={form.catch_up} onChange={set("catch_up")}>
          <option value="skip">skip missed times</option>
          <option value="once">run once for them</option>
          <option value="all">run each (up to 10)</option>
        </select>
      </label>
      <label className="block">
        Inputs (JSON) <textarea value={form.inputs} onChange={set("inputs")} rows={3} />
      </label>
      <ActionButton className="primary" disabled={!form.name || !form.workflow_id} onAction={create}>
        Add schedule
      </ActionButton>
    </form>
  );
}
