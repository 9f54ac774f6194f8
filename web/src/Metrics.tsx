// The metrics page: time to alert, MTTA and MTTR per team, alerts by domain over time and the
// noisiest rules, from GET /api/v1/stats; alerts by domain and noise fall back to what the
// dashboard has loaded when the server has no statistics endpoint.

import { useState } from "preact/hooks";
import { ApiError, api } from "./api";
import { BarChart, StackedColumns } from "./charts";
import { Explain, fmtDuration, useLoad } from "./common";
import { useLive } from "./live";

interface Stats {
  time_to_alert?: { p50_ms: number | null; p95_ms: number | null; count: number | null };
  teams?: { team: string; mtta_s: number | null; mttr_s: number | null; incidents: number }[];
  alerts_by_domain?: { bucket: string; counts: Record<string, number> }[];
  noisiest_rules?: { rule: string; alerts: number; false_positive: number; benign: number }[];
}

function hourLabel(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : `${String(d.getHours()).padStart(2, "0")}:00`;
}

export function Metrics() {
  const [hours, setHours] = useState(24);
  const store = useLive();
  const [l] = useLoad(
    () =>
      api<Stats>(`/api/v1/stats?hours=${hours}`).catch((e) => {
        if (e instanceof ApiError && e.unavailable) return null;
        throw e;
      }),
    [hours],
  );
  const [ruleStats] = useLoad(() =>
    api<{ items: { rule: string; raised: number; dispositions: Record<string, number> }[] }>("/api/v1/rules/stats").catch(() => null),
  );
  const stats: Stats | null = l.state === "ok" ? l.data : null;

  // Fallbacks from what is loaded.
  // One bucket per hour of the period (per 6 hours for a week), empty ones included.
  const bucketMs = (hours > 48 ? 6 : 1) * 3600_000;
  const end = Math.ceil(Date.now() / bucketMs) * bucketMs;
  const local: { bucket: string; counts: Record<string, number> }[] = [];
  for (let t = end - Math.ceil((hours * 3600_000) / bucketMs) * bucketMs; t < end; t += bucketMs) {
    local.push({ bucket: new Date(t).toISOString(), counts: {} });
  }
  const start = end - local.length * bucketMs;
  const add = (t: number, domain: string, n: number) => {
    const b = local[Math.floor((t - start) / bucketMs)];
    if (b) b.counts[domain] = (b.counts[domain] ?? 0) + n;
  };
  if (stats?.alerts_by_domain) {
    for (const b of stats.alerts_by_domain) {
      for (const [d, n] of Object.entries(b.counts)) add(Date.parse(b.bucket), d, n);
    }
  } else {
    for (const a of store.alerts.values()) add(Date.parse(a.detected), a.domain, 1);
  }
  const byDomain = local;
  const noisy =
    stats?.noisiest_rules ??
    (ruleStats.state === "ok" && ruleStats.data
      ? ruleStats.data.items
          .map((r) => ({
            rule: r.rule,
            alerts: r.raised,
            false_positive: r.dispositions?.false_positive ?? 0,
            benign: r.dispositions?.benign ?? 0,
          }))
          .sort((a, b) => b.alerts - a.alerts)
          .slice(0, 10)
      : []);
  const tta = stats?.time_to_alert;
  const teams = stats?.teams ?? [];

  return (
    <main class="page metrics">
      <header class="row">
        <h1>Metrics</h1>
        <label>
          Period
          <select value={String(hours)} onChange={(e) => setHours(Number(e.currentTarget.value))}>
            <option value="1">last hour</option>
            <option value="24">last 24 hours</option>
            <option value="168">last 7 days</option>
          </select>
        </label>
      </header>
      {l.state === "loading" && <p class="muted">Loading…</p>}
      {l.state === "error" && <p class="error">{l.message}</p>}
      {l.state === "ok" && !l.data && (
        <p class="muted">This server has no statistics endpoint; the charts below use the alerts loaded in this page.</p>
      )}
      <div class="chart-grid">
        <BarChart
          title="Time to alert (event to alert)"
          bars={[
            { label: "p50", value: tta?.p50_ms ?? null, text: fmtDuration((tta?.p50_ms ?? NaN) / 1000) },
            { label: "p95", value: tta?.p95_ms ?? null, text: fmtDuration((tta?.p95_ms ?? NaN) / 1000) },
          ]}
        />
        <BarChart
          title="MTTA per team (mean time to acknowledge)"
          bars={teams.map((t) => ({ label: t.team, value: t.mtta_s, text: `${fmtDuration(t.mtta_s)} (${t.incidents})`, colour: "#ffb454" }))}
        />
        <BarChart
          title="MTTR per team (mean time to resolve)"
          bars={teams.map((t) => ({ label: t.team, value: t.mttr_s, text: `${fmtDuration(t.mttr_s)} (${t.incidents})`, colour: "#9ccc65" }))}
        />
        <BarChart
          title="Noisiest rules (alerts; false positive + benign)"
          bars={noisy.map((r) => ({
            label: r.rule,
            value: r.alerts,
            text: `${r.alerts} (${r.false_positive + r.benign} noise)`,
            colour: "#c7a6ff",
          }))}
        />
      </div>
      <StackedColumns title="Alerts by domain over time" buckets={byDomain.map((b) => ({ label: hourLabel(b.bucket), counts: b.counts }))} />
      <p class="muted small">
        <Explain text="MTTA and MTTR count from the moment an incident opens; the time to alert runs from the event to the alert." />
      </p>
    </main>
  );
}
