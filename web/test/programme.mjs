// The programme screens (digital maturity) in a real browser, against a
// running demo hub: the simulated factory's T0 and T1 with the radar and the
// change between them; a company's owner fills in the next assessment one
// dimension per step, makes one mistake (an answer that excludes the others,
// ticked with others), sees it marked at its question, corrects it and
// submits; the new result and the comparison, in Dutch too; a hub's owner
// sets the intervals. axe-core must find no serious or critical violation on
// any screen; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestProgrammeInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_EMAIL, MOLEN_PASSWORD, MOLEN_ORG (the simulated
// factory), MOLEN_CHROMIUM, a company's owner (MOLEN_COMPANY_EMAIL,
// MOLEN_COMPANY_PASSWORD) and a hub's owner (MOLEN_HUB_EMAIL,
// MOLEN_HUB_PASSWORD). Prints one line per step; exits non-zero on the
// first failure.
import {
  env, log, fail, browser, newPage, clean, view, text, status, signIn, go,
} from './session.mjs';

// 1. The simulated factory: T0 and T1, the radar of both, the change.
const factory = await newPage();
await signIn(factory, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));
const nav = await factory.$$eval('#nav a', (as) => as.map((a) => a.textContent));
if (!nav.includes('Programme')) fail('menu: ' + nav.join(', '));
await go(factory, '#/programme', 'Digital maturity assessments');
await factory.waitForSelector('[data-radar]');
const stages = await factory.$$eval('[data-assessment]', (rs) => rs.map((r) => r.dataset.assessment));
if (stages.join() !== 'T0,T1') fail('the factory\'s assessments: ' + stages.join());
if (!/an advisor of edih-noord/.test(await text(factory, '[data-assessment="T1"]'))) fail('T1 not by the hub\'s advisor: ' + await text(factory, '[data-assessment="T1"]'));
if (await factory.getAttribute('[data-radar]', 'data-radar') !== 'T0,T1') fail('radar: ' + await factory.getAttribute('[data-radar]', 'data-radar'));
if (await factory.locator('[data-radar] polygon.area').count() !== 2) fail('radar: not two polygons');
await factory.waitForSelector('h2:text-is("Change from T0 to T1")');
// Two connected: the demo's edge and its Margo device (the vision station).
if (await factory.getAttribute('[data-evidence]', 'data-evidence') !== '2') fail('the factory\'s own evidence: ' + await text(factory, '[data-evidence]'));
await view(factory, 'programme-factory');
log('ok the factory\'s T0 and T1, the radar and the change');
await factory.click('[data-assessment="T0"] a');
await factory.waitForSelector('h2:has-text("Result T0")');
await view(factory, 'programme-factory-t0');
log('ok one assessment\'s result');

// 2. A company's owner fills in T1 with one mistake, corrected.
const company = await newPage();
await signIn(company, env('MOLEN_COMPANY_EMAIL'), env('MOLEN_COMPANY_PASSWORD'), null, 'van-dijk-kunststof');
await go(company, '#/programme', 'Digital maturity assessments');
const before = await company.$$eval('[data-assessment]', (rs) => rs.map((r) => r.dataset.assessment));
if (before.join() !== 'T0') fail('the company\'s assessments: ' + before.join());
if (!/Bram van Dijk/.test(await text(company, '[data-assessment="T0"]'))) fail('T0 not made by Bram van Dijk: ' + await text(company, '[data-assessment="T0"]'));
if (await company.getAttribute('[data-next]', 'data-next') !== 'T1') fail('next stage is not T1');
await company.click('a:text-is("Fill in T1")');
await company.waitForSelector('h2:text-is("Assessment T1 (questionnaire version 1)")');
// fill answers every step of the form on page: the company, the first item
// of each checkbox question, the first area planned and the last invested,
// level 1 of each scale item; with mistake, q7's "not-digital" ticked with
// "stored".
async function fill(page, mistake) {
  await page.fill('#dma-name', 'Van Dijk Kunststoffen B.V.');
  await page.selectOption('#dma-size', 'medium');
  await page.fill('#dma-sector', 'C');
  await page.fill('#dma-country', 'NL');
  if (mistake) await view(page, 'programme-fill-company');
  for (let step = 2; step <= 7; step++) {
    await page.click('button:text-is("Next")');
    await page.waitForSelector(`h3:has-text("Step ${step} of 7")`);
    for (const q of await page.$$eval('[data-question]', (fs) => fs.map((f) => f.dataset.question))) {
      const f = `[data-question="${q}"]`;
      if (await page.locator(`${f} select`).count()) {
        for (const s of await page.locator(`${f} select`).all()) await s.selectOption('1');
      } else if (await page.locator(`${f} input[name="${q}-planned"]`).count()) {
        await page.locator(`${f} input[name="${q}-planned"]`).first().check();
        await page.locator(`${f} input[name="${q}-invested"]`).last().check();
      } else if (q === 'q7') {
        if (mistake) await page.check(`${f} input[value="not-digital"]`);
        await page.check(`${f} input[value="stored"]`);
      } else {
        await page.locator(`${f} input[type=checkbox]`).first().check();
      }
    }
    if (mistake && step === 2) await view(page, 'programme-fill-strategy');
  }
}
// A second browser of the same company opens the form now, to submit T1
// after the first has: the hub refuses it.
const late = await newPage();
await signIn(late, env('MOLEN_COMPANY_EMAIL'), env('MOLEN_COMPANY_PASSWORD'), null, 'van-dijk-kunststof');
await go(late, '#/programme/new', 'Assessment T1 (questionnaire version 1)');
if (await late.inputValue('#dma-name') !== 'Van Dijk Kunststoffen B.V.') fail('company data not taken from T0: ' + await late.inputValue('#dma-name'));
await fill(company, true);
await company.click('button:text-is("Submit T1")');
await company.waitForSelector('[data-problem="q7"]');
if (!/excludes every other answer/.test(await text(company, '[data-problem="q7"]'))) fail('q7 problem: ' + await text(company, '[data-problem="q7"]'));
await view(company, 'programme-fill-mistake');
log('ok the mistake is shown at its question, on its step');
await company.uncheck('[data-question="q7"] input[value="not-digital"]');
await company.click('button:text-is("7. Green digitalisation")');
await company.click('button:text-is("Submit T1")');
await company.waitForSelector('text=Assessment T1 submitted.');
await company.waitForSelector('[data-radar="T0,T1"]');
await view(company, 'programme-submitted');
log('ok T1 submitted after the correction; its result against T0');
await fill(late, false);
late.expect = /^400 POST .*\/api\/v1\/assessments$/;
await late.click('button:text-is("Submit T1")');
await late.waitForFunction(() => /T1: the company has one already/.test(document.querySelector('main [role="alert"]')?.textContent));
if (!await late.isChecked('[data-question="q11"] input[type=checkbox], [data-question="q10"] input[type=checkbox] >> nth=0')) fail('the answers were lost after the refusal');
await view(late, 'programme-refused');
log('ok a second T1 is refused by the hub, the answers kept');

// 3. The new result in the list, the comparison, and in Dutch.
await go(company, '#/programme', 'Digital maturity assessments');
await company.waitForFunction(() => [...document.querySelectorAll('[data-assessment]')].map((r) => r.dataset.assessment).join() === 'T0,T1');
await company.waitForSelector('h2:text-is("Change from T0 to T1")');
await view(company, 'programme-company');
await company.selectOption('#lang-select', 'nl');
await company.waitForSelector('h2:text-is("Verandering van T0 naar T1")');
await view(company, 'programme-company-nl');
await go(company, '#/programme/new', 'Scan T2 (vragenlijst versie 1)');
await view(company, 'programme-fill-nl');
await company.selectOption('#lang-select', 'en');
log('ok the comparison, in English and Dutch');

// 4. A hub's owner sets when its companies are due.
const hub = await newPage();
await signIn(hub, env('MOLEN_HUB_EMAIL'), env('MOLEN_HUB_PASSWORD'), null, 'edih-noord');
await go(hub, '#/programme', 'When companies are due');
await hub.fill('#dma-t1', '9');
await hub.click('button:text-is("Save intervals")');
await status(hub, /Intervals saved/);
await hub.reload();
await hub.waitForSelector('#dma-t1');
if (await hub.inputValue('#dma-t1') !== '9') fail('T1 interval after saving: ' + await hub.inputValue('#dma-t1'));
await view(hub, 'programme-intervals');
log('ok the hub\'s intervals saved');

// 5. Signed out, anyone finds help in their province by technology, in
// English and Dutch; nothing for the hubs' staff only is shown.
const visitor = await newPage();
await go(visitor, '#/catalogue', 'Find help to digitalise');
await visitor.selectOption('#cat-region', 'NL21');
await visitor.selectOption('#cat-technology', 'maintenance');
await visitor.focus('button:text-is("Search")');
await visitor.keyboard.press('Enter');
await visitor.waitForFunction(() => decodeURIComponent(document.documentElement.dataset.view || '').includes('region=NL21'));
await visitor.waitForSelector('[data-fieldlab="fieldlab-zwolle"]');
const hubsShown = await visitor.$$eval('[data-hub]', (es) => es.map((e) => e.dataset.hub));
if (hubsShown.join() !== 'edih-noord') fail('hubs for Overijssel: ' + hubsShown.join());
const labsShown = await visitor.$$eval('[data-fieldlab]', (es) => es.length);
const page = await visitor.textContent('main');
if (/room for four|capacity \d/.test(page)) fail('the public catalogue shows a hub\'s notes');
await view(visitor, 'catalogue');
await visitor.selectOption('#cat-lang', 'nl');
await visitor.waitForSelector('h1:text-is("Hulp vinden bij digitaliseren")');
await visitor.waitForSelector('[data-fieldlab="fieldlab-zwolle"] dd:has-text("Slim onderhoud")');
await view(visitor, 'catalogue-nl');
log(`ok the public catalogue: ${labsShown} fieldlabs for Overijssel and smart maintenance, in English and Dutch`);

// 6. The hub's owner registers a customer, is refused a duplicate and a
// subsidy for a large company, records a service, and sees the KPIs.
await go(hub, '#/hub', 'Customers');
if (!await hub.locator('[data-customer="default"]').count()) fail('the factory is not among edih-noord\'s customers');
await view(hub, 'hub-customers');
async function register(name, id, kvk, size) {
  await hub.fill('#reg-name', name);
  await hub.fill('#reg-org', id);
  await hub.fill('#reg-kvk', kvk);
  await hub.selectOption('#reg-size', size);
  await hub.fill('#reg-nace', 'C28');
  await hub.selectOption('#reg-nuts', 'NL21');
  await hub.fill('#reg-email', 'info@' + id + '.example');
  await hub.focus('#reg-email');
  await hub.keyboard.press('Enter');
}
await register('Hengelo Machinebouw B.V.', 'hengelo-machinebouw', '06123123', '250+');
await status(hub, /Customer Hengelo Machinebouw B.V. registered/);
hub.expect = /^409 POST .*programme\/customers$/;
await register('Dubbel B.V.', 'dubbel', '06123123', '0-49');
await hub.waitForSelector('main [role="alert"]:has-text("kvk 06123123")');
await view(hub, 'hub-duplicate');
hub.expect = null;
await hub.click('[data-customer="hengelo-machinebouw"] a');
await hub.waitForSelector('h2:text-is("Hengelo Machinebouw B.V.")');
await hub.fill('#rec-day', '2026-10-01');
await hub.fill('#rec-provider', 'fieldlab-zwolle');
await hub.fill('#rec-market', '12000');
await hub.fill('#rec-price', '3000');
await hub.fill('#rec-subsidy', '9000');
hub.expect = /^400 POST .*\/services$/;
await hub.click('button:text-is("Record a service")');
await hub.waitForSelector('main [role="alert"]:has-text("market price")');
await view(hub, 'hub-market-price');
hub.expect = null;
await hub.fill('#rec-price', '12000');
await hub.fill('#rec-subsidy', '0');
await hub.fill('#rec-investment', '250000');
await hub.click('button:text-is("Record a service")');
await status(hub, /Service recorded/);
await hub.waitForSelector('[data-service="test-before-invest"]');
await go(hub, '#/hub/c/default', 'Molenaar Precisie B.V.');
const factoryStages = await hub.$$eval('[data-assessment]', (rs) => rs.map((r) => r.dataset.assessment));
if (factoryStages.join() !== 'T0,T1') fail('the factory\'s assessments seen by its hub: ' + factoryStages.join());
if (await hub.locator('[data-service]').count() < 2) fail('the factory\'s services');
// The factory shares its KPIs with its hub: its report shows its edges and machines.
if (await hub.getAttribute('[data-evidence]', 'data-evidence') !== '2') fail('evidence of the factory: ' + await text(hub, '[data-evidence]'));
if (!/Machines\s*\d/.test(await text(hub, '[data-evidence]'))) fail('evidence: ' + await text(hub, '[data-evidence]'));
await view(hub, 'hub-customer');
await go(hub, '#/hub/kpi', 'KPIs of edih-noord');
if (await hub.locator('[data-target]').count() !== 4) fail('targets');
const steps = await hub.$$eval('[data-step]', (es) => es.map((e) => e.dataset.step));
if (steps.join() !== 'reached,registered,assessed,served,connected,improved') fail('funnel: ' + steps.join());
const connected = await text(hub, '[data-step="connected"] strong');
if (Number(connected) < 1) fail('the factory\'s edge is not counted as connected: ' + connected);
await hub.fill('#snap-month', '2026-01');
await hub.click('button:text-is("Freeze snapshot")');
await status(hub, /Snapshot of 2026-01 frozen/);
await hub.waitForSelector('[data-snapshot="2026-01"]');
await view(hub, 'hub-kpi');
await hub.selectOption('#lang-select', 'nl');
await hub.waitForSelector('h2:text-is("KPI\'s van edih-noord")');
await view(hub, 'hub-kpi-nl');
await hub.selectOption('#lang-select', 'en');
log('ok the hub registers, refuses a duplicate and a subsidy for a large company, records a service, and shows its KPIs');

// 6b. The hub's advisor (who reads elsewhere) records a service too.
const advisor = await newPage();
await signIn(advisor, env('MOLEN_ADVISOR_EMAIL'), env('MOLEN_ADVISOR_PASSWORD'), null, 'edih-noord');
await go(advisor, '#/hub/c/hengelo-machinebouw', 'Hengelo Machinebouw B.V.');
await advisor.selectOption('#rec-type', 'skills');
await advisor.fill('#rec-day', '2026-10-08');
await advisor.fill('#rec-provider', 'fieldlab-zwolle');
await advisor.fill('#rec-market', '1500');
await advisor.fill('#rec-price', '1500');
await advisor.fill('#rec-people', '6');
await advisor.focus('#rec-people');
await advisor.keyboard.press('Enter');
await status(advisor, /Service recorded/);
await advisor.waitForSelector('[data-service="skills"]');
await view(advisor, 'hub-advisor-service');
await advisor.close();
log('ok the hub\'s advisor records a service');

// 7. The hub takes a fieldlab out of the catalogue and records a
// collaboration with another hub.
await go(hub, '#/hub/fieldlabs', 'The hub\'s profile in the catalogue');
const zwolle = '[data-fieldlab="fieldlab-zwolle"]';
await hub.click(`${zwolle} summary`);
await hub.uncheck(`${zwolle} input[name="public"]`);
await hub.click(`${zwolle} button:text-is("Save fieldlab")`);
await status(hub, /Saved/);
await hub.waitForSelector(`${zwolle} h3:has-text("not public")`);
await view(hub, 'hub-fieldlabs');
await visitor.reload();
await visitor.waitForSelector('[data-hub="edih-noord"]');
if (await visitor.locator('[data-fieldlab="fieldlab-zwolle"]').count()) fail('a fieldlab taken out of the catalogue is still shown');
await go(hub, '#/hub/collaborations', 'Collaborations');
await hub.fill('#col-partner', 'edih-zuid');
await hub.fill('#col-topic', 'Joint cobot day in Eindhoven');
await hub.fill('#col-day', '2026-11-12');
await hub.click('button:text-is("Add a collaboration")');
await status(hub, /Collaboration added/);
await hub.waitForSelector('[data-collaboration="edih-zuid"]:has-text("Joint cobot day")');
await view(hub, 'hub-collaborations');
log('ok the hub takes a fieldlab out of the catalogue and records a collaboration');

// 8. The programme office sees the KPIs nationally.
const office = await newPage();
await signIn(office, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'), null, 'platform');
await go(office, '#/hub', 'KPIs of the programme');
const reached = Number((await text(office, '[data-step="reached"] strong')).replace(/\D/g, ''));
if (reached < 40) fail('national funnel reached: ' + reached);
await view(office, 'programme-national');
log(`ok the national KPIs: ${reached} companies reached`);

// 9. A phone's screen.
await company.setViewportSize({ width: 390, height: 844 });
await go(company, '#/programme', 'Digital maturity assessments');
await company.waitForSelector('[data-radar]');
await view(company, 'programme-phone');

clean(factory, 'end');
clean(company, 'end');
clean(hub, 'end');
clean(late, 'end');
clean(visitor, 'end');
clean(office, 'end');
await browser.close();
log('PASS');
