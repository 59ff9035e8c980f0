// The workflow as an SVG graph: steps as boxes in columns by `needs` depth, edges as lines,
// each box coloured by its step's state (without `states`, the workflow before any run: boxes
// name their kind only). Boxes are buttons: choosing one selects the step.
import { useMemo } from "react";
import { layout } from "../graph";
import type { WorkflowStep } from "../types";

interface Props {
  steps: WorkflowStep[];
  states?: Record<string, string>;
  selected: string | null;
  onSelect: (id: string) => void;
}

export function GraphView({ steps, states, selected, onSelect }: Props) {
  const graph = useMemo(() => layout(steps), [steps]);
  if (steps.length === 0) return <p className="muted">This workflow has no steps.</p>;
  return (
    <div className="graph-scroll">
      <svg
        className="graph"
        viewBox={`0 0 ${graph.width} ${graph.height}`}
        width={graph.width}
        height={graph.height}
        role="group"
        aria-label="Workflow graph"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="graph-arrow" />
          </marker>
        </defs>
        {graph.edges.map((edge) => (
          <line
            key={`${edge.from}->${edge.to}`}
            className={`graph-edge state-${states?.[edge.from] ?? "pending"}`}
            x1={edge.x1}
            y1={edge.y1}
            x2={edge.x2 - 2}
            y2={edge.y2}
            markerEnd="url(#arrow)"
          />
        ))}
        {graph.nodes.map((node) => {
          const state = states ? (states[node.id] ?? "pending") : "defined";
          return (
            <g
              key={node.id}
              className={`graph-node state-${state}${selected === node.id ? " selected" : ""}`}
              transform={`translate(${node.x},${node.y})`}
              role="button"
              tabIndex={0}
              data-step={node.id}
              data-state={state}
              aria-label={states ? `${node.id}, ${node.kind} step, ${state}` : `${node.id}, ${node.kind} step`}
              aria-pressed={selected === node.id}
              onClick={() => onSelect(node.id)}
              onKeyDown={(event) => {
                if (event.key === "Enter" || event.key === " ") {
                  event.preventDefault();
                  onSelect(node.id);
                }
              }}
            >
              <rect width={node.width} height={node.height} rx={8} />
              <text x={10} y={20} className="graph-title">
                {node.id.length > 18 ? `${node.id.slice(0, 17)}…` : node.id}
              </text>
              <text x={10} y={37} className="graph-sub">
                {states ? `${node.kind} · ${state}` : node.kind}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
