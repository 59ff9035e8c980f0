import { describe, expect, it } from "vitest";
import { stepInputs } from "./stepDefinition";

describe("stepInputs", () => {
  it("shows what a step is given without its place in the graph", () => {
    expect(stepInputs({ id: "a", kind: "llm", needs: ["b"], retry: { max_attempts: 2 }, args: {}, prompt: "Hi {{ x }}", description: "" })).toEqual({ prompt: "Hi {{ x }}" });
    expect(stepInputs(undefined)).toBeNull();
  });
});
