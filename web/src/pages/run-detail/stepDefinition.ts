// A step as the workflow defines it (its entry in the version's spec), what of it the step
// panel shows as the step's inputs, and what those resolved to on its latest attempt.
import type { Attempt, WorkflowDetail } from "../../types";

export function specStep(workflow: WorkflowDetail | undefined, id: string): Record<string, unknown> | undefined {
  const steps = (workflow?.spec as { steps?: Record<string, unknown>[] } | undefined)?.steps ?? [];
  return steps.find((step) => step.id === id);
}

const NOT_INPUTS = new Set(["id", "needs", "kind", "description", "retry", "timeout"]);

/** What a step is given, from its definition: arguments, prompt, subject, schema; not its
 * place in the graph, its retry policy, nor empty settings. */
export function stepInputs(definition: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!definition) return null;
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(definition)) {
    if (NOT_INPUTS.has(key) || value === null || value === undefined || value === "") continue;
    if (typeof value === "object" && Object.keys(value as object).length === 0) continue;
    shown[key] = value;
  }
  return shown;
}

/** The arguments the step's latest attempt that resolved any was given (templates filled in). */
export function resolvedArgs(attempts: Attempt[], step: string): { attempt: number; args: unknown } | null {
  const found = [...attempts].reverse().find((a) => a.step_key === step && a.args !== null && a.args !== undefined);
  return found ? { attempt: found.attempt, args: found.args } : null;
}
