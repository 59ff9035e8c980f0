import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Api } from "../api";
import type { TokenStore } from "../api";
import { SessionProvider } from "../session";
import type { Me, Schedule } from "../types";
import { SchedulesPage, timingOf } from "./SchedulesPage";

const operator: Me = {
  kind: "user",
  api_key: null,
  user: { id: "u", email: "o@acme.example", name: "Otto", role: "operator" },
  tenant: { id: "t", slug: "acme", name: "Acme" },
  roles: ["operator", "viewer"],
  scopes: ["runs:read", "triggers:read", "triggers:write"],
};
const viewer: Me = { ...operator, roles: ["viewer"], scopes: ["runs:read", "triggers:read"] };

const schedule = (extra: Partial<Schedule> = {}): Schedule => ({
  id: "s1",
  name: "mornings",
  workflow_id: "digest",
  version: null,
  inputs: { topic: "sales" },
  kind: "cron",
  cron: "0 9 * * 1-5",
  timezone: "Europe/Paris",
  interval_seconds: null,
  at: null,
  catch_up: "once",
  catch_up_limit: 10,
  paused: false,
  next_fire_at: "2027-01-04T08:00:00Z",
  upcoming: ["2027-01-04T08:00:00Z", "2027-01-05T08:00:00Z"],
  last_fired_at: "2027-01-01T08:00:00Z",
  fires: [
    { due_at: "2027-01-01T08:00:00Z", run_id: "01a238ff-0c1d-7e2f-8a3b-4c5d6e7f8a9b", error: null, fired_at: "2027-01-01T08:00:01Z" },
    { due_at: "2026-12-31T08:00:00Z", run_id: null, error: "no workflow 'digest'", fired_at: "2026-12-31T08:00:01Z" },
  ],
  created_by: "otto",
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-01T00:00:00Z",
  ...extra,
});

const store: TokenStore = { get: () => ({ access_token: "a", refresh_token: "r" }), set: () => {} };

function serve(me: Me, items: Schedule[]) {
  const sent: { method: string; path: string; body: unknown }[] = [];
  const fetcher = async (input: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    if (method !== "GET") sent.push({ method, path: input, body: init?.body ? JSON.parse(init.body as string) : undefined });
    let body: unknown = {};
    if (input === "/api/v1/me") body = me;
    else if (input === "/api/v1/schedules" && method === "GET") body = { items };
    else if (method === "DELETE") return new Response(null, { status: 204 });
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  render(
    <SessionProvider api={new Api(store, fetcher)}>
      <SchedulesPage />
    </SessionProvider>,
  );
  return sent;
}

beforeEach(() => window.history.replaceState(null, "", "/schedules"));
afterEach(cleanup);

describe("SchedulesPage", () => {
  it("shows each schedule's next fire times and the runs it started", async () => {
    serve(operator, [schedule()]);
    const upcoming = await screen.findByRole("list", { name: "Next fire times of mornings" });
    expect(within(upcoming).getAllByRole("listitem")).toHaveLength(2);
    const runs = screen.getByRole("list", { name: "Runs of mornings" });
    expect(within(runs).getAllByRole("listitem").map((item) => item.textContent)).toEqual(["4c5d6e7f8a9b", "not started: no workflow 'digest'"]); // pragma: allowlist secret
    expect(screen.getByRole("link", { name: "4c5d6e7f8a9b" }).getAttribute("href")).toBe("/runs/01a238ff-0c1d-7e2f-8a3b-4c5d6e7f8a9b"); // pragma: allowlist secret
    expect(screen.getByText("cron 0 9 * * 1-5 (Europe/Paris)")).toBeTruthy();
  });

  it("pauses, resumes and deletes", async () => {
    const sent = serve(operator, [schedule(), schedule({ id: "s2", name: "hourly", paused: true, upcoming: [] })]);
    fireEvent.click(await screen.findByRole("button", { name: "Pause" }));
    fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    fireEvent.click(screen.getAllByRole("button", { name: "Delete" })[1]!);
    await vi.waitFor(() =>
      expect(sent).toEqual([
        { method: "POST", path: "/api/v1/schedules/s1/pause", body: {} },
        { method: "POST", path: "/api/v1/schedules/s2/resume", body: {} },
        { method: "DELETE", path: "/api/v1/schedules/s2", body: undefined },
      ]),
    );
    expect(screen.getByText("paused", { selector: "span.muted" })).toBeTruthy();
  });

  it("adds an interval schedule with its inputs", async () => {
    const sent = serve(operator, []);
    expect(await screen.findByText("No schedules yet.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "poll" } });
    fireEvent.change(screen.getByLabelText("Workflow"), { target: { value: "digest" } });
    fireEvent.change(screen.getByLabelText("Kind"), { target: { value: "interval" } });
    fireEvent.change(screen.getByLabelText("Every (seconds)"), { target: { value: "300" } });
    fireEvent.change(screen.getByLabelText("Inputs (JSON)"), { target: { value: '{"topic": "ops"}' } });
    fireEvent.click(screen.getByRole("button", { name: "Add schedule" }));
    await vi.waitFor(() =>
      expect(sent).toEqual([
        {
          method: "POST",
          path: "/api/v1/schedules",
          body: { name: "poll", workflow_id: "digest", kind: "interval", inputs: { topic: "ops" }, catch_up: "skip", catch_up_limit: 10, paused: false, timezone: "UTC", interval_seconds: 300 },
        },
      ]),
    );
  });

  it("lets a viewer read but not change", async () => {
    serve(viewer, [schedule()]);
    expect(await screen.findByText("mornings")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Pause" })).toBeNull();
    expect(screen.queryByRole("form", { name: "New schedule" })).toBeNull();
  });

  it("says how each kind fires", () => {
    expect(timingOf({ kind: "interval", cron: null, timezone: "UTC", interval_seconds: 90, at: null })).toBe("every 90s");
  });
});
