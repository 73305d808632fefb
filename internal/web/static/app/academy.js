// The academy (the Smart Makers Academy): a hub's courses and learning
// routes (its admins keep them), enrolling people and marking their
// completions (its advisors, engineers and up), each completion's signed
// credential to download; and for every signed-in person, their own
// skills passport — completions at every hub, exported as JSON with the
// credentials — and a check of any credential against the hubs' keys.
//
// Hooks for browser tests (keep them stable): [data-course] a course row,
// [data-route] a learning route, [data-enrolment] an enrolment row
// (data-completed="1" once completed), [data-erase] its erase button,
// [data-passport-entry] a completion in the passport, [data-verdict] the
// check's answer.
import {
  html, useState, useApi, api, t, lang, useSignal, registerArea, href, fmtDate, fmtNum, can, download,
} from './core.js';
import { at, Refusal, useAction } from './account.js';

const orgKind = (w) => ((w.orgs || []).find((o) => o.org === w.org) || {}).org_kind || '';
const advises = (who) => !!who && (who.role === 'advisor' || can(who, 'engineer'));
const title = (c, l) => (l === 'nl' ? c.title_nl : c.title_en) || c.title_en;
const termLabel = (terms, id, l) => { const x = (terms || []).find((y) => y.id === id); return x ? x[l] || x.en : id; };

registerArea({ id: 'academy', title: 'area.academy', view: AcademyView, visible: (w) => orgKind(w) === 'hub' && !w.via });
registerArea({ id: 'passport', title: 'area.passport', view: PassportView, visible: (w) => w.kind === 'person' });

// PublicCourses lists the public academy courses of hubs (IDs), on
// technology when it is not "", for the public catalogue (Find help).
export function PublicCourses({ hubs, technology }) {
  const l = useSignal(lang);
  const cat = useApi('academy/catalogue', null, []);
  if (!cat.data) return null;
  const list = cat.data.courses.filter((c) => hubs.includes(c.hub) && (!technology || c.technology === technology));
  return html`<section aria-labelledby="cat-courses-h">
    <h2 id="cat-courses-h">${t('acad.publicCourses', { n: list.length })}</h2>
    ${list.length === 0 ? html`<p>${t('acad.noPublicCourses')}</p>` : html`<ul class="cards">${list.slice(0, 60).map((c) => html`<li class="panel" data-public-course=${c.id}>
      <h3>${title(c, l)}</h3>
      <p class="meta">${termLabel(cat.data.technologies, c.technology, l)} · ${t('acad.hoursN', { n: c.hours })} · ${c.hub}</p>
      <p>${l === 'nl' ? c.description_nl : c.description_en}</p>
      ${c.modules.length > 0 && html`<p class="meta">${c.modules.join(' → ')}</p>`}
    </li>`)}</ul>`}
  </section>`;
}

// AcademyKpis is the academy's part of a KPI page: the people upskilled
// of the hubs with academy records are its distinct learners.
export function AcademyKpis({ academy: a }) {
  if (!a) return null;
  return html`<section class="panel" aria-labelledby="acad-kpi-h" data-academy-learners=${a.learners}><h3 id="acad-kpi-h">${t('acad.kpi')}</h3>
    <dl class="facts"><dt>${t('acad.courses')}</dt><dd>${fmtNum(a.courses, 0)}</dd><dt>${t('acad.kpiEnrolments')}</dt><dd>${fmtNum(a.enrolments, 0)}</dd>
      <dt>${t('acad.kpiCompletions')}</dt><dd>${fmtNum(a.completions, 0)}</dd><dt>${t('acad.kpiLearners')}</dt><dd>${fmtNum(a.learners, 0)}</dd></dl>
    <p class="hint">${a.hubs.length === 0 ? t('acad.kpiNone') : t('acad.kpiHow')}</p>
  </section>`;
}

// saveFile offers text as a file to keep.
function saveFile(name, text, type) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function AcademyView({ route: r, who }) {
  useSignal(lang);
  const page = r.path[0] || '';
  const tab = (p, key) => html`<li><a href=${href('academy', p ? [p] : [])} aria-current=${page === p ? 'page' : undefined}>${t(key)}</a></li>`;
  return html`<h1>${t('area.academy')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('acad.sections')}><ul>${tab('', 'acad.courses')}${tab('people', 'acad.enrolments')}</ul></nav>
    ${page === 'people' ? html`<${Enrolments} who=${who} />` : html`<${Courses} who=${who} />`}`;
}

function Courses({ who }) {
  const l = useSignal(lang);
  const list = useApi('academy/courses', null, [who.org]);
  const routes = useApi('academy/routes', null, [who.org]);
  const act = useAction();
  const routeAct = useAction();
  const admin = can(who, 'admin');
  async function save(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = {
      title_en: String(f.get('title_en')).trim(), title_nl: String(f.get('title_nl')).trim(),
      description_en: String(f.get('description_en') || ''), description_nl: String(f.get('description_nl') || ''),
      technology: f.get('technology'), dimensions: f.getAll('dimensions'), hours: Number(f.get('hours')), provider: f.get('provider'),
      modules: String(f.get('modules') || '').split('\n').map((x) => x.trim()).filter(Boolean), public: f.get('public') === 'on',
    };
    if (await act.run(() => api(at('academy/courses/{course}', { course: String(f.get('id')).trim() }), { method: 'PUT', body }), t('acad.saved', { title: body.title_en }))) {
      form.reset();
      list.reload();
    }
  }
  async function saveRoute(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = { title_en: String(f.get('title_en')).trim(), title_nl: String(f.get('title_nl')).trim(), courses: f.getAll('courses') };
    if (await routeAct.run(() => api(at('academy/routes/{route}', { route: String(f.get('id')).trim() }), { method: 'PUT', body }), t('acad.routeSaved'))) {
      form.reset();
      routes.reload();
    }
  }
  if (list.error) return html`<${Refusal} error=${list.error} />`;
  if (!list.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const d = list.data;
  const byID = Object.fromEntries(d.courses.map((c) => [c.id, c]));
  return html`
    <section aria-labelledby="acad-courses-h" tabindex="0">
      <h2 id="acad-courses-h">${t('acad.courses')} (${d.courses.length})</h2>
      ${d.courses.length === 0 ? html`<p>${t('acad.noCourses')}</p>` : html`<table>
        <thead><tr><th scope="col">${t('acad.title')}</th><th scope="col">${t('acad.technology')}</th><th scope="col">${t('acad.dimensions')}</th>
          <th scope="col">${t('acad.hours')}</th><th scope="col">${t('acad.provider')}</th><th scope="col">${t('acad.public')}</th></tr></thead>
        <tbody>${d.courses.map((c) => html`<tr data-course=${c.id}>
          <td>${title(c, l)}<br /><small>${c.id}${c.modules.length > 0 ? ' · ' + c.modules.join(' → ') : ''}</small></td>
          <td>${termLabel(d.technologies, c.technology, l)}</td><td>${c.dimensions.map((x) => t('acad.dim.' + x)).join(', ')}</td>
          <td>${c.hours}</td><td>${c.provider}</td><td>${c.public ? t('acad.yes') : t('acad.no')}</td></tr>`)}</tbody>
      </table>`}
    </section>
    <section aria-labelledby="acad-routes-h">
      <h2 id="acad-routes-h">${t('acad.routes')}</h2>
      ${routes.data && (routes.data.routes.length === 0 ? html`<p>${t('acad.noRoutes')}</p>` : html`<ol class="cards">
        ${routes.data.routes.map((x) => html`<li class="panel" data-route=${x.id}><h3>${l === 'nl' ? x.title_nl : x.title_en}</h3>
          <ol>${x.courses.map((c) => html`<li>${byID[c] ? title(byID[c], l) : c}${byID[c] ? html` <small>(${t('acad.hoursN', { n: byID[c].hours })})</small>` : ''}</li>`)}</ol></li>`)}
      </ol>`)}
    </section>
    ${admin && html`<section class="panel" aria-labelledby="acad-new-h">
      <h2 id="acad-new-h">${t('acad.addCourse')}</h2>
      <form class="grid-form" onSubmit=${save}>
        <label for="course-id">${t('acad.id')}</label><input id="course-id" name="id" required pattern="[a-z0-9][a-z0-9\\-]{0,39}" />
        <label for="course-en">${t('acad.titleEN')}</label><input id="course-en" name="title_en" required maxlength="200" />
        <label for="course-nl">${t('acad.titleNL')}</label><input id="course-nl" name="title_nl" required maxlength="200" />
        <label for="course-den">${t('acad.descEN')}</label><textarea id="course-den" name="description_en" rows="2"></textarea>
        <label for="course-dnl">${t('acad.descNL')}</label><textarea id="course-dnl" name="description_nl" rows="2"></textarea>
        <label for="course-tech">${t('acad.technology')}</label>
        <select id="course-tech" name="technology">${d.technologies.map((x) => html`<option value=${x.id}>${l === 'nl' ? x.nl : x.en}</option>`)}</select>
        <span id="course-dims-l">${t('acad.dimensions')}</span>
        <fieldset aria-labelledby="course-dims-l" class="checks">${d.dimensions.map((x) => html`<label class="check"><input type="checkbox" name="dimensions" value=${x} /> ${t('acad.dim.' + x)}</label>`)}</fieldset>
        <label for="course-hours">${t('acad.hours')}</label><input id="course-hours" name="hours" type="number" min="2" max="6" value="4" required />
        <label for="course-provider">${t('acad.provider')}</label>
        <select id="course-provider" name="provider">${d.providers.map((x) => html`<option value=${x}>${x}</option>`)}</select>
        <label for="course-modules">${t('acad.modules')}</label><textarea id="course-modules" name="modules" rows="3"></textarea>
        <span></span><label class="check"><input type="checkbox" name="public" defaultChecked /> ${t('acad.inCatalogue')}</label>
        <span></span><button type="submit" disabled=${act.busy}>${t('acad.saveCourse')}</button>
      </form>
      ${act.status}
    </section>
    <section class="panel" aria-labelledby="acad-route-h">
      <h2 id="acad-route-h">${t('acad.addRoute')}</h2>
      <form class="grid-form" onSubmit=${saveRoute}>
        <label for="route-id">${t('acad.id')}</label><input id="route-id" name="id" required pattern="[a-z0-9][a-z0-9\\-]{0,39}" />
        <label for="route-en">${t('acad.titleEN')}</label><input id="route-en" name="title_en" required />
        <label for="route-nl">${t('acad.titleNL')}</label><input id="route-nl" name="title_nl" required />
        <label for="route-courses">${t('acad.routeCourses')}</label>
        <select id="route-courses" name="courses" multiple size="6">${d.courses.map((c) => html`<option value=${c.id}>${title(c, l)}</option>`)}</select>
        <span></span><button type="submit" disabled=${routeAct.busy}>${t('acad.saveRoute')}</button>
      </form>
      ${routeAct.status}
    </section>`}`;
}

function Enrolments({ who }) {
  const l = useSignal(lang);
  const list = useApi('academy/enrolments', null, [who.org]);
  const courses = useApi('academy/courses', null, [who.org]);
  const customers = useApi('programme/customers', null, [who.org]);
  const act = useAction();
  const mark = useAction();
  const write = advises(who);
  async function enrol(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = { email: String(f.get('email')).trim(), name: String(f.get('name')).trim(), course: f.get('course'), company: f.get('company') || '' };
    if (await act.run(() => api('academy/enrolments', { method: 'POST', body }), t('acad.enrolled', { name: body.name }))) {
      form.reset();
      list.reload();
    }
  }
  async function erase(x) {
    if (!confirm(t('acad.confirmErase', { name: x.name }))) return;
    if (await mark.run(() => api(at('academy/learners/{learner}', { learner: x.learner }), { method: 'DELETE' }), t('acad.erased', { name: x.name }))) list.reload();
  }
  async function complete(e, id) {
    e.preventDefault();
    const day = new FormData(e.target).get('day') || '';
    if (await mark.run(() => api(at('academy/enrolments/{enrolment}/completion', { enrolment: id }), { method: 'POST', body: { day } }), t('acad.completedMsg'))) list.reload();
  }
  if (list.error) return html`<${Refusal} error=${list.error} />`;
  if (!list.data || !courses.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const byID = Object.fromEntries(courses.data.courses.map((c) => [c.id, c]));
  const all = list.data.enrolments;
  const today = new Date().toISOString().slice(0, 10);
  return html`
    ${write && html`<section class="panel" aria-labelledby="enrol-h">
      <h2 id="enrol-h">${t('acad.enrol')}</h2>
      <p class="hint">${t('acad.privacy')}</p>
      <form class="grid-form" onSubmit=${enrol}>
        <label for="enrol-name">${t('acad.name')}</label><input id="enrol-name" name="name" required maxlength="200" />
        <label for="enrol-email">${t('acad.email')}</label><input id="enrol-email" name="email" type="email" required />
        <label for="enrol-course">${t('acad.course')}</label>
        <select id="enrol-course" name="course" required>${courses.data.courses.map((c) => html`<option value=${c.id}>${title(c, l)}</option>`)}</select>
        <label for="enrol-company">${t('acad.company')}</label>
        <select id="enrol-company" name="company"><option value="">${t('acad.noCompany')}</option>
          ${((customers.data && customers.data.customers) || []).map((c) => html`<option value=${c.org}>${c.name}</option>`)}</select>
        <span></span><button type="submit" disabled=${act.busy}>${t('acad.enrol')}</button>
      </form>
      ${act.status}
    </section>`}
    <section aria-labelledby="enrolments-h" tabindex="0" class="scroll-own">
      <h2 id="enrolments-h">${t('acad.enrolments')} (${all.length})</h2>
      ${all.length > 100 && html`<p class="hint">${t('acad.newest', { n: 100 })}</p>`}
      ${mark.status}
      ${all.length === 0 ? html`<p>${t('acad.noEnrolments')}</p>` : html`<table>
        <thead><tr><th scope="col">${t('acad.name')}</th><th scope="col">${t('acad.course')}</th><th scope="col">${t('acad.enrolledOn')}</th>
          <th scope="col">${t('acad.completed')}</th><th scope="col">${t('acad.credential')}</th></tr></thead>
        <tbody>${all.slice(0, 100).map((x) => html`<tr data-enrolment=${x.id} data-completed=${x.completed ? '1' : '0'}>
          <td>${x.name}<br /><small title=${t('acad.learnerHint')}>${x.learner.slice(0, 12)}…</small></td>
          <td>${byID[x.course] ? title(byID[x.course], l) : x.course}</td><td>${fmtDate(Date.parse(x.enrolled))}</td>
          <td>${x.completed ? fmtDate(Date.parse(x.completed)) : write ? html`<form class="inline" onSubmit=${(e) => complete(e, x.id)}>
            <label class="sr-only" for=${'day-' + x.id}>${t('acad.completedOn', { name: x.name })}</label>
            <input id=${'day-' + x.id} name="day" type="date" max=${today} defaultValue=${today} />
            <button type="submit" disabled=${mark.busy}>${t('acad.markCompleted')}</button></form>` : t('acad.open')}</td>
          <td>${x.completed ? html`<button type="button" class="ghost" onClick=${() => download(at('academy/enrolments/{enrolment}/credential', { enrolment: x.id }), { download: 1 })}>
            ${t('acad.downloadCredential')}<span class="sr-only"> ${x.name}</span></button>` : ''}
            ${can(who, 'admin') && html`<button type="button" class="ghost" data-erase=${x.learner} onClick=${() => erase(x)}>${t('acad.erase')}<span class="sr-only"> ${x.name}</span></button>`}</td>
        </tr>`)}</tbody>
      </table>`}
    </section>`;
}

function PassportView() {
  const l = useSignal(lang);
  const pp = useApi('academy/passport', null, []);
  const check = useAction();
  const [verdict, setVerdict] = useState(null);
  async function verify(e) {
    e.preventDefault();
    const credential = String(new FormData(e.target).get('credential')).trim();
    const res = await check.run(() => api('academy/verify', { method: 'POST', body: { credential } }));
    if (res) setVerdict(res);
  }
  const body = pp.error ? html`<${Refusal} error=${pp.error} />` : !pp.data ? html`<p role="status">${t('shell.loading')}</p>` : html`<section aria-label=${t('area.passport')} tabindex="0" class="scroll-own">
    <p>${t('acad.passportIntro', { n: pp.data.completions.length, h: pp.data.hours })}</p>
    ${pp.data.completions.length === 0 ? html`<p>${t('acad.noCompletions')}</p>` : html`<table>
      <thead><tr><th scope="col">${t('acad.course')}</th><th scope="col">${t('acad.hub')}</th><th scope="col">${t('acad.hours')}</th>
        <th scope="col">${t('acad.completed')}</th><th scope="col">${t('acad.credential')}</th></tr></thead>
      <tbody>${pp.data.completions.map((x) => html`<tr data-passport-entry=${x.enrolment}>
        <td>${title(x.course, l)}</td><td>${x.course.hub}</td><td>${x.course.hours}</td><td>${fmtDate(Date.parse(x.completed))}</td>
        <td><button type="button" class="ghost" onClick=${() => saveFile(x.enrolment + '.jwt', x.credential, 'application/vc+jwt')}>
          ${t('acad.downloadCredential')}<span class="sr-only"> ${title(x.course, l)}</span></button></td></tr>`)}</tbody>
    </table>`}
    <button type="button" class="primary" onClick=${() => saveFile('skills-passport.json', JSON.stringify(pp.data, null, 2), 'application/json')}>${t('acad.exportPassport')}</button>
    <p class="hint">${t('acad.offline')}</p></section>`;
  return html`<h1>${t('area.passport')}</h1>
    ${body}
    <section class="panel" aria-labelledby="verify-h">
      <h2 id="verify-h">${t('acad.verify')}</h2>
      <form onSubmit=${verify}>
        <label for="verify-cred">${t('acad.verifyLabel')}</label>
        <textarea id="verify-cred" name="credential" rows="4" required class="wide"></textarea>
        <button type="submit" disabled=${check.busy}>${t('acad.verifyButton')}</button>
      </form>
      ${check.status}
      ${verdict && html`<p role="status" data-verdict=${verdict.valid ? 'valid' : 'invalid'} class=${verdict.valid ? 'ok' : 'error'}>
        ${verdict.valid ? t('acad.valid', { name: verdict.verified.name, issuer: verdict.verified.issuer_name, day: verdict.verified.valid_from.slice(0, 10) })
          : t('acad.invalid', { why: verdict.error })}</p>`}
    </section>`;
}
