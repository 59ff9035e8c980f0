import { describe, expect, it } from "vitest";
import { figures, formatDecimal, formatMoney, formatPercent, formatRatio } from "./figures";
import { readOverview } from "./ResultView";

describe("the overview's figures", () => {
  it("groups decimal strings exactly and reads fractions as percentages", () => {
    expect(["1234567.891", "-1000.00", "999", "0.000001", "1e5", ""].map(formatDecimal)).toEqual([
      "1,234,567.891",
      "-1,000.00",
      "999",
      "0.000001",
      "1e5",
      "",
    ]);
    expect([0.045, "0.574163", -0.0333, null, undefined, "n/a"].map((value) => formatPercent(value))).toEqual([
      "4.50%",
      "57.42%",
      "-3.33%",
      "not defined",
      "not defined",
      "not defined",
    ]);
    expect(["10209.9", "21059", "4679.975", "-120.00", "7.", "n/a"].map((amount) => formatMoney(amount, "USD"))).toEqual([
      "10,209.90 USD",
      "21,059.00 USD",
      "4,679.975 USD",
      "-120.00 USD",
      "7.00 USD",
      "n/a USD",
    ]);
    expect([formatRatio(1.87654), formatRatio("0.523010", 4), formatRatio(null)]).toEqual(["1.88", "0.5230", "not defined"]);
  });

  it("labels metrics it does not know by name, and leaves out what is shown elsewhere", () => {
    expect(figures({ twr: 0.1, tracking_error: 0.0123, note: "12345.5", positions: [], cash: { USD: "1.00" }, detail: { a: 1 } }, "USD")).toEqual([
      { key: "twr", label: "Time-weighted return, cumulative", value: "10.00%" },
      { key: "tracking_error", label: "tracking error", value: "0.0123" },
      { key: "note", label: "note", value: "12,345.5" },
    ]);
  });

  it("reads the value series however the result holds it", () => {
    const expected = [
      { date: "2026-01-02", value: "100.00" },
      { date: "2026-01-05", value: "110.00" },
    ];
    const columns = { dates: ["2026-01-02", "2026-01-05"], values: ["100.00", "110.00"] };
    expect(readOverview({ series: columns }).series).toEqual(expected);
    expect(readOverview(columns).series).toEqual(expected);
    expect(readOverview({ series: expected }).series).toEqual(expected);
    expect(readOverview({ metrics: { base_currency: "EUR", by_currency: { EUR: "5.00" } } })).toEqual({
      base: "EUR",
      benchmark: null,
      metrics: { base_currency: "EUR", by_currency: { EUR: "5.00" } },
      positions: [],
      byCurrency: [["EUR", "5.00"]],
      series: [],
      narrative: "",
      unbookedSplits: [],
    });
  });
});
