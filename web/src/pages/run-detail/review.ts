// What a person decided on a review step, read from the step's output (what the run used
// downstream) and its waiting attempt's resolved subject (what the person was shown).
import type { Attempt, StepState } from "../../types";

export interface ReviewOutcome {
  decision: string;
  by: string;
  comment: string | null;
  /** What the run used downstream: the edited subject after an edit. */
  used: unknown;
  /** What the person was asked to approve, when an edit replaced it. */
  original: unknown;
  edited: boolean;
}

export function reviewOutcome(step: StepState | undefined, attempts: Attempt[]): ReviewOutcome | null {
  const result = step?.result as Record<string, unknown> | null | undefined;
  if (!step || step.kind !== "review" || step.status !== "succeeded" || !result || typeof result.decision !== "string") return null;
  const shown = [...attempts].reverse().find((a) => a.step_key === step.key && a.status === "waiting");
  const args = shown?.args as Record<string, unknown> | null | undefined;
  const edited = result.decision === "edit";
  return {
    decision: result.decision,
    by: String(result.by ?? ""),
    comment: typeof result.comment === "string" && result.comment ? result.comment : null,
    used: result.subject,
    original: edited ? args?.subject ?? null : null,
    edited,
  };
}

const DECIDED: Record<string, string> = { approve: "approved", edit: "edited and approved", reject: "rejected", submit: "submitted" };

export function decidedLabel(decision: string): string {
  return DECIDED[decision] ?? decision;
}
