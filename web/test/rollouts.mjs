// The fleet's rollouts in a real browser, against a running demo hub whose
// edge follows the hub's desired state: the demo's own rollout completes;
// the wizard refuses a bad plan with
// the hub's reason; a rollout of the assembly group's layer starts from
// that layer's content, is paused and resumed with the keyboard, and
// completes once the demo edge (its canary) installed it; one whose canary
// fails (an input that cannot connect) is aborted by the canary's own
// rollback; another is aborted by a person; all are in the list; Dutch; a
// phone's screen. axe-core must
// find no serious or critical violation on any screen; screenshots go to
// MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestRolloutsInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_EMAIL, MOLEN_PASSWORD, MOLEN_ORG, MOLEN_CHROMIUM.
// Prints one line per step; exits non-zero on the first failure.
import {
  env, log, fail, browser, newPage, clean, view, text, status, signIn, go, WAIT,
} from './session.mjs';

const page = await newPage();
await signIn(page, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));

// 0. The demo's own rollout (a pipeline for hall-1) completes once its
// canary, the demo edge, installed it.
const demoDeadline = Date.now() + 3 * WAIT;
await go(page, '#/fleet/rollouts', 'Start a rollout');
// The list follows a rollout while one runs; the demo's may start only
// after the page loaded: come back to the list (within the page, which
// loads it again) until it is there.
while (!await page.waitForSelector('[data-rollout][data-rollout-state="completed"]', { timeout: 5000 }).then(() => true, () => false)) {
  if (Date.now() > demoDeadline) fail('the demo\'s rollout did not complete: ' + await page.evaluate(async () => (await fetch('/api/v1/fleet/rollouts')).text()));
  await go(page, '#/fleet', 'Inventory');
  await go(page, '#/fleet/rollouts', 'Start a rollout');
}
const demo = await page.$$eval('[data-rollout]', (rs) => rs.map((r) => r.dataset.rollout));
if (demo.length !== 1) fail('demo rollouts: ' + demo.join());
await page.click(`[data-rollout="${demo[0]}"] th a`);
await page.waitForSelector('#rollout-state[data-state="completed"]');
if (await page.getAttribute('[data-step="0"]', 'data-step-state') !== 'passed') fail('the demo rollout\'s canary step did not pass');
await view(page, 'rollout-demo');
log('ok the demo\'s rollout completed');

// 1. The wizard: a bad plan is refused with the hub's reasons.
await go(page, '#/fleet/rollouts', 'Start a rollout');
await page.waitForSelector('#rollout-from option[value="group/assembly"]', { state: 'attached' });
await page.selectOption('#rollout-from', 'group/assembly');
await page.waitForFunction(() => document.getElementById('rollout-target').value === 'assembly');
await page.fill('#rollout-timeout', 'soon');
const bad = JSON.parse(await page.inputValue('#rollout-doc'));
bad.pipelines = { averages: { match: ['demo-factory/#'], stages: [{ window: { size: '0s', aggregates: ['mean'] } }] } };
await page.fill('#rollout-doc', JSON.stringify(bad, null, 2));
page.expect = /^400 POST .*\/api\/v1\/fleet\/rollouts$/;
await page.click('button:text-is("Check and start")');
await page.waitForSelector('main [role="alert"]');
const refusal = await text(page, 'main [role="alert"]');
if (!/step_timeout/.test(refusal) || !/pipelines\.averages\.stages\[0\]\.window/.test(refusal)) fail('refusal: ' + refusal);
await view(page, 'rollout-refused');
page.expect = null;
log('ok a bad plan refused with the hub\'s reasons');

// 2. A rollout of the group's layer with a longer health window: the demo
// edge is its canary and watches the change that long, so the rollout is
// still running while it is paused and resumed.
async function startRollout(healthWindow, change = () => {}) {
  await go(page, '#/fleet/rollouts', 'Start a rollout');
  await page.waitForSelector('#rollout-from option[value="group/assembly"]', { state: 'attached' });
  await page.selectOption('#rollout-from', 'group/assembly');
  await page.waitForFunction(() => document.getElementById('rollout-target').value === 'assembly');
  const doc = JSON.parse(await page.inputValue('#rollout-doc'));
  doc.settings.health_window = healthWindow;
  change(doc);
  await page.fill('#rollout-doc', JSON.stringify(doc, null, 2));
  await page.fill('#rollout-timeout', '10m');
  await page.click('button:text-is("Check and start")');
  await page.waitForSelector('#rollout-state');
  return page.evaluate(() => location.hash.split('/').pop());
}
const first = await startRollout('45s');
if (await page.getAttribute('#rollout-state', 'data-state') !== 'running') fail('a new rollout is ' + await page.getAttribute('#rollout-state', 'data-state'));
if (await page.getAttribute('[data-step="0"]', 'data-step-state') !== 'current') fail('the canary step is not current');
await view(page, 'rollout-running');
// Keyboard: focus the button and press Enter.
await page.focus('button:text-is("Pause")');
await page.keyboard.press('Enter');
await page.waitForSelector('#rollout-state[data-state="paused"]');
await view(page, 'rollout-paused');
await page.focus('button:text-is("Resume")');
await page.keyboard.press('Enter');
await page.waitForSelector('#rollout-state[data-state="running"]');
log('ok paused and resumed with the keyboard');
await page.waitForSelector('#rollout-state[data-state="completed"]', { timeout: 3 * WAIT });
const edgeStates = await page.$$eval('[data-rollout-edge]', (rs) => rs.map((r) => r.dataset.edgeState));
if (!edgeStates.includes('installed') || edgeStates.some((s) => s !== 'installed' && s !== 'skipped')) fail('edges: ' + edgeStates.join());
await view(page, 'rollout-completed');
log('ok the rollout completed: its canary installed the change');

// 3. A canary that fails: the change adds an input that cannot connect;
// the demo edge, its canary, applies it, finds it unhealthy at the end of
// its health window and goes back by itself; the hub sees the rollback,
// the abort threshold ends the rollout, and the page shows why.
const failing = await startRollout('2s', (doc) => {
  doc.inputs = { ...(doc.inputs || {}), packer: { modbus: { url: 'tcp://127.0.0.1:1', registers: [{ address: 0, path: 'demo-factory/hall-1/packer/cell/count' }] } } };
});
await page.waitForSelector('#rollout-state[data-state="aborted"]', { timeout: 3 * WAIT });
const failReason = await text(page, '[data-reason]');
if (!/abort threshold/.test(failReason)) fail('reason of the failing canary\'s rollout: ' + failReason);
const canaryRow = await page.$eval('[data-rollout-edge][data-edge-state="failed"]', (r) => r.textContent);
if (!/rolled back/.test(canaryRow) || !/inputs\.packer/.test(canaryRow)) fail('the failed canary: ' + canaryRow);
await view(page, 'rollout-canary-rolled-back');
log('ok a failing canary rolled itself back and the rollout aborted: ' + failReason);

// 4. A second one, aborted by a person.
const second = await startRollout('40s');
await page.focus('button:text-is("Abort")');
await page.keyboard.press('Enter');
await page.waitForSelector('#rollout-state[data-state="aborted"]');
if (!/aborted by/.test(await text(page, '[data-reason]'))) fail('reason: ' + await text(page, '[data-reason]'));
log('ok aborted');

// 5. The list, Dutch, a phone's screen.
await go(page, '#/fleet/rollouts', 'Rollouts');
await page.waitForSelector(`[data-rollout="${second}"]`);
const states = await page.$$eval('[data-rollout]', (rs) => Object.fromEntries(rs.map((r) => [r.dataset.rollout, r.dataset.rolloutState])));
if (states[first] !== 'completed' || states[failing] !== 'aborted' || states[second] !== 'aborted' || Object.keys(states).length !== 4) fail('list: ' + JSON.stringify(states));
await view(page, 'rollouts');
await page.selectOption('#lang-select', 'nl');
await page.waitForSelector('h2:text-is("Uitrol")');
await view(page, 'rollouts-nl');
await page.click(`[data-rollout="${first}"] th a`);
await page.waitForSelector('h3:text-is("Stappen")');
await view(page, 'rollout-nl');
await page.selectOption('#lang-select', 'en');
await page.setViewportSize({ width: 390, height: 844 });
await go(page, '#/fleet/rollout/' + first, 'Rollout');
await view(page, 'rollout-phone');

clean(page, 'end');
await browser.close();
log('PASS');
