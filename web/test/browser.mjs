// The web application in a real browser, against a running demo hub:
// sign in, the organisation switcher, site → machine navigation, a chart
// zoomed to a day and back, a live value, a downtime reason changing the
// Pareto, Dutch, CSV export, and axe-core on every main view (no serious
// or critical violation). Screenshots of each view go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestDemoInABrowser (go test), which starts the
// demo and sets MOLEN_URL, MOLEN_EMAIL, MOLEN_PASSWORD, MOLEN_ORG,
// MOLEN_MACHINE (a machine's UNS path) and MOLEN_CHROMIUM. Prints one line
// per step; exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const env = (k, d) => process.env[k] || d;
const base = env('MOLEN_URL').replace(/\/$/, '');
const shots = env('MOLEN_SCREENSHOTS', '/tmp/molen-screenshots');
const machine = env('MOLEN_MACHINE');
const org = env('MOLEN_ORG', 'default');
const WAIT = Number(env('MOLEN_BROWSER_WAIT_MS', '120000'));
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const log = (...a) => console.log(...a);
function fail(msg) { throw new Error(msg); }

const browser = await chromium.launch({ executablePath: env('MOLEN_CHROMIUM', '/usr/bin/chromium'), args: ['--no-sandbox'] });
// bypassCSP only lets the test inject axe-core; the application itself
// runs under the hub's policy (a violation shows as a console error, which
// fails the run).
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true, acceptDownloads: true, locale: 'en-GB' });
const page = await ctx.newPage();
page.setDefaultTimeout(WAIT);
const problems = [];
page.on('pageerror', (e) => problems.push('page error: ' + e.message));
let signedIn = false;
page.on('console', (m) => {
  // A hub without an endpoint answers 404 (the application says so on
  // screen) and before sign-in /me answers 401; anything else in the
  // console is a defect.
  if (m.type() === 'error' && !/status of 404/.test(m.text()) && (signedIn || !/status of 401/.test(m.text()))) problems.push('console: ' + m.text());
});
page.on('response', (r) => {
  if (r.status() >= 400 && r.status() !== 404 && (signedIn || r.status() !== 401)) problems.push(`${r.status()} ${r.request().method()} ${r.url()}`);
});

async function axe(name) {
  await page.addScriptTag({ content: axeSource });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of res) log(`  axe ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`);
  if (bad.length) fail(`${name}: ${bad.length} serious or critical accessibility violations`);
}
async function shot(name) {
  await page.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
}
async function view(name, { skipAxe } = {}) {
  await page.waitForFunction(() => !document.querySelector('[data-state="loading"]') &&
    ![...document.querySelectorAll('[role="status"]')].some((e) => /^(Loading|Laden)…$/.test(e.textContent)));
  await shot(name);
  if (!skipAxe) await axe(name);
  log('ok view ' + name);
}
// go opens hash and waits until the page has rendered it (not only
// navigated: until its hashchange the previous view is still there).
const go = async (hash) => {
  await page.goto(base + '/' + hash);
  await page.waitForFunction((want) => decodeURIComponent(document.documentElement.dataset.view || '') === want, decodeURIComponent(hash));
};
const hashOf = () => page.evaluate(() => location.hash);
const machinePath = machine.split('/');

// 1. Sign-in screen, then sign in.
const t0 = Date.now();
await page.goto(base + '/');
await page.waitForSelector('#email');
await view('signin');
await page.fill('#email', env('MOLEN_EMAIL'));
await page.fill('#password', env('MOLEN_PASSWORD'));
await page.click('button[type=submit]');
await page.waitForSelector('header.top');
signedIn = true;
log('ok signed in');

// 2. The organisation switcher: to the factory's organisation.
const current = await page.evaluate(() => document.getElementById('org-select')?.value);
if (current !== undefined && current !== org) {
  await page.selectOption('#org-select', org);
  await page.waitForFunction((o) => document.getElementById('org-select')?.value === o, org);
  log('ok switched organisation to ' + org);
}
await page.waitForSelector('[data-machine]');
log(`first page usable after sign-in: ${Date.now() - t0} ms`);
await view('factory');

// 2b. The application's own arithmetic, in the page: the UNS tree, OEE
// sums (the example of docs/api.md) and the y-axis' least span.
const unit = await page.evaluate(async () => {
  const { buildTree, combine, machineState, isoWeek, axisTicks } = await import('/static/app/factory.js');
  const { minSpan, chartData, Chart } = await import('/static/app/chart.js');
  const { html, render, signal, useSignal } = await import('/static/app/core.js');
  // A signal set after a component's first render but before its effects
  // ran (a fast answer on a busy machine) still reaches the component.
  const sig = signal('before');
  const sigHost = document.createElement('div');
  document.body.append(sigHost);
  function Shows() { return html`<p>${useSignal(sig)}</p>`; }
  render(html`<${Shows} />`, sigHost);
  sig.value = 'after';
  for (let i = 0; i < 20 && sigHost.textContent !== 'after'; i++) await new Promise((r) => requestAnimationFrame(r));
  const signalLate = sigHost.textContent;
  render(null, sigHost);
  sigHost.remove();
  // A chart with bands: their min and max series stay out of the legend.
  const host = document.createElement('div');
  host.style.width = '800px';
  document.body.append(host);
  render(html`<${Chart} lines=${[{ label: 'a', unit: '°C', ts: [1e12, 1e12 + 6e4], values: [1, 2], min: [0, 1], max: [2, 3] }]} from=${1e12} to=${1e12 + 6e4} title="t" />`, host);
  while (!host.querySelector('.u-legend')) await new Promise((r) => requestAnimationFrame(r));
  const legend = [...host.querySelectorAll('.u-legend .u-series')].filter((e) => getComputedStyle(e).display !== 'none').map((e) => e.querySelector('.u-label').textContent);
  render(null, host);
  host.remove();
  const tree = buildTree([{ path: 's/a/l/m1/state' }, { path: 's/a/l/m1/temp_c' }, { path: 's/a/l/m1/oee/good' }, { path: 's/a/l/agv/battery' }]);
  const o = combine([{ start: 0, end: 1, running_s: 5400, planned_s: 10800, good: 15, total: 20, performance: 1 }]);
  return {
    machines: [...tree.values()].filter((n) => n.machine).map((n) => n.path).sort().join(','),
    m1: tree.get('s/a/l/m1').series.map((x) => x.tag).join(','),
    line: tree.get('s/a/l').children.join(','),
    oee: [o.availability, o.performance, o.quality, o.oee].join(','),
    // A day's timeline is marked every 2 hours, local time.
    ticks: (() => { const d0 = new Date(2026, 10, 20).getTime(); return axisTicks(d0, d0 + 864e5).map((x) => new Date(x).getHours()).join(','); })(),
    legend: legend.join(','),
    signalLate,
    // The target spans the chart even over a single bucket.
    target: JSON.stringify(chartData([{ label: 'oee', unit: '%', ts: [1000], values: [60] }], 1000, 5000, 85)),
    // ISO weeks: 3 January 2021 is in week 53 of 2020, 29 December 2025 in week 1 of 2026.
    weeks: ['2021-01-03', '2021-01-04', '2025-12-29', '2026-11-30', '2026-12-06'].map((d) => isoWeek(new Date(d + 'T12:00').getTime())).join(','),
    flat: minSpan(42, 42).map((x) => x.toFixed(2)).join(','),
    wide: minSpan(0, 100).join(','),
    // A machine is stale when none of its series is fresh, whatever its
    // last state says.
    stale: ['fresh', 'old'].map((k) => {
      const now = 1e12, ts = k === 'fresh' ? now - 60e3 : now - 600e3;
      const st = machineState(tree.get('s/a/l/m1'), new Map([['s/a/l/m1/state', { ts, value: 'running' }], ['s/a/l/m1/temp_c', { ts, value: 1 }]]), now);
      return k + ':' + (st.stale ? 'stale' : st.value);
    }).join(','),
  };
});
const wantUnit = {
  machines: 's/a/l/agv,s/a/l/m1', m1: 'oee/good,state,temp_c', line: 's/a/l/agv,s/a/l/m1', oee: '0.5,1,0.75,0.375', flat: '39.90,44.10', wide: '-5,105', stale: 'fresh:running,old:stale',
  ticks: '2,4,6,8,10,12,14,16,18,20,22', legend: 'Time,a (°C)', signalLate: 'after', target: '[[1,5],[60,null],[85,85]]', weeks: '53,1,1,49,49',
};
for (const [k, v] of Object.entries(wantUnit)) if (unit[k] !== v) fail(`${k}: got ${unit[k]}, want ${v}`);
log('ok tree, OEE sums, axis spans, staleness, band legend, target span, ISO weeks, timeline ticks and a signal set before its first effect');

// 3. Navigate site → area → line → machine by links.
for (let i = 0; i < machinePath.length - 1; i++) {
  await page.click(`a[href="#/factory/${machinePath.slice(0, i + 1).map(encodeURIComponent).join('/')}"]`);
  await page.waitForFunction((n) => document.querySelector('h1')?.textContent.startsWith(n), machinePath[i]);
}
await view('line');
await page.click(`[data-machine="${machine}"] h3 a`);
await page.waitForSelector('[data-chart][data-points]');
await page.waitForFunction(() => Number(document.querySelector('[data-chart]').dataset.points) > 0);
await view('machine');
const machineHash = await hashOf();

// 4. Zoom to a day and back.
await page.click('a.chip:text-is("day")');
await page.waitForFunction(() => location.hash.includes('from=-24h'));
// The day's chart is drawn (not the hour's, still there while the day loads).
await page.waitForFunction(() => {
  const c = document.querySelector('[data-chart]');
  return c && Number(c.dataset.points) > 0 && Number(c.dataset.span) >= 23 * 3600e3 && c.querySelector('.u-over');
});
await shot('machine-day');
const box = await page.locator('[data-chart] .u-over').boundingBox();
if (!box) fail('the day chart has no plot area to drag across');
await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
await page.mouse.down();
await page.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2, { steps: 5 });
await page.mouse.up();
await page.waitForFunction(() => /from=\d+&to=\d+/.test(location.hash));
log('ok zoomed by dragging: ' + (await hashOf()));
await page.click('a.chip:text-is("back to now")');
await page.waitForFunction(() => location.hash.includes('from=-1h') && !location.hash.includes('to='));
log('ok back to now');

// 5. A value updates live (no reload).
const tag = await page.evaluate(() => [...document.querySelectorAll('td[data-tag]')].find((e) => e.dataset.tag !== 'state' && e.dataset.value !== '')?.dataset.tag);
const before = await page.evaluate(() => [...document.querySelectorAll('td[data-tag]')].map((e) => e.dataset.value).join('|'));
await page.waitForFunction((b) => [...document.querySelectorAll('td[data-tag]')].map((e) => e.dataset.value).join('|') !== b, before);
log('ok live update (watched ' + tag + ' and the others)');
log('live status: ' + (await page.getAttribute('[data-live]', 'data-live')));

// 6. Export CSV of the series on screen.
const [dl] = await Promise.all([page.waitForEvent('download'), page.click('button:text-is("Export CSV")')]);
const csv = readFileSync(await dl.path(), 'utf8');
const lines = csv.trim().split('\n');
if (lines.length < 2 || !/time|ts/.test(lines[0])) fail('export: want a header and rows, got ' + JSON.stringify(csv.slice(0, 200)));
log(`ok export ${dl.suggestedFilename()}: ${lines.length - 1} rows, header ${lines[0]}`);
// Several series in the chart: the CSV names the series of each row,
// and Parquet is a Parquet file.
const seriesCount = await page.locator('input[data-series]:checked').count();
const tagsInFile = new Set(lines.slice(1).map((l) => l.split(',')[0]));
if (seriesCount > 1 && (!lines[0].startsWith('series,') || tagsInFile.size < 2)) fail(`export of ${seriesCount} series: header ${lines[0]}, rows of ${[...tagsInFile]}`);
const [pq] = await Promise.all([page.waitForEvent('download'), page.click('button:text-is("Export Parquet")')]);
const pqBytes = readFileSync(await pq.path());
if (pqBytes.subarray(0, 4).toString() !== 'PAR1' || pqBytes.subarray(-4).toString() !== 'PAR1') fail('Parquet export: not a Parquet file');
log(`ok export ${pq.suggestedFilename()}: Parquet, ${pqBytes.length} bytes`);

// 7. Line views: timeline, OEE, downtime (assign a reason, Pareto
// changes), alarms, events.
const line = machinePath.slice(0, -1).map(encodeURIComponent).join('/');
for (const tab of ['timeline', 'oee', 'alarms', 'events']) {
  await go(`#/factory/${line}?tab=${tab}`);
  await page.waitForSelector(`.tabs a[aria-current="page"][href$="tab=${tab}"]`);
  await view(tab);
}
// Event search by kind and time.
await go(`#/factory/${line}?tab=events`);
await page.selectOption('select[name="kind"]', 'downtime');
await page.click('button:text-is("Search")');
await page.waitForFunction(() => location.hash.includes('kind=downtime'));
await page.waitForFunction(() => {
  const cells = [...document.querySelectorAll('table.data tbody tr td:nth-child(2)')].map((c) => c.textContent);
  return cells.length > 0 && cells.every((c) => c === 'downtime');
});
log('ok event search by kind');

// OEE per week: the hub's week buckets, named by ISO week.
await go(`#/factory/${line}?tab=oee&bucket=week&from=-7d`);
await page.waitForFunction(() => [...document.querySelectorAll('table.data tbody th')].some((h) => /^week \d+ \(/.test(h.textContent)));
log('ok OEE per week');

await go(`#/factory/${line}?tab=downtime&from=-24h`);
await page.waitForSelector('.tabs a[aria-current="page"][href$="tab=downtime&from=-24h"], .tabs a[aria-current="page"][href*="tab=downtime"]');
const reasons = await page.evaluate(async () => (await fetch('/api/v1/reasons')).status);
if (reasons === 404) {
  log('SKIP downtime reason: the hub has no /api/v1/reasons');
} else {
  await page.waitForSelector('[data-downtime] select');
  const pareto = () => page.evaluate(() => [...document.querySelectorAll('[data-pareto] tr[data-key]')].map((r) => r.dataset.key + '=' + r.dataset.seconds).join(','));
  const beforePareto = await pareto();
  const sel = page.locator('[data-downtime] select').first();
  const code = await sel.evaluate((s) => [...s.options].map((o) => o.value).filter(Boolean).find((v) => v !== s.value));
  await sel.selectOption(code);
  await page.waitForFunction((c) => [...document.querySelectorAll('[data-pareto] tr[data-key]')].some((r) => r.dataset.key === c), code);
  log(`ok reason ${code} assigned; Pareto ${beforePareto} -> ${await pareto()}`);
}
await view('downtime');

// Alarms: comment on and acknowledge the open one of the test machine.
await go(`#/factory/${line}?tab=alarms&state=open`);
const alarm = page.locator('ul.alarms > li.open', { hasText: 'test-cell' }).first();
await alarm.waitFor();
await alarm.locator('input').fill('checked the bearing');
await alarm.locator('button.primary').click();
await go(`#/factory/${line}?tab=alarms&state=acked`);
await page.locator('ul.alarms > li.acked', { hasText: 'checked the bearing' }).first().waitFor();
await page.waitForFunction(() => !document.querySelector('ul.alarms').textContent.includes('usr_'));
await view('alarms-acked');
log('ok alarm acknowledged with a comment');

// Series management (admin): rename a series of the test machine, then
// delete it.
if (env('MOLEN_SERIES_ADMIN')) {
  const cell = machinePath.slice(0, -1).concat('test-cell');
  const from = cell.join('/') + '/vibration_mm_s', to = cell.join('/') + '/vibration_renamed';
  page.on('dialog', (d) => d.accept());
  await go('#/factory/' + cell.map(encodeURIComponent).join('/'));
  await page.click('details.admin summary');
  await page.fill(`[id="rn-${from}"]`, to);
  await page.locator(`form:has([id="rn-${from}"]) button`).click();
  await page.waitForSelector(`[id="rn-${to}"]`);
  await page.locator(`tr:has([id="rn-${to}"]) button.danger`).click();
  await page.waitForFunction((p) => !document.getElementById('rn-' + p), to);
  log('ok series renamed and deleted');
}

// 8. Dutch: switch, the screen speaks Dutch, the choice is remembered.
await go(machineHash);
await page.waitForSelector('[data-chart]');
await page.selectOption('#lang-select', 'nl');
await page.waitForFunction(() => document.documentElement.lang === 'nl' && document.body.textContent.includes('Reeksen'));
await page.reload();
await page.waitForFunction(() => document.documentElement.lang === 'nl' && document.body.textContent.includes('Afmelden'));
await view('machine-nl');
await page.selectOption('#lang-select', 'en');
log('ok language switched and remembered');

// 9. Dark theme and a phone.
await page.click('button[aria-pressed]');
await page.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
await go(`#/factory/${line}`);
await page.waitForSelector('[data-machine]');
await view('line-dark');
await page.click('button[aria-pressed]');
await page.setViewportSize({ width: 390, height: 844 });
await go(machineHash);
await page.waitForSelector('[data-chart][data-points]');
await view('machine-phone');
await page.click('.menu-toggle');
await page.waitForSelector('#nav.open');
await shot('phone-menu');
log('ok phone');

// 10. Keyboard: the skip link is the first stop and is visible on focus.
await page.setViewportSize({ width: 1280, height: 900 });
await go(`#/factory/${line}`);
await page.reload();
await page.waitForSelector('[data-machine]');
await page.keyboard.press('Tab');
const focused = await page.evaluate(() => ({ cls: document.activeElement.className, left: document.activeElement.getBoundingClientRect().left }));
if (focused.cls !== 'skip' || focused.left < 0) fail('first Tab stop: want the visible skip link, got ' + JSON.stringify(focused));
log('ok keyboard');

// 11. Performance: a 30-day chart of 10 series, rendered from data already
// in the page (what /query with points=N answers: ~720 buckets a series)
// and from per-minute data (43,200 a series).
const perf = await page.evaluate(async () => {
  const { html, render } = await import('/static/app/core.js');
  const { Chart } = await import('/static/app/chart.js');
  const out = {};
  for (const n of [720, 43200]) {
    const to = Date.now(), from = to - 30 * 864e5;
    const lines = Array.from({ length: 10 }, (_, i) => {
      const ts = Array.from({ length: n }, (_, k) => from + (k * (to - from)) / n);
      return { label: 's' + i, unit: i < 5 ? '°C' : 'bar', ts, values: ts.map((x, k) => 50 + i + 10 * Math.sin(k / 50)) };
    });
    const host = document.createElement('div');
    host.style.width = '1200px';
    document.body.append(host);
    const t = performance.now();
    render(html`<${Chart} lines=${lines} from=${from} to=${to} title="bench" />`, host);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    out[n] = Math.round(performance.now() - t);
    render(null, host);
    host.remove();
  }
  return out;
});
log(`chart of 10 series over 30 days: ${perf[720]} ms with 720 points a series, ${perf[43200]} ms with 43,200`);

// First page usable on a fresh load with a session: navigation start to
// the machines' cards.
await go('#/factory');
await page.reload();
await page.waitForSelector('[data-machine]');
const usable = await page.evaluate(() => Math.round(performance.now()));
log(`first page usable (reload with a session): ${usable} ms`);

// 12. The demo's #token= link: the tab is signed in with the token, which
// leaves the address bar.
if (env('MOLEN_TOKEN')) {
  const tab = await (await browser.newContext()).newPage();
  await tab.goto(base + '/#token=' + env('MOLEN_TOKEN'));
  await tab.waitForSelector('[data-machine]');
  const h = await tab.evaluate(() => location.hash);
  if (h.includes('token')) fail('the token stays in the address: ' + h);
  log('ok token link');
}

if (problems.length) fail(problems.join('\n'));
await browser.close();
log('PASS');
