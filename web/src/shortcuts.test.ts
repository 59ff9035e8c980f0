import { describe, expect, it } from "vitest";
import { SHORTCUTS, commandFor } from "./shortcuts";

describe("keyboard shortcuts", () => {
  it("reads `g` sequences as pages and single keys as actions", () => {
    expect(["r", "w", "v", "d", "p", "u", "x"].map((key) => commandFor(key, "g"))).toEqual([
      { kind: "go", path: "/runs" },
      { kind: "go", path: "/workflows" },
      { kind: "go", path: "/reviews" },
      { kind: "go", path: "/dead-letters" },
      { kind: "go", path: "/prompts" },
      { kind: "go", path: "/usage" },
      null,
    ]);
    expect(["/", "j", "k", "a", "r", "?", "Escape", "g", "x"].map((key) => commandFor(key, null))).toEqual([
      { kind: "search" },
      { kind: "review", move: 1 },
      { kind: "review", move: -1 },
      { kind: "decide", decision: "approve" },
      { kind: "decide", decision: "reject" },
      { kind: "help" },
      { kind: "close" },
      null,
      null,
    ]);
  });

  it("lists every shortcut it knows", () => {
    expect(SHORTCUTS.map((shortcut) => shortcut.keys)).toEqual(["g r", "g w", "g v", "g d", "g p", "g u", "/", "j / k", "a", "r", "?", "Esc"]);
  });
});
