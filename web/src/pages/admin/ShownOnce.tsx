// A secret shown once, at its creation (an API key, an invitation token), with a copy button.
import { useState } from "react";
import type { ReactNode } from "react";

export function ShownOnce({ title, value, children }: { title: string; value: string; children?: ReactNode }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="shown-once" role="status">
      <strong>{title}</strong>
      <p className="muted small">It is shown this once; Batonflow keeps only a hash. Copy it now.</p>
      <code className="secret" data-testid="secret">
        {value}
      </code>
      {children}
      <button
        type="button"
        onClick={() => {
          void navigator.clipboard?.writeText(value).then(() => setCopied(true), () => setCopied(false));
        }}
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}
