// An edge's diagnostics panel in a real browser, against a running demo
// whose edge long-polls the hub: its status and recent logs as the edge
// sends them; a restart of one of its inputs, confirmed first; a draft
// pipeline tried on the edge's live data; a support bundle downloaded (a
// tar.gz); the panel worked by keyboard alone; Dutch. axe-core must find
// no serious or critical violation; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestFleetDiagnosticsInABrowser. Prints one line
// per step; exits non-zero on the first failure.
import {
  env, log, fail, browser, newPage, clean, view, signIn, go,
} from './session.mjs';

const page = await newPage();
await signIn(page, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));

// The demo edge that reports (the other two are not installed).
let edge = null;
for (const start = Date.now(); !edge; ) {
  const inv = await page.evaluate(async () => (await fetch('/api/v1/fleet/edges')).json());
  edge = inv.edges.find((e) => e.reported && e.reported.report.inputs.length > 0);
  if (!edge && Date.now() - start > 3 * Number(env('MOLEN_BROWSER_WAIT_MS', '120000'))) fail('no edge reports inputs: ' + JSON.stringify(inv));
  if (!edge) await page.waitForTimeout(500);
}
await go(page, '#/fleet/edge/' + edge.id, edge.name);
await page.waitForSelector('[data-diag] h3:text-is("Diagnostics")');

// done waits for a command's result in the panel.
async function done(kind) {
  await page.waitForSelector(`[data-diag-result="${kind}"]:not([data-state="pending"]):not([data-state="sent"])`);
  const st = await page.getAttribute(`[data-diag-result="${kind}"]`, 'data-state');
  if (st !== 'done') fail(`${kind}: ${st}: ${await page.textContent('[data-diag-result]')}`);
}

// 1. Status, by keyboard: focus the button and press Enter.
await page.focus('[data-diag-run="status"]');
await page.keyboard.press('Enter');
await done('status');
if (!/records .* waiting/.test(await page.textContent('[data-diag-result="status"]'))) fail('status: ' + await page.textContent('[data-diag-result]'));
await view(page, 'diag-status');
log('ok status from the edge (by keyboard)');

// 2. Recent logs.
await page.click('[data-diag-run="logs"]');
await done('logs');
if (await page.locator('[data-log]').count() === 0) fail('no log records');
await view(page, 'diag-logs');
log('ok recent logs from the edge');

// 3. Restart an input (the dialog is accepted).
const input = await page.getAttribute('[data-restart]', 'data-restart');
let asked = '';
page.once('dialog', (d) => { asked = d.message(); });
await page.click(`[data-restart="${input}"]`);
await done('restart-input');
if (!asked.includes(input)) fail('no confirmation asked: ' + asked);
log('ok input ' + input + ' restarted after a confirmation');

// 4. A draft pipeline on live data.
await page.fill('#diag-spec', 'pipelines:\n  - name: draft\n    match: ["#"]\n    stages:\n      - deadband: {absolute: 0.5}\n');
await page.click('[data-diag-run="pipeline-test"]');
await done('pipeline-test');
if (await page.locator('[data-test-line]').count() === 0) fail('the draft had no output: ' + await page.textContent('[data-diag-result]'));
await view(page, 'diag-pipeline-test');
log('ok a draft pipeline tried on live data');

// 5. A support bundle, downloaded.
await page.click('[data-diag-run="bundle"]');
await done('bundle');
const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-bundle]')]);
if (!/\.tar\.gz$/.test(download.suggestedFilename())) fail('bundle file: ' + download.suggestedFilename());
const file = await download.path();
const { statSync, readFileSync } = await import('node:fs');
const head = readFileSync(file).subarray(0, 2);
if (statSync(file).size < 100 || head[0] !== 0x1f || head[1] !== 0x8b) fail('the bundle is not a gzip file');
// The recent actions list every command, the bundle done.
await page.waitForSelector('[data-command="bundle"][data-state="done"]');
const kinds = await page.$$eval('[data-command]', (rs) => [...new Set(rs.map((r) => r.dataset.command))].sort().join());
if (kinds !== 'bundle,logs,pipeline-test,restart-input,status') fail('recent actions: ' + kinds);
await view(page, 'diag-bundle');
log('ok a support bundle downloaded');

// 6. Dutch.
await page.selectOption('#lang-select', 'nl');
await page.waitForSelector('[data-diag] h3:text-is("Diagnose")');
await view(page, 'diag-nl');
await page.selectOption('#lang-select', 'en');

clean(page, 'end');
await browser.close();
log('PASS');
