// A line diff of two texts: the longest common subsequence of their lines, then every line of
// both in order, each kept, removed (only in the old text) or added (only in the new one).

export interface DiffLine {
  kind: "same" | "removed" | "added";
  text: string;
  /** The line's number in the old text (1-based), or null for an added line. */
  oldLine: number | null;
  /** The line's number in the new text (1-based), or null for a removed line. */
  newLine: number | null;
}

function lines(text: string): string[] {
  if (text === "") return [];
  const all = text.split(/\r?\n/);
  if (all[all.length - 1] === "") all.pop();
  return all;
}

export function diffLines(before: string, after: string): DiffLine[] {
  const a = lines(before);
  const b = lines(after);
  // common[i][j]: the length of the longest common subsequence of a[i..] and b[j..].
  const common: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    const row = common[i] as number[];
    const below = common[i + 1] as number[];
    for (let j = b.length - 1; j >= 0; j--) {
      row[j] = a[i] === b[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push({ kind: "same", text: a[i] as string, oldLine: i + 1, newLine: j + 1 });
      i++;
      j++;
    } else if (i < a.length && (j === b.length || (common[i + 1]?.[j] ?? 0) >= (common[i]?.[j + 1] ?? 0))) {
      out.push({ kind: "removed", text: a[i] as string, oldLine: i + 1, newLine: null });
      i++;
    } else {
      out.push({ kind: "added", text: b[j] as string, oldLine: null, newLine: j + 1 });
      j++;
    }
  }
  return out;
}

/** How many lines a diff adds and removes. */
export function diffCounts(diff: DiffLine[]): { added: number; removed: number } {
  return {
    added: diff.filter((line) => line.kind === "added").length,
    removed: diff.filter((line) => line.kind === "removed").length,
  };
}

/** A run of unchanged lines left out of a shown diff. */
export interface Fold {
  kind: "fold";
  count: number;
}

/** The diff with each run of unchanged lines cut to `context` lines next to a change; what is
 * cut becomes one `Fold` (a run shorter than two lines is kept, a fold would not save space). */
export function foldUnchanged(diff: DiffLine[], context = 3): (DiffLine | Fold)[] {
  const out: (DiffLine | Fold)[] = [];
  let start = 0;
  while (start < diff.length) {
    if (diff[start]?.kind !== "same") {
      out.push(diff[start] as DiffLine);
      start++;
      continue;
    }
    let end = start;
    while (end < diff.length && diff[end]?.kind === "same") end++;
    const keepBefore = start === 0 ? 0 : context; // context after the change above
    const keepAfter = end === diff.length ? 0 : context; // context before the change below
    const cut = end - start - keepBefore - keepAfter;
    if (cut < 2) {
      out.push(...diff.slice(start, end));
    } else {
      out.push(...diff.slice(start, start + keepBefore));
      out.push({ kind: "fold", count: cut });
      out.push(...diff.slice(end - keepAfter, end));
    }
    start = end;
  }
  return out;
}
