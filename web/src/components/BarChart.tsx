// A horizontal bar chart in SVG: one labelled bar per row, the value printed beside it.
import { useMemo } from "react";

export interface Bar {
  label: string;
  value: number;
  display: string;
}

export function BarChart({ title, bars, unit }: { title: string; bars: Bar[]; unit: string }) {
  const max = useMemo(() => Math.max(0, ...bars.map((bar) => bar.value)), [bars]);
  const row = 26;
  const labelWidth = 150;
  const chartWidth = 420;
  const height = bars.length * row + 8;
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p className="muted">Nothing in this period.</p>
      ) : (
        <svg viewBox={`0 0 ${labelWidth + chartWidth + 90} ${height}`} role="img" aria-label={`${title} (${unit})`} preserveAspectRatio="xMinYMin meet">
          {bars.map((bar, index) => {
            const width = max > 0 ? Math.max(bar.value > 0 ? 2 : 0, (bar.value / max) * chartWidth) : 0;
            const y = index * row + 4;
            return (
              <g key={bar.label}>
                <title>{`${bar.label}: ${bar.display}`}</title>
                <text x={labelWidth - 8} y={y + 15} textAnchor="end" className="chart-label">
                  {bar.label.length > 22 ? `${bar.label.slice(0, 21)}…` : bar.label}
                </text>
                <rect x={labelWidth} y={y} width={width} height={row - 8} rx={3} className="chart-bar" />
                <text x={labelWidth + width + 6} y={y + 15} className="chart-value">
                  {bar.display}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </figure>
  );
}
