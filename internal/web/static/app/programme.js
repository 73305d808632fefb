// The programme area: the EU digital maturity assessment (DMA) of the
// signed-in company — its assessments (T0, T1, T2), one result with a radar
// of the six dimensions, the change since T0 — and filling in the next
// assessment, one dimension per step. A hub's admins set the intervals at
// which its companies are due. The questionnaire is the hub's data
// (GET dma/questionnaire), in the page's language; the page checks answers
// the way the hub does and shows the hub's refusals next to the question
// they concern.
//
// Hooks for browser tests (keep them stable): [data-assessment] an
// assessment row (its stage), [data-radar] the radar chart,
// [data-question] a question's fieldset (its ID), [data-problem] a
// problem shown at a question (its ID).
import {
  html, useState, useApi, api, t, lang, useSignal, registerArea, href, fmtTime, fmtNum, can,
} from './core.js';
import { at, Refusal, useAction } from './account.js';
import { Journey } from './network.js';

// orgKind is the kind of the organisation the principal acts in ('' when
// unknown, as for API tokens: the hub decides).
const orgKind = (w) => ((w.orgs || []).find((o) => o.org === w.org) || {}).org_kind || '';

registerArea({
  id: 'programme', title: 'area.programme', view: ProgrammeView,
  visible: (w) => { const k = orgKind(w); return k ? k === 'company' || k === 'hub' : w.kind === 'token'; },
});

function ProgrammeView({ route, who }) {
  useSignal(lang);
  const kind = orgKind(who);
  if (kind === 'hub') return html`<h1>${t('area.programme')} <small>${who.org}</small></h1><${Intervals} who=${who} />`;
  const [page, id] = route.path;
  const body = page === 'new' ? html`<${Fill} who=${who} />`
    : page === 'a' && id ? html`<${One} id=${id} who=${who} />`
      : html`<${Maturity} who=${who} />`;
  return html`<h1>${t('area.programme')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('dma.sections')}><ul>
      <li><a href=${href('programme')} aria-current=${page !== 'new' ? 'page' : undefined}>${t('dma.mine')}</a></li>
      <li><a href=${href('programme', ['new'])} aria-current=${page === 'new' ? 'page' : undefined}>${t('dma.fill')}</a></li>
    </ul></nav>
    ${body}`;
}

const Time = ({ v }) => (v ? html`<time datetime=${new Date(v).toISOString()}>${fmtTime(Date.parse(v))}</time>` : '–');
const score = (v) => fmtNum(Math.round(v * 10) / 10, 1);
const bandName = (b) => (b ? t('dma.band.' + b) : '–');

// useQuestionnaire is the questionnaire in the page's language, whose
// dimension names the other views use.
function useQuestionnaire(version) {
  const l = useSignal(lang);
  return useApi('dma/questionnaire', { lang: l, version }, [l]);
}
const dimName = (q, id) => ((q && q.dimensions.find((d) => d.id === id)) || {}).text || id;
const questionText = (q, id) => {
  for (const d of (q ? q.dimensions : [])) for (const x of d.questions) if (x.id === id) return x.text;
  return id;
};

// ---- my maturity -------------------------------------------------------

function Maturity({ who }) {
  const list = useApi('assessments', null, [who.org]);
  const q = useQuestionnaire();
  // Who made an assessment, by name where they are a member (an advisor
  // of the hub is not: their ID and hub are shown).
  const members = useApi('members', null, [who.org]);
  const names = Object.fromEntries(((members.data && members.data.members) || []).map((m) => [m.user, m.name]));
  if (list.error) return html`<${Refusal} error=${list.error} />`;
  if (!list.data || !q.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const all = list.data.assessments;
  const next = list.data.next;
  const first = all[0], latest = all[all.length - 1];
  return html`
    <section aria-labelledby="dma-list-h" tabindex="0">
      <h2 id="dma-list-h">${t('dma.assessments')}</h2>
      ${all.length === 0 ? html`<p>${t('dma.none')}</p>` : html`<table class="dma-table">
        <caption class="sr-only">${t('dma.assessments')}</caption>
        <thead><tr><th scope="col">${t('dma.stage')}</th><th scope="col">${t('dma.date')}</th><th scope="col">${t('dma.overall')}</th>
          <th scope="col">${t('dma.band')}</th><th scope="col">${t('dma.by')}</th></tr></thead>
        <tbody>${all.map((a) => html`<tr data-assessment=${a.stage}>
          <th scope="row"><a href=${href('programme', ['a', a.id])}>${a.stage}</a></th><td><${Time} v=${a.created} /></td>
          <td>${score(a.result.overall)}</td><td>${bandName(a.result.band)}</td>
          <td>${names[a.actor] || (a.actor_org && a.actor_org !== a.org ? html`<span title=${a.actor}>${t('dma.advisorOf', { org: a.actor_org })}</span>` : a.actor)}</td></tr>`)}</tbody>
      </table>`}
      ${next && html`<p data-next=${next.stage}>${t('dma.next', { stage: next.stage })} <${Time} v=${next.due} />.${' '}
        <a href=${href('programme', ['new'])}>${t('dma.fillStage', { stage: next.stage })}</a></p>`}
    </section>
    ${latest && html`<${Result} q=${q.data} a=${latest} t0=${first !== latest ? first : null} />`}
    <${Measured} ev=${list.data.evidence} peers=${list.data.peers} />
    <${MyJourney} who=${who} />
    ${all.length > 1 && html`<${Comparison} q=${q.data} who=${who} n=${all.length} />`}`;
}

// MyJourney is the company's own journey at its hub: the next steps for
// its gaps and its timeline.
function MyJourney({ who }) {
  const l = useSignal(lang);
  const j = useApi('journey', { lang: l }, [who.org, l]);
  if (j.error || !j.data || !j.data.hub) return null;
  return html`<${Journey} journey=${j.data.journey} level="h2" />`;
}

// Measured is what molen measures in the company's factory — evidence next
// to its answers on readiness, data and automation — and its peers'
// average, when five or more form the group.
function Measured({ ev, peers }) {
  if (!ev) return null;
  return html`<section class="panel" aria-labelledby="dma-ev-h" data-evidence=${ev.edges}>
    <h2 id="dma-ev-h">${t('hub.evidence')}</h2>
    <dl class="facts">
      <dt>${t('hub.edges')}</dt><dd>${ev.edges}</dd><dt>${t('hub.machines')}</dt><dd>${ev.machines}</dd>
      <dt>${t('hub.series')}</dt><dd>${ev.series}</dd><dt>${t('hub.days')}</dt><dd>${ev.days}</dd>
    </dl>
    ${peers && html`<p data-peers=${peers.shown ? peers.companies : 'hidden'}>${peers.shown
      ? t('hub.peers', { v: fmtNum(peers.overall, 1), n: peers.companies, sector: peers.sector, region: peers.region, size: peers.size })
      : t('hub.peersHidden', { min: 5 })}</p>`}
  </section>`;
}

function One({ id, who }) {
  const a = useApi(at('assessments/{assessment}', { assessment: id }), null, [who.org]);
  const list = useApi('assessments', null, [who.org]);
  const q = useQuestionnaire(a.data ? a.data.version : undefined);
  if (a.error) return html`<${Refusal} error=${a.error} />`;
  if (!a.data || !q.data || !list.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const t0 = list.data.assessments.find((x) => x.stage === 'T0');
  return html`<p><a href=${href('programme')}>${t('dma.back')}</a></p>
    <${Result} q=${q.data} a=${a.data} t0=${t0 && t0.id !== a.data.id ? t0 : null} />`;
}

// Result is one assessment's scores per dimension, overall and band, the
// radar (against T0 when given) and the gap priorities: the lowest
// dimensions.
function Result({ q, a, t0 }) {
  const r = a.result;
  const gaps = [...r.dimensions].sort((x, y) => x.score - y.score).slice(0, 2);
  const h = 'dma-result-' + a.stage;
  return html`<section class="panel" aria-labelledby=${h}>
    <h2 id=${h}>${t('dma.result', { stage: a.stage })} <small><${Time} v=${a.created} /></small></h2>
    <p class="dma-overall"><strong>${t('dma.overall')}: ${score(r.overall)}</strong> / 100 — <span class="badge">${bandName(r.band)}</span></p>
    <div class="columns">
      <${Radar} q=${q} series=${[t0 && { name: 'T0', r: t0.result, cls: 'from' }, { name: a.stage, r, cls: 'to' }].filter(Boolean)} />
      <div tabindex="0" role="region" aria-labelledby=${h + '-t'}>
        <table class="dma-table">
          <caption id=${h + '-t'}>${t('dma.perDimension')}</caption>
          <thead><tr><th scope="col">${t('dma.dimension')}</th>${t0 && html`<th scope="col">T0</th>`}<th scope="col">${a.stage}</th></tr></thead>
          <tbody>${r.dimensions.map((d) => html`<tr><th scope="row">${dimName(q, d.id)}</th>
            ${t0 && html`<td>${score((t0.result.dimensions.find((x) => x.id === d.id) || {}).score || 0)}</td>`}<td>${score(d.score)}</td></tr>`)}</tbody>
        </table>
        <h3>${t('dma.gaps')}</h3>
        <ol>${gaps.map((d) => html`<li>${dimName(q, d.id)} (${score(d.score)})</li>`)}</ol>
      </div>
    </div>
  </section>`;
}

// wrap breaks a label into lines of about 16 characters.
function wrap(s) {
  const out = [];
  for (const w of s.split(' ')) {
    if (out.length && (out[out.length - 1] + ' ' + w).length <= 16) out[out.length - 1] += ' ' + w;
    else out.push(w);
  }
  return out;
}

// Radar draws the six dimensions (0–100 from the centre) of each series
// as a polygon; the table beside it holds the same numbers.
function Radar({ q, series }) {
  const dims = series[series.length - 1].r.dimensions.map((d) => d.id);
  const R = 110, c = 160, n = dims.length;
  const pt = (i, v) => {
    const ang = -Math.PI / 2 + (2 * Math.PI * i) / n;
    return [c + Math.cos(ang) * R * v / 100, c + Math.sin(ang) * R * v / 100];
  };
  const poly = (vals) => vals.map((v, i) => pt(i, v).map((x) => x.toFixed(1)).join(',')).join(' ');
  const vals = (r) => dims.map((id) => (r.dimensions.find((d) => d.id === id) || {}).score || 0);
  const desc = series.map((s) => `${s.name}: ` + dims.map((id, i) => `${dimName(q, id)} ${score(vals(s.r)[i])}`).join(', ')).join('; ');
  return html`<figure class="radar" data-radar=${series.map((s) => s.name).join(',')}>
    <svg viewBox="-60 0 440 320" role="img" aria-label=${t('dma.radar') + ' — ' + desc} focusable="false">
      ${[25, 50, 75, 100].map((v) => html`<polygon class="ring" points=${poly(dims.map(() => v))} />`)}
      ${dims.map((_, i) => { const [x, y] = pt(i, 100); return html`<line class="spoke" x1=${c} y1=${c} x2=${x} y2=${y} />`; })}
      ${series.map((s) => html`<polygon class=${'area ' + s.cls} points=${poly(vals(s.r))} />`)}
      ${dims.map((id, i) => {
        const [x, y] = pt(i, 118);
        const lines = wrap(dimName(q, id));
        const anchor = Math.abs(x - c) < 5 ? 'middle' : x > c ? 'start' : 'end';
        const y0 = y < c - 5 ? y - (lines.length - 1) * 13 : Math.abs(y - c) <= 5 ? y - ((lines.length - 1) * 13) / 2 : y;
        return html`<text x=${x} y=${y0} text-anchor=${anchor} dominant-baseline="middle">${lines.map((l, j) => html`<tspan x=${x} dy=${j ? 13 : 0}>${l}</tspan>`)}</text>`;
      })}
    </svg>
    <figcaption class="legend">${series.map((s) => html`<span><span class=${'swatch ' + s.cls}></span>${s.name}</span>`)}</figcaption>
  </figure>`;
}

// Comparison is the change from T0 to the latest assessment (the hub has
// one from the second assessment on).
function Comparison({ q, who, n }) {
  const cmp = useApi('assessments/comparison', null, [who.org, n]);
  if (cmp.error) return html`<${Refusal} error=${cmp.error} />`;
  if (!cmp.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const c = cmp.data;
  const sign = (v) => (v > 0 ? '+' : '') + score(v);
  return html`<section aria-labelledby="dma-cmp-h" tabindex="0">
    <h2 id="dma-cmp-h">${t('dma.change', { from: c.from.stage, to: c.to.stage })}</h2>
    <p>${t('dma.overall')}: ${score(c.overall.from)} → ${score(c.overall.to)} (${sign(c.overall.change)}) —${' '}
      ${t('dma.band')}: ${bandName(c.band[0])} → ${bandName(c.band[1])}</p>
    <table class="dma-table">
      <caption class="sr-only">${t('dma.change', { from: c.from.stage, to: c.to.stage })}</caption>
      <thead><tr><th scope="col">${t('dma.dimensionOrQuestion')}</th><th scope="col">${c.from.stage}</th><th scope="col">${c.to.stage}</th><th scope="col">${t('dma.delta')}</th></tr></thead>
      <tbody>${c.dimensions.map((d) => html`
        <tr class="dim"><th scope="row">${dimName(q, d.id)}</th><td>${score(d.from)}</td><td>${score(d.to)}</td><td>${sign(d.change)}</td></tr>
        ${(d.questions || []).map((x) => html`<tr><th scope="row" class="sub">${x.id.toUpperCase()} ${questionText(q, x.id)}</th>
          <td>${score(x.from)}</td><td>${score(x.to)}</td><td>${sign(x.change)}</td></tr>`)}`)}</tbody>
    </table>
  </section>`;
}

// ---- filling in --------------------------------------------------------

// drafts keeps the answers being filled in per organisation for as long as
// the tab lives: a refusal, a step back or a visit elsewhere loses nothing.
const drafts = new Map();

// check finds what the hub would refuse, per question (or company.<field>):
// a required field left out or longer than 200 bytes, an exclusive item
// with others, a scale item without a level.
export function check(q, ans) {
  const problems = {};
  const add = (k, msg) => { (problems[k] = problems[k] || []).push(msg); };
  for (const f of q.company) {
    const v = String(ans.company[f.id] || '').trim();
    if (f.required && !v) add('company.' + f.id, t('dma.required'));
    if (new TextEncoder().encode(v).length > 200) add('company.' + f.id, t('dma.tooLong'));
  }
  for (const d of q.dimensions) {
    for (const x of d.questions) {
      const a = ans.questions[x.id] || {};
      if (x.kind === 'checkbox') {
        const items = a.items || [];
        for (const it of x.items) {
          if (it.exclusive && items.includes(it.id) && items.length > 1) add(x.id, t('dma.exclusive', { item: it.text }));
        }
      } else if (x.kind === 'scale') {
        const missing = x.items.filter((it) => !(a.levels && it.id in a.levels));
        if (missing.length) add(x.id, t('dma.chooseLevel', { items: missing.map((it) => it.text).join(', ') }));
      }
    }
  }
  return problems;
}

// hubProblems files the hub's refusal ("q7: items: …\nq4: …") under the
// questions it names; what names none goes under ''.
function hubProblems(msg) {
  const out = {};
  for (const line of String(msg).split('\n')) {
    const m = /(?:^|\s)(company\.[a-z_]+|q\d+): /.exec(line);
    const k = m ? m[1] : '';
    (out[k] = out[k] || []).push(line);
  }
  return out;
}

function emptyAnswers(q) {
  const a = { company: {}, questions: {} };
  for (const d of q.dimensions) {
    for (const x of d.questions) {
      a.questions[x.id] = x.kind === 'checkbox' ? { items: [] } : x.kind === 'investment' ? { planned: [], invested: [] } : { levels: {} };
    }
  }
  return a;
}

function Fill({ who }) {
  const q = useQuestionnaire();
  const list = useApi('assessments', null, [who.org]);
  const [, redraw] = useState(0);
  const [step, setStep] = useState(0);
  const [problems, setProblems] = useState({});
  const [done, setDone] = useState(null);
  const act = useAction();
  // The company data of the latest assessment fills in the next one's.
  const all = list.data ? list.data.assessments : [];
  const lastID = all.length ? all[all.length - 1].id : '';
  const prev = useApi(lastID ? at('assessments/{assessment}', { assessment: lastID }) : null, null, [who.org]);
  if (q.error || list.error) return html`<${Refusal} error=${q.error || list.error} />`;
  if (!q.data || !list.data || (lastID && !prev.data && !prev.error)) return html`<p role="status">${t('shell.loading')}</p>`;
  const qs = q.data;
  if (!drafts.has(who.org)) {
    const a = emptyAnswers(qs);
    if (prev.data && prev.data.answers) Object.assign(a.company, prev.data.answers.company);
    drafts.set(who.org, a);
  }
  const ans = drafts.get(who.org);
  const stages = list.data.assessments.map((a) => a.stage);
  const stage = list.data.next ? list.data.next.stage : ['T0', 'T1', 'T2'].find((s) => !stages.includes(s)) || 'T2';
  const steps = [{ id: 'company', text: t('dma.company') }, ...qs.dimensions];
  const last = steps.length - 1;
  const changed = () => redraw((n) => n + 1);
  if (done) {
    return html`<p role="status" class="ok">${t('dma.submitted', { stage: done.stage })}</p>
      <p><a href=${href('programme')}>${t('dma.seeAll')}</a></p>
      <${Result} q=${qs} a=${done} t0=${list.data.assessments.find((a) => a.stage === 'T0') || null} />`;
  }
  const go = (n) => { setStep(n); setTimeout(() => document.getElementById('dma-step-h')?.focus(), 0); };
  async function submit(e) {
    e.preventDefault();
    const p = check(qs, ans);
    setProblems(p);
    if (Object.keys(p).length) {
      const first = steps.findIndex((s) => (s.id === 'company' ? Object.keys(p).some((k) => k.startsWith('company.'))
        : s.questions.some((x) => p[x.id])));
      if (first >= 0 && first !== step) go(first);
      return;
    }
    const res = await act.run(() => api('assessments', { method: 'POST', body: { stage, version: qs.version, answers: ans } }));
    if (res) { drafts.delete(who.org); setDone(res); list.reload(); return; }
  }
  const hub = act.error && act.error.status === 400 ? hubProblems(act.error.message) : {};
  const shown = (k) => [...(problems[k] || []), ...(hub[k] || [])];
  const cur = steps[step];
  return html`<form class="dma-form" onSubmit=${submit} novalidate>
    <h2>${t('dma.filling', { stage, version: qs.version })}</h2>
    <p class="meta">${qs.title}</p>
    <ol class="progress" aria-label=${t('dma.progress')}>${steps.map((s, i) => html`<li>
      <button type="button" class=${i === step ? 'current' : 'ghost'} aria-current=${i === step ? 'step' : undefined}
        onClick=${() => go(i)}>${i + 1}. ${s.text}</button></li>`)}</ol>
    <section class="panel" aria-labelledby="dma-step-h">
      <h3 id="dma-step-h" tabindex="-1">${t('dma.step', { n: step + 1, of: steps.length })}: ${cur.text}</h3>
      ${cur.id === 'company' ? html`<${Company} q=${qs} ans=${ans} changed=${changed} shown=${shown} />`
        : cur.questions.map((x) => html`<${Question} key=${x.id} x=${x} ans=${ans} changed=${changed} shown=${shown(x.id)} />`)}
    </section>
    ${act.error && act.error.status !== 400 && html`<${Refusal} error=${act.error} />`}
    ${hub[''] && html`<p role="alert" class="error">${t('dma.refused')} ${hub[''].join(' ')}</p>`}
    ${Object.keys(hub).some((k) => k) && html`<p role="alert" class="error">${t('dma.hubRefused')}</p>`}
    <div class="toolbar">
      ${step > 0 && html`<button type="button" class="ghost" onClick=${() => go(step - 1)}>${t('dma.previous')}</button>`}
      ${step < last && html`<button type="button" onClick=${() => go(step + 1)}>${t('dma.nextStep')}</button>`}
      ${step === last && html`<button type="submit" disabled=${act.busy}>${t('dma.submit', { stage })}</button>`}
    </div>
  </form>`;
}

// Problems lists what is wrong with one question, tied to it by its ID.
function Problems({ id, list }) {
  if (!list.length) return null;
  return html`<ul id=${'p-' + id} class="error problems" data-problem=${id}>${list.map((m) => html`<li>${m}</li>`)}</ul>`;
}

function Company({ q, ans, changed, shown }) {
  const set = (id, v) => { ans.company[id] = v; changed(); };
  return html`<div class="grid-form">${q.company.map((f) => {
    const k = 'company.' + f.id;
    const list = shown(k);
    const common = { id: 'dma-' + f.id, required: f.required, 'aria-invalid': list.length ? 'true' : undefined,
      'aria-describedby': list.length ? 'p-' + k : undefined, onChange: (e) => set(f.id, e.target.value) };
    return html`<label for=${'dma-' + f.id}>${f.text}${f.required ? ' *' : ''}</label>
      <div>${f.options ? html`<select ...${common} value=${ans.company[f.id] || ''}>
          <option value="">${t('dma.choose')}</option>${f.options.map((o) => html`<option value=${o.id}>${o.text}</option>`)}</select>`
        : html`<input ...${common} maxlength="200" value=${ans.company[f.id] || ''} onInput=${(e) => { ans.company[f.id] = e.target.value; }} />`}
      <${Problems} id=${k} list=${list} /></div>`;
  })}</div>`;
}

function Question({ x, ans, changed, shown }) {
  const a = ans.questions[x.id];
  const toggle = (field, id, on) => {
    const l = a[field].filter((v) => v !== id);
    if (on) l.push(id);
    a[field] = l;
    changed();
  };
  const invalid = shown.length ? 'true' : undefined;
  const boxes = (field, legend) => html`<fieldset class="checks" aria-describedby=${shown.length ? 'p-' + x.id : undefined}>
    ${legend && html`<legend>${legend}</legend>`}
    ${x.items.map((it) => html`<label><input type="checkbox" name=${x.id + '-' + field} value=${it.id}
      checked=${a[field].includes(it.id)} aria-invalid=${invalid} onChange=${(e) => toggle(field, it.id, e.target.checked)} />
      ${it.text}${it.exclusive ? html` <em>(${t('dma.alone')})</em>` : ''}</label>`)}</fieldset>`;
  return html`<fieldset class="question" data-question=${x.id} aria-describedby=${shown.length ? 'p-' + x.id : undefined}>
    <legend><strong>${x.id.toUpperCase()}</strong> ${x.text}</legend>
    <${Problems} id=${x.id} list=${shown} />
    ${x.kind === 'checkbox' ? boxes('items')
      : x.kind === 'investment' ? html`<div class="columns">${boxes('planned', t('dma.planned'))}${boxes('invested', t('dma.invested'))}</div>`
        : html`<div class="grid-form">${x.items.map((it) => html`<label for=${'dma-' + x.id + '-' + it.id}>${it.text}</label>
          <select id=${'dma-' + x.id + '-' + it.id} aria-invalid=${invalid && !(it.id in a.levels) ? 'true' : undefined}
            value=${it.id in a.levels ? String(a.levels[it.id]) : ''}
            onChange=${(e) => { if (e.target.value === '') delete a.levels[it.id]; else a.levels[it.id] = Number(e.target.value); changed(); }}>
            <option value="">${t('dma.choose')}</option>
            ${x.levels.map((l) => html`<option value=${String(l.value)}>${l.value} — ${l.text}</option>`)}</select>`)}</div>`}
  </fieldset>`;
}

// ---- a hub's intervals -------------------------------------------------

function Intervals({ who }) {
  const iv = useApi('dma/intervals', null, [who.org]);
  const act = useAction();
  const admin = can(who, 'admin');
  async function save(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { t1_months: Number(f.get('t1')), t2_months: Number(f.get('t2')) };
    if (await act.run(() => api('dma/intervals', { method: 'PUT', body }), t('dma.intervalsSaved'))) iv.reload();
  }
  if (iv.error) return html`<${Refusal} error=${iv.error} />`;
  if (!iv.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const { t1_months: t1, t2_months: t2 } = iv.data.intervals;
  return html`<section class="panel" aria-labelledby="dma-iv-h">
    <h2 id="dma-iv-h">${t('dma.intervals')}</h2>
    <p>${t('dma.intervalsExplain')}</p>
    <form class="grid-form" onSubmit=${save} key=${t1 + '-' + t2}>
      <label for="dma-t1">${t('dma.t1months')}</label>
      <input id="dma-t1" name="t1" type="number" min="1" max="60" required defaultValue=${t1} disabled=${!admin} />
      <label for="dma-t2">${t('dma.t2months')}</label>
      <input id="dma-t2" name="t2" type="number" min="1" max="60" required defaultValue=${t2} disabled=${!admin} />
      ${admin && html`<span></span><button type="submit" disabled=${act.busy}>${t('dma.saveIntervals')}</button>`}
    </form>
    ${!admin && html`<p class="meta">${t('dma.intervalsAdmins')}</p>`}
    ${act.status}
  </section>`;
}
