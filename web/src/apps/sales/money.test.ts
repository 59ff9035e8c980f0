import { describe, expect, it } from "vitest";
import { fractionOf, money, percentOf, sums } from "./money";

describe("sales money", () => {
  it("shows amounts with their currency, grouped, never through a float", () => {
    expect([money("1234567.89", "EUR"), money("1235", "JPY"), money("0.10", "USD"), money(null, "EUR")]).toEqual([
      "1,234,567.89 EUR",
      "1,235 JPY",
      "0.10 USD",
      "—",
    ]);
    expect([sums({ EUR: "12000.00", USD: "800" }), sums({})]).toEqual(["12,000.00 EUR · 800 USD", "nothing"]);
  });

  it("turns discount fractions into percentages and back exactly", () => {
    expect(["0", "0.15", "0.125", "0.075", "1", "0.1000", "0.333333"].map(percentOf)).toEqual(["0%", "15%", "12.5%", "7.5%", "100%", "10%", "33.3333%"]);
    expect(["0", "15", "12.5", "7.5", "100", "10", "0.5", " 20 ", "ten", "-5", "1e2"].map(fractionOf)).toEqual([
      "0",
      "0.15",
      "0.125",
      "0.075",
      "1",
      "0.1",
      "0.005",
      "0.2",
      null,
      null,
      null,
    ]);
  });
});
