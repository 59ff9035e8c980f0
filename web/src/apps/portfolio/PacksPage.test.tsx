import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { formatTime } from "../../format";
import { serve, viewer } from "./fakeApi.testing";
import type { Routes } from "./fakeApi.testing";
import type { PackBuild, PackHealth } from "./types";

const P = "/api/v1/portfolio";
const PAGE = "/apps/portfolio/packs";
const PACK = "9ac4b2e1f00d5eed9ac4b2e1f00d5eed9ac4b2e1f00d5eed9ac4b2e1f00d5eed"; // pragma: allowlist secret
const OLD = "1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff"; // pragma: allowlist secret

const nothing: PackHealth = {
  state: "none",
  pack_id: null,
  as_of: null,
  sources: [],
  ready_at: null,
  building: null,
  estimated_ready: null,
  retry_after_seconds: null,
  superseded: null,
  last_error: null,
};

const fresh: PackHealth = {
  ...nothing,
  state: "fresh",
  pack_id: PACK,
  as_of: "2026-12-02",
  sources: ["fred", "stooq"],
  ready_at: "2026-12-02T22:05:00+00:00",
  superseded: OLD,
};

const build: PackBuild = {
  build_id: "b1",
  pack_id: PACK,
  as_of: "2026-12-02",
  state: "fresh",
  same_as: null,
  sources: ["fred", "stooq"],
  counts: { prices: 3 },
  estimated_ready: null,
  error: null,
  run_id: "run-b1",
  started_at: "2026-12-02T22:00:00+00:00",
  ready_at: "2026-12-02T22:05:00+00:00",
  superseded_at: null,
};

const failedBuild: PackBuild = {
  ...build,
  build_id: "b0",
  pack_id: null,
  state: "failed",
  sources: [],
  error: { code: "provider_failed", message: "stooq answered 503" },
  ready_at: null,
  started_at: "2026-12-01T22:00:00+00:00",
};

function routes(health: PackHealth | PackHealth[], extra: Routes = {}): Routes {
  return {
    [`GET ${P}/health/pack`]: Array.isArray(health) ? health.map((h) => [200, h] as [number, unknown]) : [200, health],
    [`GET ${P}/packs?limit=50`]: [200, { items: [build, failedBuild], next_cursor: null }],
    ...extra,
  };
}

function facts(): string[] {
  const list = screen.getByLabelText("Pack health");
  const terms = within(list).queryAllByRole("term");
  const definitions = within(list).queryAllByRole("definition");
  return terms.map((term, index) => `${term.textContent}: ${definitions[index]?.textContent}`);
}

async function badge(): Promise<string | null> {
  const heading = await screen.findByRole("heading", { level: 2, name: /^Pack health/ });
  return heading.querySelector(".badge")?.textContent ?? null;
}

afterEach(() => {
  cleanup();
  window.history.pushState(null, "", "/");
});

describe("the pricing packs page", () => {
  it("shows a fresh pack with its id, date and sources, and the builds", async () => {
    serve(PAGE, routes(fresh));
    expect(await badge()).toBe("fresh");
    expect(facts()).toEqual([
      "Current pack: 9ac4b2e1f00d",
      "As of: 2026-12-02",
      "Sources: fred, stooq",
      `Ready at: ${formatTime("2026-12-02T22:05:00+00:00")}`,
      "Replaced: 111122223333",
    ]);
    expect(within(screen.getByLabelText("Pack health")).getByTitle(PACK).textContent).toBe(PACK.slice(0, 12));
    const table = await screen.findByRole("table", { name: "Pack builds" });
    expect(within(table).getAllByRole("row").map((row) => Array.from(row.children).map((cell) => cell.textContent))).toEqual([
      ["State", "As of", "Pack", "Sources", "Started", "Ready", "Superseded"],
      ["fresh", "2026-12-02", PACK.slice(0, 12), "fred, stooq", formatTime(build.started_at), formatTime(build.ready_at), "—"],
      ["failedstooq answered 503", "2026-12-02", "none", "none", formatTime(failedBuild.started_at), "—", "—"],
    ]);
  });

  it("shows a warming build with its estimated ready time, and refreshes on request", async () => {
    const warming: PackHealth = {
      ...fresh,
      state: "warming",
      building: "b2",
      estimated_ready: "2026-12-03T15:20:00+00:00",
      retry_after_seconds: 600,
      superseded: null,
    };
    serve(PAGE, routes([warming, fresh]));
    expect(await badge()).toBe("warming");
    expect(facts()).toEqual([
      `Estimated ready: ${formatTime("2026-12-03T15:20:00+00:00")}`,
      "Building: b2",
      "Current pack: 9ac4b2e1f00d",
      "As of: 2026-12-02",
      "Sources: fred, stooq",
      `Ready at: ${formatTime("2026-12-02T22:05:00+00:00")}`,
    ]);
    fireEvent.click(screen.getByRole("button", { name: "Refresh" }));
    await waitFor(async () => expect(await badge()).toBe("fresh"));
  });

  it("shows why the last build failed", async () => {
    serve(PAGE, routes({ ...nothing, state: "failed", last_error: { code: "provider_failed", message: "stooq answered 503" } }));
    expect(await badge()).toBe("failed");
    expect(facts()).toEqual(["Last build failed: stooq answered 503"]);
    expect(screen.getByText("The last build failed; the patterns cannot compute until a build succeeds.")).toBeTruthy();
  });

  it("hints at building the first pack, and starts a build", async () => {
    const sent = serve(
      PAGE,
      routes([nothing, { ...nothing, state: "warming", building: "b3", estimated_ready: null, retry_after_seconds: 600 }], {
        [`POST ${P}/packs`]: [202, { ...build, build_id: "b3", state: "warming", pack_id: null, ready_at: null }],
      }),
    );
    expect(await badge()).toBe("none");
    expect(screen.getByText("No pricing pack yet: build one to compute the patterns.")).toBeTruthy();
    expect(facts()).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Build pack" }));
    await waitFor(async () => expect(await badge()).toBe("warming"));
    expect(facts()).toEqual(["Estimated ready: no estimate yet", "Building: b3"]);
    expect(sent).toEqual([{ method: "POST", path: `${P}/packs`, body: {}, type: "application/json" }]);
  });

  it("builds a pack as of a chosen date", async () => {
    const sent = serve(
      PAGE,
      routes([fresh, { ...fresh, state: "warming", building: "b4", estimated_ready: null, retry_after_seconds: 600 }], {
        [`POST ${P}/packs`]: [202, { ...build, build_id: "b4", as_of: "2010-03-01", state: "warming", pack_id: null, ready_at: null }],
      }),
    );
    expect(await badge()).toBe("fresh");
    fireEvent.change(screen.getByLabelText("As of"), { target: { value: "2010-03-01" } });
    fireEvent.click(screen.getByRole("button", { name: "Build pack" }));
    await waitFor(async () => expect(await badge()).toBe("warming"));
    expect(sent).toEqual([{ method: "POST", path: `${P}/packs`, body: { as_of: "2010-03-01" }, type: "application/json" }]);
  });

  it("lets a viewer see the packs but not build one", async () => {
    serve(PAGE, routes(fresh), viewer);
    expect(await badge()).toBe("fresh");
    expect(screen.queryByRole("button", { name: "Build pack" })).toBeNull();
    expect(screen.queryByLabelText("As of")).toBeNull();
  });
});
