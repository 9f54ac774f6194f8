// Organisation and operations pages: sites, people with presence, assets, teams and on-call,
// rules with noise statistics and a rule tester, routes with the notification preview,
// deliveries and silences, dead letters, and sources with health and rates.

import { useEffect, useState } from "preact/hooks";
import { api, del, errorText, post } from "./api";
import { JsonTable, Show, Value, useLoad } from "./common";
import { useLive } from "./live";
import { useOrg } from "./org";
import type { Person } from "./types";

export const ORG_TABS: [string, string][] = [
  ["sites", "Sites"],
  ["people", "People"],
  ["assets", "Assets"],
  ["teams", "Teams & on-call"],
  ["rules", "Rules"],
  ["routes", "Routes"],
  ["deadletters", "Dead letters"],
  ["sources", "Sources"],
];

export function OrgPage({ tab }: { tab: string }) {
  const current = ORG_TABS.some(([k]) => k === tab) ? tab : "sites";
  return (
    <main class="page">
      <nav class="tabs" aria-label="Organisation sections">
        {ORG_TABS.map(([k, label]) => (
          <a key={k} href={`#/org/${k}`} aria-current={k === current ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {current === "sites" && <Sites />}
      {current === "people" && <People />}
      {current === "assets" && <Items path="/api/v1/assets" title="Assets" />}
      {current === "teams" && <Teams />}
      {current === "rules" && <Rules />}
      {current === "routes" && <Routes />}
      {current === "deadletters" && <DeadLetters />}
      {current === "sources" && <Sources />}
    </main>
  );
}

function Items({ path, title }: { path: string; title: string }) {
  const [l] = useLoad(() => api<{ items: unknown[] }>(path), [path]);
  return (
    <section>
      <h1>{title}</h1>
      <Show l={l}>{(d) => <JsonTable rows={d.items} />}</Show>
    </section>
  );
}

function Sites() {
  const org = useOrg();
  return (
    <section>
      <h1>Sites</h1>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Site</th>
              <th scope="col">Country</th>
              <th scope="col">Criticality</th>
              <th scope="col">
                <abbr class="term" title="An outline on the map (a radius or a polygon) that marks a site's area." tabIndex={0}>
                  Geofence
                </abbr>
              </th>
              <th scope="col">Zones</th>
              <th scope="col">Entrances</th>
            </tr>
          </thead>
          <tbody>
            {org.sites.map((s) => (
              <tr key={s.id}>
                <td>
                  <strong>{s.name}</strong>
                  <div class="muted small">{s.id}</div>
                </td>
                <td>{s.country ?? "—"}</td>
                <td>{s.criticality ?? "—"}</td>
                <td>
                  {s.geofence?.polygon
                    ? `polygon, ${s.geofence.polygon.length} points`
                    : s.geofence?.radius_m
                      ? `${s.geofence.radius_m} m radius`
                      : "—"}
                </td>
                <td>{(s.zones ?? []).map((z) => `${z.name}${z.sensitivity ? ` (${z.sensitivity})` : ""}`).join(", ") || "—"}</td>
                <td>{(s.entrances ?? []).join(", ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

interface Presence {
  site_id?: string;
  zone_id?: string | null;
  portal?: string | null;
  since?: string;
  inside?: boolean;
  [k: string]: unknown;
}

function statusText(st: Person["status"]): string {
  if (!st) return "—";
  if (typeof st === "string") return st;
  const until = st.until ? ` until ${new Date(st.until).toLocaleDateString()}` : "";
  return `${st.state ?? "—"}${until}`;
}

function People() {
  const org = useOrg();
  const [filter, setFilter] = useState("");
  const [presence, setPresence] = useState<Record<string, Presence | null | "error">>({});
  const shown = org.people
    .filter((p) => !filter || `${p.name} ${p.id} ${p.team ?? ""} ${p.home_site ?? ""}`.toLowerCase().includes(filter.toLowerCase()))
    .slice(0, 100);
  const key = shown.map((p) => p.id).join(",");

  // Presence of the people shown, a few requests at a time.
  useEffect(() => {
    let live = true;
    const todo = shown.filter((p) => !(p.id in presence));
    const worker = async () => {
      for (let p = todo.shift(); p && live; p = todo.shift()) {
        const id = p.id;
        try {
          const r = await api<{ presence: Presence | null }>(`/api/v1/people/${encodeURIComponent(id)}/presence`);
          if (live) setPresence((m) => ({ ...m, [id]: r.presence }));
        } catch {
          if (live) setPresence((m) => ({ ...m, [id]: "error" }));
        }
      }
    };
    void Promise.all([worker(), worker(), worker(), worker()]);
    return () => {
      live = false;
    };
  }, [key]);

  const now = Date.now();
  const travelling = (p: Person) => (p.travel ?? []).find((t) => Date.parse(t.from) <= now && now <= Date.parse(t.until));
  return (
    <section>
      <h1>People</h1>
      <label>
        Filter <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </label>
      <p class="muted small">
        {org.people.length} people; presence comes from{" "}
        <abbr class="term" title="A person presented their access badge at a reader and the door let them in." tabIndex={0}>
          badge-in
        </abbr>{" "}
        events.
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Person</th>
              <th scope="col">Team</th>
              <th scope="col">Home site</th>
              <th scope="col">Status</th>
              <th scope="col">Where now</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => {
              const pr = presence[p.id];
              const trip = travelling(p);
              return (
                <tr key={p.id}>
                  <td>
                    <strong>{p.name}</strong>
                    <div class="muted small">{p.id}</div>
                  </td>
                  <td>{p.team ?? "—"}</td>
                  <td>{p.home_site ?? "—"}</td>
                  <td>{statusText(p.status)}</td>
                  <td>
                    {pr === undefined ? (
                      <span class="muted">…</span>
                    ) : pr === "error" ? (
                      <span class="muted">unknown</span>
                    ) : pr ? (
                      <>
                        {pr.inside === false ? "left " : ""}
                        {org.sites.find((x) => x.id === pr.site_id)?.name ?? String(pr.site_id ?? "")}
                        {pr.zone_id ? ` / ${org.sites.flatMap((x) => x.zones ?? []).find((z) => z.id === pr.zone_id)?.name ?? pr.zone_id}` : ""}
                        {pr.portal ? <span class="muted small"> at {pr.portal}</span> : null}
                        {pr.since ? <span class="muted small"> since {new Date(pr.since).toLocaleTimeString()}</span> : null}
                      </>
                    ) : (
                      <span class="muted">not badged</span>
                    )}
                    {trip && <div class="small">travelling: {trip.place}</div>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Teams() {
  const org = useOrg();
  const [l] = useLoad(() => api<{ items: Record<string, unknown>[] }>("/api/v1/teams"));
  const nameOf = (id: unknown) => (typeof id === "string" ? (org.people.find((p) => p.id === id)?.name ?? id) : id);
  return (
    <section>
      <h1>Teams and on-call</h1>
      <Show l={l}>
        {(d) => (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Team</th>
                  <th scope="col">On call now</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((t) => {
                  const { id, name, on_call_now, members, ...rest } = t;
                  return (
                    <tr key={String(id)}>
                      <td>
                        <strong>{String(name ?? id)}</strong>
                        <div class="muted small">{String(id)}</div>
                      </td>
                      <td>
                        <Value v={nameOf(on_call_now)} />
                      </td>
                      <td>
                        {Array.isArray(members) && (
                          <p class="small">
                            Members: {members.map((m) => String(nameOf(m))).join(", ")}
                          </p>
                        )}
                        <JsonTable rows={rest} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Show>
    </section>
  );
}

const SAMPLE_RULE = `title: Door forced open
logsource:
  product: pacs
detection:
  selection:
    activity: door_forced
  condition: selection
level: high
`;

const SAMPLE_EVENT = `{
  "time": "2026-01-01T10:00:00Z",
  "domain": "physical",
  "class": "physical_access",
  "activity": "door_forced",
  "site": "office-london"
}`;

function Rules() {
  const [rules] = useLoad(() => api<{ rules: Record<string, unknown>[]; rejected: unknown[]; loaded: number }>("/api/v1/rules"));
  const [stats] = useLoad(() => api<{ items: Record<string, unknown>[]; partial: boolean }>("/api/v1/rules/stats"));
  const [rule, setRule] = useState(SAMPLE_RULE);
  const [event, setEvent] = useState(SAMPLE_EVENT);
  const [result, setResult] = useState<{ text: string; ok: boolean } | null>(null);

  async function test(e: Event) {
    e.preventDefault();
    setResult(null);
    let ev: unknown;
    try {
      ev = JSON.parse(event);
    } catch (err) {
      setResult({ text: `The event is not valid JSON: ${errorText(err)}`, ok: false });
      return;
    }
    try {
      const r = await post<{ matched: boolean; error: string | null }>("/api/v1/rules/test", { rule, event: ev });
      if (r.error) setResult({ text: `Rule error: ${r.error}`, ok: false });
      else setResult({ text: r.matched ? "The rule matches this event." : "The rule does not match this event.", ok: r.matched });
    } catch (err) {
      setResult({ text: errorText(err), ok: false });
    }
  }

  return (
    <section>
      <h1>Rules</h1>
      <h2>Noise per rule</h2>
      <p class="muted small">
        Alerts raised, repeats folded by deduplication, and how responders disposed of them; the noise ratio is the share of{" "}
        <abbr class="term" title="An alert that fired although nothing of what it describes happened." tabIndex={0}>
          false positives
        </abbr>{" "}
        and benign alerts.
      </p>
      <Show l={stats}>
        {(d) => (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">Raised</th>
                  <th scope="col">Repeats</th>
                  <th scope="col">In incidents</th>
                  <th scope="col">Acknowledged</th>
                  <th scope="col">Dispositions</th>
                  <th scope="col">Noise</th>
                </tr>
              </thead>
              <tbody>
                {d.items
                  .slice()
                  .sort((a, b) => Number(b.raised ?? 0) - Number(a.raised ?? 0))
                  .map((r) => (
                    <tr key={String(r.rule)}>
                      <td>{String(r.rule)}</td>
                      <td>{String(r.raised ?? 0)}</td>
                      <td>{String(r.repeats_suppressed ?? 0)}</td>
                      <td>{String(r.alerts ?? 0)}</td>
                      <td>{String(r.acknowledged ?? 0)}</td>
                      <td class="small">
                        {Object.entries((r.dispositions as Record<string, number>) ?? {})
                          .filter(([, n]) => n > 0)
                          .map(([k, n]) => `${k.replace("_", " ")} ${n}`)
                          .join(", ") || "—"}
                      </td>
                      <td>{typeof r.noise_ratio === "number" ? `${Math.round(r.noise_ratio * 100)} %` : "—"}</td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        )}
      </Show>
      <h2>Test a rule against a sample event</h2>
      <form class="rule-test" onSubmit={test}>
        <label class="block">
          Sigma rule (YAML)
          <textarea rows={10} value={rule} spellcheck={false} onInput={(e) => setRule(e.currentTarget.value)} />
        </label>
        <label class="block">
          Event (JSON)
          <textarea rows={10} value={event} spellcheck={false} onInput={(e) => setEvent(e.currentTarget.value)} />
        </label>
        <button type="submit">Test</button>
        {result && (
          <p class={result.ok ? "note" : "error"} role="status">
            {result.text}
          </p>
        )}
      </form>
      <h2>Loaded Sigma rules</h2>
      <Show l={rules}>
        {(d) => (
          <>
            <JsonTable rows={d.rules} empty="No Sigma rules are loaded." />
            {d.rejected.length > 0 && (
              <>
                <h3>Rules that could not load</h3>
                <JsonTable rows={d.rejected} />
              </>
            )}
          </>
        )}
      </Show>
    </section>
  );
}

interface RouteNode {
  name?: string;
  match?: Record<string, unknown>;
  plan?: string;
  continue?: boolean;
  routes?: RouteNode[];
}

interface Audience {
  team?: string;
  on_call?: string;
  person?: string;
  channel?: string;
  visibility?: string;
  via?: string[];
}

function audienceText(a: Audience | string | null | undefined): string {
  if (!a) return "—";
  if (typeof a === "string") return a;
  const who = a.team ? `team ${a.team}` : a.on_call ? `on-call of ${a.on_call}` : a.person ? `person ${a.person}` : a.channel ? `channel ${a.channel}` : JSON.stringify(a);
  return `${who}${a.visibility ? ` (${a.visibility})` : ""}${a.via?.length ? ` via ${a.via.join(", ")}` : ""}`;
}

function matchText(m: Record<string, unknown> | undefined): string {
  const parts = Object.entries(m ?? {}).map(([k, v]) => `${k} = ${Array.isArray(v) ? v.join(" | ") : String(v)}`);
  return parts.length ? parts.join(", ") : "every alert";
}

function RouteTree({ node }: { node: RouteNode }) {
  return (
    <li>
      <strong>{node.name ?? "root"}</strong>: {matchText(node.match)} → plan <code>{node.plan ?? "—"}</code>
      {node.continue ? " (continue)" : ""}
      {node.routes && node.routes.length > 0 && (
        <ul class="tree">
          {node.routes.map((r, i) => (
            <RouteTree key={i} node={r} />
          ))}
        </ul>
      )}
    </li>
  );
}

interface RoutesDoc {
  configured?: boolean;
  routes?: {
    route?: RouteNode;
    plans?: Record<string, { steps?: { after?: string; notify?: Audience[] }[]; quiet_hours?: unknown[] }>;
    inhibit?: unknown[];
    [k: string]: unknown;
  };
}

interface PlanNotification {
  at: string;
  plan?: string;
  step?: number;
  repeat?: number;
  audience?: Audience;
  recipients?: { kind: string; id: string }[];
  visibility?: string;
  suppressed?: unknown;
  deferred_from?: string | null;
}

function Routes() {
  const store = useLive();
  const [tree] = useLoad(() => api<RoutesDoc>("/api/v1/routes"));
  const [deliveries, reloadDeliveries] = useLoad(() => api<{ items: Record<string, unknown>[] }>("/api/v1/deliveries?limit=50"));
  const [silences, reloadSilences] = useLoad(() => api<{ items: Record<string, unknown>[] }>("/api/v1/silences"));
  const recent = [...store.alerts.values()].sort((a, b) => b.detected.localeCompare(a.detected)).slice(0, 50);
  const [alertJson, setAlertJson] = useState("");
  const [plan, setPlan] = useState<{ ok: true; data: { notifications?: PlanNotification[]; inhibited?: unknown; routes?: unknown } } | { ok: false; text: string } | null>(
    null,
  );
  const [silence, setSilence] = useState(
    `{\n  "matchers": {"site": "office-london"},\n  "ends": "${new Date(Date.now() + 2 * 3600_000).toISOString()}",\n  "comment": "maintenance"\n}`,
  );
  const [silenceMsg, setSilenceMsg] = useState<string | null>(null);
  useEffect(() => {
    if (!alertJson && recent[0]) setAlertJson(JSON.stringify(recent[0], null, 2));
  }, [recent[0]?.id]);

  return (
    <section>
      <h1>Routes</h1>
      <h2>Who would be notified</h2>
      <form
        class="rule-test"
        onSubmit={async (e) => {
          e.preventDefault();
          setPlan(null);
          try {
            setPlan({ ok: true, data: await post("/api/v1/routes/test", JSON.parse(alertJson)) });
          } catch (err) {
            setPlan({ ok: false, text: errorText(err) });
          }
        }}
      >
        <label>
          Take an alert
          <select onChange={(e) => {
            const a = store.alerts.get(e.currentTarget.value);
            if (a) setAlertJson(JSON.stringify(a, null, 2));
          }}>
            {recent.map((a) => (
              <option key={a.id} value={a.id}>
                {a.title}
              </option>
            ))}
          </select>
        </label>
        <label class="block">
          Alert (JSON, as the API returns alerts; edit it to try other labels)
          <textarea rows={8} value={alertJson} spellcheck={false} onInput={(e) => setAlertJson(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={!alertJson}>
          Preview
        </button>
      </form>
      {plan &&
        (plan.ok ? (
          <div class="table-wrap">
            {plan.data.inhibited ? <p class="note">Inhibited: {JSON.stringify(plan.data.inhibited)}</p> : null}
            {(plan.data.notifications ?? []).length === 0 ? (
              <p class="muted">Nobody would be notified.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Plan / step</th>
                    <th scope="col">Audience</th>
                    <th scope="col">Recipients</th>
                    <th scope="col">Sees</th>
                    <th scope="col">Suppressed</th>
                  </tr>
                </thead>
                <tbody>
                  {(plan.data.notifications ?? []).map((n, i) => (
                    <tr key={i}>
                      <td>{new Date(n.at).toLocaleTimeString()}{n.deferred_from ? " (deferred)" : ""}</td>
                      <td>
                        {n.plan} / {n.step ?? 0}
                        {n.repeat ? ` repeat ${n.repeat}` : ""}
                      </td>
                      <td>{audienceText(n.audience)}</td>
                      <td class="small">{(n.recipients ?? []).map((r) => `${r.kind} ${r.id}`).join(", ") || "—"}</td>
                      <td>{n.visibility ?? "—"}</td>
                      <td>
                        <Value v={n.suppressed} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
        ) : (
          <p class="error">{plan.text}</p>
        ))}
      <h2>Routing tree</h2>
      <Show l={tree}>
        {(d) =>
          d.configured === false || !d.routes ? (
            <p class="muted">Routing is not configured.</p>
          ) : (
            <>
              {d.routes.route && (
                <ul class="tree">
                  <RouteTree node={d.routes.route} />
                </ul>
              )}
              <h3>Plans</h3>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Plan</th>
                      <th scope="col">Steps</th>
                    </tr>
                  </thead>
                  <tbody>
                    {Object.entries(d.routes.plans ?? {}).map(([name, p]) => (
                      <tr key={name}>
                        <td>
                          <code>{name}</code>
                        </td>
                        <td>
                          {(p.steps ?? []).map((st, i) => (
                            <div key={i}>
                              after {st.after ?? "0"}: {(st.notify ?? []).map(audienceText).join("; ")}
                            </div>
                          ))}
                          {p.quiet_hours && p.quiet_hours.length > 0 && <div class="muted small">quiet hours: {JSON.stringify(p.quiet_hours)}</div>}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )
        }
      </Show>
      <h2>
        Deliveries{" "}
        <button type="button" class="secondary small" onClick={reloadDeliveries}>
          Refresh
        </button>
      </h2>
      <Show l={deliveries}>
        {(d) =>
          d.items.length === 0 ? (
            <p class="muted">No notifications yet.</p>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Due</th>
                    <th scope="col">Alert</th>
                    <th scope="col">Audience</th>
                    <th scope="col">Sees</th>
                    <th scope="col">Channels</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts / error</th>
                  </tr>
                </thead>
                <tbody>
                  {d.items.map((r) => (
                    <tr key={String(r.id)}>
                      <td>{new Date(String(r.due)).toLocaleTimeString()}</td>
                      <td>{String((r.payload as { title?: string })?.title ?? r.alert_id ?? "")}</td>
                      <td>{String(r.audience ?? "")}</td>
                      <td>{String(r.visibility ?? "")}</td>
                      <td>{((r.channels as string[]) ?? []).join(", ") || String(r.channel ?? "—")}</td>
                      <td>
                        {String(r.status)}
                        {r.reason ? <div class="muted small">{String(r.reason)}</div> : null}
                      </td>
                      <td>
                        {String(r.attempts ?? 0)}
                        {r.last_error ? <div class="error small">{String(r.last_error)}</div> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
        }
      </Show>
      <h2>Silences</h2>
      <Show l={silences}>
        {(d) =>
          d.items.length > 0 ? (
            <ul class="plain">
              {d.items.map((s, i) => {
                const id = s.id as string | undefined;
                return (
                  <li key={id ?? i}>
                    <JsonTable rows={s} />
                    {id && (
                      <button
                        type="button"
                        class="secondary small"
                        onClick={async () => {
                          try {
                            await del(`/api/v1/silences/${encodeURIComponent(id)}`);
                            reloadSilences();
                          } catch (err) {
                            setSilenceMsg(errorText(err));
                          }
                        }}
                      >
                        Remove
                      </button>
                    )}
                  </li>
                );
              })}
            </ul>
          ) : (
            <p class="muted">No silences.</p>
          )
        }
      </Show>
      <form
        class="rule-test"
        onSubmit={async (e) => {
          e.preventDefault();
          setSilenceMsg(null);
          try {
            await post("/api/v1/silences", JSON.parse(silence));
            setSilenceMsg("Silence added.");
            reloadSilences();
          } catch (err) {
            setSilenceMsg(errorText(err));
          }
        }}
      >
        <label class="block">
          New silence (JSON: matchers by tenant, domain, detector, rule, severity, site, tags; ends; comment)
          <textarea rows={6} value={silence} spellcheck={false} onInput={(e) => setSilence(e.currentTarget.value)} />
        </label>
        <button type="submit" class="secondary">
          Add silence
        </button>
        {silenceMsg && <p role="status">{silenceMsg}</p>}
      </form>
    </section>
  );
}

function DeadLetters() {
  const [l] = useLoad(() => api<{ items: Record<string, unknown>[] }>("/api/v1/deadletters?limit=100"));
  return (
    <section>
      <h1>
        <abbr class="term" title="A received record that could not be understood, kept with the reason instead of being lost." tabIndex={0}>
          Dead letters
        </abbr>
      </h1>
      <Show l={l}>
        {(d) =>
          d.items.length === 0 ? (
            <p class="muted">No dead letters: every record was understood.</p>
          ) : (
            <JsonTable rows={d.items.map(({ raw, ...rest }) => ({ ...rest, raw: typeof raw === "string" ? raw.slice(0, 200) : raw }))} />
          )
        }
      </Show>
    </section>
  );
}

interface SourceStatus {
  name: string;
  kind?: string;
  domain?: string;
  bound?: string[];
  health?: { state?: string; reason?: string; [k: string]: unknown };
  counters?: { received?: number; accepted?: number; rejected?: number; dropped?: number };
  [k: string]: unknown;
}

function Sources() {
  const [l, reload] = useLoad(() => api<{ items: SourceStatus[] }>("/api/v1/sources"));
  const [prev, setPrev] = useState<{ at: number; items: SourceStatus[] } | null>(null);
  const [rates, setRates] = useState<Record<string, number>>({});
  useEffect(() => {
    const t = window.setInterval(reload, 5000);
    return () => window.clearInterval(t);
  }, []);
  useEffect(() => {
    if (l.state !== "ok") return;
    const now = Date.now();
    if (prev) {
      const secs = (now - prev.at) / 1000;
      const r: Record<string, number> = {};
      for (const s of l.data.items) {
        const before = prev.items.find((p) => p.name === s.name);
        if (before && secs > 0) r[s.name] = ((s.counters?.accepted ?? 0) - (before.counters?.accepted ?? 0)) / secs;
      }
      setRates(r);
    }
    setPrev({ at: now, items: l.data.items });
  }, [l]);
  return (
    <section>
      <h1>Sources</h1>
      <p class="muted small">Health and counters, refreshed every 5 seconds; the rate is accepted events per second.</p>
      <Show l={l}>
        {(d) => (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Source</th>
                  <th scope="col">Listening on</th>
                  <th scope="col">Health</th>
                  <th scope="col">Rate</th>
                  <th scope="col">Received</th>
                  <th scope="col">Accepted</th>
                  <th scope="col">Rejected</th>
                  <th scope="col">Dropped</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((s) => {
                  const { name, kind, domain, bound, health, counters } = s;
                  const { state, ...why } = health ?? {};
                  return (
                    <tr key={name}>
                      <td>
                        <strong>{name}</strong>
                        <div class="muted small">
                          {kind ?? ""} · {domain ?? ""}
                        </div>
                      </td>
                      <td class="small">{(bound ?? []).join(", ") || "—"}</td>
                      <td>
                        <span class={state === "healthy" ? "note" : "error"}>{state ?? "—"}</span>
                        {Object.keys(why).length > 0 && <div class="muted small">{Object.values(why).map(String).join("; ")}</div>}
                      </td>
                      <td>{rates[name] !== undefined ? `${rates[name].toFixed(1)}/s` : "…"}</td>
                      <td>{counters?.received ?? 0}</td>
                      <td>{counters?.accepted ?? 0}</td>
                      <td>{counters?.rejected ?? 0}</td>
                      <td>{counters?.dropped ?? 0}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Show>
    </section>
  );
}
