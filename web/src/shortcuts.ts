// Keyboard shortcuts for the common actions. Two-key sequences start with `g` (go to a page);
// single keys act on the page. Keys typed into a field, or with Ctrl, Alt or Meta, are left alone.
import { useEffect, useRef } from "react";

export interface Shortcut {
  keys: string;
  does: string;
}

/** `g` then a key: the page it opens. */
export const GO_TO: Record<string, { path: string; label: string }> = {
  r: { path: "/runs", label: "Runs" },
  w: { path: "/workflows", label: "Workflows" },
  v: { path: "/reviews", label: "Reviews" },
  d: { path: "/dead-letters", label: "Dead letters" },
  p: { path: "/prompts", label: "Prompts" },
  u: { path: "/usage", label: "Usage" },
};

export const SHORTCUTS: Shortcut[] = [
  ...Object.entries(GO_TO).map(([key, page]) => ({ keys: `g ${key}`, does: `Go to ${page.label}` })),
  { keys: "/", does: "Search or filter this page" },
  { keys: "j / k", does: "Next / previous review" },
  { keys: "a", does: "Approve the focused review" },
  { keys: "r", does: "Reject the focused review" },
  { keys: "?", does: "Show or hide this list" },
  { keys: "Esc", does: "Close this list" },
];

export type Command =
  | { kind: "go"; path: string }
  | { kind: "search" }
  | { kind: "review"; move: 1 | -1 }
  | { kind: "decide"; decision: "approve" | "reject" }
  | { kind: "help" }
  | { kind: "close" };

/** The command a key means after `previous` (the key before it, if it began a sequence). */
export function commandFor(key: string, previous: string | null): Command | null {
  if (previous === "g") {
    const page = GO_TO[key];
    return page ? { kind: "go", path: page.path } : null;
  }
  switch (key) {
    case "/":
      return { kind: "search" };
    case "j":
      return { kind: "review", move: 1 };
    case "k":
      return { kind: "review", move: -1 };
    case "a":
      return { kind: "decide", decision: "approve" };
    case "r":
      return { kind: "decide", decision: "reject" };
    case "?":
      return { kind: "help" };
    case "Escape":
      return { kind: "close" };
    default:
      return null;
  }
}

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** Listen on the document and hand each command to `run`. */
export function useShortcuts(run: (command: Command) => void): void {
  const runRef = useRef(run);
  runRef.current = run;
  useEffect(() => {
    let previous: string | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      if (typing(event.target) && event.key !== "Escape") return;
      const command = commandFor(event.key, previous);
      clearTimeout(timer);
      previous = event.key === "g" && previous !== "g" ? "g" : null;
      if (previous) timer = setTimeout(() => (previous = null), 1500);
      if (!command) return;
      event.preventDefault();
      runRef.current(command);
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      clearTimeout(timer);
    };
  }, []);
}

/** Carry out a command that acts on the page itself (not navigation or the help list). */
export function actOnPage(command: Command): void {
  if (command.kind === "search") {
    const box = document.querySelector<HTMLInputElement>('main [data-shortcut="search"], main input[type="search"]');
    box?.focus();
    return;
  }
  const reviews = Array.from(document.querySelectorAll<HTMLElement>("main article.review"));
  const current = reviews.find((review) => review.contains(document.activeElement));
  if (command.kind === "review") {
    const index = current ? reviews.indexOf(current) + command.move : 0;
    reviews[Math.min(Math.max(index, 0), reviews.length - 1)]?.focus();
  } else if (command.kind === "decide" && current) {
    current.querySelector<HTMLButtonElement>(`button[data-shortcut="${command.decision}"]:not(:disabled)`)?.click();
  }
}
