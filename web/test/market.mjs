// The marketplace's screens in a real browser, against a running demo hub
// run in a checkout (so the SPC service is published, released and
// installed on the demo edge): the catalogue and its filters, the SPC
// service's page, its install form generated from the parameter schema
// (a value out of range refused by the form), a second install with the
// terms accepted by keyboard, the installs with their state per edge and
// an uninstall, in English and Dutch; then the platform's review. axe-core
// must find no serious or critical violation on any screen; screenshots
// go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestMarketInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_CHROMIUM, MOLEN_EMAIL and MOLEN_PASSWORD (the
// demo's admin: owner of the factory, platform admin). Prints one line
// per step; exits non-zero on the first failure.
import { env, log, fail, browser, newPage, clean, view, text, status, signIn, switchOrg, go } from './session.mjs';

const page = await newPage();
await signIn(page, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));

// 1. The catalogue and its filters.
await go(page, '#/market', 'Catalogue');
await page.waitForSelector('[data-service="molen-spc"]');
if (!/by molen/.test(await text(page, '[data-service="molen-spc"]'))) fail('the SPC card names no provider');
// (The demo releases its other first-party services meanwhile, one for
// each category: a search that matches none of them.)
await page.fill('#mkt-q', 'no service is called this');
await page.waitForSelector('main p:text-is("No service matches.")');
await page.fill('#mkt-q', '');
await page.selectOption('#mkt-category', 'ai');
await page.selectOption('#mkt-maturity', 'automation-and-ai');
await page.waitForSelector('[data-service="molen-spc"]');
await page.fill('#mkt-q', 'western');
await page.waitForSelector('[data-service="molen-spc"]');
await view(page, 'market-catalogue');
log('ok catalogue and filters');

// 2. The service's page, reached by keyboard.
await page.focus('[data-service="molen-spc"] a');
await page.keyboard.press('Enter');
await page.waitForSelector('#mkt-svc-h');
if (!/SPC/.test(await text(page, '#mkt-svc-h'))) fail('the service page: ' + await text(page, '#mkt-svc-h'));
await page.waitForSelector('[data-egress="none"]');
await page.waitForSelector('[data-version="1.0.0"]:has-text("released")');
await view(page, 'market-service');

// 3. The install form: generated from the schema; out of range is refused
// by the form, then a good install with the terms accepted by keyboard.
await page.fill('#inst-name', 'spc-vibration');
await page.fill('#p-baseline', '2');
if (await page.$eval('#p-baseline', (e) => e.validity.valid)) fail('baseline 2 (minimum 5) is a valid entry');
await page.fill('#p-baseline', '40');
await page.fill('#inst-match', 'demo-factory/+/+/cnc-mill/vibration_mm_s');
await page.selectOption('#inst-output', 'drop');
await page.focus('input[name="accept"]');
await page.keyboard.press('Space');
await page.click('button:text-is("Install")');
await status(page, /spc-vibration is installed/);
log('ok install form');

// 4. The installs: state per edge, an uninstall, in English and Dutch.
await go(page, '#/market/installs', 'Installs');
await page.waitForSelector('[data-install="spc-spindle"] [data-edge-state="installed"]');
await page.waitForSelector('[data-install="spc-vibration"]');
await view(page, 'market-installs');
await page.selectOption('#ver-spc-vibration', '1.0.0');
await page.click('button[aria-label="Change the version of spc-vibration"]');
await status(page, /spc-vibration runs version 1.0.0/);
await page.click('button[aria-label="Uninstall spc-vibration"]');
await status(page, /spc-vibration is uninstalled/);
await page.selectOption('#lang-select', 'nl');
await page.waitForSelector('h2:text-is("Installaties")');
await page.waitForSelector('[data-install="spc-spindle"]:has-text("geïnstalleerd")');
await view(page, 'market-installs-nl');
await page.selectOption('#lang-select', 'en');
log('ok installs');

// 5. A provider's publisher (DataWorks) submits its draft for review.
const pub = await newPage();
await signIn(pub, env('MOLEN_PUB_EMAIL'), env('MOLEN_PUB_PASSWORD'), null, 'dataworks');
await go(pub, '#/market/provider', 'Our services');
await pub.waitForSelector('[data-version="dataworks-spc@1.0.0"]:has-text("draft")');
await view(pub, 'market-provider');
await pub.click('button[aria-label="Submit for review dataworks-spc 1.0.0"]');
await status(pub, /dataworks-spc 1.0.0: Submit for review done/);
await pub.waitForSelector('[data-version="dataworks-spc@1.0.0"]:has-text("in review")');
clean(pub, 'market provider');
log('ok provider');

// 6. The platform's review: release DataWorks' version; SPC is released.
await switchOrg(page, 'platform');
await go(page, '#/market/review', 'Versions in review');
await page.waitForSelector('[data-review="dataworks-spc@1.0.0"]');
await page.waitForSelector('[data-version="molen-spc@1.0.0"]');
if (!await page.locator('button[aria-label="Revoke molen-spc 1.0.0"]').count()) fail('no revoke button for a released version');
await view(page, 'market-review');
await page.click('button[aria-label="Release dataworks-spc 1.0.0"]');
await status(page, /dataworks-spc 1.0.0: Release done/);
await page.waitForSelector('[data-version="dataworks-spc@1.0.0"]:has-text("released")');
clean(page, 'market');
await browser.close();
log('\nPASS');
