import { useState } from "preact/hooks";
import { ApiError, api } from "./api";
import type { Session } from "./types";

export function Login({ onLogin, note }: { onLogin: (s: Session) => void; note?: string }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(note ?? null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await api<Session>("/api/v1/login", {
        method: "POST",
        body: { username, password },
        quiet401: true,
      });
      onLogin(s);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError("Wrong username or password.");
      else if (err instanceof ApiError && err.status === 429)
        setError(`Too many attempts. Try again in ${err.retryAfter ?? 60} seconds.`);
      else if (err instanceof ApiError && err.unavailable) setError("This server does not offer password login.");
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Tocsin</h1>
        <p class="muted">Physical and cyber security alerts, together.</p>
        <label>
          Username
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <p class="muted small">The demo prints its login when it starts.</p>
      </form>
    </main>
  );
}
