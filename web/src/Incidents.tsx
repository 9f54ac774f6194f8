// The incident board (by state) and the incident page: cross-domain timeline, evidence, notes,
// checklist, assignment, acknowledge and state changes, the post-incident review and the
// after-action report.

import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorText, post, put } from "./api";
import { DomainBadge, Explain, SeverityBadge, Show, Time, fmtTime, useLoad } from "./common";
import { live, useLive } from "./live";
import { selectAlert } from "./Live";
import { useOrg } from "./org";
import type { EventRecord, Incident, IncidentState, ReviewItem } from "./types";
import { DISPOSITIONS, INCIDENT_STATES } from "./types";

export function Board() {
  const store = useLive();
  const all = [...store.incidents.values()].sort((a, b) => b.updated.localeCompare(a.updated));
  return (
    <div class="board" aria-label="Incident board">
      {INCIDENT_STATES.map((s) => {
        const items = all.filter((i) => i.state === s);
        return (
          <section key={s} class={`column state-${s}`} aria-labelledby={`col-${s}`}>
            <h2 id={`col-${s}`}>
              {s} <span class="muted">({items.length})</span>
            </h2>
            <ul>
              {items.slice(0, 100).map((i) => (
                <li key={i.id} class="card" data-id={i.id}>
                  <a href={`#/incidents/${i.id}`}>
                    <strong>
                      <Explain text={i.title} />
                    </strong>
                  </a>
                  <div class="muted small">
                    <SeverityBadge severity={i.severity} /> {i.alerts_total ?? i.alerts.length} alert
                    {(i.alerts_total ?? i.alerts.length) === 1 ? "" : "s"} ·{" "}
                    {[...new Set(i.alerts.map((a) => a.domain))].map((d) => (
                      <DomainBadge key={d} domain={d} />
                    ))}{" "}
                    · {i.assignment?.team ?? "unassigned"} · <Time t={i.updated} />
                    {i.sla_status?.acknowledge_breached || i.sla_status?.resolve_breached ? <span class="breach"> SLA breached</span> : null}
                  </div>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </div>
  );
}

/** The states an incident may move to from `s` (forward; resolved may reopen). */
function nextStates(s: IncidentState): IncidentState[] {
  const i = INCIDENT_STATES.indexOf(s);
  const forward = INCIDENT_STATES.slice(i + 1).filter((x) => x !== "acknowledged");
  return s === "resolved" ? ["investigating", ...forward] : forward;
}

export function IncidentPage({ id }: { id: string }) {
  const store = useLive();
  const org = useOrg();
  const [loaded, reload] = useLoad(() => api<Incident>(`/api/v1/incidents/${id}`), [id]);
  const [local, setLocal] = useState<Incident | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [disposition, setDisposition] = useState("");
  const [note, setNote] = useState("");
  const [step, setStep] = useState("");
  const [team, setTeam] = useState("");
  const [person, setPerson] = useState("");
  const [evidence, setEvidence] = useState<Record<string, EventRecord | string>>({});
  const [showReport, setShowReport] = useState(false);

  useEffect(() => setLocal(null), [id]);
  // The stream's copy is the newest once it arrives; a partial one (a busy incident) only says
  // that the page should read the whole incident again.
  const streamed = store.incidents.get(id);
  const base = loaded.state === "ok" ? loaded.data : null;
  const inc = [local, streamed?.partial ? null : streamed, base]
    .filter((x): x is Incident => !!x)
    .sort((a, b) => b.updated.localeCompare(a.updated))[0];
  useEffect(() => {
    if (streamed?.partial && base && streamed.updated > base.updated) reload();
  }, [streamed?.updated]);

  useEffect(() => {
    if (inc) {
      setTeam(inc.assignment?.team ?? "");
      setPerson(inc.assignment?.person ?? "");
    }
  }, [inc?.id]);

  async function act(what: string, f: () => Promise<Incident>) {
    setMessage(null);
    try {
      const updated = await f();
      setLocal(updated);
      live.putIncident(updated);
      setMessage({ text: what, error: false });
      return true;
    } catch (e) {
      setMessage({ text: `${what} failed: ${errorText(e)}`, error: true });
      return false;
    }
  }

  if (!inc) {
    return (
      <main class="page">
        <p>
          <a href="#/incidents">← Incidents</a>
        </p>
        <Show l={loaded}>{() => null}</Show>
      </main>
    );
  }

  const path = `/api/v1/incidents/${inc.id}`;
  const timeline = [...inc.timeline].sort((a, b) => a.at.localeCompare(b.at));
  return (
    <main class="page incident" aria-labelledby="inc-title">
      <p>
        <a href="#/incidents">← Incidents</a>
      </p>
      <header class="inc-head">
        <h1 id="inc-title">
          <Explain text={inc.title} />
        </h1>
        <p>
          <span class={`badge state state-${inc.state}`} data-testid="incident-state">
            {inc.state}
          </span>{" "}
          <SeverityBadge severity={inc.severity} /> · opened <Time t={inc.opened} /> · {inc.alerts.length} alerts
          {inc.acknowledged_by ? ` · acknowledged by ${inc.acknowledged_by}` : ""}
          {inc.disposition ? ` · ${inc.disposition.replace("_", " ")}` : ""}
        </p>
        {inc.sla_status && (
          <p class="small">
            <abbr class="term" title="Service level agreement: the time allowed to acknowledge and to resolve." tabIndex={0}>
              SLA
            </abbr>
            : acknowledge by {fmtTime(inc.sla_status.acknowledge_due)}
            {inc.sla_status.acknowledge_breached && <span class="breach"> (breached)</span>}, resolve by{" "}
            {fmtTime(inc.sla_status.resolve_due)}
            {inc.sla_status.resolve_breached && <span class="breach"> (breached)</span>}
          </p>
        )}
      </header>
      {message && (
        <p class={message.error ? "error" : "note"} role={message.error ? "alert" : "status"}>
          {message.text}
        </p>
      )}
      <div class="inc-grid">
        <section aria-labelledby="h-actions" class="panel">
          <h2 id="h-actions">Actions</h2>
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
            <button
              type="button"
              disabled={inc.state !== "new"}
              onClick={() => act("Acknowledged", () => post(`${path}/ack`, disposition ? { disposition } : {}))}
            >
              Acknowledge
            </button>
            {nextStates(inc.state).map((s) => (
              <button key={s} type="button" class="secondary" onClick={() => act(`Moved to ${s}`, () => post(`${path}/state`, { state: s }))}>
                {s === "investigating" && inc.state === "resolved" ? "Reopen" : `Mark ${s}`}
              </button>
            ))}
          </div>
          <form
            class="assign"
            onSubmit={(e) => {
              e.preventDefault();
              void act("Assigned", () =>
                post(`${path}/assign`, { team: team || undefined, person: person || undefined }),
              );
            }}
          >
            <label>
              Team
              <select value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
                <option value="">(none)</option>
                {org.teams.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name ?? t.id}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Person
              <input list="people-list" value={person} onInput={(e) => setPerson(e.currentTarget.value)} />
              <datalist id="people-list">
                {org.people.slice(0, 500).map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </datalist>
            </label>
            <button type="submit" class="secondary" disabled={!team && !person}>
              Assign
            </button>
          </form>
        </section>

        <section aria-labelledby="h-timeline" class="panel timeline-panel">
          <h2 id="h-timeline">Timeline</h2>
          <ol class="timeline">
            {timeline.map((t, i) => (
              <li key={i} class={`tl tl-${t.kind} ${t.domain ? `dom-${t.domain}` : ""}`}>
                <span class="muted small">
                  <Time t={t.at} /> · {t.kind.replace("_", " ")} · {t.actor}
                  {t.domain ? " · " : ""}
                  {t.domain && <DomainBadge domain={t.domain} />}
                </span>
                <div>
                  <Explain text={t.text} />
                </div>
              </li>
            ))}
          </ol>
          <form
            class="note-form"
            onSubmit={async (e) => {
              e.preventDefault();
              if (await act("Note added", () => post(`${path}/notes`, { text: note }))) setNote("");
            }}
          >
            <label for="note">Add a note (either team)</label>
            <textarea id="note" name="note" rows={3} required maxLength={8000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
            <button type="submit">Add note</button>
          </form>
        </section>

        <section aria-labelledby="h-evidence" class="panel">
          <h2 id="h-evidence">Evidence</h2>
          <ul class="evidence">
            {inc.alerts.map((a) => (
              <li key={a.id} class={`dom-${a.domain}`}>
                <DomainBadge domain={a.domain} /> <SeverityBadge severity={a.severity} />{" "}
                <strong>
                  <Explain text={a.title} />
                </strong>
                <div class="muted small">
                  {a.detector}
                  {a.rule ? `/${a.rule}` : ""} · <Time t={a.time} />
                  {a.site_id ? ` · ${a.site_id}` : ""}
                  {a.acknowledged ? " · acknowledged" : ""}
                  {a.disposition ? ` · ${a.disposition.replace("_", " ")}` : ""}
                </div>
                <div class="actions">
                  <a
                    class="button secondary small"
                    href="#/live"
                    onClick={() => {
                      selectAlert(a.id);
                    }}
                  >
                    Show on map
                  </a>
                  <button
                    type="button"
                    class="secondary small"
                    onClick={async () => {
                      try {
                        const full = await api<{ evidence: string[] }>(`/api/v1/alerts/${a.id}`);
                        const evs = await Promise.all(
                          full.evidence.slice(0, 10).map((eid) => api<EventRecord>(`/api/v1/events/${eid}`).catch((e) => errorText(e))),
                        );
                        setEvidence((m) => ({ ...m, ...Object.fromEntries(full.evidence.slice(0, 10).map((eid, i) => [eid, evs[i]])) }));
                      } catch (e) {
                        setMessage({ text: `Evidence: ${errorText(e)}`, error: true });
                      }
                    }}
                  >
                    Show events
                  </button>
                </div>
              </li>
            ))}
          </ul>
          {Object.keys(evidence).length > 0 && (
            <div class="events">
              {Object.entries(evidence).map(([eid, ev]) => (
                <details key={eid}>
                  <summary>
                    {typeof ev === "string"
                      ? `${eid}: ${ev}`
                      : `${fmtTime(ev.time)} · ${ev.domain} · ${ev.class ?? ""} ${ev.activity ?? ""}`}
                  </summary>
                  <pre>{JSON.stringify(ev, null, 2)}</pre>
                </details>
              ))}
            </div>
          )}
        </section>

        <section aria-labelledby="h-checklist" class="panel">
          <h2 id="h-checklist">Checklist</h2>
          {inc.checklist && inc.checklist.length > 0 ? (
            <ul class="checklist">
              {inc.checklist.map((c, i) => (
                <li key={i}>
                  <label>
                    <input
                      type="checkbox"
                      checked={c.done}
                      onChange={(e) =>
                        act(`Checklist step ${e.currentTarget.checked ? "done" : "reopened"}`, () =>
                          post(`${path}/checklist/${i}`, { done: e.currentTarget.checked }),
                        )
                      }
                    />{" "}
                    <Explain text={c.step} />
                  </label>
                  {c.done && c.by && (
                    <span class="muted small">
                      {" "}
                      — {c.by}, <Time t={c.at} />
                    </span>
                  )}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No checklist for this incident.</p>
          )}
          <form
            class="inline"
            onSubmit={async (e) => {
              e.preventDefault();
              if (await act("Step recorded", () => post(`${path}/notes`, { text: step, checklist_step: true }))) setStep("");
            }}
          >
            <label>
              Record a completed step
              <input value={step} required onInput={(e) => setStep(e.currentTarget.value)} />
            </label>
            <button type="submit" class="secondary">
              Record
            </button>
          </form>
        </section>

        <Review id={inc.id} onSaved={(i) => {
          setLocal(i);
          live.putIncident(i);
        }} />

        <section aria-labelledby="h-report" class="panel report-panel">
          <h2 id="h-report">After-action report</h2>
          <p>
            <a href={`${path}/report?format=html`} target="_blank" rel="noopener">
              Open the printable report
            </a>{" "}
            · <a href={`${path}/report?format=md`} download={`incident-${inc.id}.md`}>Markdown</a> ·{" "}
            <button type="button" class="secondary small" onClick={() => setShowReport((x) => !x)}>
              {showReport ? "Hide" : "Show here"}
            </button>
          </p>
          {showReport && (
            <iframe
              key={inc.updated}
              class="report"
              title="After-action report"
              sandbox="allow-same-origin"
              src={`${path}/report?format=html`}
            />
          )}
        </section>
      </div>
      <button type="button" class="secondary small" onClick={reload}>
        Reload
      </button>
    </main>
  );
}

function Review({ id, onSaved }: { id: string; onSaved: (i: Incident) => void }) {
  const [items, reload] = useLoad(() => api<ReviewItem[]>(`/api/v1/incidents/${id}/review`), [id]);
  const [answers, setAnswers] = useState<Record<string, string>>({});
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  useEffect(() => {
    if (items.state === "ok") {
      setAnswers(Object.fromEntries(items.data.map((q) => [q.key, q.answer ?? q.prefill ?? ""])));
    }
  }, [items]);
  return (
    <section aria-labelledby="h-review" class="panel review">
      <h2 id="h-review">Post-incident review</h2>
      <Show l={items}>
        {(qs) => (
          <form
            onSubmit={async (e) => {
              e.preventDefault();
              setStatus(null);
              try {
                const inc = await put<Incident>(`/api/v1/incidents/${id}/review`, { answers });
                onSaved(inc);
                setStatus({ text: "Review saved.", error: false });
                reload();
              } catch (err) {
                setStatus({
                  text: err instanceof ApiError && err.unavailable ? "Saving reviews is not available on this server." : `Could not save: ${errorText(err)}`,
                  error: true,
                });
              }
            }}
          >
            {qs.map((q) => (
              <label key={q.key} class="block">
                {q.question}
                <textarea
                  name={q.key}
                  rows={3}
                  value={answers[q.key] ?? ""}
                  onInput={(e) => setAnswers({ ...answers, [q.key]: e.currentTarget.value })}
                />
              </label>
            ))}
            <button type="submit">Save review</button>
            {status && (
              <p class={status.error ? "error" : "note"} role={status.error ? "alert" : "status"}>
                {status.text}
              </p>
            )}
          </form>
        )}
      </Show>
    </section>
  );
}
