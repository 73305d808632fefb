// A company's journey in a real browser, against a running demo hub: a
// hub's advisor opens a customer with a T0 and sees the next steps for its
// two lowest dimensions — marketplace services, fieldlabs and academy
// courses, each with its reason — recommends one and sees it recorded on
// the recommendation and in the timeline, in English and Dutch; the
// company's owner sees the same recommendation and timeline under "My
// maturity". axe-core must find no serious or critical violation on any
// screen; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestJourneyInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_CHROMIUM, the hub's advisor (MOLEN_ADVISOR_EMAIL,
// MOLEN_ADVISOR_PASSWORD) and the company's owner (MOLEN_COMPANY_EMAIL,
// MOLEN_COMPANY_PASSWORD). Prints one line per step; exits non-zero on the
// first failure.
import {
  env, log, fail, browser, newPage, view, text, status, signIn, go,
} from './session.mjs';

// 1. The advisor: the customer's next steps, each with its reason.
const adv = await newPage();
await signIn(adv, env('MOLEN_ADVISOR_EMAIL'), env('MOLEN_ADVISOR_PASSWORD'), null, 'edih-noord');
await go(adv, '#/hub/c/van-dijk-kunststof', 'Van Dijk Kunststoffen');
await adv.waitForSelector('[data-journey]');
const recs = await adv.$$eval('[data-rec]', (es) => es.map((e) => e.dataset.rec));
const kinds = new Set(recs.map((r) => r.split(':')[0]));
for (const k of ['service', 'fieldlab', 'course']) if (!kinds.has(k)) fail(`no ${k} among the recommendations: ${recs.join(', ')}`);
const service = recs.find((r) => r.startsWith('service:'));
const reason = await text(adv, `[data-rec="${service}"]`);
if (!/your .* score is \d+; /.test(reason)) fail('a recommendation without its reason: ' + reason);
// By name, with its provider's, linking to its page in the marketplace.
const listingID = service.split(':')[1];
if (!/ by molen — .*\(molen\) works on/.test(reason) || reason.includes(listingID)) fail('the service recommended not by its and its provider\'s names: ' + reason);
if (!(await adv.getAttribute(`[data-rec="${service}"] a[data-listing]`, 'href')).endsWith('/market/service/' + listingID)) fail('the service recommended does not link to its page');
if (await adv.locator('[data-recommended]').count() !== 0) fail('recommended before anyone did');
await view(adv, 'journey-advisor');
log(`ok ${recs.length} recommendations for the two lowest dimensions: ${recs.join(', ')}`);

// 2. The advisor recommends the service (by keyboard): recorded on it and
// in the timeline.
await adv.focus(`[data-rec="${service}"] button`);
await adv.keyboard.press('Enter');
await status(adv, /is recommended\./);
await adv.waitForSelector(`[data-rec="${service}"] [data-recommended]`);
await adv.waitForSelector('[data-event="recommended"]');
const events = await adv.$$eval('[data-event]', (es) => es.map((e) => e.dataset.event));
if (!events.includes('assessment')) fail('the timeline lacks the T0: ' + events.join());
await view(adv, 'journey-recommended');
// The report as a PDF.
const [dl] = await Promise.all([adv.waitForEvent('download'), adv.click('[data-pdf]')]);
const pdf = await (await import('node:fs')).promises.readFile(await dl.path());
if (pdf.subarray(0, 5).toString() !== '%PDF-' || !/^report-van-dijk-kunststof-.*\.pdf$/.test(dl.suggestedFilename())) fail(`the report PDF: ${dl.suggestedFilename()}, ${pdf.subarray(0, 8)}`);
log(`ok the report as a PDF: ${dl.suggestedFilename()}, ${pdf.length} bytes`);
await adv.selectOption('#lang-select', 'nl');
await adv.waitForSelector('h3:text-is("Volgende stappen voor de laagste dimensies")');
await adv.waitForFunction(() => /uw score voor .* is \d+; /.test(document.querySelector('[data-rec]')?.textContent));
await adv.waitForSelector(`[data-rec="${service}"]:has-text("aanbevolen door de hub op")`);
await adv.waitForSelector(`[data-rec="${service}"]:has-text("door molen")`);
if ((await text(adv, '[data-event="recommended"]')).includes(listingID)) fail('the timeline names the recommended service by its ID');
await view(adv, 'journey-advisor-nl');
await adv.selectOption('#lang-select', 'en');
log('ok the recommendation recorded, in the timeline, in English and Dutch');

// The hub's EDIH reporting: the DMA table as CSV holds the customer's T0.
await go(adv, '#/hub/kpi', 'KPIs of edih-noord');
const [dma] = await Promise.all([adv.waitForEvent('download'), adv.click('[data-edih] button:text-is("DMA T0 and T1 (CSV)")')]);
const rows = (await (await import('node:fs')).promises.readFile(await dma.path(), 'utf8')).trim().split('\n');
if (!rows[0].startsWith('edih,customer_id,t0_date,t0_overall,t0_strategy') || !rows.some((r) => r.startsWith('edih-noord,van-dijk-kunststof,'))) fail('EDIH DMA CSV: ' + rows.slice(0, 3).join(' | '));
await view(adv, 'journey-kpi-edih');
log(`ok the EDIH reporting's DMA table: ${dma.suggestedFilename()}, ${rows.length - 1} customers`);

// The knowledge library: the fieldlabs' use cases of every hub, found by
// words; the advisor writes a public one, which anyone then finds in the
// public catalogue.
await go(adv, '#/hub/library', 'Knowledge library');
await adv.waitForSelector('[data-found]');
const all = Number(await adv.getAttribute('[data-found]', 'data-found'));
await adv.fill('#lib-q', 'downtime');
await adv.press('#lib-q', 'Enter');
await adv.waitForFunction((n) => { const f = document.querySelector('[data-found]'); return f && Number(f.dataset.found) < n && Number(f.dataset.found) > 0; }, all);
const found = Number(await adv.getAttribute('[data-found]', 'data-found'));
if (!/downtime/.test(await text(adv, '[data-entry]'))) fail('a found entry without the word: ' + await text(adv, '[data-entry]'));
await view(adv, 'library-search');
log(`ok the library: ${all} entries, ${found} with "downtime"`);
await adv.fill('#lib-id', 'noord-cobot-palletising');
await adv.fill('#lib-title-en', 'Cobot palletising at a bakery');
await adv.fill('#lib-title-nl', 'Cobot stapelt pallets bij een bakkerij');
await adv.fill('#lib-body-en', 'Two weeks at the fieldlab; the cobot now stacks 400 boxes an hour.');
await adv.fill('#lib-body-nl', 'Twee weken in het fieldlab; de cobot stapelt nu 400 dozen per uur.');
await adv.selectOption('#lib-new-tech', 'robotics');
await adv.fill('#lib-sectors', 'C10');
await adv.check('#lib-new-h ~ form input[name="public"]');
await adv.click('button:text-is("Save the entry")');
await status(adv, /Entry noord-cobot-palletising saved/);
await adv.fill('#lib-q', 'bakery');
await adv.press('#lib-q', 'Enter');
await adv.waitForSelector('[data-entry="noord-cobot-palletising"]');
const visitor = await newPage();
await go(visitor, '#/catalogue?technology=robotics', 'Find help to digitalise');
await visitor.waitForSelector('[data-entry="noord-cobot-palletising"]');
await view(visitor, 'library-public');
await visitor.selectOption('#cat-lang', 'nl');
await visitor.waitForSelector('[data-entry="noord-cobot-palletising"] h3:text-is("Cobot stapelt pallets bij een bakkerij")');
await view(visitor, 'library-public-nl');
log('ok a new public entry, in the public catalogue in English and Dutch');

// 3. The company sees it in its own journey.
const company = await newPage();
await signIn(company, env('MOLEN_COMPANY_EMAIL'), env('MOLEN_COMPANY_PASSWORD'), null, 'van-dijk-kunststof');
await go(company, '#/programme', 'Next steps for the lowest dimensions');
await company.waitForSelector(`[data-rec="${service}"] [data-recommended]`);
if (await company.locator('[data-rec] button').count() !== 0) fail('the company is offered to recommend');
await company.waitForSelector('[data-event="recommended"]');
await view(company, 'journey-company');
log('ok the company\'s own journey shows the recommendation');

await browser.close();
log('PASS');
