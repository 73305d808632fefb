// What the browser tests of the account, admin and programme screens
// share: the demo's address and the test's settings from the environment,
// one Chromium, pages that fail the run on page errors, console errors and
// refused requests, and the steps every screen takes — sign in, switch the
// organisation, open a view and check it (a screenshot, nothing wider than
// the screen, axe-core without serious or critical violations).
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const env = (k, d) => process.env[k] || d;
export const base = env('MOLEN_URL').replace(/\/$/, '');
export const shots = env('MOLEN_SCREENSHOTS', '/tmp/molen-screenshots');
export const org = env('MOLEN_ORG', 'default');
export const WAIT = Number(env('MOLEN_BROWSER_WAIT_MS', '120000'));
mkdirSync(shots, { recursive: true });
export const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const log = (...a) => console.log(...a);
export function fail(msg) { throw new Error(msg); }

export const browser = await chromium.launch({ executablePath: env('MOLEN_CHROMIUM', '/usr/bin/chromium'), args: ['--no-sandbox'] });

// newPage's page fails the run on page errors, console errors and refused
// requests (bypassCSP only lets the test inject axe-core). The factory's
// endpoints a hub may not offer yet (404, said on its screen) are not
// this test's concern.
export const notOurs = /\/api\/v1\/(alarms|live|reasons)\b/;
export async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true, acceptDownloads: true, locale: 'en-GB' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(WAIT);
  page.problems = [];
  page.signedIn = false;
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !(page.expect && /status of 40[039]/.test(m.text())) && !/status of 404/.test(m.text()) && (page.signedIn || !/status of 401/.test(m.text()))) page.problems.push('console: ' + m.text());
  });
  page.on('response', (r) => {
    if (page.expect && page.expect.test(`${r.status()} ${r.request().method()} ${r.url()}`)) return;
    if (r.status() >= 400 && !(r.status() === 404 && notOurs.test(r.url())) && (page.signedIn || r.status() !== 401)) page.problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
  });
  page.on('dialog', (d) => d.accept());
  // Requests without an answer yet: a view stuck loading names them.
  page.inFlight = new Map();
  page.on('request', (r) => page.inFlight.set(r, Date.now()));
  for (const ev of ['requestfinished', 'requestfailed']) page.on(ev, (r) => page.inFlight.delete(r));
  return page;
}
// unanswered lists the page's requests still without an answer, with
// their age.
export function unanswered(page) {
  const now = Date.now();
  return [...page.inFlight].map(([r, t]) => `${r.method()} ${r.url()} (${Math.round((now - t) / 1000)} s)`).join(', ') || 'none';
}
export function clean(page, where) {
  if (page.problems.length) fail(`${where}: ${page.problems.join('; ')}`);
}

export async function view(page, name) {
  await page.waitForFunction(() => ![...document.querySelectorAll('[role="status"]')].some((e) => /^(Loading|Laden)…$/.test(e.textContent)));
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
  // Nothing wider than the screen: wide tables scroll inside their section.
  const [wide, vw] = await page.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
  if (wide > vw) fail(`${name}: the page is ${wide} px wide on a ${vw} px screen`);
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  for (const v of res) log(`  axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`);
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) fail(`${name}: ${bad.length} serious or critical accessibility violations`);
  clean(page, name);
  log('ok view ' + name);
}
export const text = (page, sel) => page.locator(sel).first().textContent();
// status waits for a message matching re, failing at once on an alert
// (the hub refused).
export async function status(page, re) {
  await page.waitForFunction((src) => document.querySelector('main [role="alert"]') ||
    [...document.querySelectorAll('[role="status"]')].some((e) => new RegExp(src).test(e.textContent)), re.source);
  const alert = await page.$$eval('main [role="alert"]', (es) => es.map((e) => e.textContent).join('; '));
  if (alert) fail('the hub refused: ' + alert);
}

export async function signIn(page, email, password, code, into = org) {
  await page.goto(base + '/');
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  if (code) {
    await page.waitForSelector('#code');
    await page.fill('#code', code());
    await page.click('button[type=submit]');
  }
  await page.waitForSelector('header.top');
  page.signedIn = true;
  const current = await page.evaluate(() => document.getElementById('org-select')?.value);
  if (current !== undefined && current !== into) await switchOrg(page, into);
}
// switchOrg moves the session to organisation o, which brings the
// application back to its first view.
export async function switchOrg(page, o) {
  await page.selectOption('#org-select', o);
  // The application moves to #/ after the switch: wait for that too, so
  // that a navigation right after is not undone by it.
  await page.waitForFunction((x) => document.getElementById('org-select')?.value === x && location.hash === '#/' &&
    document.querySelector('#nav a[aria-current="page"]')?.getAttribute('href') === '#/factory', o);
}
export const go = async (page, hash, heading) => {
  await page.goto(base + '/' + hash);
  try {
    // A new address within the page is rendered after its hashchange:
    // until then the previous view (and its heading) is still there.
    await page.waitForFunction((want) => decodeURIComponent(document.documentElement.dataset.view || '') === want, decodeURIComponent(hash));
    await page.waitForFunction((h) => [...document.querySelectorAll('h1, h2')].some((e) => e.textContent.includes(h)), heading);
  } catch (e) {
    await page.screenshot({ path: path.join(shots, 'failed.png'), fullPage: true });
    fail(`${hash}: no heading "${heading}" (failed.png): ${page.problems.join('; ')}; unanswered requests: ${unanswered(page)}`);
  }
};

