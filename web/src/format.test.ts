import { describe, expect, it } from "vitest";
import { dayBoundary, formatCompact, formatDuration, formatRelative, formatTime, formatUsd, secondsBetween, shortId } from "./format";

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

describe("times", () => {
  it("writes an exact time with its zone", () => {
    expect(formatTime("2026-12-03T11:34:16.123456Z", "UTC")).toBe("2026-12-03 11:34:16 UTC");
    expect(formatTime("2026-12-03T23:34:16Z", "Europe/Berlin")).toBe("2026-12-04 00:34:16 GMT+1");
    expect(formatTime("2026-07-01T08:00:00Z", "America/New_York")).toBe("2026-07-01 04:00:00 EDT");
    expect(formatTime(null)).toBe("—");
    expect(formatTime("not a time")).toBe("not a time");
  });

  it("says how long ago as the CLI does, and how soon for what is ahead", () => {
    const now = Date.parse("2026-12-03T12:00:00Z");
    const ago = (seconds: number) => formatRelative(new Date(now - seconds * 1000).toISOString(), now);
    expect([2, 45, 59, 60, 3599, 3600, 86_400 * 2 - 1, 86_400 * 2, 86_400 * 40].map(ago)).toEqual([
      "just now",
      "45 s ago",
      "59 s ago",
      "1 min ago",
      "59 min ago",
      "1 h ago",
      "47 h ago",
      "2 days ago",
      "40 days ago",
    ]);
    expect(ago(-180)).toBe("in 3 min");
    expect(formatRelative(undefined, now)).toBe("—");
  });
});

describe("run ids", () => {
  it("shows an id's random end, the part the CLI shows and accepts", () => {
    expect(shortId("01a238ff-0c1d-7e2f-8a3b-4c5d6e7f8a9b")).toBe("4c5d6e7f8a9b"); // pragma: allowlist secret
    expect(shortId("short")).toBe("short");
  });

});
