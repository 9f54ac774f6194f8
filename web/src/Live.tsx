// The live view: the alert feed (kept current by the stream) with filters, the selected alert's
// details, and the map beside it. Keys: j/k move through the feed, a acknowledges.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, post } from "./api";
import { DomainBadge, Explain, SeverityBadge, Time, Value } from "./common";
import { live, useLive } from "./live";
import { MapView, alertPlace } from "./MapView";
import { useOrg } from "./org";
import type { Alert, EventRecord, Incident, Page } from "./types";
import { DISPOSITIONS, HIGH_SEVERITY, SEVERITY_NAMES } from "./types";

interface Filters {
  domain: string;
  severity: number;
  site: string;
  team: string;
  status: string;
}

// Kept across visits to the view.
const ui = {
  filters: { domain: "", severity: 0, site: "", team: "", status: "" } as Filters,
  selected: null as string | null,
};

export function selectAlert(id: string | null): void {
  ui.selected = id;
}

function teamOf(a: Alert, incidents: Map<string, Incident>): string | undefined {
  for (const inc of incidents.values()) {
    if (inc.alerts.some((x) => x.id === a.id)) return inc.assignment?.team ?? undefined;
  }
  return undefined;
}

export function Live({ tileUrl }: { tileUrl?: string | null }) {
  const store = useLive();
  const org = useOrg();
  const [filters, setFiltersState] = useState<Filters>(ui.filters);
  const [selected, setSelectedState] = useState<string | null>(ui.selected);
  const [events, setEvents] = useState<EventRecord[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const [disposition, setDisposition] = useState("");
  const listRef = useRef<HTMLOListElement>(null);

  const setFilters = (f: Filters) => {
    ui.filters = f;
    setFiltersState(f);
  };
  const setSelected = (id: string | null) => {
    ui.selected = id;
    setSelectedState(id);
  };

  // Recent events for the map, refreshed while the view is open.
  useEffect(() => {
    let live = true;
    const load = () =>
      api<Page<EventRecord>>("/api/v1/events?limit=200").then(
        (p) => live && setEvents(p.items.filter((e) => e.geo)),
        () => undefined,
      );
    void load();
    const t = window.setInterval(load, 20_000);
    return () => {
      live = false;
      window.clearInterval(t);
    };
  }, []);

  const alerts = useMemo(() => {
    const all = [...store.alerts.values()].sort((a, b) => b.detected.localeCompare(a.detected));
    return all.filter(
      (a) =>
        (!filters.domain || a.domain === filters.domain) &&
        a.severity >= filters.severity &&
        (!filters.site || a.site_id === filters.site) &&
        (!filters.status || a.status === filters.status) &&
        (!filters.team || teamOf(a, store.incidents) === filters.team),
    );
  }, [store.version, filters]);

  const siteIds = useMemo(() => {
    const ids = new Set(org.sites.map((s) => s.id));
    for (const a of store.alerts.values()) if (a.site_id) ids.add(a.site_id);
    return [...ids].sort();
  }, [org.sites, store.version]);

  const domains = useMemo(() => {
    const d = new Set(["cyber", "physical", "public"]);
    for (const a of store.alerts.values()) d.add(a.domain);
    return [...d];
  }, [store.version]);

  const siteMap = useMemo(() => new Map(org.sites.map((s) => [s.id, s])), [org.sites]);
  const current = selected ? store.alerts.get(selected) ?? null : null;
  const incident = current ? store.incidentOf(current.id) : undefined;

  async function acknowledge(a: Alert | null) {
    if (!a) return;
    setMessage(null);
    try {
      const r = await post<{ alert: Alert; incident: string | null }>(`/api/v1/alerts/${a.id}/ack`, disposition ? { disposition } : {});
      live.putAlert(r.alert);
      setMessage(`Acknowledged “${r.alert.title}”.`);
    } catch (e) {
      setMessage(`Could not acknowledge: ${errorText(e)}`);
    }
  }

  // Keyboard: j/k next/previous, a acknowledge.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      const i = alerts.findIndex((a) => a.id === ui.selected);
      if (e.key === "j" || e.key === "k") {
        e.preventDefault();
        const next = e.key === "j" ? Math.min(i + 1, alerts.length - 1) : Math.max(i - 1, 0);
        const a = alerts[i < 0 ? 0 : next];
        if (a) setSelected(a.id);
      } else if (e.key === "a") {
        e.preventDefault();
        void acknowledge(ui.selected ? store.alerts.get(ui.selected) ?? null : null);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [alerts, disposition]);

  // Keep the selected item in view.
  useEffect(() => {
    if (!selected) return;
    listRef.current?.querySelector(`[data-id="${CSS.escape(selected)}"]`)?.scrollIntoView({ block: "nearest" });
  }, [selected]);

  return (
    <div class="live">
      <section class="feed" aria-label="Alert feed">
        <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
          <label>
            Domain
            <select name="domain" value={filters.domain} onChange={(e) => setFilters({ ...filters, domain: e.currentTarget.value })}>
              <option value="">all</option>
              {domains.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
          <label>
            Severity
            <select
              name="severity"
              value={String(filters.severity)}
              onChange={(e) => setFilters({ ...filters, severity: Number(e.currentTarget.value) })}
            >
              {SEVERITY_NAMES.map((n, i) => (
                <option key={n} value={String(i)}>
                  {i === 0 ? "any" : `${n}+`}
                </option>
              ))}
            </select>
          </label>
          <label>
            Site
            <select name="site" value={filters.site} onChange={(e) => setFilters({ ...filters, site: e.currentTarget.value })}>
              <option value="">all</option>
              {siteIds.map((s) => (
                <option key={s} value={s}>
                  {org.sites.find((x) => x.id === s)?.name ?? s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Team
            <select name="team" value={filters.team} onChange={(e) => setFilters({ ...filters, team: e.currentTarget.value })}>
              <option value="">all</option>
              {org.teams.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.name ?? t.id}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status
            <select name="status" value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
              <option value="">all</option>
              <option value="open">open</option>
              <option value="acknowledged">acknowledged</option>
              <option value="closed">closed</option>
            </select>
          </label>
        </form>
        <p class="muted small" aria-live="polite">
          {alerts.length} alert{alerts.length === 1 ? "" : "s"} · j/k to move, a to acknowledge, ? for help
        </p>
        <ol class="alerts" ref={listRef} aria-label="Alerts" aria-live="polite">
          {alerts.map((a) => (
            <li
              key={a.id}
              data-id={a.id}
              data-status={a.status}
              data-fresh={store.fresh.has(a.id) ? "true" : undefined}
              data-located={alertPlace(a, siteMap) ? "true" : undefined}
              class={`alert dom-${a.domain} ${a.severity >= HIGH_SEVERITY ? "high" : ""} ${a.id === selected ? "selected" : ""} ${a.status}`}
              aria-current={a.id === selected ? "true" : undefined}
            >
              <button type="button" class="alert-main" onClick={() => setSelected(a.id)}>
                <span class="alert-title">
                  <Explain text={a.title} />
                  {a.count > 1 && <span class="count"> ×{a.count}</span>}
                </span>
                <span class="alert-meta">
                  <DomainBadge domain={a.domain} /> <SeverityBadge severity={a.severity} />{" "}
                  <span class={`status st-${a.status}`}>{a.status}</span> · <Time t={a.detected} />
                  {a.site_id ? ` · ${a.site_id}` : ""}
                </span>
              </button>
            </li>
          ))}
        </ol>
      </section>
      <section class="mapcol" aria-label="Map and details">
        <MapView
          alerts={alerts}
          selected={selected}
          sites={org.sites}
          people={org.people}
          events={events}
          tileUrl={tileUrl}
          onSelect={(id) => setSelected(id)}
        />
        {current ? (
          <article class="detail" aria-label="Selected alert">
            <h2>
              <Explain text={current.title} />
            </h2>
            <p>
              <DomainBadge domain={current.domain} /> <SeverityBadge severity={current.severity} />{" "}
              <span class={`status st-${current.status}`} data-testid="alert-status">
                {current.status}
              </span>{" "}
              · {current.detector}
              {current.rule ? `/${current.rule}` : ""} · first seen <Time t={current.time} />
            </p>
            <p class="summary">
              <Explain text={current.summary} />
            </p>
            {Object.keys(current.entities ?? {}).length > 0 && (
              <dl class="entities">
                {Object.entries(current.entities).map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd>
                      <Value v={v} />
                    </dd>
                  </div>
                ))}
              </dl>
            )}
            <div class="actions">
              <label>
                Disposition
                <select value={disposition} onChange={(e) => setDisposition(e.currentTarget.value)}>
                  <option value="">(none yet)</option>
                  {DISPOSITIONS.map((d) => (
                    <option key={d} value={d}>
                      {d.replace("_", " ")}
                    </option>
                  ))}
                </select>
              </label>
              <button type="button" onClick={() => acknowledge(current)} disabled={current.status !== "open"}>
                Acknowledge (a)
              </button>
              {incident && (
                <a class="button secondary" href={`#/incidents/${incident.id}`}>
                  Open incident
                </a>
              )}
            </div>
            {message && (
              <p class="note" role="status">
                {message}
              </p>
            )}
          </article>
        ) : (
          <p class="muted detail">Select an alert to see it on the map.</p>
        )}
      </section>
    </div>
  );
}
