// The organisation model (sites, people, teams), loaded once per session and shared.

import { useEffect, useState } from "preact/hooks";
import { api } from "./api";
import type { Person, Site, Team } from "./types";

export interface OrgData {
  sites: Site[];
  people: Person[];
  teams: Team[];
}

let cached: Promise<OrgData> | null = null;

export function loadOrg(force = false): Promise<OrgData> {
  if (!cached || force) {
    const get = <T,>(p: string) => api<{ items: T[] }>(p).then((r) => r.items ?? []).catch(() => [] as T[]);
    cached = Promise.all([get<Site>("/api/v1/sites"), get<Person>("/api/v1/people"), get<Team>("/api/v1/teams")]).then(
      ([sites, people, teams]) => ({ sites, people, teams }),
    );
  }
  return cached;
}

export function forgetOrg(): void {
  cached = null;
}

const EMPTY: OrgData = { sites: [], people: [], teams: [] };

export function useOrg(): OrgData {
  const [org, setOrg] = useState<OrgData>(EMPTY);
  useEffect(() => {
    let live = true;
    void loadOrg().then((o) => live && setOrg(o));
    return () => {
      live = false;
    };
  }, []);
  return org;
}
