// One small client for the Tocsin API: the session cookie goes with every request, and every
// request that changes something carries the CSRF token from the login answer.

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrf(token: string | null): void {
  csrfToken = token;
}

/** Called when the server says the session is gone (401 on an ordinary request). */
export function setUnauthorizedHandler(f: (() => void) | null): void {
  onUnauthorized = f;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public retryAfter?: number,
  ) {
    super(message);
  }

  /** The endpoint does not exist on this server (yet). */
  get unavailable(): boolean {
    return this.status === 404 || this.status === 405;
  }
}

interface Options {
  method?: string;
  body?: unknown;
  /** Return the body as text rather than JSON. */
  text?: boolean;
  /** Do not treat a 401 as the end of the session (login and session checks). */
  quiet401?: boolean;
}

export async function api<T>(path: string, opts: Options = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { Accept: opts.text ? "text/plain, text/html" : "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const resp = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    try {
      const b = await resp.json();
      if (b?.error?.message) message = b.error.message;
      else if (typeof b?.error === "string") message = b.error;
    } catch {
      // not JSON; keep the status line
    }
    if (resp.status === 401 && !opts.quiet401 && onUnauthorized) onUnauthorized();
    const retry = Number(resp.headers.get("Retry-After") ?? "");
    throw new ApiError(resp.status, message, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  if (resp.status === 204) return undefined as T;
  if (opts.text) return (await resp.text()) as T;
  return (await resp.json()) as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: "POST", body });
export const put = <T>(path: string, body: unknown) => api<T>(path, { method: "PUT", body });
export const del = <T>(path: string) => api<T>(path, { method: "DELETE" });

/** A message for an error of any kind. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.unavailable) return "not available on this server";
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}
