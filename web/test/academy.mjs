// The academy's screens in a real browser, against a running demo hub: a
// hub's owner adds a course and a learning route; its advisor enrols the
// demo factory's engineer and marks the course completed (by keyboard),
// and downloads the credential; the engineer opens their skills passport
// with completions at two hubs, exports it, and checks a credential (a
// valid one and a changed one), in English and Dutch. axe-core must find
// no serious or critical violation on any screen; screenshots go to
// MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestAcademyInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_CHROMIUM, the hub's owner (MOLEN_HUB_EMAIL,
// MOLEN_HUB_PASSWORD), its advisor (MOLEN_ADVISOR_EMAIL,
// MOLEN_ADVISOR_PASSWORD) and the engineer (MOLEN_LEARNER_EMAIL,
// MOLEN_LEARNER_PASSWORD). Prints one line per step; exits non-zero on
// the first failure.
import { readFileSync } from 'node:fs';
import {
  env, base, log, fail, browser, newPage, clean, view, text, status, signIn, go,
} from './session.mjs';

// 1. The hub's owner: the courses, a new course and a learning route.
const owner = await newPage();
await signIn(owner, env('MOLEN_HUB_EMAIL'), env('MOLEN_HUB_PASSWORD'), null, 'edih-noord');
await go(owner, '#/academy', 'Courses');
if (await owner.locator('[data-course]').count() < 10) fail('EDIH Noord\'s courses: ' + await owner.locator('[data-course]').count());
if (await owner.locator('[data-route]').count() !== 2) fail('EDIH Noord\'s learning routes');
await owner.fill('#course-id', 'noord-mes-basics');
await owner.fill('#course-en', 'An MES in a small factory');
await owner.fill('#course-nl', 'Een MES in een kleine fabriek');
await owner.selectOption('#course-tech', 'data');
await owner.fill('#course-hours', '7');
await owner.fill('#course-modules', 'What an MES does\nChoosing one');
if (await owner.$eval('#course-hours', (e) => e.validity.valid)) fail('a 7-hour course is a valid entry');
await owner.fill('#course-hours', '3');
// No DMA dimension ticked: the hub refuses, naming it.
owner.expect = /^400 PUT .*\/academy\/courses\/noord-mes-basics$/;
await owner.click('button:text-is("Save course")');
await owner.waitForSelector('main [role="alert"]');
if (!/dimensions: at least one/.test(await text(owner, 'main [role="alert"]'))) fail('a course without dimensions: ' + await text(owner, 'main [role="alert"]'));
owner.expect = null;
await owner.check('input[name="dimensions"][value="readiness"]');
await owner.click('button:text-is("Save course")');
await status(owner, /Course An MES in a small factory saved/);
await owner.waitForSelector('[data-course="noord-mes-basics"]');
await owner.fill('#route-id', 'noord-route-mes');
await owner.fill('#route-en', 'Towards an MES');
await owner.fill('#route-nl', 'Op weg naar een MES');
await owner.selectOption('#route-courses', ['noord-oee-basics', 'noord-mes-basics']);
await owner.click('button:text-is("Save route")');
await status(owner, /Learning route saved/);
await owner.waitForSelector('[data-route="noord-route-mes"]:has-text("An MES in a small factory")');
await view(owner, 'academy-courses');
await go(owner, '#/hub/kpi', 'KPIs of edih-noord');
await owner.waitForSelector('[data-academy-learners]');
if (Number(await owner.getAttribute('[data-academy-learners]', 'data-academy-learners')) < 10) fail('the hub\'s KPIs: no academy learners');
await view(owner, 'academy-kpi');
// The owner erases Lotte Meijer (enrolled, not completed) at the hub.
await go(owner, '#/academy/people', 'People and enrolments');
const lotte = owner.locator('[data-enrolment]:has-text("Lotte Meijer")');
await lotte.waitFor();
await lotte.locator('[data-erase]').click();
await status(owner, /What this hub kept of Lotte Meijer is erased/);
await owner.waitForFunction(() => ![...document.querySelectorAll('[data-enrolment]')].some((r) => r.textContent.includes('Lotte Meijer')));
log('ok the owner erases a learner at the hub');
log('ok the owner adds a course (7 hours and no dimension refused) and a learning route');

// 2. The advisor enrols the engineer and marks the course completed, by
// keyboard; the credential downloads.
const advisor = await newPage();
await signIn(advisor, env('MOLEN_ADVISOR_EMAIL'), env('MOLEN_ADVISOR_PASSWORD'), null, 'edih-noord');
await go(advisor, '#/academy/people', 'People and enrolments');
if (await advisor.locator('button:text-is("Save course")').count() !== 0) fail('an advisor sees the course form');
if (await advisor.locator('[data-erase]').count() !== 0) fail('an advisor may erase learners');
await advisor.fill('#enrol-name', 'Daan Visser');
await advisor.fill('#enrol-email', ' ' + env('MOLEN_LEARNER_EMAIL').toUpperCase());
await advisor.selectOption('#enrol-course', 'noord-mes-basics');
await advisor.selectOption('#enrol-company', 'default');
await advisor.click('button:text-is("Enrol a person")');
await status(advisor, /Daan Visser is enrolled/);
const row = advisor.locator('[data-enrolment][data-completed="0"]:has-text("An MES in a small factory")');
await row.waitFor();
await row.locator('input[type=date]').focus();
await advisor.keyboard.press('Tab');
await advisor.keyboard.press('Enter');
await status(advisor, /Completion recorded/);
const done = advisor.locator('[data-enrolment][data-completed="1"]:has-text("An MES in a small factory")');
await done.waitFor();
await view(advisor, 'academy-enrolments');
const [cred] = await Promise.all([advisor.waitForEvent('download'), done.locator('button').click()]);
const jwt = readFileSync(await cred.path(), 'utf8');
if (jwt.split('.').length !== 3) fail('the credential download: ' + jwt.slice(0, 80));
const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
if (!payload.type.includes('OpenBadgeCredential') || payload.name !== 'An MES in a small factory' || JSON.stringify(payload).includes('daan')) {
  fail('the credential: ' + JSON.stringify(payload).slice(0, 300));
}
log('ok the advisor enrols and completes by keyboard; the credential is an OpenBadgeCredential without the address');

// 3. The engineer's skills passport: completions at two hubs, exported,
// a credential checked, valid and changed; in Dutch too.
const learner = await newPage();
await signIn(learner, env('MOLEN_LEARNER_EMAIL'), env('MOLEN_LEARNER_PASSWORD'));
await go(learner, '#/passport', 'Check a credential');
await learner.waitForSelector('[data-passport-entry]');
const hubs = await learner.$$eval('[data-passport-entry] td:nth-child(2)', (ts) => [...new Set(ts.map((x) => x.textContent))].sort());
if (await learner.locator('[data-passport-entry]').count() !== 4 || hubs.join() !== 'edih-noord,edih-zuid') fail('the passport: ' + hubs.join());
await view(learner, 'academy-passport');
await learner.locator('button:text-is("Export my passport (JSON)")').focus();
const [exp] = await Promise.all([learner.waitForEvent('download'), learner.keyboard.press('Enter')]);
const pp = JSON.parse(readFileSync(await exp.path(), 'utf8'));
if (pp.completions.length !== 4 || !pp.completions.every((c) => c.credential.split('.').length === 3)) fail('the exported passport');
await learner.fill('#verify-cred', jwt);
await learner.click('button:text-is("Check")');
await learner.waitForSelector('[data-verdict="valid"]:has-text("EDIH Noord")');
const parts = jwt.split('.');
const forged = Buffer.from(JSON.stringify({ ...payload, name: 'Rocket science' })).toString('base64url');
await learner.fill('#verify-cred', [parts[0], forged, parts[2]].join('.'));
await learner.click('button:text-is("Check")');
await learner.waitForSelector('[data-verdict="invalid"]');
await view(learner, 'academy-verify');
await learner.selectOption('#lang-select', 'nl');
await learner.waitForSelector('h1:text-is("Vaardighedenpaspoort")');
await learner.waitForSelector('button:text-is("Mijn paspoort exporteren (JSON)")');
await view(learner, 'academy-passport-nl');
await learner.selectOption('#lang-select', 'en');
log('ok the passport: four completions at two hubs, exported; a credential valid, a changed one not; Dutch');

// 4. The public catalogue lists the academy's courses of the province's
// hubs on the technology chosen, without signing in, in Dutch too.
const visitor = await newPage();
await visitor.goto(base + '/#/catalogue?region=NL21&technology=iot');
await visitor.waitForSelector('[data-public-course="noord-sensors-retrofit"]:has-text("Sensors on existing machines")');
if (await visitor.locator('[data-public-course^="zuid-"]').count() !== 0) fail('EDIH Zuid\'s courses for Overijssel');
if (await visitor.locator('[data-public-course="noord-cobot-first-steps"]').count() !== 0) fail('a robotics course for IoT');
await view(visitor, 'academy-catalogue');
await visitor.selectOption('#cat-lang', 'nl');
await visitor.waitForSelector('[data-public-course="noord-sensors-retrofit"]:has-text("Sensoren op bestaande machines")');
log('ok the public catalogue lists the academy\'s courses for the province and technology, in Dutch too');

// 5. A phone's screen.
await learner.setViewportSize({ width: 390, height: 844 });
await go(learner, '#/passport', 'Check a credential');
await view(learner, 'academy-phone');

clean(owner, 'end');
clean(advisor, 'end');
clean(learner, 'end');
clean(visitor, 'end');
await browser.close();
log('PASS');
