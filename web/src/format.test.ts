import { describe, expect, it } from "vitest";
import { dayBoundary, formatCompact, formatDuration, formatUsd, secondsBetween } from "./format";

describe("formatUsd", () => {
  it.each([
    ["0", "$0.00"],
    ["0.000000", "$0.00"],
    ["1.5", "$1.50"],
    ["1234.567", "$1,234.57"],
    ["0.01", "$0.01"],
    ["0.0123", "$0.01"],
    ["0.000123", "$0.000123"],
    ["0.0042", "$0.0042"],
    ["-2", "-$2.00"],
    [null, "—"],
    ["", "—"],
    ["abc", "abc"],
  ])("%s -> %s", (value, text) => {
    expect(formatUsd(value)).toBe(text);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 ms"],
    [0.8504, "850 ms"],
    [4.24, "4.2 s"],
    [12, "12 s"],
    [185, "3 m 05 s"],
    [7380, "2 h 03 m"],
    [null, "—"],
    [-1, "—"],
  ])("%s -> %s", (value, text) => {
    expect(formatDuration(value)).toBe(text);
  });

  it("measures to now while a run has not finished", () => {
    expect(secondsBetween("2026-01-01T00:00:00Z", "2026-01-01T00:00:02.5Z")).toBe(2.5);
    expect(secondsBetween("2026-01-01T00:00:00Z", null, Date.parse("2026-01-01T00:01:00Z"))).toBe(60);
    expect(secondsBetween(null, null)).toBeNull();
  });
});

describe("formatCompact and dayBoundary", () => {
  it("shortens chart labels", () => {
    expect([950, 1234, 12_345, 4_500_000].map(formatCompact)).toEqual(["950", "1.2k", "12k", "4.5M"]);
  });

  it("turns a local date into the start or end of that day", () => {
    const start = dayBoundary("2026-03-01");
    const end = dayBoundary("2026-03-01", true);
    expect(start && end && Date.parse(end) - Date.parse(start)).toBe(86_400_000);
    expect(new Date(start ?? "").getDate()).toBe(1);
    expect(dayBoundary("03/01/2026")).toBeNull();
  });
});
