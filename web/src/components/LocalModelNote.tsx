// A small notice where a run or step used the local model: it is a tiny model (SmolLM2-135M)
// that ships with Batonflow so the demo runs offline, good for short text, not for judgement.
import type { LlmCall } from "../types";

export function LocalModelNote({ calls }: { calls: Pick<LlmCall, "provider">[] }) {
  if (!calls.some((call) => call.provider === "local")) return null;
  return (
    <p className="model-note" data-testid="local-model-note">
      Written by the tiny local model (SmolLM2-135M) that lets the demo run offline. It writes short text such as a subject line or
      a friendly sentence; scores and labels come from code. Set a provider key for a capable model.
    </p>
  );
}
