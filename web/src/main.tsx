// The Tocsin dashboard: session handling, hash routing, the header, the live link, the
// high-severity cue and the global shortcuts.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, setCsrf, setUnauthorizedHandler } from "./api";
import { GlossaryView } from "./GlossaryView";
import { Board, IncidentPage } from "./Incidents";
import { Live } from "./Live";
import { live, useLive } from "./live";
import { Login } from "./Login";
import { Metrics } from "./Metrics";
import { forgetOrg } from "./org";
import { OrgPage } from "./Org";
import type { Alert, Session } from "./types";
import "./style.css";

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    window.addEventListener("hashchange", f);
    return () => window.removeEventListener("hashchange", f);
  }, []);
  return hash;
}

function stored(key: string, fallback: boolean): boolean {
  try {
    const v = localStorage.getItem(key);
    return v === null ? fallback : v === "1";
  } catch {
    return fallback;
  }
}

function remember(key: string, v: boolean): void {
  try {
    localStorage.setItem(key, v ? "1" : "0");
  } catch {
    // private mode: the choice lasts for this page only
  }
}

// The sound cue: a short two-tone beep through WebAudio, started only after a user gesture.
let audio: AudioContext | null = null;
function unlockAudio(): void {
  if (!audio) {
    try {
      audio = new AudioContext();
    } catch {
      audio = null;
    }
  }
}
function beep(): void {
  if (!audio || audio.state !== "running") return;
  const t = audio.currentTime;
  for (const [i, f] of [880, 660].entries()) {
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, t + i * 0.18);
    g.gain.exponentialRampToValueAtTime(0.2, t + i * 0.18 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.18 + 0.16);
    o.connect(g).connect(audio.destination);
    o.start(t + i * 0.18);
    o.stop(t + i * 0.18 + 0.17);
  }
}

const NAV: [string, string][] = [
  ["#/live", "Live"],
  ["#/incidents", "Incidents"],
  ["#/org", "Organisation"],
  ["#/metrics", "Metrics"],
  ["#/glossary", "Glossary"],
];

function Help({ onClose }: { onClose: () => void }) {
  return (
    <div class="overlay" role="dialog" aria-modal="true" aria-labelledby="help-title" onClick={onClose}>
      <div class="dialog" onClick={(e) => e.stopPropagation()}>
        <h2 id="help-title">Keyboard shortcuts</h2>
        <dl class="keys">
          <dt>
            <kbd>j</kbd> / <kbd>k</kbd>
          </dt>
          <dd>next / previous alert in the live feed</dd>
          <dt>
            <kbd>a</kbd>
          </dt>
          <dd>acknowledge the selected alert</dd>
          <dt>
            <kbd>w</kbd>
          </dt>
          <dd>wall mode on or off (large SOC screens)</dd>
          <dt>
            <kbd>g</kbd> then <kbd>l</kbd> / <kbd>i</kbd> / <kbd>m</kbd>
          </dt>
          <dd>go to live, incidents, metrics</dd>
          <dt>
            <kbd>?</kbd>
          </dt>
          <dd>this help</dd>
          <dt>
            <kbd>Esc</kbd>
          </dt>
          <dd>close</dd>
        </dl>
        <p class="muted small">Underlined terms explain themselves on hover or focus; the Glossary lists them all.</p>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}

function Shell({ session, onLogout }: { session: Session; onLogout: () => void }) {
  const hash = useHash();
  const store = useLive();
  const [wall, setWall] = useState(() => stored("tocsin.wall", false));
  const [sound, setSound] = useState(() => stored("tocsin.sound", true));
  const [help, setHelp] = useState(false);
  const [flash, setFlash] = useState<Alert | null>(null);

  useEffect(() => {
    live.connect();
    void live.reload().catch(() => undefined);
    return () => live.disconnect();
  }, []);

  useEffect(() => {
    document.body.classList.toggle("wall", wall);
    remember("tocsin.wall", wall);
  }, [wall]);
  useEffect(() => remember("tocsin.sound", sound), [sound]);

  // The high-severity cue.
  useEffect(() => {
    let timer = 0;
    const off = live.onHigh((a) => {
      setFlash(a);
      if (sound) beep();
      window.clearTimeout(timer);
      timer = window.setTimeout(() => setFlash(null), 8000);
    });
    return () => {
      off();
      window.clearTimeout(timer);
    };
  }, [sound]);

  // Global keys.
  useEffect(() => {
    let g = false;
    const onKey = (e: KeyboardEvent) => {
      unlockAudio();
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
      if (e.key === "?") setHelp((h) => !h);
      else if (e.key === "Escape") setHelp(false);
      else if (e.key === "w") setWall((w) => !w);
      else if (g && (e.key === "l" || e.key === "i" || e.key === "m")) {
        location.hash = { l: "#/live", i: "#/incidents", m: "#/metrics" }[e.key];
      }
      g = e.key === "g";
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("pointerdown", unlockAudio);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("pointerdown", unlockAudio);
    };
  }, []);

  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] ?? "live";
  let view;
  if (section === "incidents" && parts[1]) view = <IncidentPage id={parts[1]} />;
  else if (section === "incidents") view = <main class="page"><h1>Incidents</h1><Board /></main>;
  else if (section === "org") view = <OrgPage tab={parts[1] ?? "sites"} />;
  else if (section === "metrics") view = <Metrics />;
  else if (section === "glossary") view = <GlossaryView />;
  else view = <Live tileUrl={session.ui?.tile_url} />;

  const open = [...store.alerts.values()].filter((a) => a.status === "open").length;
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Tocsin</span>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => (
            <a key={href} href={href} aria-current={`#/${section}` === href ? "page" : undefined}>
              {label}
              {href === "#/live" && open > 0 ? <span class="pill">{open}</span> : null}
            </a>
          ))}
        </nav>
        <span class={`link link-${store.link}`} role="status" data-testid="link">
          {store.link}
        </span>
        <button type="button" class="secondary small" aria-pressed={sound} onClick={() => setSound(!sound)}>
          Sound {sound ? "on" : "off"}
        </button>
        <button type="button" class="secondary small" aria-pressed={wall} onClick={() => setWall(!wall)}>
          Wall mode
        </button>
        <button type="button" class="secondary small" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">
          ?
        </button>
        <span class="user" title={`tenant ${session.user.tenant}`}>
          {session.user.name} <span class="muted small">({session.user.role})</span>
        </span>
        <button type="button" class="secondary small" onClick={onLogout}>
          Sign out
        </button>
      </header>
      {flash && (
        <div class={`flash dom-${flash.domain}`} role="alert">
          <strong>High severity:</strong> {flash.title}{" "}
          <button type="button" class="secondary small" onClick={() => setFlash(null)}>
            Dismiss
          </button>
        </div>
      )}
      <div id="content" class="content">
        {view}
      </div>
      {help && <Help onClose={() => setHelp(false)} />}
    </>
  );
}

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [note, setNote] = useState<string | undefined>(undefined);

  const accept = (s: Session) => {
    setCsrf(s.csrf_token);
    setSession(s);
  };

  useEffect(() => {
    setUnauthorizedHandler(() => {
      live.disconnect();
      setCsrf(null);
      setNote("Your session ended; sign in again.");
      setSession(null);
    });
    api<Session>("/api/v1/session", { quiet401: true }).then(accept, (e) => {
      if (e instanceof ApiError && e.status !== 401) setNote(`The server answered: ${e.message}`);
      setSession(null);
    });
  }, []);

  async function logout() {
    try {
      await api("/api/v1/logout", { method: "POST", quiet401: true });
    } catch {
      // the session is dropped here either way
    }
    live.reset();
    forgetOrg();
    setCsrf(null);
    setNote(undefined);
    setSession(null);
  }

  if (session === undefined) return <p class="muted page">Loading…</p>;
  if (session === null) return <Login onLogin={(s) => { unlockAudio(); setNote(undefined); accept(s); }} note={note} />;
  return <Shell session={session} onLogout={logout} />;
}

const root = document.getElementById("app");
if (root) render(<App />, root);
