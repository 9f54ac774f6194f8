// Starts the real `tocsin demo` and a headless Chromium (Debian's /usr/bin/chromium, never a
// downloaded browser) for the browser tests.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB = resolve(here, "..");
export const RESULTS = join(WEB, "test-results");
export const PASSWORD = "demo-browser-test-pass";
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Builds the binary (a no-op when it is current) and returns its path. */
export function demoBinary() {
  if (process.env.TOCSIN_BIN) return process.env.TOCSIN_BIN;
  const root = resolve(WEB, "..");
  const target = process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, "target");
  const built = spawnSync("cargo", ["build", "-p", "tocsin"], { cwd: root, stdio: "inherit" });
  if (built.status !== 0) throw new Error(`cargo build -p tocsin failed (${built.status ?? built.signal})`);
  return join(target, "debug", "tocsin");
}

/**
 * Starts `tocsin demo` on a free port with a fresh data folder and waits until /healthz answers
 * 200. Returns { url, password, stop, output }.
 */
export async function startDemo() {
  const bin = demoBinary();
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "tocsin-web-test-"));
  const child = spawn(bin, ["demo", "--listen", `127.0.0.1:${port}`, "--data", data, "--password", PASSWORD], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let output = "";
  child.stdout.on("data", (b) => (output += b));
  child.stderr.on("data", (b) => (output += b));
  const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (done) throw new Error(`tocsin demo exited before it was healthy:\n${output}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`tocsin demo was not healthy within 120 s:\n${output}`);
    }
    await new Promise((ok) => setTimeout(ok, 100));
  }
  // The printed login, in case the binary ignores --password.
  const printed = /Login:\s+(\S+) \/ (\S+)/.exec(output);
  return {
    url,
    username: printed?.[1] ?? "admin",
    password: printed?.[2] ?? PASSWORD,
    output: () => output,
    async stop() {
      if (!done) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** A headless Chromium with a fresh profile; records console errors and page errors. */
export async function startBrowser({ width = 1366, height = 768 } = {}) {
  mkdirSync(RESULTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "tocsin-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width, height },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // The fresh --user-data-dir is `profile`, passed as launchPersistentContext's first argument.
    ],
  });
  const errors = [];
  const watch = (page) => {
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${m.text()} (${m.location()?.url ?? ""})`);
    });
    page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  };
  context.on("page", watch);
  for (const p of context.pages()) watch(p);
  return {
    context,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Console errors that count. Chromium logs every 4xx answer; two are expected: the 401 of the
 * session check on a fresh page (how the page learns it must show the login form) and the 401
 * of the wrong password the login test types on purpose.
 */
export function realErrors(errors) {
  return errors.filter((e) => !(/status of 401/.test(e) && /\/api\/v1\/(session|login)\b/.test(e)));
}

/**
 * Text whose colour contrast with its background is under WCAG AA (4.5:1), as
 * "text: ratio". Runs in the page; skips the map, disabled controls and faded elements.
 */
export function lowContrast(page) {
  return page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c[3] ?? 1) > 0.5) return c;
      }
      return [15, 20, 25];
    };
    const bad = [];
    for (const el of document.querySelectorAll("body *")) {
      if (el.closest(".leaflet-container, [disabled], svg")) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      let faded = false;
      for (let e = el; e; e = e.parentElement) if (Number(getComputedStyle(e).opacity) < 1) faded = true;
      if (faded) continue;
      const fg = lum(rgb(getComputedStyle(el).color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5) bad.push(`${el.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)}`);
    }
    return bad;
  });
}
