// Opens published pages in headless Chromium and reports, as JSON on stdout, what a person
// would notice: console errors, network requests, charts without alt text, what the index's
// sorting and filters do, and the visible text of the page. The Rust test asserts on it.
// Usage: node check.js <index.html> <packet.html>
"use strict";
const path = require("path");
const { pathToFileURL } = require("url");
const { chromium } = require(path.join(process.env.EQUITY_GAP_NODE_MODULES || "", "playwright-core"));

async function open(context, file) {
  const page = await context.newPage();
  const url = pathToFileURL(path.resolve(file)).href;
  const seen = { console: [], requests: [], dialogs: 0 };
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") seen.console.push(m.type() + ": " + m.text()); });
  page.on("pageerror", (e) => seen.console.push("pageerror: " + e.message));
  page.on("request", (r) => { if (r.url() !== url) seen.requests.push(r.url()); });
  page.on("dialog", async (d) => { seen.dialogs += 1; await d.dismiss(); });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForTimeout(200);
  const charts = await page.$$eval("svg", (els) => els.map((e) => ({
    role: e.getAttribute("role") || "",
    alt: (e.getAttribute("aria-label") || (e.querySelector("title") || {}).textContent || "").trim(),
  })));
  const text = await page.evaluate(() => document.body.innerText);
  const scripts = await page.$$eval("script", (els) => els.length);
  return { page, seen, charts, text, scripts };
}

async function visibleNames(page) {
  return page.$$eval("#schools tbody tr", (rows) =>
    rows.filter((r) => !r.hidden).map((r) => r.cells[0].querySelector("a").textContent));
}

(async () => {
  const [indexFile, packetFile] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext();
  const out = {};

  const index = await open(context, indexFile);
  const p = index.page;
  const all = await visibleNames(p);
  // Sort by the first numeric column, both directions.
  const head = p.locator("#schools thead th[data-sort=num]").first();
  await head.click();
  const ascending = await visibleNames(p);
  const ascendingValues = await p.$$eval("#schools tbody tr", (rows) => rows.map((r) => r.cells[3].dataset.v));
  await head.click();
  const descending = await visibleNames(p);
  // Filters.
  const levels = await p.$$eval("#f-level option", (o) => o.map((x) => x.value).filter(Boolean));
  await p.selectOption("#f-level", levels[0]);
  const byLevel = await visibleNames(p);
  const levelOfShown = await p.$$eval("#schools tbody tr", (rows) => rows.filter((r) => !r.hidden).map((r) => r.dataset.level));
  await p.selectOption("#f-level", "");
  const supervisors = await p.$$eval("#f-supervisor option", (o) => o.map((x) => x.value).filter(Boolean));
  await p.selectOption("#f-supervisor", supervisors[0]);
  const bySupervisor = await visibleNames(p);
  await p.selectOption("#f-supervisor", "");
  await p.selectOption("#f-flag", "any");
  const withFlag = await visibleNames(p);
  await p.selectOption("#f-flag", "none");
  const withoutFlag = await visibleNames(p);
  await p.selectOption("#f-flag", "");
  const count = await p.textContent("#count");
  out.index = {
    console: index.seen.console, requests: index.seen.requests, dialogs: index.seen.dialogs,
    charts: index.charts, text: index.text, all, ascending, ascendingValues, descending,
    level: levels[0], byLevel, levelOfShown, supervisor: supervisors[0], bySupervisor,
    withFlag, withoutFlag, count,
  };

  const packet = await open(context, packetFile);
  out.packet = {
    console: packet.seen.console, requests: packet.seen.requests, dialogs: packet.seen.dialogs,
    charts: packet.charts, text: packet.text, scripts: packet.scripts,
  };
  await browser.close();
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
