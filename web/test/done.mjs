// The programme's whole path for one company, in a real browser, against
// a running demo hub: the platform admin makes the company below EDIH
// Noord with its owner's invitation; the owner accepts it, shares data
// with the hub and consents that the hub's advisor acts for it; the
// advisor registers the company as a customer, fills in its T0 for it,
// records a fieldlab's service, recommends a marketplace service, enrols
// two of its employees in a course, and later fills in its T1; the
// company's report then shows the change since T0 with the evidence from
// its factory and its journey, and the hub's KPI page and EDIH export
// show it. axe-core must find no serious or critical violation on any
// screen; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestProgrammeDoneInABrowser, which starts the
// demo and sets MOLEN_URL, MOLEN_EMAIL and MOLEN_PASSWORD (the demo's
// platform admin), MOLEN_CHROMIUM, and the hub's advisor
// (MOLEN_ADVISOR_EMAIL, MOLEN_ADVISOR_PASSWORD).
import { readFile } from 'node:fs/promises';
import {
  env, log, fail, browser, newPage, view, text, status, signIn, switchOrg, go, base,
} from './session.mjs';

const co = 'deventer-draaiwerk';

// 1. The platform admin makes the company below EDIH Noord.
const admin = await newPage();
await signIn(admin, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'), null, 'platform');
await go(admin, '#/admin/orgs', 'Organisations you may see');
await admin.click('summary:text-is("Create an organisation")');
await admin.fill('#org-id', co);
await admin.fill('#org-name', 'Deventer Draaiwerk B.V.');
await admin.selectOption('#org-kind', 'company');
await admin.selectOption('#org-parent', 'edih-noord');
await admin.fill('#org-owner', 'eigenaar@deventer-draaiwerk.test');
await admin.click('form button:text-is("Create an organisation")');
await status(admin, /Organisation created/);
const invite = await admin.getAttribute('[data-secret]', 'data-secret');

// A fieldlab's staff write in the knowledge library: a new fieldlab of
// EDIH Noord, its owner invited (the form is still open).
await admin.fill('#org-id', 'fieldlab-deventer');
await admin.fill('#org-name', 'Fieldlab Deventer');
await admin.selectOption('#org-kind', 'fieldlab');
await admin.selectOption('#org-parent', 'edih-noord');
await admin.fill('#org-owner', 'lab@fieldlab-deventer.test');
await admin.click('form button:text-is("Create an organisation")');
await status(admin, /Organisation created/);
const labInvite = await admin.getAttribute('[data-secret]', 'data-secret');
const lab = await newPage();
await lab.goto(labInvite);
await lab.waitForSelector('input[name=name]');
await lab.fill('input[name=name]', 'Lars Labman');
await lab.fill('input[name=password]', 'a long enough password 2');
await lab.click('button[type=submit]');
await lab.waitForSelector('header.top');
lab.signedIn = true;
await go(lab, '#/library', 'Knowledge library');
await lab.fill('#lib-id', 'deventer-vibration-lesson');
await lab.fill('#lib-title-en', 'Vibration first, then oil');
await lab.fill('#lib-title-nl', 'Eerst trillingen, dan olie');
await lab.fill('#lib-body-en', 'A vibration sensor on the main bearing warned two weeks before the oil analysis did.');
await lab.fill('#lib-body-nl', 'Een trillingssensor op het hoofdlager waarschuwde twee weken eerder dan de olieanalyse.');
await lab.selectOption('#lib-kind', 'lesson');
await lab.selectOption('#lib-new-tech', 'maintenance');
await lab.click('button:text-is("Save the entry")');
await status(lab, /Entry deventer-vibration-lesson saved/);
await lab.fill('#lib-q', 'vibration');
await lab.press('#lib-q', 'Enter');
await lab.waitForSelector('[data-entry="deventer-vibration-lesson"]');
await view(lab, 'done-fieldlab-library');
log('ok a fieldlab writes a lesson learned in the library');

// 2. Its owner accepts, shares data with the hub and consents that the
// hub's advisor acts for it as an engineer.
const owner = await newPage();
await owner.goto(invite);
await owner.waitForSelector('input[name=name]');
await owner.fill('input[name=name]', 'Sanne Draaier');
await owner.fill('input[name=password]', 'a long enough password 1');
await owner.click('button[type=submit]');
await owner.waitForSelector('header.top');
owner.signedIn = true;
await go(owner, '#/admin/sharing', 'Data shared with organisations above you');
await owner.fill('#g-grantee', 'edih-noord');
await owner.selectOption('#g-kind', 'kpi');
await owner.fill('#g-prefix', 'deventer');
await owner.click('button:text-is("Share")');
await status(owner, /Shared with/);
await owner.fill('#d-advisor', env('MOLEN_ADVISOR_EMAIL'));
await owner.selectOption('#d-role', 'engineer');
await owner.fill('#d-hours', '24');
await owner.click('button:text-is("Give consent")');
await status(owner, /Consent given/);

// Its owner registers the factory's edge, which enrolls with the token
// (as `molen edge --enroll-token` does).
await go(owner, '#/fleet', 'Inventory');
await owner.fill('#fleet-reg-name', 'Draaibank 1');
await owner.click('[data-register-edge] button[type=submit]');
await status(owner, /Edge Draaibank 1 registered/);
const token = await owner.getAttribute('[data-register-edge] [data-secret]', 'data-secret');
const enrolled = await fetch(base + '/api/v1/enroll', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
if (!enrolled.ok) fail(`enrolling the edge: ${enrolled.status} ${await enrolled.text()}`);
log('ok the company made, its owner shares data with the hub, consents to its advisor and enrolls an edge');

// 3. The advisor registers it as a customer.
const adv = await newPage();
await signIn(adv, env('MOLEN_ADVISOR_EMAIL'), env('MOLEN_ADVISOR_PASSWORD'), null, 'edih-noord');
await go(adv, '#/hub', 'Customers');
await adv.fill('#reg-name', 'Deventer Draaiwerk B.V.');
await adv.fill('#reg-org', co);
await adv.fill('#reg-kvk', '07770123');
await adv.selectOption('#reg-size', '0-49');
await adv.fill('#reg-nace', 'C25');
await adv.selectOption('#reg-nuts', 'NL21');
await adv.click('button:text-is("Register a customer")');
await status(adv, /Customer Deventer Draaiwerk B.V. registered/);
log('ok the advisor registers the company');

// fill answers the form on page at level (1 or 2): the company, level
// items of each checkbox question, the first level areas planned, level
// on each scale, but nothing for the questions in none (data management
// and automation at T0: the company's gaps); then submits stage.
async function fill(page, stage, level, none = []) {
  await go(page, '#/programme/new', `Assessment ${stage} (questionnaire version 1)`);
  await page.fill('#dma-name', 'Deventer Draaiwerk B.V.');
  await page.selectOption('#dma-size', 'small');
  await page.fill('#dma-sector', 'C');
  await page.fill('#dma-country', 'NL');
  for (let step = 2; step <= 7; step++) {
    await page.click('button:text-is("Next")');
    await page.waitForSelector(`h3:has-text("Step ${step} of 7")`);
    for (const q of await page.$$eval('[data-question]', (fs) => fs.map((f) => f.dataset.question))) {
      const f = `[data-question="${q}"]`;
      if (none.includes(q)) {
        for (const s of await page.locator(`${f} select`).all()) await s.selectOption('0');
      } else if (await page.locator(`${f} select`).count()) {
        for (const s of await page.locator(`${f} select`).all()) await s.selectOption(String(level));
      } else if (await page.locator(`${f} input[name="${q}-planned"]`).count()) {
        for (let i = 0; i < level; i++) await page.locator(`${f} input[name="${q}-planned"]`).nth(i).check();
      } else {
        const boxes = page.locator(`${f} input[type=checkbox]:not([value="not-digital"])`);
        for (let i = 0; i < level; i++) await boxes.nth(i).check();
      }
    }
  }
  await page.click(`button:text-is("Submit ${stage}")`);
  await page.waitForSelector(`text=Assessment ${stage} submitted.`);
}

// 4. The advisor fills in T0 for the company.
await switchOrg(adv, co);
await fill(adv, 'T0', 1, ['q7', 'q8', 'q9']);
await view(adv, 'done-t0');
log('ok the advisor fills in T0 for the company');

// 5. Back at the hub: a fieldlab's service, a recommended marketplace
// service, two employees enrolled in a course.
await switchOrg(adv, 'edih-noord');
await go(adv, `#/hub/c/${co}`, 'Deventer Draaiwerk B.V.');
await adv.fill('#rec-day', '2026-11-02');
await adv.fill('#rec-provider', 'fieldlab-zwolle');
await adv.fill('#rec-market', '5000');
await adv.fill('#rec-price', '1250');
await adv.fill('#rec-subsidy', '3750');
await adv.fill('#rec-people', '2');
await adv.click('button:text-is("Record a service")');
await status(adv, /Service recorded/);
await adv.waitForSelector('[data-service="test-before-invest"]');
const svc = await adv.$$eval('[data-rec^="service:"]', (es) => es.map((e) => e.dataset.rec));
if (svc.length === 0) fail('no marketplace service recommended');
await adv.click(`[data-rec="${svc[0]}"] button`);
await status(adv, /is recommended\./);
await adv.waitForSelector(`[data-rec="${svc[0]}"] [data-recommended]`);

// The company installs the recommended service from its journey, through
// the marketplace's install form, on its edge.
await go(owner, '#/programme', 'Programme');
await owner.waitForSelector(`[data-rec="${svc[0]}"] [data-recommended]`);
const listing = (await text(owner, `[data-rec="${svc[0]}"] a[data-listing]`)).trim();
await owner.click(`[data-rec="${svc[0]}"] a[data-listing]`);
await owner.waitForSelector('#mkt-install-h');
if (!(await text(owner, '#mkt-svc-h')).includes(listing)) fail(`the recommendation's link leads to ${await text(owner, '#mkt-svc-h')}, not ${listing}`);
await owner.fill('#inst-name', 'draaibank-advies');
if (!(await text(owner, '#inst-target option:checked')).startsWith('Draaibank 1 (')) fail('the install form does not offer the edge: ' + await text(owner, '#inst-target'));
await owner.focus('input[name="accept"]');
await owner.keyboard.press('Space');
await owner.click('button:text-is("Install")');
await status(owner, /draaibank-advies is installed/);
await view(owner, 'done-install');
log(`ok the company installs ${listing} from the recommendation`);
await go(adv, '#/academy/people', 'People and enrolments');
for (const [name, email] of [['Femke Draaier', 'femke@deventer-draaiwerk.test'], ['Joost Kant', 'joost@deventer-draaiwerk.test']]) {
  await adv.fill('#enrol-name', name);
  await adv.fill('#enrol-email', email);
  await adv.selectOption('#enrol-course', 'noord-ai-for-makers');
  await adv.selectOption('#enrol-company', co);
  await adv.click('button:text-is("Enrol a person")');
  await status(adv, new RegExp(name + ' is enrolled'));
}
log(`ok a fieldlab's service recorded, ${svc[0]} recommended, two employees enrolled`);

// 6. Later, the T1.
await switchOrg(adv, co);
await fill(adv, 'T1', 2);
await adv.waitForSelector('[data-radar="T0,T1"]');
await view(adv, 'done-t1');
log('ok the advisor fills in T1 for the company');

// 7. The report: the change since T0, the evidence, the journey; the PDF.
await switchOrg(adv, 'edih-noord');
await go(adv, `#/hub/c/${co}`, 'Deventer Draaiwerk B.V.');
const stages = await adv.$$eval('[data-assessment]', (rs) => rs.map((r) => r.dataset.assessment));
if (stages.join() !== 'T0,T1') fail('the report\'s assessments: ' + stages.join());
const change = await text(adv, 'section[aria-labelledby="dm-h"]');
if (!/Change since T0: \+\d/.test(change)) fail('no rise since T0 in the report: ' + change);
if (await adv.getAttribute('[data-evidence]', 'data-evidence') === 'none') fail('no evidence from the factory, though it shares data');
const events = await adv.$$eval('[data-event]', (es) => es.map((e) => e.dataset.event));
for (const k of ['assessment', 'service', 'recommended', 'enrolled']) if (!events.includes(k)) fail(`the journey lacks ${k}: ${events.join()}`);
// By name: the service's and its provider's, the fieldlab's.
const named = await text(adv, '[data-event="installed"]');
const id = svc[0].split(':')[1];
if (!named.includes(listing) || named.includes(id) || !named.includes('(draaibank-advies)')) fail(`the install on the journey: ${named}`);
if ((await text(adv, '[data-event="recommended"]')).includes(id)) fail('the recommendation on the journey names the listing by its ID');
const byLab = await text(adv, '[data-event="service"]');
if (!byLab.includes('Fieldlab Smart Maintenance Zwolle')) fail(`the fieldlab's service on the journey: ${byLab}`);
if (Number(await adv.getAttribute('[data-installed]', 'data-installed')) < 1) fail('the evidence counts no service installed');
await view(adv, 'done-report');
const [pdf] = await Promise.all([adv.waitForEvent('download'), adv.click('[data-pdf]')]);
if ((await readFile(await pdf.path())).subarray(0, 5).toString() !== '%PDF-') fail('the report PDF is not a PDF');
log('ok the report: T0 and T1 with the change, the evidence with the install, the journey by names, the PDF');

// 8. The KPI page and the EDIH export count it.
await go(adv, '#/hub/kpi', 'KPIs of edih-noord');
await view(adv, 'done-kpi');
const [dma] = await Promise.all([adv.waitForEvent('download'), adv.click('[data-edih] button:text-is("DMA T0 and T1 (CSV)")')]);
const row = (await readFile(await dma.path(), 'utf8')).split('\n').find((r) => r.startsWith(`edih-noord,${co},`));
if (!row || !/,\d+(\.\d)?$/.test(row.trim())) fail('the EDIH DMA row of the company: ' + row);
const [csv] = await Promise.all([adv.waitForEvent('download'), adv.click('button:text-is("CSV") >> nth=0')]);
const kpis = await readFile(await csv.path(), 'utf8');
if (!/funnel,improved/.test(kpis)) fail('the KPI CSV has no funnel: ' + kpis.slice(0, 200));
log('ok the KPI page and exports: the company\'s T0 → T1 in the EDIH DMA table: ' + row);

// 9. The programme office's library: the national view — the lesson the
// new fieldlab shared, found by words, technology, sector and hub, with
// what each hub shared; its admin publishes it; in Dutch.
await go(admin, '#/hub/library', 'The knowledge library of every hub');
await admin.waitForSelector('[data-shared="edih-noord"]');
await admin.fill('#lib-q', 'vibration');
await admin.selectOption('#lib-tech', 'maintenance');
await admin.selectOption('#lib-hub', 'edih-noord');
await admin.press('#lib-q', 'Enter');
await admin.waitForSelector('[data-entry="deventer-vibration-lesson"][data-entry-hub="edih-noord"][data-public="false"]');
if (!(await text(admin, '[data-entry="deventer-vibration-lesson"]')).includes('Fieldlab Deventer')) fail('the entry does not name the fieldlab that shared it');
await admin.selectOption('#lib-hub', 'edih-zuid');
await admin.press('#lib-q', 'Enter');
await admin.waitForSelector('[data-found="0"]');
await admin.fill('#lib-q', '');
await admin.selectOption('#lib-tech', '');
await admin.fill('#lib-sector', 'C');
await admin.press('#lib-q', 'Enter');
await admin.waitForSelector('[data-shared="edih-zuid"]');
if (await admin.$('[data-shared]:not([data-shared="edih-zuid"])')) fail('the hub filter let another hub through');
await view(admin, 'done-office-library');
await admin.fill('#lib-sector', '');
await admin.selectOption('#lib-hub', '');
await admin.selectOption('#lib-tech', '');
await admin.fill('#lib-q', 'vibration');
await admin.press('#lib-q', 'Enter');
await admin.click('button[aria-label="Edit Vibration first, then oil"]');
await admin.waitForSelector('#lib-new-h:has-text("Curate entry deventer-vibration-lesson")');
await admin.focus('input[name="public"]');
await admin.keyboard.press('Space');
await admin.fill('#lib-sectors', 'C28');
await admin.click('button:text-is("Save the entry")');
await status(admin, /Entry deventer-vibration-lesson saved/);
await admin.waitForSelector('[data-entry="deventer-vibration-lesson"][data-public="true"]:has-text("Fieldlab Deventer")');
await admin.selectOption('#lang-select', 'nl');
await admin.waitForSelector('h2:text-is("De kennisbibliotheek van alle hubs")');
await admin.waitForSelector('[data-entry="deventer-vibration-lesson"]:has-text("Eerst trillingen, dan olie")');
await view(admin, 'done-office-library-nl');
const pub = await (await fetch(base + '/api/v1/catalogue/library?technology=maintenance')).json();
if (!pub.entries.some((e) => e.id === 'deventer-vibration-lesson' && e.hub === 'edih-noord' && e.author === 'fieldlab-deventer')) fail('the published lesson is not public, or no longer the fieldlab\'s');
log('ok the programme office finds, filters and publishes a fieldlab\'s lesson in the national library');

await browser.close();
log('PASS');
