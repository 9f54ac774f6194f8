// The dashboard end to end against the real demo: log in, see an alert arrive live, open it on
// the map, acknowledge it, open its incident, write a note and fill the review. Screenshots go
// to web/test-results/.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";
import { RESULTS, lowContrast, realErrors, startBrowser, startDemo } from "./helpers.mjs";

const T = 60_000;

describe("dashboard against the demo", { timeout: 15 * 60_000 }, () => {
  let demo;
  let browser;
  let page;
  let alertId;
  let alertTitle;

  before(async () => {
    demo = await startDemo();
    browser = await startBrowser({ width: 1366, height: 768 });
    page = await browser.context.newPage();
  }, { timeout: 12 * 60_000 });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const shot = (name) => page.screenshot({ path: join(RESULTS, `${name}.png`) });

  it("serves the shell with a strict content security policy", async () => {
    const r = await fetch(`${demo.url}/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.equal(r.headers.get("cache-control"), "no-cache");
    const html = await r.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, "index.html loads a hashed script");
    const js = await fetch(`${demo.url}${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("cache-control") ?? "", /immutable/);
    const api = await fetch(`${demo.url}/api/v1/alerts`);
    assert.equal(api.status, 401, "the API still needs a login");
  });

  it("refuses a wrong password and logs in with the right one", async () => {
    await page.goto(demo.url);
    await page.getByLabel("Username").fill(demo.username);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong username or password.").waitFor({ timeout: T });
    await page.getByLabel("Password").fill(demo.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("header.top .user").getByText(demo.username).waitFor({ timeout: T });
    await page.locator('[data-testid="link"]', { hasText: "live" }).waitFor({ timeout: T });
    await shot("01-logged-in");
  });

  it("shows a demo alert arriving live, without a reload", async () => {
    // A marker that a reload would wipe.
    await page.evaluate(() => {
      window.__noReload = true;
    });
    const fresh = page.locator('.alerts li[data-fresh="true"][data-located="true"][data-status="open"]').first();
    await fresh.waitFor({ timeout: 3 * T });
    alertId = await fresh.getAttribute("data-id");
    assert.ok(alertId);
    assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
    await shot("02-live-alert");
  });

  it("moves through the feed with j and k", async () => {
    await page.locator(".alerts li").nth(1).waitFor({ timeout: 3 * T });
    await page.keyboard.press("j");
    const first = await page.locator(".alerts li.selected").getAttribute("data-id");
    assert.ok(first, "j selects an alert");
    await page.keyboard.press("j");
    await page.locator(`.alerts li.selected:not([data-id="${first}"])`).waitFor({ timeout: T });
    await page.keyboard.press("k");
    await page.locator(`.alerts li.selected[data-id="${first}"]`).waitFor({ timeout: T });
  });

  it("opens the alert on the map", async () => {
    const item = page.locator(`.alerts li[data-id="${alertId}"]`);
    await item.locator("button.alert-main").click();
    await page.locator(`.alerts li[data-id="${alertId}"].selected`).waitFor({ timeout: T });
    const heading = page.locator(".detail h2");
    await heading.waitFor({ timeout: T });
    alertTitle = (await heading.textContent())?.trim();
    assert.ok(alertTitle);
    // The map's popup names the alert (a previous popup may still be fading out).
    await page.locator(".leaflet-popup-content", { hasText: alertTitle }).waitFor({ timeout: T });
    await shot("03-alert-on-map");
    assert.deepEqual(await lowContrast(page), [], "text under WCAG AA contrast in the live view");
  });

  it("acknowledges it with the keyboard and shows the new state", async () => {
    await page.keyboard.press("a");
    await page.locator('[data-testid="alert-status"]', { hasText: "acknowledged" }).waitFor({ timeout: T });
    await page.locator(`.alerts li[data-id="${alertId}"][data-status="acknowledged"]`).waitFor({ timeout: T });
    // The server agrees.
    const stored = await page.evaluate(async (id) => (await fetch(`/api/v1/alerts/${id}`)).json(), alertId);
    assert.equal(stored.status, "acknowledged");
    await shot("04-acknowledged");
  });

  it("opens the alert's incident", async () => {
    const link = page.getByRole("link", { name: "Open incident" });
    await link.waitFor({ timeout: 2 * T });
    await link.click();
    await page.locator("#inc-title").waitFor({ timeout: T });
    assert.match(page.url(), /#\/incidents\/[0-9A-Z]{26}$/);
    await page.locator("#h-timeline").waitFor({ timeout: T });
    await shot("05-incident");
  });

  it("adds a note to the incident", async () => {
    const text = `Guard on site, door checked ${Date.now()}`;
    await page.locator("#note").fill(text);
    await page.getByRole("button", { name: "Add note" }).click();
    await page.locator(".timeline li", { hasText: text }).waitFor({ timeout: T });
    await shot("06-note");
    assert.deepEqual(await lowContrast(page), [], "text under WCAG AA contrast on the incident page");
  });

  it("ticks a checklist step", async () => {
    // Every demo incident gets its type's procedure, or the default one.
    const box = page.locator(".checklist input[type=checkbox]").first();
    await box.waitFor({ timeout: T });
    assert.equal(await box.isChecked(), false);
    // The box shows what the server stored, so it turns checked once the change is saved.
    await box.click();
    await page.locator(".checklist li", { hasText: `— ${demo.username}` }).first().waitFor({ timeout: T });
    await page.locator(".checklist input[type=checkbox]:checked").first().waitFor({ timeout: T });
    assert.equal(await box.isChecked(), true);
    await shot("06b-checklist");
  });

  it("fills and saves the post-incident review", async () => {
    const review = page.locator("section.review");
    const boxes = review.locator("textarea");
    await boxes.first().waitFor({ timeout: T });
    assert.equal(await boxes.count(), 4, "four review questions");
    await boxes.first().fill("A badge was shared; the guard confirmed it on camera.");
    await review.getByRole("button", { name: "Save review" }).click();
    await review.getByText("Review saved.").waitFor({ timeout: T });
    await shot("07-review");
    // The after-action report renders inside the page.
    await page.getByRole("button", { name: "Show here" }).click();
    await page.frameLocator("iframe.report").locator("body", { hasText: alertTitle }).waitFor({ timeout: T });
    await page.locator("iframe.report").scrollIntoViewIfNeeded();
    await shot("07b-report");
  });

  it("shows help, the board, metrics and the glossary, and wall mode", async () => {
    await page.locator("body").press("?");
    await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor({ timeout: T });
    await shot("08-help");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached", timeout: T });
    await page.getByRole("link", { name: "Incidents", exact: true }).click();
    await page.locator(".board .card").first().waitFor({ timeout: T });
    await shot("09-board");
    await page.getByRole("link", { name: "Metrics" }).click();
    await page.locator("figure.chart").first().waitFor({ timeout: T });
    await page.locator("main.metrics > p.muted", { hasText: "Loading…" }).waitFor({ state: "detached", timeout: T });
    assert.equal(await page.locator("main.metrics p.error").count(), 0, "the metrics page shows an error");
    await shot("10-metrics");
    assert.deepEqual(await lowContrast(page), [], "text under WCAG AA contrast on the metrics page");
    await page.getByRole("link", { name: "Glossary" }).click();
    await page.locator("#term-tailgating").waitFor({ timeout: T });
    await page.getByRole("link", { name: "Live" }).click();
    await page.getByRole("button", { name: "Wall mode" }).click();
    await page.locator("body.wall").waitFor({ timeout: T });
    await page.setViewportSize({ width: 2560, height: 1440 });
    // Let the map see its new size and redraw before the screenshot.
    await page.waitForFunction(() => document.querySelector(".map")?.getBoundingClientRect().width > 1600, null, { timeout: T });
    await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
    await shot("11-wall");
  });

  it("shows the organisation pages", async () => {
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.getByRole("button", { name: "Wall mode" }).click();
    await page.locator("body:not(.wall)").waitFor({ timeout: T });
    for (const [tab, heading] of [
      ["sites", "Sites"],
      ["people", "People"],
      ["assets", "Assets"],
      ["teams", "Teams and on-call"],
      ["rules", "Rules"],
      ["routes", "Routes"],
      ["deadletters", "Dead letters"],
      ["sources", "Sources"],
    ]) {
      await page.goto(`${demo.url}/#/org/${tab}`);
      await page.getByRole("heading", { level: 1, name: heading }).waitFor({ timeout: T });
      await page.locator("p.muted", { hasText: "Loading…" }).first().waitFor({ state: "detached", timeout: T });
      assert.equal(await page.locator("main p.error").count(), 0, `${tab} shows an error`);
      await shot(`12-org-${tab}`);
    }
    // The rule tester runs the sample rule against the sample event.
    await page.goto(`${demo.url}/#/org/rules`);
    await page.getByRole("button", { name: "Test", exact: true }).click();
    await page.getByText("The rule matches this event.").waitFor({ timeout: T });
    // The routing preview says who would be told about a real alert.
    await page.goto(`${demo.url}/#/org/routes`);
    await page.getByRole("button", { name: "Preview" }).click();
    await page.locator("th", { hasText: "Recipients" }).or(page.getByText("Nobody would be notified.")).first().waitFor({ timeout: T });
    assert.equal(await page.locator("main p.error").count(), 0, "the routing preview failed");
    await shot("13-routes-preview");
    // People show where they are from badge events.
    await page.goto(`${demo.url}/#/org/people`);
    await page.locator("tbody tr").first().waitFor({ timeout: T });
    await page.locator("tbody td", { hasText: "…" }).first().waitFor({ state: "detached", timeout: T });
  });

  it("logged no console errors", () => {
    assert.deepEqual(realErrors(browser.errors), []);
  });
});
