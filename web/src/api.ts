// The HTTP client: bearer access tokens kept in memory, one refresh on 401 (the refresh token
// lives in an HttpOnly cookie the API sets, which no script here can read), and the API's one
// error envelope turned into `ApiError`.
import type { Login, SessionTokens } from "./types";

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
}

/** Where the access token is kept: in memory, so a reload starts with none (and refreshes). */
export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens | null): void;
}

export function memoryTokenStore(): TokenStore {
  let current: Tokens | null = null;
  return { get: () => current, set: (tokens) => (current = tokens) };
}

/** Whether this browser has signed in (and may hold the refresh cookie): a hint, not a
 * credential, so that a visitor who never signed in is not sent to refresh on every load. */
export interface SessionHint {
  get(): boolean;
  set(signedIn: boolean): void;
}

const HINT_KEY = "batonflow.signed-in";

export const localSessionHint: SessionHint = {
  get() {
    try {
      return window.localStorage.getItem(HINT_KEY) === "1";
    } catch {
      return false;
    }
  },
  set(signedIn) {
    try {
      if (signedIn) window.localStorage.setItem(HINT_KEY, "1");
      else window.localStorage.removeItem(HINT_KEY);
    } catch {
      // storage refused (private mode): the session lasts until the page is closed
    }
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
    readonly store: TokenStore = memoryTokenStore(),
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
    readonly hint: SessionHint = localSessionHint,
  ) {}

  get signedIn(): boolean {
    return this.store.get() !== null || this.hint.get();
  }

  /** A fetch with the access token; without one (after a reload) it refreshes first, and on
   * 401 it refreshes once and sends the request again. */
  async authorized(path: string, init: RequestInit = {}): Promise<Response> {
    if (this.store.get() === null && this.hint.get() && !(await this.refresh())) this.dropSession();
    const send = () => {
      const headers = new Headers(init.headers);
      const tokens = this.store.get();
      if (tokens) headers.set("Authorization", `Bearer ${tokens.access_token}`);
      return this.fetcher(path, { ...init, headers });
    };
    let response = await send();
    if (response.status === 401 && this.store.get()) {
      if (await this.refresh()) response = await send();
      else this.dropSession();
    }
    return response;
  }

  /** Trade the refresh cookie for a new access token (the API rotates the cookie);
   * concurrent callers share one refresh. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const response = await this.fetcher("/api/v1/auth/refresh", { method: "POST", credentials: "same-origin" });
          if (!response.ok) return false;
          const session = (await response.json()) as SessionTokens;
          this.store.set({ access_token: session.access_token });
          this.hint.set(true);
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

  /** Keep the access token of a session the API just opened (sign-in, registration); its
   * refresh token is in the cookie the same answer set. */
  begin(session: SessionTokens): void {
    this.store.set({ access_token: session.access_token });
    this.hint.set(true);
  }

  private dropSession(): void {
    this.store.set(null);
    this.hint.set(false);
    this.onSignedOut();
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
      credentials: "same-origin",
      body: JSON.stringify({ email, password } satisfies Login),
    });
    if (!response.ok) throw await errorFrom(response);
    const session = (await response.json()) as SessionTokens;
    this.begin(session);
    return session;
  }

  /** Sign out: the API revokes the cookie's sign-in and drops the cookie. */
  async logout(): Promise<void> {
    this.store.set(null);
    this.hint.set(false);
    await this.fetcher("/api/v1/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => undefined);
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
