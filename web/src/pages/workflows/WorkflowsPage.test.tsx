import { cleanup, fireEvent, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { operator, serveApp, viewer } from "../../apps/fakeApi.testing";
import type { EnabledApp, Routes } from "../../apps/fakeApi.testing";
import type { Me, WorkflowDetail, WorkflowVersion } from "../../types";
import { STARTER } from "./Editor";

const noApp: EnabledApp = { name: "demo", title: "Demo", description: "", api: null, pages: [], workflows: [] };
const writer: Me = { ...operator, scopes: ["runs:read", "runs:write", "workflows:read", "workflows:write"] };
const reader: Me = { ...viewer, scopes: ["runs:read", "workflows:read"] };

const V1 = `id: quick
version: "1"
description: Echo a text.
inputs:
  text: {type: string}
steps:
  - id: echo
    kind: agent
    capability: demo.sleep
    args: {value: "{{ inputs.text }}"}
`;
const V2 = V1.replace('version: "1"', 'version: "2"').replace("demo.sleep", "demo.noop");

function version(v: string, extra: Partial<WorkflowVersion> = {}): WorkflowVersion {
  return {
    id: `wv-quick-${v}`,
    workflow_id: "quick",
    version: v,
    content_hash: `sha256:${v.repeat(64)}`,
    description: "Echo a text.",
    created_at: `2026-12-0${v}T10:00:00Z`,
    steps: [{ id: "echo", kind: "agent", needs: [] }],
    ...extra,
  };
}

function detail(v: string, source: string): WorkflowDetail {
  return {
    ...version(v),
    inputs_schema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
    spec: { id: "quick", version: v, steps: [{ id: "echo", kind: "agent", capability: "demo.sleep" }] },
    source,
  };
}

const quickRoutes: Routes = {
  "GET /api/v1/workflows/quick": [200, detail("2", V2)],
  "GET /api/v1/workflows/quick/versions": [200, { items: [version("1"), version("2")] }],
  "GET /api/v1/workflows/quick/versions/1": [200, detail("1", V1)],
  "GET /api/v1/workflows/quick/versions/2": [200, detail("2", V2)],
};

afterEach(cleanup);

describe("WorkflowsPage", () => {
  it("lists each workflow's description, newest version and when it was stored", async () => {
    serveApp(noApp, "/workflows", { "GET /api/v1/workflows?latest=true": [200, { items: [version("2"), { ...version("1"), id: "wv-o", workflow_id: "outreach", description: "" }] }] }, writer);
    const table = await screen.findByRole("table", { name: "Workflows, by id" });
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => [...row.querySelectorAll("td")].slice(0, 3).map((cell) => cell.textContent))).toEqual([
      ["quick", "Echo a text.", "v2"],
      ["outreach", "—", "v1"],
    ]);
    expect(within(table).getByRole("link", { name: "quick" }).getAttribute("href")).toBe("/workflows/quick");
    expect(screen.getByRole("link", { name: "Workflows", current: "page" })).toBeTruthy();
  });

  it("names the command that stores a workflow when there is none", async () => {
    serveApp(noApp, "/workflows", { "GET /api/v1/workflows?latest=true": [200, { items: [] }] }, reader);
    const empty = await screen.findByText(/No workflows are stored yet/);
    expect(empty.textContent).toBe("No workflows are stored yet. Store one with batonflow workflows add my-workflow.yaml.");
    expect(screen.queryByRole("button", { name: "New workflow" })).toBeNull();
  });

  it("stores a new workflow from the starter and opens it", async () => {
    const sent = serveApp(
      noApp,
      "/workflows",
      {
        "GET /api/v1/workflows?latest=true": [200, { items: [] }],
        "POST /api/v1/workflows": [201, { ...detail("1", STARTER), workflow_id: "my-workflow", id: "wv-new" }],
        "GET /api/v1/workflows/my-workflow/versions": [200, { items: [{ ...version("1"), workflow_id: "my-workflow", id: "wv-new" }] }],
        "GET /api/v1/workflows/my-workflow/versions/1": [200, { ...detail("1", STARTER), workflow_id: "my-workflow", id: "wv-new" }],
      },
      writer,
    );
    fireEvent.click(await screen.findByRole("button", { name: "New workflow" }));
    expect((screen.getByLabelText("Workflow YAML") as HTMLTextAreaElement).value).toBe(STARTER);
    fireEvent.click(screen.getByRole("button", { name: "Save as new version" }));
    await vi.waitFor(() => expect(window.location.pathname + window.location.search).toBe("/workflows/my-workflow?version=1"));
    expect(sent).toEqual([{ method: "POST", path: "/api/v1/workflows", body: { source: STARTER, name: "new-workflow.yaml" }, type: "application/json" }]);
    expect(await screen.findByLabelText("Workflow YAML")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Workflow my-workflow", level: 1 })).toBeTruthy();
  });
});

describe("WorkflowDetailPage", () => {
  it("shows the graph before any run, a step's definition, the YAML and a diff of two versions", async () => {
    serveApp(noApp, "/workflows/quick", quickRoutes, writer);
    const graph = await screen.findByRole("group", { name: "Workflow graph" });
    expect(screen.getByRole("heading", { name: "Workflow quick", level: 1 })).toBeTruthy();
    expect(screen.getByText("Echo a text.", { selector: "p.lede" })).toBeTruthy();
    expect(within(graph).getByRole("button", { name: "echo, agent step" }).getAttribute("data-state")).toBe("defined");
    expect(screen.getByText("agent step · starts first")).toBeTruthy();
    expect(JSON.parse(screen.getByLabelText("Definition of step echo").textContent ?? "")).toEqual({ capability: "demo.sleep" });
    expect(screen.getByLabelText("Workflow YAML").textContent).toBe(V2);
    const diff = await screen.findByLabelText("Differences");
    expect([...diff.querySelectorAll(".diff-del, .diff-add")].map((line) => line.textContent)).toEqual([
      '- version: "1"\n',
      '+ version: "2"\n',
      "-     capability: demo.sleep\n",
      "+     capability: demo.noop\n",
    ]);
    expect(screen.getByTestId("diff-counts").textContent).toBe("2 lines added, 2 removed");
    fireEvent.change(screen.getByLabelText("From"), { target: { value: "2" } });
    expect(await screen.findByText("The two versions have the same YAML.")).toBeTruthy();
  });

  it("starts a run of the version shown from its inputs form and opens it", async () => {
    const sent = serveApp(noApp, "/workflows/quick?version=1", { ...quickRoutes, "POST /api/v1/runs": [201, { id: "run-new" }] }, writer);
    expect(await screen.findByRole("heading", { name: "Start a run of v1" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText(/^Text/), { target: { value: "hello" } });
    fireEvent.click(screen.getByRole("button", { name: "Start run" }));
    await vi.waitFor(() => expect(window.location.pathname).toBe("/runs/run-new"));
    expect(sent).toEqual([{ method: "POST", path: "/api/v1/runs", body: { workflow_id: "quick", version: "1", inputs: { text: "hello" } }, type: "application/json" }]);
  });

  it("validates a new version and shows every problem with its place", async () => {
    const issues = ["steps[0].needs: unknown step 'scor' (did you mean 'score'?)", "steps[0].capability: unknown capability 'demo.nothing' (did you mean 'demo.noop'?)"];
    serveApp(
      noApp,
      "/workflows/quick",
      {
        ...quickRoutes,
        "POST /api/v1/workflows/validate": [
          [200, { valid: false, issues, workflow_id: null, version: null, content_hash: null }],
          [200, { valid: true, issues: [], workflow_id: "quick", version: "3", content_hash: "sha256:x" }],
        ],
        "POST /api/v1/workflows": [422, { error: { code: "spec_invalid", message: "quick.yaml is not a valid workflow", details: { issues: ["line 3 column 1: expected <block end>, but found '-'"] } } }],
      },
      writer,
    );
    fireEvent.click(await screen.findByRole("button", { name: "New version…" }));
    const editor = screen.getByRole("region", { name: "New version of quick" });
    expect((within(editor).getByLabelText("Workflow YAML") as HTMLTextAreaElement).value).toBe(V2);
    fireEvent.click(within(editor).getByRole("button", { name: "Validate" }));
    const problems = await within(editor).findByRole("list", { name: "Problems" });
    expect(within(problems).getAllByRole("listitem").map((item) => item.textContent)).toEqual(issues);
    expect(within(editor).getByText("2 problems to fix:")).toBeTruthy();
    fireEvent.click(within(editor).getByRole("button", { name: "Validate" }));
    expect(await within(editor).findByText(/^Valid:/)).toBeTruthy();
    expect(within(editor).getByRole("status").textContent).toBe("Valid: quick version 3.");
    fireEvent.click(within(editor).getByRole("button", { name: "Save as new version" }));
    const refused = await within(editor).findByRole("list", { name: "Problems" });
    expect(within(refused).getAllByRole("listitem").map((item) => item.textContent)).toEqual(["line 3 column 1: expected <block end>, but found '-'"]);
  });

  it("says when the saved YAML is a version already stored", async () => {
    serveApp(noApp, "/workflows/quick", { ...quickRoutes, "POST /api/v1/workflows": [200, detail("2", V2)] }, writer);
    fireEvent.click(await screen.findByRole("button", { name: "New version…" }));
    fireEvent.click(screen.getByRole("button", { name: "Save as new version" }));
    expect(await screen.findByText("Version 2 already holds exactly this; nothing new was stored.")).toBeTruthy();
  });

  it("lets a viewer read the workflow but neither store a version nor start a run", async () => {
    serveApp(noApp, "/workflows/quick", quickRoutes, reader);
    expect(await screen.findByRole("group", { name: "Workflow graph" })).toBeTruthy();
    expect(screen.getByLabelText("Workflow YAML").textContent).toBe(V2);
    expect(screen.queryByRole("button", { name: "New version…" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Start run" })).toBeNull();
  });

  it("says a workflow that does not exist is not found", async () => {
    serveApp(noApp, "/workflows/nope", {}, reader);
    expect(await screen.findByText("Not found")).toBeTruthy();
    expect(screen.getByRole("link", { name: "Back to the workflows" })).toBeTruthy();
  });
});
