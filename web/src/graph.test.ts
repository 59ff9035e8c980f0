import { describe, expect, it } from "vitest";
import { BOX, depths, layout } from "./graph";

const step = (id: string, needs: string[] = [], kind = "agent") => ({ id, kind, needs });

describe("layout", () => {
  it("puts each step in the column of its longest chain of needs", () => {
    const graph = layout([step("a"), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"]), step("e", ["a", "d"])]);
    expect(graph.layers).toEqual([["a"], ["b", "c"], ["d"], ["e"]]);
    const byId = Object.fromEntries(graph.nodes.map((node) => [node.id, node]));
    expect(byId.a?.x).toBe(BOX.margin);
    expect(byId.d?.x).toBe(BOX.margin + 2 * (BOX.width + BOX.gapX));
    expect(byId.b?.y).toBeLessThan(byId.c?.y ?? 0);
    expect(graph.edges.map((edge) => `${edge.from}->${edge.to}`)).toEqual(["a->b", "a->c", "b->d", "c->d", "a->e", "d->e"]);
    const edge = graph.edges[0];
    expect(edge).toMatchObject({ x1: BOX.margin + BOX.width, x2: byId.b?.x });
    expect(graph.width).toBe(BOX.margin * 2 + 4 * BOX.width + 3 * BOX.gapX);
    expect(graph.height).toBe(BOX.margin * 2 + 2 * BOX.height + BOX.gapY);
  });

  it("orders a column by where its needs sit, to keep lines from crossing", () => {
    const graph = layout([step("x"), step("y"), step("from-y", ["y"]), step("from-x", ["x"])]);
    expect(graph.layers[1]).toEqual(["from-x", "from-y"]);
  });

  it("ignores needs on unknown steps and survives a cycle", () => {
    expect(Object.fromEntries(depths([step("a", ["ghost"]), step("b", ["c"]), step("c", ["b"])]))).toEqual({ a: 0, b: 2, c: 1 });
    expect(layout([]).nodes).toEqual([]);
  });
});
