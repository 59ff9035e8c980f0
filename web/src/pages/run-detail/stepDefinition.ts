// A step as the workflow defines it (its entry in the version's spec), and what of it the step
// panel shows as the step's inputs.
import type { WorkflowDetail } from "../../types";

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
