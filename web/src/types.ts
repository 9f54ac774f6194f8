// The shapes the Tocsin API answers with (only the fields the dashboard reads).

export type Domain = "cyber" | "physical" | "public" | string;

export interface Geo {
  lat: number;
  lon: number;
  radius_m?: number;
  polygon?: [number, number][];
}

export interface Alert {
  id: string;
  tenant: string;
  detector: string;
  rule?: string;
  domain: Domain;
  severity: number;
  title: string;
  summary: string;
  status: "open" | "acknowledged" | "closed";
  time: string;
  ingested: string;
  detected: string;
  last_seen: string;
  count: number;
  evidence: string[];
  entities: Record<string, unknown>;
  geo?: Geo;
  site_id?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export type IncidentState = "new" | "acknowledged" | "investigating" | "contained" | "resolved" | "closed";

export const INCIDENT_STATES: IncidentState[] = [
  "new",
  "acknowledged",
  "investigating",
  "contained",
  "resolved",
  "closed",
];

export const DISPOSITIONS = ["true_positive", "benign", "false_positive", "duplicate", "exercise"];

export interface IncidentAlert {
  id: string;
  detector: string;
  rule?: string;
  title: string;
  domain: Domain;
  severity: number;
  time: string;
  entities?: Record<string, unknown>;
  site_id?: string;
  disposition?: string;
  acknowledged?: string;
}

export interface TimelineEntry {
  at: string;
  kind: string;
  actor: string;
  text: string;
  domain?: Domain;
  alert?: string;
}

export interface ChecklistItem {
  step: string;
  done: boolean;
  by: string | null;
  at: string | null;
}

export interface SlaStatus {
  acknowledge_due: string;
  acknowledge_breached: boolean;
  resolve_due: string;
  resolve_breached: boolean;
}

export interface Incident {
  id: string;
  title: string;
  state: IncidentState;
  severity: number;
  opened: string;
  updated: string;
  acknowledged?: string;
  acknowledged_by?: string;
  disposition?: string;
  assignment: { team?: string | null; person?: string | null };
  merged_into?: string;
  alerts: IncidentAlert[];
  timeline: TimelineEntry[];
  checklist?: ChecklistItem[];
  sla_status?: SlaStatus;
  /** Set on the live stream when only the latest alerts and timeline entries are sent. */
  partial?: boolean;
  alerts_total?: number;
  timeline_total?: number;
}

export interface Zone {
  id: string;
  name: string;
  sensitivity?: string;
  portals?: string[];
}

export interface Site {
  id: string;
  name: string;
  country?: string | null;
  address?: string | null;
  location: Geo;
  geofence?: { radius_m?: number | null; polygon?: [number, number][] | null } | null;
  criticality?: string;
  entrances?: string[];
  zones?: Zone[];
}

export interface TravelSegment {
  place: string;
  location: Geo;
  from: string;
  until: string;
}

export interface Person {
  id: string;
  name: string;
  team?: string | null;
  home_site?: string | null;
  status?: string | { state?: string; from?: string | null; until?: string | null };
  badges?: string[];
  accounts?: string[];
  travel?: TravelSegment[];
}

export interface Team {
  id: string;
  name?: string;
  on_call_now?: unknown;
  [k: string]: unknown;
}

export interface EventRecord {
  id: string;
  time: string;
  domain: Domain;
  class?: string;
  activity?: string;
  severity?: number;
  message?: string;
  geo?: Geo;
  site_id?: string;
  [k: string]: unknown;
}

export interface Session {
  user: { name: string; role: string; tenant: string };
  csrf_token: string;
  ui?: { tile_url?: string | null };
}

export interface ReviewItem {
  key: string;
  question: string;
  prefill?: string | null;
  answer?: string | null;
}

export const SEVERITY_NAMES = ["unknown", "informational", "low", "medium", "high", "critical", "fatal"];

export function severityName(s: number): string {
  return SEVERITY_NAMES[s] ?? String(s);
}

/** High severity and above gets the sound and visual cue. */
export const HIGH_SEVERITY = 4;
