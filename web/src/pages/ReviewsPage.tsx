// The review queue: each waiting `review` step shows what it asks a person to approve (an
// email as an email), with approve, reject and edit-and-approve; an `input` step shows the
// form its schema describes. The queue refreshes itself, so decisions by others show up.
import { useEffect, useState } from "react";
import { RunLink } from "../components/RunLink";
import { SchemaForm } from "../components/SchemaForm";
import { When } from "../components/When";
import { canDecide } from "../roles";
import { navigate, useLocation } from "../router";
import { useMe, useSession } from "../session";
import type { Decision, JsonSchema, Review, ReviewList } from "../types";
import { ActionButton, Empty, Json, Show, StatusBadge, useLoad, usePageTitle } from "../ui";

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isEmail(value: unknown): value is Plain {
  return isPlain(value) && "body" in value && ("to" in value || "subject" in value);
}

export function Subject({ value }: { value: unknown }) {
  if (isEmail(value)) {
    const rest = Object.entries(value).filter(([key]) => !["to", "subject", "body"].includes(key));
    return (
      <div className="email" data-testid="email">
        <dl className="facts">
          <dt>To</dt>
          <dd>{String(value.to ?? "—")}</dd>
          <dt>Subject</dt>
          <dd>
            <strong>{String(value.subject ?? "—")}</strong>
          </dd>
        </dl>
        <div className="email-body">{String(value.body ?? "")}</div>
        {rest.length > 0 ? <Json value={Object.fromEntries(rest)} label="Other fields" /> : null}
      </div>
    );
  }
  if (isPlain(value)) {
    return (
      <dl className="facts">
        {Object.entries(value).map(([key, item]) => (
          <div key={key} className="fact">
            <dt>{key}</dt>
            <dd>{typeof item === "object" && item !== null ? <Json value={item} /> : String(item)}</dd>
          </div>
        ))}
      </dl>
    );
  }
  return <Json value={value} label="Subject" />;
}

/** A schema for editing a subject: its scalar fields become inputs. */
export function editSchema(subject: Plain): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [key, value] of Object.entries(subject)) {
    const type = typeof value === "number" ? "number" : typeof value === "boolean" ? "boolean" : typeof value === "string" ? "string" : "object";
    properties[key] = { type: Array.isArray(value) ? "array" : type };
  }
  // A field the draft filled in stays filled in: an email keeps its address, subject and body.
  const required = Object.entries(subject)
    .filter(([, value]) => typeof value === "string" && value !== "")
    .map(([key]) => key);
  return { type: "object", properties, required };
}

/** What the card asks, in words: an email by its address, otherwise the step by name. */
export function reviewTitle(review: Pick<Review, "kind" | "step_key" | "subject">): string {
  if (review.kind === "input") return `Information for step “${review.step_key}”`;
  if (isEmail(review.subject) && review.subject.to) return `Email to ${String(review.subject.to)}`;
  return `Decision on step “${review.step_key}”`;
}

function ReviewCard({ review, onDecided }: { review: Review; onDecided: () => void }) {
  const { api } = useSession();
  const me = useMe();
  const [comment, setComment] = useState("");
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const may = canDecide(me, review) && review.status === "pending";
  const decide = async (decision: Decision["decision"], data?: unknown) => {
    setError(null);
    await api.post(`/api/v1/reviews/${review.id}/decision`, { decision, data: data ?? null, comment: comment.trim() || null } satisfies Decision);
    onDecided();
  };
  const commentId = `comment-${review.id}`;
  return (
    <article className="card review" aria-labelledby={`review-${review.id}`} data-review={review.id} tabIndex={-1}>
      <header className="review-head">
        <h2 id={`review-${review.id}`}>
          {reviewTitle(review)}
        </h2>
        <StatusBadge status={review.status} />
      </header>
      <p className="muted small">
        Step <span className="mono">{review.step_key}</span> of run <RunLink id={review.run_id} /> · asked{" "}
        <When iso={review.created_at} />
        {review.reviewers.length ? ` · for ${review.reviewers.join(", ")}` : ""}
      </p>
      {review.instructions ? <p className="instructions">{review.instructions}</p> : null}
      {review.kind === "review" ? <Subject value={review.subject} /> : null}
      {review.status !== "pending" ? (
        <p className="decided">
          {review.decision ?? review.status} by {review.decided_by ?? "—"} <When iso={review.decided_at} />
          {review.comment ? `: “${review.comment}”` : ""}
        </p>
      ) : null}
      {may ? (
        review.kind === "input" ? (
          <SchemaForm schema={review.input_schema} submitLabel="Submit" onSubmit={(data) => decide("submit", data).catch(setError)} />
        ) : editing && isPlain(review.subject) ? (
          <SchemaForm
            schema={editSchema(review.subject)}
            initial={review.subject}
            submitLabel="Approve with these edits"
            onSubmit={(data) => decide("edit", { ...(review.subject as Plain), ...data }).catch(setError)}
          >
            <button type="button" className="link" onClick={() => setEditing(false)}>
              Stop editing
            </button>
          </SchemaForm>
        ) : (
          <div className="decide">
            <div className="field">
              <label htmlFor={commentId}>Comment (optional)</label>
              <input id={commentId} value={comment} onChange={(e) => setComment(e.target.value)} />
            </div>
            <div className="actions">
              <ActionButton className="primary" shortcut="approve" onAction={() => decide("approve")}>
                Approve
              </ActionButton>
              {review.allow_edit && isPlain(review.subject) ? (
                <button type="button" onClick={() => setEditing(true)}>
                  Edit and approve…
                </button>
              ) : null}
              <ActionButton className="danger" shortcut="reject" onAction={() => decide("reject")}>
                Reject
              </ActionButton>
            </div>
          </div>
        )
      ) : review.status === "pending" ? (
        <p className="muted">Your role may not decide this one.</p>
      ) : null}
      {error ? (
        <p className="inline-error" role="alert">
          {error instanceof Error ? error.message : String(error)}
        </p>
      ) : null}
    </article>
  );
}

export function ReviewsPage() {
  usePageTitle("Reviews");
  const { api } = useSession();
  const { search } = useLocation();
  const status = search.get("status") === "any" ? "any" : "pending";
  const reviews = useLoad(() => api.get<ReviewList>(`/api/v1/reviews?status=${status}&limit=100`), status);
  const reload = reviews.reload;
  useEffect(() => {
    const interval = setInterval(() => void reload(), 4000);
    return () => clearInterval(interval);
  }, [reload]);
  return (
    <section>
      <div className="page-head">
        <h1>Reviews</h1>
        <div className="segmented" role="group" aria-label="Which reviews">
          <button type="button" aria-pressed={status === "pending"} onClick={() => navigate("/reviews", true)}>
            Waiting
          </button>
          <button type="button" aria-pressed={status === "any"} onClick={() => navigate("/reviews?status=any", true)}>
            All
          </button>
        </div>
      </div>
      <Show loaded={reviews} label="Loading the queue…">
        {(page) => {
          const items = status === "any" ? [...page.items].reverse() : page.items;
          return items.length === 0 ? (
            <Empty>{status === "pending" ? "Nothing is waiting for a person. New reviews appear here by themselves." : "No reviews yet."}</Empty>
          ) : (
            <div className="review-list">
              {items.map((review) => (
                <ReviewCard key={review.id} review={review} onDecided={() => void reload()} />
              ))}
            </div>
          );
        }}
      </Show>
    </section>
  );
}
