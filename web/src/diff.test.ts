import { describe, expect, it } from "vitest";
import { diffCounts, diffLines, foldUnchanged } from "./diff";

describe("diffLines", () => {
  it("keeps common lines and shows a changed line as removed then added", () => {
    const diff = diffLines('id: quick\nversion: "1"\nsteps: []\n', 'id: quick\nversion: "2"\nsteps: []\n');
    expect(diff).toEqual([
      { kind: "same", text: "id: quick", oldLine: 1, newLine: 1 },
      { kind: "removed", text: 'version: "1"', oldLine: 2, newLine: null },
      { kind: "added", text: 'version: "2"', oldLine: null, newLine: 2 },
      { kind: "same", text: "steps: []", oldLine: 3, newLine: 3 },
    ]);
    expect(diffCounts(diff)).toEqual({ added: 1, removed: 1 });
  });

  it("finds inserted and deleted blocks around unchanged ones", () => {
    const diff = diffLines("a\nb\nc\nd", "a\nx\ny\nc\nd\ne");
    expect(diff.map((line) => `${line.kind === "same" ? " " : line.kind === "added" ? "+" : "-"}${line.text}`)).toEqual([" a", "-b", "+x", "+y", " c", " d", "+e"]);
    expect(diffCounts(diff)).toEqual({ added: 3, removed: 1 });
  });

  it("treats an empty text as no lines and CRLF like LF", () => {
    expect(diffLines("", "one\r\ntwo\r\n")).toEqual([
      { kind: "added", text: "one", oldLine: null, newLine: 1 },
      { kind: "added", text: "two", oldLine: null, newLine: 2 },
    ]);
    expect(diffLines("same\n", "same")).toEqual([{ kind: "same", text: "same", oldLine: 1, newLine: 1 }]);
    expect(diffLines("", "")).toEqual([]);
  });
});

describe("foldUnchanged", () => {
  const marks = (text: string) => text.split("").join("\n");

  it("keeps three lines of context around each change and folds the rest", () => {
    const folded = foldUnchanged(diffLines(marks("abcdefghijklmnop"), marks("abcdefgXijklmnop")));
    expect(folded.map((row) => (row.kind === "fold" ? `(${row.count})` : `${row.kind === "same" ? " " : row.kind === "added" ? "+" : "-"}${row.text}`))).toEqual([
      "(4)",
      " e",
      " f",
      " g",
      "-h",
      "+X",
      " i",
      " j",
      " k",
      "(5)",
    ]);
  });

  it("keeps a run between two changes whole when folding would save under two lines", () => {
    const folded = foldUnchanged(diffLines(marks("Aabcdefgh"), marks("Babcdefgh")), 4);
    expect(folded.map((row) => row.kind)).toEqual(["removed", "added", "same", "same", "same", "same", "fold"]);
    const between = foldUnchanged(diffLines(marks("Aabcdefg1"), marks("Babcdefg2")), 4);
    expect(between.filter((row) => row.kind === "fold")).toEqual([]);
  });

  it("folds nothing in a diff without changes but the whole text", () => {
    expect(foldUnchanged(diffLines("a\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\n"))).toEqual([{ kind: "fold", count: 5 }]);
  });
});
