import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { LineChart } from "./LineChart";
import type { LinePoint } from "./LineChart";

const points: LinePoint[] = [
  { label: "2026-01-02", value: 100, display: "100.00 USD" },
  { label: "2026-01-05", value: 150, display: "150.00 USD" },
  { label: "2026-01-06", value: 125, display: "125.00 USD" },
];

afterEach(cleanup);

describe("LineChart", () => {
  it("draws the series between its lowest and highest values, with labelled axes", () => {
    const { container } = render(<LineChart title="Value over time" points={points} xLabel="Date" yLabel="Value (USD)" />);
    const svg = container.querySelector("svg") as SVGSVGElement;
    expect(svg.querySelector("path")?.getAttribute("d")).toBe("M72 212 L348 12 L624 112");
    expect(Array.from(svg.querySelectorAll("text")).map((text) => text.textContent)).toEqual([
      "150",
      "125",
      "100",
      "2026-01-02",
      "2026-01-05",
      "2026-01-06",
      "Date",
      "Value (USD)",
    ]);
    expect(Array.from(svg.querySelectorAll("circle title")).map((title) => title.textContent)).toEqual([
      "2026-01-02: 100.00 USD",
      "2026-01-05: 150.00 USD",
      "2026-01-06: 125.00 USD",
    ]);
  });

  it("is an image named by its title and described by a summary, with the data in a hidden table", () => {
    render(<LineChart title="Value over time" points={points} xLabel="Date" yLabel="Value (USD)" />);
    const image = screen.getByRole("img", { name: "Value over time" });
    expect(image.getAttribute("aria-describedby")).toBe(image.querySelector("desc")?.id);
    expect(image.querySelector("title")?.textContent).toBe("Value over time");
    expect(image.querySelector("desc")?.textContent).toBe(
      "3 points from 2026-01-02 to 2026-01-06: 100.00 USD at the start, 125.00 USD at the end; " +
        "lowest 100.00 USD on 2026-01-02, highest 150.00 USD on 2026-01-05.",
    );
    const table = screen.getByRole("table", { name: "Value over time" });
    expect(table.className).toBe("sr-only");
    expect(within(table).getAllByRole("row").map((row) => row.textContent)).toEqual([
      "DateValue (USD)",
      "2026-01-02100.00 USD",
      "2026-01-05150.00 USD",
      "2026-01-06125.00 USD",
    ]);
  });

  it("puts a flat series in the middle and says when there is nothing to draw", () => {
    const { container } = render(
      <LineChart title="Flat" points={[points[0] as LinePoint, { ...points[0], label: "2026-01-03" } as LinePoint]} xLabel="Date" yLabel="USD" />,
    );
    expect(container.querySelector("path")?.getAttribute("d")).toBe("M72 112 L624 112");
    cleanup();
    render(<LineChart title="Empty" points={[]} xLabel="Date" yLabel="USD" />);
    expect(screen.getByText("No data to chart.")).toBeTruthy();
    expect(screen.queryByRole("img")).toBeNull();
  });
});
