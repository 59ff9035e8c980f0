// The HTTP client: bearer tokens, one refresh on 401 (rotation: the new pair replaces the old),
// and the API's one error envelope turned into `ApiError`.
import type { Login, RefreshRequest, SessionTokens } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

const STORAGE_KEY = "batonflow.session";

export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export const localTokenStore: TokenStore = {
  get() {
    try {
      const raw = window.localStorage.getItem(STORAGE_KEY);
      return raw ? (JSON.parse(raw) as Tokens) : null;
    } catch {
      return null;
    }
  },
  set(tokens) {
    if (tokens) window.localStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else window.localStorage.removeItem(STORAGE_KEY);
  },
};

export async function errorFrom(response: Response): Promise<ApiError> {
  let code = "http_error";
  let message = `${response.status} ${response.statusText}`.trim();
  let details: Record<string, unknown> = {};
  try {
    const body = (await response.json()) as {
      error?: { code?: string; message?: string; details?: Record<string, unknown> };
    };
    if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      details = body.error.details ?? {};
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message, details);
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export class Api {
  private refreshing: Promise<boolean> | null = null;
  onSignedOut: () => void = () => {};

  constructor(
    readonly store: TokenStore = localTokenStore,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
  ) {}

  get signedIn(): boolean {
    return this.store.get() !== null;
  }

  /** A fetch with the access token; on 401 refreshes once and sends the request again. */
  async authorized(path: string, init: RequestInit = {}): Promise<Response> {
    const send = () => {
      const headers = new Headers(init.headers);
      const tokens = this.store.get();
      if (tokens) headers.set("Authorization", `Bearer ${tokens.access_token}`);
      return this.fetcher(path, { ...init, headers });
    };
    let response = await send();
    if (response.status === 401 && this.store.get()) {
      if (await this.refresh()) response = await send();
      else {
        this.store.set(null);
        this.onSignedOut();
      }
    }
    return response;
  }

  /** Trade the refresh token for a new pair; concurrent callers share one refresh. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const tokens = this.store.get();
        if (!tokens) return false;
        try {
          const response = await this.fetcher("/api/v1/auth/refresh", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ refresh_token: tokens.refresh_token } satisfies RefreshRequest),
          });
          if (!response.ok) return false;
          const session = (await response.json()) as SessionTokens;
          this.store.set({
            access_token: session.access_token,
            refresh_token: session.refresh_token,
          });
          return true;
        } catch {
          return false;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const response = await this.authorized(path, init);
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }

  async login(email: string, password: string): Promise<SessionTokens> {
    const response = await this.fetcher("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password } satisfies Login),
    });
    if (!response.ok) throw await errorFrom(response);
    const session = (await response.json()) as SessionTokens;
    this.store.set({ access_token: session.access_token, refresh_token: session.refresh_token });
    return session;
  }

  async logout(): Promise<void> {
    const tokens = this.store.get();
    this.store.set(null);
    if (tokens) {
      await this.fetcher("/api/v1/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh_token } satisfies RefreshRequest),
      }).catch(() => undefined);
    }
  }
}

export function query(params: Record<string, string | number | null | undefined | string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((item) => search.append(name, item));
    else search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
