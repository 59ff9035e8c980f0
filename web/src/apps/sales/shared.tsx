// Pieces the money and mail pages share: a download that fetches with the session's token and
// saves the file, a button that asks before it acts, an API error with its problems listed by
// field, a "Load more" pager, and the badges of the records' statuses.
import { useState } from "react";
import type { ReactNode } from "react";
import { ApiError, errorFrom } from "../../api";
import { useSession } from "../../session";
import { ActionButton, messageOf } from "../../ui";

/** A button that downloads `path` (a PDF) with the session's token and saves it under the
 * name the server gives (or `fallback`). */
export function DownloadButton({ path, fallback, children }: { path: string; fallback: string; children: ReactNode }) {
  const { api } = useSession();
  return (
    <ActionButton
      onAction={async () => {
        const response = await api.authorized(path);
        if (!response.ok) throw await errorFrom(response);
        const disposition = response.headers.get("Content-Disposition") ?? "";
        const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback;
        const url = URL.createObjectURL(await response.blob());
        const link = document.createElement("a");
        link.href = url;
        link.download = name;
        document.body.append(link);
        link.click();
        link.remove();
        URL.revokeObjectURL(url);
      }}
    >
      {children}
    </ActionButton>
  );
}

/** A button that asks "Are you sure?" before it runs `onAction`. */
export function ConfirmButton({ label, question, onAction }: { label: string; question: string; onAction: () => Promise<unknown> }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="sales-confirm" role="group" aria-label={question}>
      <span>{question}</span>{" "}
      <ActionButton
        onAction={async () => {
          await onAction();
          setAsking(false);
        }}
      >
        Yes, {label.toLowerCase()}
      </ActionButton>{" "}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** The problems of a refused request, one per field when the API lists them. */
export function Problems({ error, title }: { error: unknown; title: string }) {
  const issues = error instanceof ApiError && Array.isArray(error.details.issues) ? (error.details.issues as string[]) : [];
  return (
    <div className="state state-error" role="alert">
      <strong>{title}</strong>
      {issues.length > 0 ? (
        <ul aria-label="Problems">
          {issues.map((issue) => (
            <li key={issue}>{issue}</li>
          ))}
        </ul>
      ) : (
        <p>{messageOf(error)}</p>
      )}
    </div>
  );
}

/** "Load more" under a keyset page, and the error if the next page could not be read. */
export function Pager({ label, cursor, onMore }: { label: string; cursor: string | null; onMore: (cursor: string) => Promise<void> }) {
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <nav className="pager" aria-label={label}>
        {cursor ? (
          <button
            type="button"
            onClick={() => {
              setError(null);
              onMore(cursor).catch(setError);
            }}
          >
            Load more
          </button>
        ) : null}
      </nav>
      {error ? (
        <p className="inline-error" role="alert">
          More could not be loaded: {messageOf(error)}
        </p>
      ) : null}
    </>
  );
}

const TONES: Record<string, string> = {
  sent: "ok",
  paid: "ok",
  signed: "ok",
  approved: "ok",
  within: "ok",
  accept: "ok",
  sending: "wait",
  unconfirmed: "wait",
  draft: "idle",
  in_review: "wait",
  needs_approval: "wait",
  counter: "wait",
  failed: "bad",
  overdue: "bad",
  void: "idle",
  refused: "bad",
  refuse: "bad",
};

/** A record's status as a badge, coloured by what it asks of a person. */
export function Badge({ status }: { status: string }) {
  return <span className={`badge tone-${TONES[status] ?? "idle"}`}>{status.replace("_", " ")}</span>;
}

/** Whether an API decimal string ("0.00") is zero, read as text rather than as a float. */
export function isZero(amount: string): boolean {
  return /^[+-]?0*(\.0*)?$/.test(amount.trim());
}
