// Small shared pieces: term explanations, badges, times, generic JSON tables, loaders.

import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorText } from "./api";
import { splitTerms } from "./glossary";
import { severityName } from "./types";

/** Text with every glossary term wrapped in an explanation. */
export function Explain({ text }: { text: string }) {
  return (
    <>
      {splitTerms(text).map((p, i) =>
        typeof p === "string" ? (
          p
        ) : (
          <abbr key={i} class="term" title={p.term.short} tabIndex={0} data-term={p.term.term}>
            {p.word}
          </abbr>
        ),
      )}
    </>
  );
}

export function DomainBadge({ domain }: { domain: string }) {
  return <span class={`badge dom-${domain}`}>{domain}</span>;
}

export function SeverityBadge({ severity }: { severity: number }) {
  return <span class={`badge sev sev-${severity}`}>{severityName(severity)}</span>;
}

export function fmtTime(t: string | null | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function Time({ t }: { t: string | null | undefined }) {
  return <time dateTime={t ?? undefined}>{fmtTime(t)}</time>;
}

export function fmtDuration(secs: number | null | undefined): string {
  if (secs == null || !Number.isFinite(secs)) return "—";
  if (secs < 1) return `${Math.round(secs * 1000)} ms`;
  if (secs < 120) return `${secs.toFixed(secs < 10 ? 1 : 0)} s`;
  if (secs < 7200) return `${(secs / 60).toFixed(1)} min`;
  return `${(secs / 3600).toFixed(1)} h`;
}

/** A value of unknown shape, readable. */
export function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <span class="muted">—</span>;
  if (typeof v === "string") return <>{v}</>;
  if (typeof v === "number" || typeof v === "boolean") return <>{String(v)}</>;
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return <>{v.join(", ")}</>;
  return <code class="json">{JSON.stringify(v)}</code>;
}

/** Any list of objects as a table with the union of their keys. */
export function JsonTable({ rows, empty = "Nothing here." }: { rows: unknown; empty?: string }) {
  if (!Array.isArray(rows)) {
    if (rows && typeof rows === "object") {
      return (
        <table class="kv">
          <tbody>
            {Object.entries(rows as Record<string, unknown>).map(([k, v]) => (
              <tr key={k}>
                <th scope="row">{k}</th>
                <td>
                  {Array.isArray(v) && v.some((x) => x && typeof x === "object") ? <JsonTable rows={v} /> : <Value v={v} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      );
    }
    return <Value v={rows} />;
  }
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  const keys: string[] = [];
  for (const r of rows) {
    if (r && typeof r === "object") for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  }
  if (keys.length === 0) return <Value v={rows} />;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            {keys.map((k) => (
              <th key={k} scope="col">
                {k}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {keys.map((k) => (
                <td key={k}>
                  <Value v={(r as Record<string, unknown>)?.[k]} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export type Loaded<T> = { state: "loading" } | { state: "ok"; data: T } | { state: "error"; message: string };

/** Loads once (and again when `deps` change); `reload` fetches again. */
export function useLoad<T>(f: () => Promise<T>, deps: unknown[] = []): [Loaded<T>, () => void] {
  const [state, setState] = useState<Loaded<T>>({ state: "loading" });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    f().then(
      (data) => live && setState({ state: "ok", data }),
      (e) => live && setState({ state: "error", message: errorText(e) }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return [state, () => setN((x) => x + 1)];
}

/** Renders a loaded value, a spinner line or the error. */
export function Show<T>({ l, children }: { l: Loaded<T>; children: (d: T) => ComponentChildren }) {
  if (l.state === "loading") return <p class="muted">Loading…</p>;
  if (l.state === "error") return <p class="error" role="alert">{l.message}</p>;
  return <>{children(l.data)}</>;
}
