// The marketplace from end to end in a real browser, against a running
// demo: a provider (DataWorks' publisher) registers its signing key and
// uploads a new service built with `molen service init` and `build` and
// signed with `molen service sign` (refusals first: no key yet, then a
// package changed after signing), and submits it; the platform releases
// it; the factory (with molen's eight first-party services in its
// catalogue) installs it on the demo edge through the generated form,
// accepting its terms (not without), sees it installed and its events in
// the factory's events view, and the data-sharing grant its acceptance
// recorded; the platform revokes the version: the install is removed from
// the edge and the grant ends. English and Dutch; axe-core must find no
// serious or critical violation on any screen; screenshots go to
// MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestMarketDoneInABrowser, which starts the demo,
// builds and signs the package and sets MOLEN_URL, MOLEN_CHROMIUM,
// MOLEN_EMAIL and MOLEN_PASSWORD (the demo's admin: owner of the factory,
// platform admin), MOLEN_PUB_EMAIL and MOLEN_PUB_PASSWORD (the provider's
// publisher), MOLEN_SVC (the service's id), MOLEN_PKG (the signed
// archive; its signature beside it), MOLEN_BAD_PKG (a copy with one byte
// changed, the same signature beside it) and MOLEN_KEY_PUB. Prints one
// line per step; exits non-zero on the first failure.
import path from 'node:path';
import { env, log, fail, browser, newPage, clean, view, text, status, signIn, switchOrg, go, WAIT, shots } from './session.mjs';

const svc = env('MOLEN_SVC');
const pkg = env('MOLEN_PKG');
const ver = '0.1.0';
const lang = async (page, l, heading) => {
  await page.selectOption('#lang-select', l);
  await page.waitForSelector(`h2:text-is("${heading}")`);
};
// refused uploads the package and signature and waits for the refusal
// that matches re.
async function refused(page, archive, re) {
  page.expect = /^400 POST .*\/api\/v1\/market\/packages/;
  await page.setInputFiles('#pub-package', archive);
  await page.setInputFiles('#pub-signature', pkg + '.dsse.json');
  await page.click('#mkt-pub-h ~ form button[type=submit]');
  await page.waitForFunction((src) => [...document.querySelectorAll('main [role="alert"]')].some((e) => new RegExp(src).test(e.textContent)), re.source);
  page.expect = null;
}
// until reloads the page until selector shows (a state the hub learns
// from the edge's next report), within the browser tests' wait.
async function until(page, selector) {
  const end = Date.now() + WAIT * 3;
  for (;;) {
    if (await page.locator(selector).count()) return;
    if (Date.now() > end) {
      await page.screenshot({ path: path.join(shots, 'market-done-failed.png'), fullPage: true });
      fail(`no ${selector} after ${WAIT * 3} ms (market-done-failed.png); the page says: ${(await page.locator('main').textContent()).slice(0, 600)}`);
    }
    await page.waitForSelector(selector, { timeout: 5000 }).catch(() => page.reload());
  }
}

// 1. The provider: refusals in its words, its key, the upload, the submit.
const pub = await newPage();
await signIn(pub, env('MOLEN_PUB_EMAIL'), env('MOLEN_PUB_PASSWORD'), null, 'dataworks');
await go(pub, '#/market/provider', 'Our services');
await lang(pub, 'nl', 'Onze diensten');
await refused(pub, pkg, /geen ondertekeningssleutel geregistreerd/);
await view(pub, 'market-done-upload-nokey-nl');
await lang(pub, 'en', 'Our services');
await pub.fill('#key-name', 'release');
await pub.setInputFiles('#key-file', env('MOLEN_KEY_PUB'));
await pub.click('#mkt-addkey-h + form button[type=submit]');
// (The upload's refusal above stays on its form: wait for this form's word.)
await pub.waitForSelector('#mkt-addkey-h + form [role="status"]:has-text("is registered")');
await pub.waitForSelector('[data-key]');
await refused(pub, env('MOLEN_BAD_PKG'), /changed after signing/);
await view(pub, 'market-done-upload-changed');
await pub.setInputFiles('#pub-package', pkg);
await pub.setInputFiles('#pub-signature', pkg + '.dsse.json');
await pub.click('#mkt-pub-h ~ form button[type=submit]');
await pub.waitForSelector(`#mkt-pub-h ~ [role="status"]:has-text("${svc} ${ver} is published as a draft")`);
await pub.waitForSelector(`[data-version="${svc}@${ver}"]:has-text("draft")`);
await view(pub, 'market-done-provider');
await pub.click(`button[aria-label="Submit for review ${svc} ${ver}"]`);
await status(pub, new RegExp(`${svc} ${ver}: Submit for review done`));
await pub.waitForSelector(`[data-version="${svc}@${ver}"]:has-text("in review")`);
clean(pub, 'provider');
log('ok provider: key registered, refusals named, uploaded and submitted');

// 2. The platform releases it.
const page = await newPage();
await signIn(page, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));
await switchOrg(page, 'platform');
await go(page, '#/market/review', 'Versions in review');
await page.waitForSelector(`[data-review="${svc}@${ver}"]`);
await view(page, 'market-done-review');
await page.click(`button[aria-label="Release ${svc} ${ver}"]`);
await status(page, new RegExp(`${svc} ${ver}: Release done`));
await page.waitForSelector(`[data-version="${svc}@${ver}"]:has-text("released")`);
log('ok released');

// 3. The factory: molen's eight services and the new one in its
// catalogue; the install form, refused without the terms, then installed.
await switchOrg(page, 'default');
await go(page, '#/market', 'Catalogue');
await page.waitForSelector(`[data-service="${svc}"]`);
const molen = await page.locator('[data-service]:has-text("by molen")').count();
if (molen !== 8) fail(`the catalogue holds ${molen} of molen's services, want 8`);
await go(page, `#/market/service/${svc}`, svc);
await page.waitForSelector('#p-limit');
await page.fill('#inst-name', svc);
await page.fill('#p-limit', '1');
// The demo edge by name: the demo has other edges, listed by their IDs.
await page.waitForSelector('#inst-target option:has-text("demo-edge (")', { state: 'attached' });
const demoEdge = await page.$eval('#inst-target', (s) => [...s.options].find((o) => o.textContent.startsWith('demo-edge (')).value);
await page.selectOption('#inst-target', demoEdge);
await page.fill('#inst-match', 'demo-factory/+/+/cnc-mill/spindle_temp_c');
await page.selectOption('#inst-output', 'drop');
await page.click('button:text-is("Install")');
if (!await page.$eval('input[name="accept"]', (e) => e.validity.valueMissing)) fail('the form installs without the terms accepted');
if (await page.locator('main [role="status"].ok').count()) fail('installed without the terms accepted');
await view(page, 'market-done-install');
await page.focus('input[name="accept"]');
await page.keyboard.press('Space');
await page.click('button:text-is("Install")');
await status(page, new RegExp(`${svc} is installed`));
log('ok installed through the form, the terms accepted');

// 4. It runs on the demo edge; its events show in the factory's views.
await go(page, '#/market/installs', 'Installs');
await until(page, `[data-install="${svc}"] [data-edge-state="installed"]`);
await view(page, 'market-done-installed');
await go(page, '#/factory/demo-factory?tab=events&kind=limit&from=-1h', 'Events');
await until(page, 'main td:text-is("limit")');
if (!/cnc-mill/.test(await text(page, 'main tbody tr'))) fail('the limit event is not the CNC mill\'s');
await view(page, 'market-done-events');
log('ok its events in the factory view');

// 5. The terms accepted are a data-sharing grant in force.
await go(page, '#/admin/sharing', 'Data shared with organisations above you');
await page.waitForSelector('h3:text-is("Data shared with service providers")');
await page.waitForSelector(`[data-data-grant="${svc}@${ver}"][data-active="true"]:has-text("dataworks")`);
await view(page, 'market-done-grant');
log('ok the grant');

// 6. The platform revokes the version: off the edge, the grant ended.
await switchOrg(page, 'platform');
await go(page, '#/market/review', 'Versions in review');
await page.click(`button[aria-label="Revoke ${svc} ${ver}"]`);
await status(page, new RegExp(`${svc} ${ver}: Revoke done`));
await switchOrg(page, 'default');
await go(page, '#/market/installs', 'Installs');
await until(page, `[data-install="${svc}"] [data-edge-state="removed"]`);
await view(page, 'market-done-revoked');
await lang(page, 'nl', 'Installaties');
await page.waitForSelector(`[data-install="${svc}"]:has-text("verwijderd")`);
await view(page, 'market-done-revoked-nl');
await go(page, '#/admin/sharing', 'Gegevens gedeeld met organisaties boven u');
await page.waitForSelector('h3:text-is("Gegevens gedeeld met dienstaanbieders")');
await page.waitForSelector(`[data-data-grant="${svc}@${ver}"][data-active="false"]:has-text("versie ingetrokken")`);
await view(page, 'market-done-grant-ended-nl');
await lang(page, 'en', 'Data shared with organisations above you');
log('ok revoked: removed from the edge, the grant ended');
clean(page, 'market done');
await browser.close();
log('\nPASS');
