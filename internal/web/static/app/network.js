// The programme's network: the public catalogue where a company finds the
// hubs and fieldlabs for its province by technology (no sign-in needed),
// and a hub's own pages — its customers (register one, its profile,
// digital maturity and services; record a service) and its KPIs against
// the programme's targets with the funnel, exports and monthly
// snapshots. The platform organisation sees the KPIs nationally.
//
// Hooks for browser tests (keep them stable): [data-hub] a hub in the
// catalogue, [data-fieldlab] a fieldlab card, [data-customer] a customer
// row, [data-service] a service row, [data-target] a KPI against its
// target, [data-step] a funnel step, [data-snapshot] a snapshot row.
import {
  html, useApi, useEffect, useState, api, t, lang, setLang, languages, useSignal, registerArea, href, fmtNum, fmtDate, can, download,
} from './core.js';
import { at, Refusal, useAction } from './account.js';
import { PublicCourses, AcademyKpis } from './academy.js';

const orgKind = (w) => ((w.orgs || []).find((o) => o.org === w.org) || {}).org_kind || '';

registerArea({ id: 'catalogue', title: 'area.catalogue', view: CatalogueView, visible: () => true, public: true });
// A fieldlab's staff keep their use cases and lessons in the library.
registerArea({
  id: 'library', title: 'lib.tab', view: ({ who }) => html`<h1>${t('lib.tab')} <small>${who.org}</small></h1><${Library} who=${who} />`,
  visible: (w) => orgKind(w) === 'fieldlab' && !w.via,
});
registerArea({
  id: 'hub', title: 'area.hub', view: HubView,
  visible: (w) => ['hub', 'platform'].includes(orgKind(w)),
});

const label = (terms, id) => ((terms || []).find((x) => x.id === id) || {}).label || id;
// orgName is a hub's or fieldlab's name in the catalogue's list, or its ID.
const orgName = (orgs, id) => ((orgs || []).find((x) => x.id === id) || {}).name || id;
const euros = (cents) => '€ ' + fmtNum(Math.round(cents / 100), 0);
const cents = (v) => Math.round(parseFloat(String(v || '0').replace(',', '.')) * 100) || 0;

// ---- the public catalogue ---------------------------------------------

function CatalogueView({ route: r, who }) {
  const l = useSignal(lang);
  const q = { region: r.query.get('region') || '', technology: r.query.get('technology') || '', service: r.query.get('service') || '' };
  const cat = useApi('catalogue', { lang: l, ...q }, [l]);
  // Signed out, the shell is not there to say the view is rendered: once
  // the answer to this search is in (while a new search loads, the last
  // answer stays on the page).
  useEffect(() => { if (!who && cat.data && !cat.loading) document.documentElement.dataset.view = location.hash; }, [who, cat.data, cat.loading, r]);
  function search(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    location.hash = href('catalogue', [], { region: f.get('region'), technology: f.get('technology'), service: f.get('service') });
  }
  const terms = cat.data;
  const select = (name, key, list) => html`
    <label for=${'cat-' + name}>${t(key)}</label>
    <select id=${'cat-' + name} name=${name} defaultValue=${q[name]} key=${name + q[name] + l}>
      <option value="">${t('cat.any')}</option>
      ${(list || []).map((x) => html`<option value=${x.id} selected=${x.id === q[name]}>${x.label}</option>`)}
    </select>`;
  return html`
    ${!who && html`<header class="top public"><a class="brand" href="#/catalogue"><img src="/static/favicon.svg" alt="" width="28" height="28" /><span>molen</span></a>
      <div class="who"><label class="sr-only" for="cat-lang">${t('prefs.language')}</label>
        <select id="cat-lang" value=${l} onChange=${(e) => setLang(e.target.value)}>
          ${languages.map((x) => html`<option value=${x}>${t('lang.' + x)}</option>`)}
        </select>
        <a href="#/">${t('cat.signin')}</a></div></header>`}
    <${who ? 'div' : 'main'} id=${who ? undefined : 'main'} tabindex=${who ? undefined : '-1'} class=${who ? '' : 'public-main'}>
    <h1>${t('cat.title')}</h1>
    <p>${t('cat.intro')}</p>
    <form class="grid-form" onSubmit=${search} aria-label=${t('cat.search')}>
      ${select('region', 'cat.region', terms && terms.regions)}
      ${select('technology', 'cat.technology', terms && terms.technologies)}
      ${select('service', 'cat.service', terms && terms.service_types)}
      <span></span><button type="submit">${t('cat.search')}</button>
    </form>
    ${cat.error ? html`<${Refusal} error=${cat.error} />` : !cat.data ? html`<p role="status">${t('shell.loading')}</p>` : html`
      <section aria-labelledby="cat-hubs-h" aria-busy=${cat.loading ? 'true' : 'false'}>
        <h2 id="cat-hubs-h">${t('cat.hubs')}</h2>
        <ul class="cards">${cat.data.hubs.map((h) => html`<li class="panel" data-hub=${h.id}>
          <h3>${h.name}</h3><p>${h.description}</p>
          <p class="meta">${h.regions.map((x) => label(cat.data.regions, x)).join(', ')}</p>
          ${h.website && html`<a href=${h.website} rel="noopener">${t('cat.website')}</a>`}
        </li>`)}</ul>
      </section>
      <section aria-labelledby="cat-labs-h">
        <h2 id="cat-labs-h">${t('cat.fieldlabs', { n: cat.data.fieldlabs.length })}</h2>
        ${cat.data.fieldlabs.length === 0 ? html`<p>${t('cat.noLabs')}</p>` : html`<ul class="cards">
          ${cat.data.fieldlabs.map((f) => html`<li class="panel" data-fieldlab=${f.id}>
            <h3>${f.name}</h3>
            <p class="meta">${label(cat.data.regions, f.region)} · ${t('cat.of', { hub: (cat.data.hubs.find((h) => h.id === f.hub) || {}).name || f.hub })}</p>
            <p>${f.description}</p>
            <dl class="facts">
              <dt>${t('cat.technology')}</dt><dd>${f.technologies.map((x) => label(cat.data.technologies, x)).join(', ')}</dd>
              <dt>${t('cat.offers')}</dt><dd>${f.services.map((x) => label(cat.data.service_types, x)).join(', ')}</dd>
              ${f.facilities.length > 0 && html`<dt>${t('cat.facilities')}</dt><dd>${f.facilities.join(', ')}</dd>`}
              ${f.partners.length > 0 && html`<dt>${t('cat.partners')}</dt><dd>${f.partners.join(', ')}</dd>`}
              ${f.use_cases.length > 0 && html`<dt>${t('cat.useCases')}</dt><dd>${f.use_cases.join(', ')}</dd>`}
            </dl>
            ${f.website && html`<a href=${f.website} rel="noopener">${t('cat.website')}</a>`}
          </li>`)}</ul>`}
      </section>
      <${PublicCourses} hubs=${cat.data.hubs.map((h) => h.id)} technology=${q.technology} />
      <${PublicLibrary} technology=${q.technology} terms=${cat.data} />`}
    <//>`;
}

// ---- the knowledge library --------------------------------------------

// Entries lists library entries in the page's language, each with the
// hub that shared it and its author; onEdit (the programme office) adds
// an edit button to each. Hooks: [data-entry] an entry (its ID),
// data-entry-hub its hub, data-public "true" or "false".
function Entries({ list, terms, hubs, onEdit }) {
  const l = useSignal(lang);
  if (list.length === 0) return html`<p>${t('lib.none')}</p>`;
  return html`<ul class="cards">${list.map((e) => html`<li class="panel" data-entry=${e.id} data-entry-hub=${e.hub} data-public=${String(e.public)}>
    <h3>${l === 'nl' ? e.title_nl : e.title_en}</h3>
    <p class="meta">${t('lib.kind.' + e.kind)} · ${t('lib.sharedBy', { hub: e.hub_name || orgName(hubs, e.hub), author: e.author_name || orgName(hubs, e.author) })} · ${e.technologies.map((x) => label(terms && terms.technologies, x)).join(', ')}${e.sectors.length ? ' · NACE ' + e.sectors.join(', ') : ''}${e.public ? '' : ' · ' + t('lib.internal')}</p>
    <p>${l === 'nl' ? e.body_nl : e.body_en}</p>
    ${onEdit && html`<button type="button" class="ghost" aria-label=${t('lib.editThis', { title: l === 'nl' ? e.title_nl : e.title_en })} onClick=${() => onEdit(e)}>${t('lib.edit')}</button>`}
  </li>`)}</ul>`;
}

// PublicLibrary is the library's public entries for a technology, on
// the public catalogue.
function PublicLibrary({ technology, terms }) {
  const lib = useApi('catalogue/library', { technology }, [technology]);
  if (!lib.data) return null;
  return html`<section aria-labelledby="cat-lib-h"><h2 id="cat-lib-h">${t('lib.public', { n: lib.data.entries.length })}</h2>
    <${Entries} list=${lib.data.entries.slice(0, 12)} terms=${terms} hubs=${terms && [...terms.hubs, ...terms.fieldlabs]} /></section>`;
}

// Library is the whole knowledge library for the hubs' staff and the
// programme office: search it by words, technology, sector and kind, and
// (advisors and up of a hub or fieldlab) write an entry. The programme
// office's view is national: it also filters by hub, sees what each hub
// shared, and its admins curate any entry (correct it, publish or
// withdraw it). Hooks: [data-found] how many were found, [data-shared]
// a hub's row in the national summary.
function Library({ who }) {
  const national = orgKind(who) === 'platform';
  const [f, setF] = useState({ q: '', technology: '', sector: '', kind: '', hub: '' });
  const [editing, setEditing] = useState(null);
  const params = Object.fromEntries(Object.entries(f).filter(([, v]) => v));
  const list = useApi('library', params, [who.org, f.q, f.technology, f.sector, f.kind, f.hub]);
  const terms = useTerms();
  function search(e) {
    e.preventDefault();
    const d = new FormData(e.target);
    setF(Object.fromEntries(['q', 'technology', 'sector', 'kind', 'hub'].map((k) => [k, String(d.get(k) || '').trim()])));
  }
  if (!terms.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const techs = terms.data.technologies;
  const hubs = [...terms.data.hubs, ...terms.data.fieldlabs];
  const curates = national && can(who, 'admin');
  const found = list.data && list.data.entries;
  return html`
    <section aria-labelledby="lib-h">
      <h2 id="lib-h">${national ? t('lib.national') : t('lib.title')}</h2>
      <p>${national ? t('lib.nationalIntro') : t('lib.intro')}</p>
      <form class="grid-form" onSubmit=${search} aria-label=${t('lib.search')}>
        <label for="lib-q">${t('lib.words')}</label><input id="lib-q" name="q" type="search" defaultValue=${f.q} />
        <label for="lib-tech">${t('cat.technology')}</label><select id="lib-tech" name="technology">
          <option value="">${t('cat.any')}</option>${techs.map((x) => html`<option value=${x.id}>${x.label}</option>`)}</select>
        <label for="lib-sector">${t('lib.sector')}</label><input id="lib-sector" name="sector" defaultValue=${f.sector} pattern="[A-Ua-u]([0-9]{2})?" aria-describedby="lib-sector-hint" />
        <span></span><p id="lib-sector-hint" class="hint">${t('lib.sectorHint')}</p>
        <label for="lib-kind-f">${t('lib.kind')}</label><select id="lib-kind-f" name="kind"><option value="">${t('cat.any')}</option>
          <option value="use-case">${t('lib.kind.use-case')}</option><option value="lesson">${t('lib.kind.lesson')}</option></select>
        ${national && html`<label for="lib-hub">${t('lib.hub')}</label><select id="lib-hub" name="hub"><option value="">${t('cat.any')}</option>
          ${terms.data.hubs.map((h) => html`<option value=${h.id}>${h.name}</option>`)}</select>`}
        <span></span><button type="submit">${t('lib.search')}</button>
      </form>
      ${list.error ? html`<${Refusal} error=${list.error} />` : !found ? html`<p role="status">${t('shell.loading')}</p>`
        : html`<p class="meta" data-found=${found.length}>${t('lib.found', { n: found.length })}</p>
          ${national && found.length > 0 && html`<${SharedByHub} list=${found} hubs=${terms.data.hubs} />`}
          <${Entries} list=${found.slice(0, 24)} terms=${terms.data} hubs=${hubs} onEdit=${curates ? setEditing : null} />`}
    </section>
    ${curates && editing && html`<${EntryForm} key=${editing.id} entry=${editing} techs=${techs} hubs=${hubs}
      onSaved=${list.reload} onCancel=${() => setEditing(null)} />`}
    ${!national && advises(who) && html`<${EntryForm} techs=${techs} onSaved=${list.reload} />`}`;
}

// SharedByHub is the national summary of the entries found: per hub, its
// use cases, lessons learned and how many of them are public.
function SharedByHub({ list, hubs }) {
  const by = new Map();
  for (const e of list) {
    const r = by.get(e.hub) || { 'use-case': 0, lesson: 0, public: 0 };
    r[e.kind]++;
    if (e.public) r.public++;
    by.set(e.hub, r);
  }
  return html`<section aria-labelledby="lib-by-h" tabindex="0"><h3 id="lib-by-h">${t('lib.byHub')}</h3>
    <table><thead><tr><th scope="col">${t('lib.hub')}</th><th scope="col">${t('lib.kind.use-case')}</th><th scope="col">${t('lib.kind.lesson')}</th><th scope="col">${t('lib.publicN')}</th></tr></thead>
      <tbody>${[...by].map(([hub, r]) => html`<tr data-shared=${hub}><th scope="row">${orgName(hubs, hub)}</th><td>${r['use-case']}</td><td>${r.lesson}</td><td>${r.public}</td></tr>`)}</tbody></table>
  </section>`;
}

// EntryForm writes a new entry, or (entry given: the programme office
// curating) changes one, which stays its hub's and its author's.
function EntryForm({ entry, techs, hubs, onSaved, onCancel }) {
  const act = useAction();
  const e0 = entry || {};
  async function write(e) {
    e.preventDefault();
    const form = e.target;
    const d = new FormData(form);
    const body = Object.fromEntries(['kind', 'title_en', 'title_nl', 'body_en', 'body_nl'].map((k) => [k, String(d.get(k) || '').trim()]));
    const tech = String(d.get('technology'));
    body.technologies = [tech, ...(e0.technologies || []).slice(1).filter((x) => x !== tech)];
    body.sectors = String(d.get('sectors') || '').split(',').map((x) => x.trim()).filter(Boolean);
    body.public = d.get('public') === 'on';
    const id = entry ? entry.id : String(d.get('id') || '').trim();
    if (await act.run(() => api(at('library/{entry}', { entry: id }), { method: 'PUT', body }), t('lib.saved', { id }))) {
      if (!entry) form.reset();
      onSaved();
    }
  }
  return html`<section class="panel" aria-labelledby="lib-new-h">
      <h2 id="lib-new-h">${entry ? t('lib.curate', { id: entry.id }) : t('lib.write')}</h2>
      ${entry && html`<p class="meta">${t('lib.sharedBy', { hub: entry.hub_name || orgName(hubs, entry.hub), author: entry.author_name || orgName(hubs, entry.author) })}</p>`}
      <form class="grid-form" onSubmit=${write}>
        ${!entry && html`<label for="lib-id">${t('lib.id')}</label><input id="lib-id" name="id" required pattern="[a-z0-9][a-z0-9\\-]{0,79}" />`}
        <label for="lib-kind">${t('lib.kind')}</label><select id="lib-kind" name="kind">
          <option value="use-case">${t('lib.kind.use-case')}</option><option value="lesson" selected=${e0.kind === 'lesson'}>${t('lib.kind.lesson')}</option></select>
        <label for="lib-title-en">${t('lib.titleEn')}</label><input id="lib-title-en" name="title_en" required maxlength="200" defaultValue=${e0.title_en || ''} />
        <label for="lib-title-nl">${t('lib.titleNl')}</label><input id="lib-title-nl" name="title_nl" required maxlength="200" defaultValue=${e0.title_nl || ''} />
        <label for="lib-body-en">${t('lib.bodyEn')}</label><textarea id="lib-body-en" name="body_en" required rows="4" defaultValue=${e0.body_en || ''}></textarea>
        <label for="lib-body-nl">${t('lib.bodyNl')}</label><textarea id="lib-body-nl" name="body_nl" required rows="4" defaultValue=${e0.body_nl || ''}></textarea>
        <label for="lib-new-tech">${t('cat.technology')}</label><select id="lib-new-tech" name="technology">${techs.map((x) => html`<option value=${x.id} selected=${x.id === (e0.technologies || [])[0]}>${x.label}</option>`)}</select>
        <label for="lib-sectors">${t('lib.sectors')}</label><input id="lib-sectors" name="sectors" defaultValue=${(e0.sectors || []).join(', ')} />
        <span></span><label class="check"><input type="checkbox" name="public" defaultChecked=${!!e0.public} /> ${t('lib.makePublic')}</label>
        <span></span><div><button type="submit" disabled=${act.busy}>${t('lib.save')}</button>${onCancel && html` <button type="button" class="ghost" onClick=${onCancel}>${t('lib.cancel')}</button>`}</div>
      </form>
      ${act.status}
    </section>`;
}

// ---- a hub's pages -----------------------------------------------------

function HubView({ route: r, who }) {
  useSignal(lang);
  const [page, id] = r.path;
  const tab = (p, key) => html`<li><a href=${href('hub', p ? [p] : [])} aria-current=${(page || '') === p ? 'page' : undefined}>${t(key)}</a></li>`;
  if (orgKind(who) === 'platform') {
    return html`<h1>${t('area.hub')} <small>${who.org}</small></h1>
      <nav class="tabs" aria-label=${t('hub.sections')}><ul>${tab('', 'hub.kpi')}${tab('library', 'lib.tab')}</ul></nav>
      ${page === 'library' ? html`<${Library} who=${who} />` : html`<${Kpis} who=${who} national=${true} />`}`;
  }
  const body = page === 'kpi' ? html`<${Kpis} who=${who} />`
    : page === 'c' && id ? html`<${Customer} key=${id} who=${who} id=${id} />`
      : page === 'fieldlabs' ? html`<${Fieldlabs} who=${who} />`
        : page === 'collaborations' ? html`<${Collaborations} who=${who} />`
          : page === 'library' ? html`<${Library} who=${who} />` : html`<${Customers} who=${who} />`;
  return html`<h1>${t('area.hub')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('hub.sections')}><ul>
      ${tab('', 'hub.customers')}${tab('kpi', 'hub.kpi')}${tab('fieldlabs', 'hub.fieldlabs')}${tab('collaborations', 'hub.collaborations')}${tab('library', 'lib.tab')}
    </ul></nav>
    ${body}`;
}

// useTerms is the catalogue's vocabularies (regions, technologies,
// service types) in the page's language.
function useTerms() {
  const l = useSignal(lang);
  return useApi('catalogue', { lang: l }, [l]);
}

// advises: a hub's advisors, and its engineers and up, register customers
// and record services and collaborations.
const advises = (who) => !!who && (who.role === 'advisor' || can(who, 'engineer'));

function Customers({ who }) {
  const list = useApi('programme/customers', null, [who.org]);
  const terms = useTerms();
  const act = useAction();
  const write = advises(who);
  async function register(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = Object.fromEntries(['org', 'name', 'kvk', 'vat', 'size', 'nace', 'nuts', 'contact_name', 'contact_email'].map((k) => [k, String(f.get(k) || '').trim()]));
    body.consent = f.get('consent') === 'on';
    if (await act.run(() => api('programme/customers', { method: 'POST', body }), t('hub.registered', { name: body.name }))) {
      form.reset();
      list.reload();
    }
  }
  if (list.error) return html`<${Refusal} error=${list.error} />`;
  if (!list.data || !terms.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const regions = terms.data.regions;
  const all = list.data.customers;
  return html`
    <section aria-labelledby="cust-h" tabindex="0">
      <h2 id="cust-h">${t('hub.customers')} (${all.length})</h2>
      ${all.length === 0 ? html`<p>${t('hub.none')}</p>` : html`<table>
        <thead><tr><th scope="col">${t('hub.name')}</th><th scope="col">${t('hub.kvk')}</th><th scope="col">${t('hub.size')}</th>
          <th scope="col">${t('hub.nace')}</th><th scope="col">${t('hub.nuts')}</th><th scope="col">${t('hub.since')}</th></tr></thead>
        <tbody>${all.slice(0, 200).map((c) => html`<tr data-customer=${c.org}>
          <td><a href=${href('hub', ['c', c.org])}>${c.name}</a></td><td>${c.kvk}</td><td>${c.size}</td><td>${c.nace}</td>
          <td>${label(regions, c.nuts)}</td><td>${c.registered ? fmtDate(Date.parse(c.registered)) : t('hub.reachedOnly')}</td></tr>`)}</tbody>
      </table>`}
    </section>
    ${write && html`<section class="panel" aria-labelledby="reg-h">
      <h2 id="reg-h">${t('hub.register')}</h2>
      <form class="grid-form" onSubmit=${register}>
        <label for="reg-name">${t('hub.name')}</label><input id="reg-name" name="name" required maxlength="200" />
        <label for="reg-org">${t('hub.org')}</label><input id="reg-org" name="org" required pattern="[a-z0-9][a-z0-9\\-]{0,39}" />
        <label for="reg-kvk">${t('hub.kvk')}</label><input id="reg-kvk" name="kvk" required inputmode="numeric" />
        <label for="reg-vat">${t('hub.vat')}</label><input id="reg-vat" name="vat" />
        <label for="reg-size">${t('hub.size')}</label><select id="reg-size" name="size">${['0-49', '50-249', '250+'].map((s) => html`<option value=${s}>${s}</option>`)}</select>
        <label for="reg-nace">${t('hub.nace')}</label><input id="reg-nace" name="nace" required />
        <label for="reg-nuts">${t('hub.nuts')}</label><select id="reg-nuts" name="nuts">${regions.map((x) => html`<option value=${x.id}>${x.label}</option>`)}</select>
        <label for="reg-contact">${t('hub.contact')}</label><input id="reg-contact" name="contact_name" />
        <label for="reg-email">${t('hub.email')}</label><input id="reg-email" name="contact_email" type="email" />
        <span></span><label class="check"><input type="checkbox" name="consent" defaultChecked /> ${t('hub.consent')}</label>
        <span></span><button type="submit" disabled=${act.busy}>${t('hub.register')}</button>
      </form>
      ${act.status}
    </section>`}`;
}

// Journey is a company's next steps for its gaps, each with its reason,
// and its timeline of assessments, services, recommendations, trainings
// and edges; onRecommend (a hub's advisor's) records a recommendation.
// Hooks: [data-rec] a recommendation (kind:item), [data-recommended] one
// recommended by the hub, [data-event] a step of the timeline.
export function Journey({ journey, onRecommend, busy, level = 'h3' }) {
  const H = level;
  const recs = journey.recommendations;
  return html`<section class="panel" aria-labelledby="jr-h" data-journey=${recs.length}>
      <${H} id="jr-h">${t('journey.next')}</${H}>
      ${recs.length === 0 ? html`<p>${t('journey.noRecs')}</p>` : html`<ul class="recs">${recs.map((r) => html`<li data-rec=${r.kind + ':' + r.item}>
        <strong>${t('journey.kind.' + r.kind)}: ${r.kind === 'service' ? html`<a href=${href('market', ['service', r.item])} data-listing>${r.name}</a>` : r.name}</strong>${r.provider ? ' ' + t('journey.by', { provider: r.provider }) : ''} — ${r.reason}.
        ${r.recommended ? html` <span class="meta" data-recommended>${t('journey.recommendedOn', { d: fmtDate(Date.parse(r.recommended)) })}</span>`
          : onRecommend && html` <button type="button" aria-label=${t('journey.recommendThis', { name: r.name })} onClick=${() => onRecommend(r)} disabled=${busy}>${t('journey.recommend')}</button>`}
      </li>`)}</ul>`}
    </section>
    <section aria-labelledby="tl-h" tabindex="0"><${H} id="tl-h">${t('journey.timeline')}</${H}>
      ${journey.timeline.length === 0 ? html`<p>${t('journey.empty')}</p>`
        : html`<ol class="timeline">${journey.timeline.map((e) => html`<li data-event=${e.kind}><time datetime=${e.at}>${fmtDate(Date.parse(e.at))}</time> ${t('journey.event.' + e.kind)}: ${e.what}</li>`)}</ol>`}
    </section>`;
}

function Customer({ who, id }) {
  const l = useSignal(lang);
  const rep = useApi(at('programme/customers/{company}', { company: id }), { lang: l }, [who.org, id, l]);
  const terms = useTerms();
  const act = useAction();
  const recAct = useAction();
  async function recommend(r) {
    const body = { kind: r.kind, item: r.item, dimension: r.dimension };
    if (await recAct.run(() => api(at('programme/customers/{company}/recommendations', { company: id }), { method: 'POST', body }), t('journey.recorded', { name: r.name }))) {
      rep.reload();
    }
  }
  async function record(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = {
      type: f.get('type'), day: f.get('day'), provider: String(f.get('provider')).trim(), price: cents(f.get('price')),
      market_price: cents(f.get('market_price')), subsidy: cents(f.get('subsidy')), investment: cents(f.get('investment')),
      people: Number(f.get('people') || 0), description: String(f.get('description') || ''),
    };
    const form = e.target;
    if (await act.run(() => api(at('programme/customers/{company}/services', { company: id }), { method: 'POST', body }), t('hub.recorded'))) {
      form.reset();
      rep.reload();
    }
  }
  if (rep.error) return html`<p><a href=${href('hub')}>${t('hub.back')}</a></p><${Refusal} error=${rep.error} />`;
  if (!rep.data || !terms.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const { customer: c, services, assessments, comparison, next, peers, evidence, journey } = rep.data;
  const types = terms.data.service_types;
  return html`
    <p><a href=${href('hub')}>${t('hub.back')}</a></p>
    <h2>${c.name}</h2>
    <p><button type="button" data-pdf onClick=${() => download(at('programme/customers/{company}/report.pdf', { company: id }), { lang: l })}>${t('hub.reportPdf')}</button></p>
    <section class="panel" aria-labelledby="prof-h"><h3 id="prof-h">${t('hub.profile')}</h3>
      <dl class="facts">
        <dt>${t('hub.kvk')}</dt><dd>${c.kvk}</dd><dt>${t('hub.vat')}</dt><dd>${c.vat || '–'}</dd>
        <dt>${t('hub.size')}</dt><dd>${c.size}</dd><dt>${t('hub.nace')}</dt><dd>${c.nace}</dd>
        <dt>${t('hub.nuts')}</dt><dd>${label(terms.data.regions, c.nuts)}</dd>
        <dt>${t('hub.contact')}</dt><dd>${c.contact_name || '–'} ${c.contact_email && html`<a href=${'mailto:' + c.contact_email}>${c.contact_email}</a>`}</dd>
        <dt>${t('hub.since')}</dt><dd>${c.registered ? fmtDate(Date.parse(c.registered)) : t('hub.reachedOnly')}</dd>
      </dl></section>
    <section aria-labelledby="dm-h" tabindex="0"><h3 id="dm-h">${t('hub.assessments')}</h3>
      ${assessments.length === 0 ? html`<p>${t('hub.noAssessments')}</p>` : html`<table>
        <thead><tr><th scope="col">${t('dma.stage')}</th><th scope="col">${t('dma.date')}</th><th scope="col">${t('dma.overall')}</th><th scope="col">${t('dma.band')}</th></tr></thead>
        <tbody>${assessments.map((a) => html`<tr data-assessment=${a.stage}><td>${a.stage}</td><td>${fmtDate(Date.parse(a.created))}</td>
          <td>${fmtNum(a.result.overall, 1)}</td><td>${t('dma.band.' + a.result.band)}</td></tr>`)}</tbody></table>`}
      ${comparison && html`<p>${t('hub.changeSinceT0', { d: (comparison.overall.change >= 0 ? '+' : '') + fmtNum(comparison.overall.change, 1) })}</p>`}
      ${next && html`<p class="meta">${t('hub.nextDue', { stage: next.stage })} ${fmtDate(Date.parse(next.due))}</p>`}
      <p data-peers=${peers.shown ? peers.companies : 'hidden'}>${peers.shown
        ? t('hub.peers', { v: fmtNum(peers.overall, 1), n: peers.companies, sector: peers.sector, region: label(terms.data.regions, peers.region), size: peers.size })
        : t('hub.peersHidden', { min: 5 })}</p>
    </section>
    <section class="panel" aria-labelledby="ev-h" data-evidence=${evidence ? evidence.edges : 'none'}><h3 id="ev-h">${t('hub.evidence')}</h3>
      ${evidence ? html`<dl class="facts">
        <dt>${t('hub.edges')}</dt><dd>${evidence.edges}</dd><dt>${t('hub.machines')}</dt><dd>${evidence.machines}</dd>
        <dt>${t('hub.series')}</dt><dd>${evidence.series}</dd><dt>${t('hub.installed')}</dt><dd data-installed=${evidence.services}>${evidence.services}</dd>
        <dt>${t('hub.days')}</dt><dd>${evidence.days}${evidence.first ? ' (' + fmtDate(Date.parse(evidence.first)) + ' – ' + fmtDate(Date.parse(evidence.last)) + ')' : ''}</dd>
      </dl>` : html`<p>${t('hub.noEvidence')}</p>`}
    </section>
    <${Journey} journey=${journey} onRecommend=${advises(who) ? recommend : null} busy=${recAct.busy} />
    ${recAct.status}
    <section aria-labelledby="svc-h" tabindex="0"><h3 id="svc-h">${t('hub.services')}</h3>
      ${services.length === 0 ? html`<p>${t('hub.noServices')}</p>` : html`<table>
        <thead><tr><th scope="col">${t('hub.day')}</th><th scope="col">${t('hub.type')}</th><th scope="col">${t('hub.provider')}</th>
          <th scope="col">${t('hub.price')}</th><th scope="col">${t('hub.subsidy')}</th><th scope="col">${t('hub.investment')}</th><th scope="col">${t('hub.people')}</th></tr></thead>
        <tbody>${services.map((s) => html`<tr data-service=${s.type}><td>${s.day}</td><td>${label(types, s.type)}</td><td>${s.provider_name || s.provider}</td>
          <td>${euros(s.price)}</td><td>${euros(s.subsidy)}</td><td>${euros(s.investment)}</td><td>${s.people}</td></tr>`)}</tbody></table>`}
    </section>
    ${advises(who) && html`<section class="panel" aria-labelledby="rec-h"><h3 id="rec-h">${t('hub.record')}</h3>
      ${c.size === '250+' && html`<p class="meta">${t('hub.largeRule')}</p>`}
      <form class="grid-form" onSubmit=${record}>
        <label for="rec-type">${t('hub.type')}</label><select id="rec-type" name="type">${types.map((x) => html`<option value=${x.id}>${x.label}</option>`)}</select>
        <label for="rec-day">${t('hub.day')}</label><input id="rec-day" name="day" type="date" required />
        <label for="rec-provider">${t('hub.provider')}</label><input id="rec-provider" name="provider" required />
        <label for="rec-market">${t('hub.market')}</label><input id="rec-market" name="market_price" inputmode="decimal" required />
        <label for="rec-price">${t('hub.price')}</label><input id="rec-price" name="price" inputmode="decimal" required />
        <label for="rec-subsidy">${t('hub.subsidy')}</label><input id="rec-subsidy" name="subsidy" inputmode="decimal" />
        <label for="rec-investment">${t('hub.investment')}</label><input id="rec-investment" name="investment" inputmode="decimal" />
        <label for="rec-people">${t('hub.people')}</label><input id="rec-people" name="people" type="number" min="0" />
        <label for="rec-desc">${t('hub.description')}</label><input id="rec-desc" name="description" />
        <span></span><button type="submit" disabled=${act.busy}>${t('hub.record')}</button>
      </form>
      ${act.status}
    </section>`}`;
}

// lines splits a textarea's text into its non-empty lines.
const lines = (v) => String(v || '').split('\n').map((x) => x.trim()).filter(Boolean);
const checked = (f, name) => f.getAll(name).map(String);

function Fieldlabs({ who }) {
  const labs = useApi('programme/fieldlabs', null, [who.org]);
  const profile = useApi('programme/hub', null, [who.org]);
  const l = useSignal(lang);
  const act = useAction();
  const admin = can(who, 'admin');
  if (labs.error) return html`<${Refusal} error=${labs.error} />`;
  if (!labs.data || !profile.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const v = labs.data;
  const term = (list, id) => { const x = list.find((y) => y.id === id); return x ? x[l] || x.en : id; };
  const boxes = (name, list, on, prefix) => html`<fieldset class="checks"><legend>${t(prefix)}</legend>
    ${list.map((x) => html`<label class="check"><input type="checkbox" name=${name} value=${x.id} defaultChecked=${on.includes(x.id)} /> ${x[l] || x.en}</label>`)}</fieldset>`;
  async function saveHub(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { regions: checked(f, 'regions'), description_en: f.get('en'), description_nl: f.get('nl'), website: String(f.get('website') || '').trim() };
    if (await act.run(() => api('programme/hub', { method: 'PUT', body }), t('hub.saved'))) profile.reload();
  }
  async function saveLab(e, id) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = {
      name: String(f.get('name')).trim(), region: f.get('region'), technologies: checked(f, 'technologies'), services: checked(f, 'services'),
      facilities: lines(f.get('facilities')), partners: lines(f.get('partners')), use_cases: lines(f.get('use_cases')),
      description_en: f.get('en'), description_nl: f.get('nl'), website: String(f.get('website') || '').trim(), notes: f.get('notes'), public: f.get('public') === 'on',
    };
    if (await act.run(() => api(at('programme/fieldlabs/{fieldlab}', { fieldlab: id }), { method: 'PUT', body }), t('hub.saved'))) labs.reload();
  }
  const p = profile.data.profile;
  return html`
    <section class="panel" aria-labelledby="hp-h"><h2 id="hp-h">${t('hub.profileTitle')}</h2>
      <form class="grid-form" onSubmit=${saveHub} key=${JSON.stringify(p)}>
        <span></span>${boxes('regions', v.regions, p.regions || [], 'hub.regions')}
        <label for="hp-en">${t('hub.descEN')}</label><textarea id="hp-en" name="en" rows="2" disabled=${!admin} defaultValue=${p.description_en || ''}></textarea>
        <label for="hp-nl">${t('hub.descNL')}</label><textarea id="hp-nl" name="nl" rows="2" disabled=${!admin} defaultValue=${p.description_nl || ''}></textarea>
        <label for="hp-web">${t('cat.website')}</label><input id="hp-web" name="website" type="url" disabled=${!admin} defaultValue=${p.website || ''} />
        ${admin && html`<span></span><button type="submit" disabled=${act.busy}>${t('hub.saveProfile')}</button>`}
      </form>
    </section>
    ${act.status}
    <section aria-labelledby="labs-h" tabindex="0"><h2 id="labs-h">${t('hub.fieldlabs')} (${v.fieldlabs.length})</h2>
    <ul class="cards">${v.fieldlabs.map((f) => html`<li class="panel" data-fieldlab=${f.id}>
      <h3>${f.name} <small>${f.public ? t('hub.public') : t('hub.private')}</small></h3>
      <p>${l === 'nl' ? f.description_nl : f.description_en}</p>
      <p class="meta">${term(v.regions, f.region)} · ${f.technologies.map((x) => term(v.technologies, x)).join(', ')}</p>
      ${f.notes && html`<p class="meta">${t('hub.notes')}: ${f.notes}</p>`}
      ${admin && html`<details><summary>${t('hub.editLab')}</summary>
        <form class="stack-form" onSubmit=${(e) => saveLab(e, f.id)} key=${JSON.stringify(f)}>
          <label>${t('hub.labName')} <input name="name" required defaultValue=${f.name} /></label>
          <label>${t('hub.nuts')} <select name="region" defaultValue=${f.region}>${v.regions.map((x) => html`<option value=${x.id} selected=${x.id === f.region}>${x[l] || x.en}</option>`)}</select></label>
          ${boxes('technologies', v.technologies, f.technologies, 'cat.technology')}
          ${boxes('services', v.service_types, f.services, 'cat.offers')}
          <label>${t('cat.facilities')} <textarea name="facilities" rows="2" defaultValue=${f.facilities.join('\n')}></textarea></label>
          <label>${t('cat.partners')} <textarea name="partners" rows="2" defaultValue=${f.partners.join('\n')}></textarea></label>
          <label>${t('cat.useCases')} <textarea name="use_cases" rows="2" defaultValue=${f.use_cases.join('\n')}></textarea></label>
          <label>${t('hub.descEN')} <textarea name="en" rows="2" defaultValue=${f.description_en}></textarea></label>
          <label>${t('hub.descNL')} <textarea name="nl" rows="2" defaultValue=${f.description_nl}></textarea></label>
          <label>${t('cat.website')} <input name="website" type="url" defaultValue=${f.website} /></label>
          <label>${t('hub.notes')} <input name="notes" defaultValue=${f.notes} /></label>
          <label class="check"><input type="checkbox" name="public" defaultChecked=${f.public} /> ${t('hub.inCatalogue')}</label>
          <button type="submit" disabled=${act.busy}>${t('hub.saveLab')}</button>
        </form></details>`}
    </li>`)}</ul></section>`;
}

function Collaborations({ who }) {
  const list = useApi('programme/collaborations', null, [who.org]);
  const act = useAction();
  async function add(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = { partner: String(f.get('partner')).trim(), company: String(f.get('company') || '').trim(), topic: String(f.get('topic')).trim(), day: f.get('day') };
    if (await act.run(() => api('programme/collaborations', { method: 'POST', body }), t('hub.collabSaved'))) { form.reset(); list.reload(); }
  }
  if (list.error) return html`<${Refusal} error=${list.error} />`;
  if (!list.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const all = list.data.collaborations;
  return html`<section aria-labelledby="col-h" tabindex="0"><h2 id="col-h">${t('hub.collaborations')} (${all.length})</h2>
      ${all.length > 0 && html`<table><thead><tr><th scope="col">${t('hub.day')}</th><th scope="col">${t('hub.partner')}</th>
        <th scope="col">${t('hub.topic')}</th><th scope="col">${t('hub.customer')}</th></tr></thead>
        <tbody>${all.map((c) => html`<tr data-collaboration=${c.partner}><td>${c.day}</td><td>${c.partner}</td><td>${c.topic}</td><td>${c.company || '–'}</td></tr>`)}</tbody></table>`}
    </section>
    ${advises(who) && html`<section class="panel" aria-labelledby="colf-h"><h2 id="colf-h">${t('hub.addCollab')}</h2>
      <form class="grid-form" onSubmit=${add}>
        <label for="col-partner">${t('hub.partner')}</label><input id="col-partner" name="partner" required />
        <label for="col-topic">${t('hub.topic')}</label><input id="col-topic" name="topic" required maxlength="300" />
        <label for="col-day">${t('hub.day')}</label><input id="col-day" name="day" type="date" required />
        <label for="col-company">${t('hub.customer')}</label><input id="col-company" name="company" />
        <span></span><button type="submit" disabled=${act.busy}>${t('hub.addCollab')}</button>
      </form>${act.status}</section>`}`;
}

// ---- KPIs ----------------------------------------------------------------

function Breakdown({ title, data, name }) {
  const rows = Object.entries(data || {}).sort((a, b) => b[1] - a[1]);
  return html`<section class="panel" aria-label=${title}><h3>${title}</h3>
    <table><thead><tr><th scope="col">${t('kpi.key')}</th><th scope="col">${t('kpi.count')}</th></tr></thead>
    <tbody>${rows.map(([k, v]) => html`<tr><td>${name ? name(k) : k}</td><td>${fmtNum(v, 0)}</td></tr>`)}</tbody></table></section>`;
}

function Kpis({ who, national }) {
  const k = useApi('programme/kpi', null, [who.org]);
  const snaps = useApi('programme/snapshots', null, [who.org]);
  const terms = useTerms();
  const l = useSignal(lang);
  const act = useAction();
  async function freeze(e) {
    e.preventDefault();
    const m = new FormData(e.target).get('month');
    if (await act.run(() => api('programme/snapshots', { method: 'POST', body: { month: m } }), t('kpi.frozen', { m }))) snaps.reload();
  }
  if (k.error) return html`<${Refusal} error=${k.error} />`;
  if (!k.data || !terms.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const d = k.data;
  const top = Math.max(1, ...d.funnel.map((s) => s.count));
  const thisMonth = new Date().toISOString().slice(0, 7);
  return html`
    <h2>${t('kpi.title', { scope: national ? t('kpi.national') : who.org })}</h2>
    <section class="panel" aria-labelledby="tg-h"><h3 id="tg-h">${t('kpi.targets')}</h3>
      <ul class="targets">${d.targets.map((x) => html`<li data-target=${x.id}>
        <span>${l === 'nl' ? x.nl : x.en}</span>
        <progress max=${x.target} value=${Math.min(x.value, x.target)} aria-label=${l === 'nl' ? x.nl : x.en}></progress>
        <span>${t('kpi.of', { v: fmtNum(x.value, 0), t: fmtNum(x.target, 0) })}</span></li>`)}</ul>
    </section>
    <section class="panel" aria-labelledby="fn-h"><h3 id="fn-h">${t('kpi.funnel')}</h3>
      <ol class="funnel">${d.funnel.map((s) => html`<li data-step=${s.step}>
        <span>${t('kpi.step.' + s.step)}</span><span class="bar" style=${'width:' + Math.round((s.count / top) * 100) + '%'}></span><strong>${fmtNum(s.count, 0)}</strong></li>`)}</ol>
    </section>
    <section class="panel" aria-labelledby="dmak-h"><h3 id="dmak-h">${t('kpi.dma')}</h3>
      <p>${t('kpi.dmaLine', { n: fmtNum(d.dma.companies, 0), t0: fmtNum(d.dma.t0, 1), t1: fmtNum(d.dma.t1, 1), d: (d.dma.change >= 0 ? '+' : '') + fmtNum(d.dma.change, 1), i: fmtNum(d.dma.improved, 0) })}</p>
    </section>
    <section class="panel" aria-labelledby="money-h"><h3 id="money-h">${t('kpi.money')}</h3>
      <dl class="facts"><dt>${t('kpi.investment')}</dt><dd>${euros(d.investment_triggered)}</dd><dt>${t('kpi.paid')}</dt><dd>${euros(d.price_paid)}</dd>
        <dt>${t('kpi.subsidy')}</dt><dd>${euros(d.subsidy)}</dd><dt>${t('kpi.services')}</dt><dd>${fmtNum(d.services, 0)}</dd>
        <dt>${t('kpi.collaborations')}</dt><dd>${fmtNum(d.collaborations, 0)}</dd></dl>
    </section>
    <${AcademyKpis} academy=${d.academy} />
    <div class="cards">
      <${Breakdown} title=${t('kpi.bySize')} data=${d.customers_by_size} />
      <${Breakdown} title=${t('kpi.bySector')} data=${d.customers_by_sector} />
      <${Breakdown} title=${t('kpi.byRegion')} data=${d.customers_by_region} name=${(x) => label(terms.data.regions, x)} />
      <${Breakdown} title=${t('kpi.byType')} data=${d.customers_by_service_type} name=${(x) => label(terms.data.service_types, x)} />
    </div>
    <section class="panel" aria-labelledby="exp-h"><h3 id="exp-h">${t('kpi.export')}</h3>
      <button type="button" onClick=${() => download('programme/kpi', { format: 'csv' })}>${t('kpi.csv')}</button>
      <button type="button" onClick=${() => download('programme/kpi', { format: 'json' })}>${t('kpi.json')}</button>
      <h4>${t('edih.title')}</h4><p class="meta">${t('edih.intro')}</p>
      <p data-edih>${['customers', 'services', 'dma', 'collaborations'].map((tb) => html`<button type="button" onClick=${() => download('programme/edih-report', { format: 'csv', table: tb })}>${t('edih.' + tb)}</button> `)}
      <button type="button" onClick=${() => download('programme/edih-report', { format: 'json' })}>${t('edih.json')}</button></p>
    </section>
    <section class="panel" aria-labelledby="snap-h"><h3 id="snap-h">${t('kpi.snapshots')}</h3>
      ${snaps.data && (snaps.data.snapshots.length === 0 ? html`<p>${t('kpi.noSnapshots')}</p>` : html`<table>
        <thead><tr><th scope="col">${t('kpi.month')}</th><th scope="col">${t('kpi.frozenAt')}</th><th scope="col">${t('kpi.export')}</th></tr></thead>
        <tbody>${snaps.data.snapshots.map((s) => html`<tr data-snapshot=${s.month}><td>${s.month}</td><td>${fmtDate(Date.parse(s.created))}</td>
          <td><button type="button" class="ghost" onClick=${() => download(at('programme/snapshots/{month}', { month: s.month }), { format: 'csv' })}>${t('kpi.csv')}</button></td></tr>`)}</tbody></table>`)}
      ${can(who, 'admin') && html`<form class="inline-form" onSubmit=${freeze}>
        <label for="snap-month">${t('kpi.month')}</label><input id="snap-month" name="month" type="month" required defaultValue=${thisMonth} max=${thisMonth} />
        <button type="submit" disabled=${act.busy}>${t('kpi.freeze')}</button></form>`}
      ${act.status}
    </section>`;
}

