import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { LocalModelNote } from "./LocalModelNote";

afterEach(cleanup);

describe("LocalModelNote", () => {
  it("says the text came from the tiny local model, only where a call used it", () => {
    render(<LocalModelNote calls={[{ provider: "anthropic" }, { provider: "local" }]} />);
    expect(screen.getByTestId("local-model-note").textContent).toBe(
      "Written by the tiny local model (SmolLM2-135M) that lets the demo run offline. It writes short text such as a subject line or " +
        "a friendly sentence; scores and labels come from code. Set a provider key for a capable model.",
    );
    cleanup();
    render(<LocalModelNote calls={[{ provider: "openai" }]} />);
    expect(screen.queryByTestId("local-model-note")).toBeNull();
  });
});
