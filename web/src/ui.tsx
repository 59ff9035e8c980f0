// Shared pieces: data loading with its three states, status badges, JSON, gates.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ReactNode } from "react";
import { ApiError } from "./api";
import { can } from "./roles";
import type { Action } from "./roles";
import { useSession } from "./session";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (update: T | ((old: T | undefined) => T | undefined)) => void;
}

/** Load `fetcher()` now and whenever `key` changes; the last answer wins. */
export function useLoad<T>(fetcher: () => Promise<T>, key: string): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;
  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    setLoading(true);
    try {
      const value = await fetcherRef.current();
      if (ticket === latest.current) {
        setData(value);
        setError(null);
      }
    } catch (caught) {
      if (ticket === latest.current) {
        setError(caught instanceof Error ? caught : new Error(String(caught)));
      }
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [key, reload]);
  return { data, error, loading, reload, setData };
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorBox({ error, onRetry, title = "Something went wrong" }: { error: unknown; onRetry?: () => void; title?: string }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <div className="state state-error" role="alert">
      <strong>{notFound ? "Not found" : title}</strong>
      <p>{messageOf(error)}</p>
      {onRetry && !notFound ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

/** Loading, error or the content, from one `useLoad`. */
export function Show<T>({ loaded, children, label }: { loaded: Loaded<T>; children: (data: T) => ReactNode; label?: string }) {
  if (loaded.data === undefined) {
    if (loaded.error) return <ErrorBox error={loaded.error} onRetry={() => void loaded.reload()} />;
    return <Loading label={label} />;
  }
  return (
    <>
      {loaded.error ? <ErrorBox error={loaded.error} onRetry={() => void loaded.reload()} title="Could not refresh" /> : null}
      {children(loaded.data)}
    </>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status}</span>;
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  if (value === undefined || value === null) return <span className="muted">none</span>;
  return (
    <pre className="json" aria-label={label} tabIndex={0}>
      {typeof value === "string" ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Its children only when the principal may do `action`. */
export function Can({ action, children }: { action: Action; children: ReactNode }) {
  const { me } = useSession();
  return can(me, action) ? <>{children}</> : null;
}

/** A button that runs an async action, shows it is busy and reports its error next to it. */
export function ActionButton({
  onAction,
  children,
  className,
  disabled,
  shortcut,
}: {
  onAction: () => Promise<unknown>;
  children: ReactNode;
  className?: string;
  disabled?: boolean;
  /** the keyboard shortcut that presses it (shortcuts.ts), e.g. "approve" */
  shortcut?: string;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <span className="action">
      <button
        type="button"
        className={className}
        data-shortcut={shortcut}
        disabled={busy || disabled}
        aria-busy={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await onAction();
          } catch (caught) {
            setError(caught);
          } finally {
            setBusy(false);
          }
        }}
      >
        {children}
      </button>
      {error ? (
        <span className="inline-error" role="alert">
          {messageOf(error)}
        </span>
      ) : null}
    </span>
  );
}

export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Batonflow`;
  }, [title]);
}
