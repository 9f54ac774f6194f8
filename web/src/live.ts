// The live state of the dashboard: alerts and incidents loaded once, then kept current by the
// Server-Sent Events stream. Components subscribe with `useLive()`.

import { useEffect, useState } from "preact/hooks";
import { api } from "./api";
import type { Alert, Incident, Page } from "./types";
import { HIGH_SEVERITY } from "./types";

export type LinkState = "connecting" | "live" | "reconnecting" | "closed";

/** Most alerts kept in memory; the oldest go first. */
const MAX_ALERTS = 1000;

class LiveStore {
  alerts = new Map<string, Alert>();
  incidents = new Map<string, Incident>();
  /** Alerts that arrived over the stream since the page loaded. */
  fresh = new Set<string>();
  link: LinkState = "closed";
  lastHigh: Alert | null = null;
  version = 0;
  private listeners = new Set<() => void>();
  private highListeners = new Set<(a: Alert) => void>();
  private source: EventSource | null = null;

  subscribe(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  onHigh(f: (a: Alert) => void): () => void {
    this.highListeners.add(f);
    return () => this.highListeners.delete(f);
  }

  private changed(): void {
    this.version++;
    for (const f of this.listeners) f();
  }

  async reload(): Promise<void> {
    const [alerts, incidents] = await Promise.all([
      api<Page<Alert>>("/api/v1/alerts?limit=500"),
      api<Page<Incident>>("/api/v1/incidents?limit=500"),
    ]);
    // Merged, not replaced: what the stream delivered while the lists loaded stays.
    for (const a of alerts.items) {
      const have = this.alerts.get(a.id);
      if (!have || have.last_seen <= a.last_seen) this.alerts.set(a.id, a);
    }
    for (const i of incidents.items) {
      const have = this.incidents.get(i.id);
      if (!have || have.updated <= i.updated) this.incidents.set(i.id, i);
    }
    this.changed();
  }

  putAlert(a: Alert, isNew = false): void {
    this.alerts.set(a.id, a);
    if (isNew) this.fresh.add(a.id);
    if (this.alerts.size > MAX_ALERTS) {
      const oldest = [...this.alerts.values()].sort((x, y) => x.detected.localeCompare(y.detected))[0];
      if (oldest) this.alerts.delete(oldest.id);
    }
    if (isNew && a.severity >= HIGH_SEVERITY) {
      this.lastHigh = a;
      for (const f of this.highListeners) f(a);
    }
    this.changed();
  }

  putIncident(i: Incident): void {
    const have = this.incidents.get(i.id);
    if (i.partial && have) {
      // The stream sent only the latest alerts: keep the ones already known, so that every
      // alert still finds its incident.
      const sent = new Set(i.alerts.map((a) => a.id));
      i = { ...i, alerts: [...have.alerts.filter((a) => !sent.has(a.id)), ...i.alerts] };
    }
    this.incidents.set(i.id, i);
    this.changed();
  }

  connect(): void {
    this.disconnect();
    this.link = "connecting";
    this.changed();
    const es = new EventSource("/api/v1/stream");
    this.source = es;
    const json = <T>(e: Event): T | null => {
      try {
        return JSON.parse((e as MessageEvent).data) as T;
      } catch {
        return null;
      }
    };
    es.onopen = () => {
      const wasDown = this.link === "reconnecting";
      this.link = "live";
      this.changed();
      // Anything may have happened while the link was down.
      if (wasDown) void this.reload().catch(() => undefined);
    };
    es.onerror = () => {
      this.link = es.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
      this.changed();
    };
    es.addEventListener("alert.new", (e) => {
      const a = json<Alert>(e);
      if (a) this.putAlert(a, true);
    });
    es.addEventListener("alert.updated", (e) => {
      const a = json<Alert>(e);
      if (a) this.putAlert(a);
    });
    es.addEventListener("incident.new", (e) => {
      const i = json<Incident>(e);
      if (i) this.putIncident(i);
    });
    es.addEventListener("incident.updated", (e) => {
      const i = json<Incident>(e);
      if (i) this.putIncident(i);
    });
    es.addEventListener("lagged", () => {
      void this.reload().catch(() => undefined);
    });
  }

  /** Forgets everything (on sign-out). */
  reset(): void {
    this.disconnect();
    this.alerts.clear();
    this.incidents.clear();
    this.fresh.clear();
    this.lastHigh = null;
    this.changed();
  }

  disconnect(): void {
    this.source?.close();
    this.source = null;
    this.link = "closed";
  }

  /** The incident an alert belongs to, if it is loaded. */
  incidentOf(alertId: string): Incident | undefined {
    for (const inc of this.incidents.values()) {
      if (inc.alerts.some((a) => a.id === alertId)) return inc;
    }
    return undefined;
  }
}

export const live = new LiveStore();

/** Re-renders the component whenever the live state changes. */
export function useLive(): LiveStore {
  const [, setVersion] = useState(live.version);
  useEffect(() => live.subscribe(() => setVersion(live.version)), []);
  return live;
}
