// A line chart in SVG: one series over evenly spaced points (dates, usually), with labelled axes.
// The drawing is an image named by its title and described by a summary (first, last, lowest
// and highest values); every point is also in a visually hidden table, for screen readers.
import { useId, useMemo } from "react";
import { formatCompact } from "../format";

export interface LinePoint {
  /** The point's x label, like a date. */
  label: string;
  value: number;
  /** How the value reads (with its unit), in the summary, the table and the point's tooltip. */
  display: string;
}

const WIDTH = 640;
const HEIGHT = 260;
const LEFT = 72;
const RIGHT = 16;
const TOP = 12;
const BOTTOM = 48;

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The points' places in the plot area: x evenly spaced, y scaled between the lowest and the
 * highest value (a flat series sits in the middle). */
export function layout(points: LinePoint[]): { x: number; y: number }[] {
  const values = points.map((point) => point.value);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  return points.map((point, index) => ({
    x: round(LEFT + (points.length > 1 ? (index / (points.length - 1)) * plotWidth : plotWidth / 2)),
    y: round(TOP + (high > low ? ((high - point.value) / (high - low)) * plotHeight : plotHeight / 2)),
  }));
}

/** One sentence a screen reader can read instead of the drawing. */
export function summarize(points: LinePoint[]): string {
  const first = points[0];
  const last = points[points.length - 1];
  if (!first || !last) return "No data.";
  let low = first;
  let high = first;
  for (const point of points) {
    if (point.value < low.value) low = point;
    if (point.value > high.value) high = point;
  }
  return (
    `${points.length} points from ${first.label} to ${last.label}: ${first.display} at the start, ` +
    `${last.display} at the end; lowest ${low.display} on ${low.label}, highest ${high.display} on ${high.label}.`
  );
}

export function LineChart({
  title,
  points,
  xLabel,
  yLabel,
  formatTick = formatCompact,
}: {
  title: string;
  points: LinePoint[];
  xLabel: string;
  yLabel: string;
  formatTick?: (value: number) => string;
}) {
  const id = useId();
  const places = useMemo(() => layout(points), [points]);
  const summary = useMemo(() => summarize(points), [points]);
  if (points.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted">No data to chart.</p>
      </figure>
    );
  }
  const values = points.map((point) => point.value);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const bottom = HEIGHT - BOTTOM;
  const yTicks = high > low ? [high, (high + low) / 2, low] : [high];
  const yOf = (value: number) => round(TOP + (high > low ? ((high - value) / (high - low)) * (bottom - TOP) : (bottom - TOP) / 2));
  const xTicks = [...new Set([0, Math.floor((points.length - 1) / 2), points.length - 1])];
  const path = places.map((place, index) => `${index === 0 ? "M" : "L"}${place.x} ${place.y}`).join(" ");
  return (
    <figure className="chart line-chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-desc`} preserveAspectRatio="xMinYMin meet">
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        <line x1={LEFT} y1={bottom} x2={WIDTH - RIGHT} y2={bottom} className="chart-axis" />
        <line x1={LEFT} y1={TOP} x2={LEFT} y2={bottom} className="chart-axis" />
        {yTicks.map((tick) => (
          <g key={`y${tick}`}>
            <line x1={LEFT} y1={yOf(tick)} x2={WIDTH - RIGHT} y2={yOf(tick)} className="chart-grid" />
            <text x={LEFT - 6} y={yOf(tick) + 4} textAnchor="end" className="chart-tick">
              {formatTick(tick)}
            </text>
          </g>
        ))}
        {xTicks.map((index) => (
          <text
            key={`x${index}`}
            x={places[index]?.x}
            y={bottom + 16}
            textAnchor={index === 0 && points.length > 1 ? "start" : index === points.length - 1 && points.length > 1 ? "end" : "middle"}
            className="chart-tick"
          >
            {points[index]?.label}
          </text>
        ))}
        <text x={LEFT + (WIDTH - LEFT - RIGHT) / 2} y={HEIGHT - 6} textAnchor="middle" className="chart-axis-label">
          {xLabel}
        </text>
        <text x={14} y={TOP + (bottom - TOP) / 2} textAnchor="middle" transform={`rotate(-90 14 ${TOP + (bottom - TOP) / 2})`} className="chart-axis-label">
          {yLabel}
        </text>
        <path d={path} className="chart-line" />
        {places.map((place, index) => (
          <circle key={points[index]?.label ?? index} cx={place.x} cy={place.y} r={points.length > 60 ? 1.5 : 3} className="chart-point">
            <title>{`${points[index]?.label}: ${points[index]?.display}`}</title>
          </circle>
        ))}
      </svg>
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">{xLabel}</th>
            <th scope="col">{yLabel}</th>
          </tr>
        </thead>
        <tbody>
          {points.map((point) => (
            <tr key={point.label}>
              <td>{point.label}</td>
              <td>{point.display}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
