// The fleet screens in a real browser, against a running demo hub whose
// edge follows the hub's desired state: the inventory with the demo edge
// reporting and two edges not yet installed, filtered by label; the demo
// edge's status, parts (installed), where each part comes from and what
// would change; the desired state: an invalid pipeline refused with the
// hub's reason, a valid one saved into the group's layer, shown as a change
// on the edge until the edge has installed it; the software releases and a
// version chosen for the edge; Dutch; a phone's screen.
// axe-core must find no serious or critical violation on any screen;
// screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestFleetInABrowser, which starts the demo and sets
// MOLEN_URL, MOLEN_EMAIL, MOLEN_PASSWORD, MOLEN_ORG, MOLEN_CHROMIUM. Prints
// one line per step; exits non-zero on the first failure.
import {
  env, log, fail, browser, newPage, clean, view, text, status, signIn, go, unanswered,
} from './session.mjs';

const page = await newPage();
await signIn(page, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));
const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
if (!nav.includes('Fleet')) fail('menu: ' + nav.join(', '));

// reloadUntil reloads the view until cond holds in the page (the fleet
// screens show what the hub knows when they load; the edge reports on its
// own schedule).
// On a loaded machine an edge takes its time: up to three waits.
async function reloadUntil(hash, heading, cond, arg, what) {
  const start = Date.now();
  const deadline = start + 3 * Number(env('MOLEN_BROWSER_WAIT_MS', '120000'));
  await go(page, hash, heading);
  for (;;) {
    // The page loads what it shows after its heading: give it a moment.
    if (await page.waitForFunction(cond, arg, { timeout: 5000 }).then(() => true, () => false)) {
      log(`  (${what}: ${Math.round((Date.now() - start) / 1000)} s)`);
      return;
    }
    if (Date.now() > deadline) {
      await page.screenshot({ path: `${env('MOLEN_SCREENSHOTS', '/tmp/molen-screenshots')}/failed.png`, fullPage: true });
      fail('gave up waiting for ' + what + ' (failed.png): ' + await page.evaluate(async () => (await fetch('/api/v1/fleet/edges')).text()));
    }
    // The same address again is no navigation: reload the page.
    await page.reload();
    await page.waitForFunction((h) => [...document.querySelectorAll('h1, h2')].some((e) => e.textContent.includes(h)), heading)
      .catch(async (e) => {
        await page.screenshot({ path: `${env('MOLEN_SCREENSHOTS', '/tmp/molen-screenshots')}/failed.png`, fullPage: true });
        fail(`no heading "${heading}" after a reload (failed.png): ${e.message}; ${page.problems.join('; ')}; unanswered requests: ${unanswered(page)}`);
      });
  }
}

// 1. The inventory: the demo edge healthy, running the hub's version; two
// edges that never reported.
await reloadUntil('#/fleet', 'Inventory', () => {
  const h = [...document.querySelectorAll('[data-edge] [data-health]')].map((e) => e.dataset.health);
  return h.includes('ok') && /runs (\d+) of \1/.test(document.querySelector('[data-edge]:has([data-health="ok"])').textContent);
}, null, 'the demo edge healthy and running the desired version');
const healths = await page.$$eval('[data-edge] [data-health]', (es) => es.map((e) => e.dataset.health).sort());
if (healths.join() !== 'ok,unknown,unknown,unknown') fail('inventory health: ' + healths.join());
await view(page, 'fleet-inventory');
log('ok the inventory: one edge reporting, two not yet installed, a Margo device');
await page.fill('input[name=label]', 'line=assembly');
await page.click('form.filters button[type=submit]');
await page.waitForFunction(() => document.documentElement.dataset.view.includes('label='));
await page.waitForFunction(() => document.querySelectorAll('[data-edge]').length === 1);
log('ok filtered by label');

// 2. The demo edge: status, its parts installed, their origins, no change pending.
await page.click('[data-edge] th a');
await page.waitForSelector('h3:text-is("Parts on the edge")');
const parts = await page.$$eval('[data-part]', (rs) => rs.map((r) => r.dataset.part + ':' + r.dataset.state));
if (!parts.includes('pipeline/production:installed') || !parts.some((p) => /^input\/modbus-\d+:installed$/.test(p))) fail('parts: ' + parts.join());
const layerOf = (p) => page.getAttribute(`[data-origin="${p}"]`, 'data-layer');
if (await layerOf('pipeline/production') !== 'org' || await layerOf('setting/poll_interval') !== 'group:assembly') fail('explain: ' + await text(page, '#fleet-explain-h'));
const changes = await page.$$eval('[data-change]', (rs) => rs.map((r) => r.dataset.kind));
if (changes.some((c) => c !== 'same')) fail('changes pending on a settled edge: ' + changes.join());
if (!/molen version/.test(await text(page, 'dl.facts'))) fail('no status');
await view(page, 'fleet-edge');
const edgeHash = await page.evaluate(() => location.hash);
log('ok the demo edge: status, installed parts, explain, nothing pending');
// The demo edge republishes its UNS to the simulated plant's broker: the
// mqtt output's row, sending.
await reloadUntil(edgeHash, 'demo-edge', () => document.querySelector('[data-output="mqtt"] [data-output-state="ok"]') !== null,
  null, 'the edge\'s mqtt output sending');
await view(page, 'fleet-edge-outputs');
log('ok the edge\'s outputs: mqtt sending, its counters shown');

// 3. The desired state: an invalid pipeline is refused with the reason.
await go(page, '#/fleet/state', 'Layers');
await page.click('[data-layer-row="group/assembly"] button:text-is("Edit")');
await page.waitForFunction(() => document.getElementById('fleet-target').value === 'assembly');
const doc = JSON.parse(await page.inputValue('#fleet-doc'));
doc.pipelines = { 'fleet-check': { match: ['demo-factory/+/+/+/temperature_c'], stages: [{ window: { size: '0s', aggregates: ['mean'] } }] } };
await page.fill('#fleet-doc', JSON.stringify(doc, null, 2));
page.expect = /^400 PUT .*\/api\/v1\/fleet\/layers\//;
await page.click('button:text-is("Check and save")');
await page.waitForSelector('[role="alert"]');
if (!/pipelines\.fleet-check\.stages\[0\]\.window\.size/.test(await text(page, '[role="alert"]'))) fail('refusal: ' + await text(page, '[role="alert"]'));
await view(page, 'fleet-refused');
page.expect = null;
log('ok an invalid pipeline refused with the hub\'s reason');
doc.pipelines['fleet-check'].stages = [{ deadband: { absolute: 0.5 } }];
await page.fill('#fleet-doc', JSON.stringify(doc, null, 2));
await page.click('button:text-is("Check and save")');
await status(page, /Layer saved/);
await view(page, 'fleet-state');
log('ok a valid pipeline saved in the group\'s layer');

// 4. The edge takes it: a change until installed, then installed.
await reloadUntil(edgeHash, 'demo-edge', () => document.querySelector('[data-part="pipeline/fleet-check"]')?.dataset.state === 'installed',
  null, 'the edge to install the new pipeline');
if ((await page.$$eval('[data-change]', (rs) => rs.map((r) => r.dataset.kind))).some((c) => c !== 'same')) fail('changes pending after the install');
await view(page, 'fleet-edge-installed');
log('ok the edge installed the group\'s pipeline');

// 5. A secret in the group's layer: write-only, never shown back.
const SECRET = 'browser-sëcret-' + Date.now();
await go(page, '#/fleet/state', 'Layers');
await page.click('[data-layer-row="group/assembly"] button:text-is("Edit")');
await page.waitForSelector('h3:text-is("Secrets of Group: assembly")');
await page.fill('form[aria-label="Set secret"] input[name=name]', 'plc-password');
await page.fill('form[aria-label="Set secret"] input[name=value]', SECRET);
await page.press('form[aria-label="Set secret"] input[name=value]', 'Enter');
await status(page, /Secret saved/);
await page.waitForSelector('[data-secret="plc-password"]');
if (await page.inputValue('form[aria-label="Set secret"] input[name=value]') !== '') fail('the value stays in the field');
if (await page.getAttribute('[data-secret="plc-password"] input[name=value]', 'type') !== 'password') fail('the replace field is not write-only');
if ((await page.content()).includes(SECRET)) fail('the page shows the secret');
if ((await page.evaluate(async () => (await fetch('/api/v1/fleet/layers')).text())).includes(SECRET)) fail('the API answers the secret');
if (!/secret\/plc-password/.test(await text(page, '[data-layer-row="group/assembly"]'))) fail('the layer does not list its secret');
await view(page, 'fleet-secrets');
log('ok a secret set in the group\'s layer, write-only');

// 6. A part the layer no longer holds: removed on the edge, with when.
await page.click('[data-layer-row="group/assembly"] button:text-is("Edit")');
await page.waitForFunction(() => document.getElementById('fleet-target').value === 'assembly');
const doc2 = JSON.parse(await page.inputValue('#fleet-doc'));
delete doc2.pipelines['fleet-check'];
await page.fill('#fleet-doc', JSON.stringify(doc2, null, 2));
await page.click('button:text-is("Check and save")');
await status(page, /Layer saved/);
await reloadUntil(edgeHash, 'demo-edge', () => document.querySelector('[data-part="pipeline/fleet-check"]')?.dataset.state === 'removed'
  && document.querySelector('[data-part="secret/plc-password"]')?.dataset.state === 'installed', null, 'the edge to remove the pipeline and install the secret');
if (!/removed/.test(await text(page, '[data-part="pipeline/fleet-check"]'))) fail('removed part: ' + await text(page, '[data-part="pipeline/fleet-check"]'));
if (!/molen edge/.test(await text(page, '[data-margo-caps]'))) fail('no Margo capabilities: ' + await text(page, '#fleet-margo-h'));
await view(page, 'fleet-edge-removed');
log('ok the edge removed the pipeline and installed the secret');

// 7. The Margo device: its deployment installed and its capabilities, as it reported them.
await go(page, '#/fleet', 'Inventory');
await page.click('[data-edge] th a:text-is("vision-station")');
await page.waitForSelector('[data-margo-deployment="quality-inspection"][data-state="installed"]');
if (!/Noordlicht Systems NV-4 vision box/.test(await text(page, '[data-margo-caps]'))) fail('Margo capabilities: ' + await text(page, '[data-margo-caps]'));
await view(page, 'fleet-margo-device');
log('ok the Margo device: its deployment installed and its capabilities');

// 8. An engineer registers an edge: the one-time token with the command
// that starts the edge; an admin revokes it again.
await go(page, '#/fleet', 'Inventory');
await page.focus('#fleet-reg-name');
await page.keyboard.type('Line 3 press');
await page.keyboard.press('Enter');
await status(page, /Edge Line 3 press registered/);
const token = await page.getAttribute('[data-register-edge] [data-secret]', 'data-secret');
if (!/^mle_/.test(token || '')) fail('enrollment token shown: ' + token);
const cmd = await text(page, '[data-enroll-command]');
if (!cmd.includes('--enroll-token ' + token) || !cmd.includes('--hub http')) fail('enroll command: ' + cmd);
await view(page, 'fleet-registered');
await page.waitForSelector('[data-edge] a:text-is("Line 3 press")');
await page.click('[data-edge] a:text-is("Line 3 press")');
await page.waitForSelector('[data-revoke-edge]');
await page.click('[data-revoke-edge]');
await status(page, /Edge Line 3 press revoked/);
await page.waitForSelector('[data-revoked]');
await go(page, '#/fleet', 'Inventory');
if (!/revoked/.test(await text(page, '[data-edge]:has(a:text-is("Line 3 press"))'))) fail('the revoked edge in the inventory');
log('ok an edge registered (token and command shown once) and revoked');
await go(page, edgeHash, 'demo-edge');

// 9. Software: the demo's release listed; its version chosen in the
// edge's layer with the keyboard; the edge reports it runs the version
// wanted, the part installed.
await go(page, '#/fleet/software', 'Releases');
await page.waitForSelector('[data-release]');
await view(page, 'fleet-software');
await go(page, '#/fleet/state', 'Layers');
await page.click(`[data-layer-row="edge/${edgeHash.split('/').pop()}"] button:text-is("Edit")`);
await page.waitForFunction(() => document.getElementById('fleet-scope').value === 'edge');
await page.waitForFunction(() => document.querySelectorAll('#fleet-version option').length > 1);
await page.focus('#fleet-version');
await page.keyboard.press('ArrowDown'); // the first released version
const version = await page.inputValue('#fleet-version');
await page.keyboard.press('Tab'); // to "Put in the layer"
await page.keyboard.press('Enter');
const withSoftware = JSON.parse(await page.inputValue('#fleet-doc'));
if (!withSoftware.software || withSoftware.software.molen !== version || !withSoftware.inputs) fail('the layer with the version: ' + JSON.stringify(withSoftware));
await page.click('button:text-is("Check and save")');
await status(page, /Layer saved/);
await reloadUntil(edgeHash, 'demo-edge', (v) => {
  const s = document.querySelector('dd[data-software]');
  return s && s.dataset.wanted === v && s.dataset.running === v && s.dataset.state === 'installed'
    && document.querySelector('[data-part="software/molen"]')?.dataset.state === 'installed';
}, version, 'the edge to report the software version wanted');
await view(page, 'fleet-edge-software');
log('ok the demo release listed, its version put in the edge\'s layer by keyboard, the edge on it');

// 10. Dutch, and a phone's screen.
await page.selectOption('#lang-select', 'nl');
await page.waitForSelector('h3:text-is("Onderdelen op de edge")');
await view(page, 'fleet-edge-nl');
await go(page, '#/fleet/software', 'Uitgaven');
await view(page, 'fleet-software-nl');
await page.selectOption('#lang-select', 'en');
await page.setViewportSize({ width: 390, height: 844 });
await go(page, '#/fleet', 'Inventory');
await view(page, 'fleet-phone');

clean(page, 'end');
await browser.close();
log('PASS');
