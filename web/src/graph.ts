// Laying out a workflow's steps: each step in the column of its `needs` depth (the longest
// chain of needs before it), ordered inside a column by where its needs sit, edges as lines.
import type { WorkflowStep } from "./types";

export interface NodeBox {
  id: string;
  kind: string;
  layer: number;
  row: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface EdgeLine {
  from: string;
  to: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface GraphLayout {
  nodes: NodeBox[];
  edges: EdgeLine[];
  width: number;
  height: number;
  layers: string[][];
}

export const BOX = { width: 150, height: 48, gapX: 56, gapY: 18, margin: 12 };

/** The needs depth of every step; needs on unknown steps are ignored, a cycle is cut. */
export function depths(steps: Pick<WorkflowStep, "id" | "needs">[]): Map<string, number> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    const step = byId.get(id);
    let value = 0;
    for (const need of step?.needs ?? []) {
      if (byId.has(need)) value = Math.max(value, visit(need) + 1);
    }
    visiting.delete(id);
    depth.set(id, value);
    return value;
  };
  steps.forEach((step) => visit(step.id));
  return depth;
}

export function layout(steps: WorkflowStep[], box = BOX): GraphLayout {
  const depth = depths(steps);
  const order = new Map(steps.map((step, index) => [step.id, index]));
  const layers: string[][] = [];
  for (const step of steps) {
    const layer = depth.get(step.id) ?? 0;
    (layers[layer] ??= []).push(step.id);
  }
  for (let i = 0; i < layers.length; i++) layers[i] ??= [];
  const row = new Map<string, number>();
  const byId = new Map(steps.map((step) => [step.id, step]));
  layers.forEach((ids, layer) => {
    if (layer > 0) {
      const weight = (id: string) => {
        const needs = (byId.get(id)?.needs ?? []).filter((need) => row.has(need));
        if (needs.length === 0) return Number.MAX_SAFE_INTEGER;
        return needs.reduce((sum, need) => sum + (row.get(need) ?? 0), 0) / needs.length;
      };
      ids.sort((a, b) => weight(a) - weight(b) || (order.get(a) ?? 0) - (order.get(b) ?? 0));
    }
    ids.forEach((id, index) => row.set(id, index));
  });
  const tallest = Math.max(1, ...layers.map((ids) => ids.length));
  const height = box.margin * 2 + tallest * box.height + (tallest - 1) * box.gapY;
  const nodes: NodeBox[] = [];
  const place = new Map<string, NodeBox>();
  layers.forEach((ids, layer) => {
    const columnHeight = ids.length * box.height + Math.max(0, ids.length - 1) * box.gapY;
    const top = (height - columnHeight) / 2;
    ids.forEach((id, index) => {
      const node: NodeBox = {
        id,
        kind: byId.get(id)?.kind ?? "",
        layer,
        row: index,
        x: box.margin + layer * (box.width + box.gapX),
        y: top + index * (box.height + box.gapY),
        width: box.width,
        height: box.height,
      };
      nodes.push(node);
      place.set(id, node);
    });
  });
  const edges: EdgeLine[] = [];
  for (const step of steps) {
    const to = place.get(step.id);
    for (const need of step.needs) {
      const from = place.get(need);
      if (!from || !to) continue;
      edges.push({
        from: need,
        to: step.id,
        x1: from.x + from.width,
        y1: from.y + from.height / 2,
        x2: to.x,
        y2: to.y + to.height / 2,
      });
    }
  }
  const columns = Math.max(1, layers.length);
  const width = box.margin * 2 + columns * box.width + (columns - 1) * box.gapX;
  return { nodes, edges, width, height, layers };
}
