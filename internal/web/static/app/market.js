// The marketplace: the catalogue of released services (by category,
// maturity dimension, provider and text), a service's page (what it does,
// what it reads and writes, what leaves the factory, its versions and
// installs) with the install form generated from its parameter schema and
// its terms to accept, the organisation's installs with their state on
// each edge, a provider's versions and their publish state with the
// forms to upload a signed version and register a signing key, the
// platform's review queue, and the data-sharing grants that accepted
// terms are (DataSharing, shown on the admin area's sharing page).
//
// Hooks for browser tests (keep them stable): [data-service] a catalogue
// card, [data-install] an install row (data-state on each [data-edge-state]),
// [data-version] a version row, [data-review] a version in review,
// [data-key] a signing key, [data-data-grant] a data-sharing grant
// (install@version; data-active).
import { html, useState, useApi, api, t, lang, useSignal, registerArea, href, can } from './core.js';
import { at, Refusal, useAction } from './account.js';

const orgKind = (w) => ((w.orgs || []).find((o) => o.org === w.org) || {}).org_kind || '';
const tx = (m, l) => (m && (m[l] || m.en)) || '';
const categories = ['ai', 'robotics', '3d-printing', 'autonomous-systems', 'iot', 'cybersecurity'];
const dimensions = ['digital-business-strategy', 'digital-readiness', 'human-centric-digitalisation', 'data-management', 'automation-and-ai', 'green-digitalisation'];

registerArea({ id: 'market', title: 'area.market', view: MarketView, visible: (w) => !w.via });

function MarketView({ route: r, who }) {
  useSignal(lang);
  const page = r.path[0] || '';
  const kind = orgKind(who);
  const tab = (p, key) => html`<li><a href=${href('market', p ? [p] : [])} aria-current=${page === p ? 'page' : undefined}>${t(key)}</a></li>`;
  let body;
  if (page === 'service' && r.path[1]) body = html`<${Listing} id=${r.path[1]} who=${who} />`;
  else if (page === 'installs') body = html`<${Installs} who=${who} />`;
  else if (page === 'provider') body = html`<${Provider} who=${who} />`;
  else if (page === 'review') body = html`<${Review} who=${who} />`;
  else body = html`<${Catalogue} who=${who} query=${r.query} />`;
  return html`<h1>${t('area.market')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('mkt.sections')}><ul>${tab('', 'mkt.catalogue')}
      ${kind !== 'platform' && kind !== 'provider' && tab('installs', 'mkt.installs')}
      ${kind === 'provider' && tab('provider', 'mkt.provider')}
      ${kind === 'platform' && tab('review', 'mkt.review')}</ul></nav>
    ${body}`;
}

function Catalogue({ who }) {
  const l = useSignal(lang);
  const [f, setF] = useState({ category: '', maturity: '', provider: '', q: '' });
  const params = Object.fromEntries(Object.entries(f).filter(([, v]) => v));
  const list = useApi('market/services', params, [who.org]);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  return html`<section aria-labelledby="mkt-cat-h">
    <h2 id="mkt-cat-h">${t('mkt.catalogue')}</h2>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label for="mkt-q">${t('mkt.search')}</label><input id="mkt-q" type="search" value=${f.q} onInput=${set('q')} />
      <label for="mkt-category">${t('mkt.category')}</label>
      <select id="mkt-category" value=${f.category} onChange=${set('category')}><option value="">${t('mkt.any')}</option>
        ${categories.map((c) => html`<option value=${c}>${t('mkt.cat.' + c)}</option>`)}</select>
      <label for="mkt-maturity">${t('mkt.maturity')}</label>
      <select id="mkt-maturity" value=${f.maturity} onChange=${set('maturity')}><option value="">${t('mkt.any')}</option>
        ${dimensions.map((c) => html`<option value=${c}>${t('mkt.dim.' + c)}</option>`)}</select>
      <label for="mkt-provider">${t('mkt.providerName')}</label><input id="mkt-provider" value=${f.provider} onChange=${set('provider')} />
    </form>
    ${list.error ? html`<${Refusal} error=${list.error} />` : !list.data ? html`<p role="status">${t('shell.loading')}</p>`
      : list.data.services.length === 0 ? html`<p>${t('mkt.none')}</p>` : html`<ul class="cards">
      ${list.data.services.map((s) => html`<li class="panel" data-service=${s.id}>
        <h3><a href=${href('market', ['service', s.id])}>${tx(s.name, l)}</a></h3>
        <p class="meta">${t('mkt.cat.' + s.category)} · ${t('mkt.by', { provider: s.provider })} · ${s.latest ? t('mkt.versionN', { v: s.latest }) : t('mkt.unreleased')} · ${t('mkt.installsN', { n: s.installs })}</p>
        <p>${tx(s.tagline, l)}</p>
        <p class="meta">${s.maturity.map((d) => t('mkt.dim.' + d)).join(', ')}</p>
      </li>`)}</ul>`}
  </section>`;
}

function Listing({ id, who }) {
  const l = useSignal(lang);
  const s = useApi(at('market/services/{id}', { id }), null, [who.org]);
  if (s.error) return html`<${Refusal} error=${s.error} />`;
  if (!s.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const d = s.data;
  const list = (xs) => (xs.length ? html`<ul>${xs.map((x) => html`<li><code>${x}</code></li>`)}</ul>` : html`<p>${t('mkt.nothing')}</p>`);
  return html`<article aria-labelledby="mkt-svc-h">
    <h2 id="mkt-svc-h">${tx(d.name, l)} <small>${d.id}</small></h2>
    <p class="meta">${t('mkt.cat.' + d.category)} · ${t('mkt.by', { provider: d.provider })} · ${t('mkt.installsN', { n: d.installs })}</p>
    <p>${tx(d.description, l)}</p>
    <dl class="facts"><dt>${t('mkt.maturity')}</dt><dd>${d.maturity.map((x) => t('mkt.dim.' + x)).join(', ') || '—'}</dd></dl>
    <section class="panel" aria-labelledby="mkt-data-h"><h3 id="mkt-data-h">${t('mkt.data')}</h3>
      <h4>${t('mkt.reads')}</h4>${list(d.reads)}<h4>${t('mkt.writes')}</h4>${list(d.writes)}<h4>${t('mkt.events')}</h4>${list(d.events)}
      <h4>${t('mkt.egress')}</h4>${d.egress.length === 0 ? html`<p data-egress="none">${t('mkt.noEgress')}</p>`
        : html`<ul>${d.egress.map((e) => html`<li>${t('mkt.egressItem', { data: e.data, to: e.to, purpose: e.purpose })}</li>`)}</ul>`}
    </section>
    <section aria-labelledby="mkt-versions-h" tabindex="0"><h3 id="mkt-versions-h">${t('mkt.versions')}</h3>
      <table><thead><tr><th scope="col">${t('mkt.version')}</th><th scope="col">${t('mkt.state')}</th><th scope="col">${t('mkt.published')}</th></tr></thead>
        <tbody>${d.versions.map((v) => html`<tr data-version=${v.version}><td>${v.version}</td><td>${t('mkt.st.' + v.state)}</td><td>${v.published.slice(0, 10)}</td></tr>`)}</tbody></table>
    </section>
    ${d.latest && can(who, 'engineer') && orgKind(who) !== 'platform' && orgKind(who) !== 'provider' && html`<${InstallForm} svc=${d} who=${who} />`}
  </article>`;
}

function InstallForm({ svc, who }) {
  const l = useSignal(lang);
  const edges = useApi('edges', null, [who.org]);
  const groups = useApi('fleet/groups', null, [who.org]);
  const act = useAction();
  const [scope, setScope] = useState('edge');
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const params = {};
    for (const p of svc.parameters) {
      const raw = f.get('p-' + p.name);
      if (p.type === 'boolean') { params[p.name] = raw === 'on'; continue; }
      if (raw === null || raw === '') continue;
      params[p.name] = p.type === 'number' || p.type === 'integer' ? Number(raw) : String(raw);
    }
    const match = String(f.get('match') || '').split('\n').map((x) => x.trim()).filter(Boolean);
    const body = { name: String(f.get('name')).trim(), service: svc.id, version: f.get('version'), scope, target: f.get('target'), params,
      match: match.length ? match : undefined, output: f.get('output'), accept_terms: f.get('accept') === 'on' };
    if (await act.run(() => api('market/installs', { method: 'POST', body }), t('mkt.installed', { name: body.name }))) e.target.reset();
  }
  const targets = scope === 'edge' ? (edges.data ? edges.data.edges.map((x) => ({ id: x.id, label: x.name + ' (' + x.id + ')' })) : [])
    : (groups.data ? groups.data.groups.map((x) => ({ id: x.name, label: x.name })) : []);
  const released = svc.versions.filter((v) => v.state === 'released');
  return html`<section class="panel" aria-labelledby="mkt-install-h"><h3 id="mkt-install-h">${t('mkt.install')}</h3>
    <form class="grid-form" onSubmit=${submit}>
      <label for="inst-name">${t('mkt.installName')}</label><input id="inst-name" name="name" required pattern="[a-z0-9][a-z0-9\\-]{0,40}" value=${svc.id} />
      <label for="inst-version">${t('mkt.version')}</label>
      <select id="inst-version" name="version">${released.map((v) => html`<option value=${v.version}>${v.version}</option>`)}</select>
      <label for="inst-scope">${t('mkt.on')}</label>
      <select id="inst-scope" value=${scope} onChange=${(e) => setScope(e.target.value)}><option value="edge">${t('mkt.anEdge')}</option><option value="group">${t('mkt.aGroup')}</option></select>
      <label for="inst-target">${scope === 'edge' ? t('mkt.edge') : t('mkt.group')}</label>
      <select id="inst-target" name="target" required>${targets.map((x) => html`<option value=${x.id}>${x.label}</option>`)}</select>
      ${svc.parameters.map((p) => html`<${Param} p=${p} l=${l} />`)}
      <label for="inst-match">${t('mkt.match')}</label><textarea id="inst-match" name="match" rows="2" placeholder=${svc.reads.join('\n')} aria-describedby="inst-match-hint"></textarea>
      <span></span><p id="inst-match-hint" class="hint">${t('mkt.matchHint')}</p>
      <label for="inst-output">${t('mkt.output')}</label>
      <select id="inst-output" name="output"><option value="forward">${t('mkt.out.forward')}</option><option value="local">${t('mkt.out.local')}</option><option value="drop">${t('mkt.out.drop')}</option></select>
      <span id="inst-terms-l">${t('mkt.terms')}</span>
      <pre class="terms" tabindex="0" aria-labelledby="inst-terms-l">${svc.terms}</pre>
      <span></span><p class="hint">${svc.egress.length === 0 ? t('mkt.noEgress') : svc.egress.map((e) => t('mkt.egressItem', { data: e.data, to: e.to, purpose: e.purpose })).join(' ')}</p>
      <span></span><label class="check"><input type="checkbox" name="accept" required /> ${t('mkt.accept')}</label>
      <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('mkt.installIt')}</button>
    </form>
    ${act.status}
  </section>`;
}

function Param({ p, l }) {
  const id = 'p-' + p.name;
  const label = html`<label for=${id}>${tx(p.label, l) || p.name}${p.required ? ' *' : ''}</label>`;
  const hint = tx(p.description, l);
  const common = { id, name: id, required: p.required, 'aria-describedby': hint ? id + '-hint' : undefined };
  let input;
  if (p.type === 'boolean') input = html`<input type="checkbox" ...${common} required=${false} defaultChecked=${p.default === true} />`;
  else if (p.type === 'enum') input = html`<select ...${common}>${!p.required && html`<option value="">—</option>`}${p.enum.map((x) => html`<option value=${x} selected=${p.default === x}>${x}</option>`)}</select>`;
  else if (p.secret) input = html`<input type="password" autocomplete="off" ...${common} />`;
  else if (p.type === 'number' || p.type === 'integer') input = html`<input type="number" step=${p.type === 'integer' ? 1 : 'any'} min=${p.min} max=${p.max} placeholder=${p.default ?? ''} ...${common} />`;
  else input = html`<input ...${common} placeholder=${p.default ?? ''} />`;
  return html`${label}${input}${hint ? html`<span></span><p id=${id + '-hint'} class="hint">${hint}</p>` : ''}`;
}

function Installs({ who }) {
  const list = useApi('market/installs', null, [who.org]);
  const cat = useApi('market/services', null, [who.org]);
  const act = useAction();
  async function remove(name) {
    if (await act.run(() => api(at('market/installs/{name}', { name }), { method: 'DELETE' }), t('mkt.uninstalled', { name }))) list.reload();
  }
  // change moves an install to another released version (upgrade or
  // downgrade), its terms accepted after a confirmation.
  async function change(e, name) {
    e.preventDefault();
    const version = new FormData(e.target).get('version');
    if (!confirm(t('mkt.confirmChange', { name, version }))) return;
    if (await act.run(() => api(at('market/installs/{name}', { name }), { method: 'PUT', body: { version, accept_terms: true } }), t('mkt.changed', { name, version }))) list.reload();
  }
  const released = (id) => ((cat.data && cat.data.services.find((s) => s.id === id)) || { versions: [] }).versions.filter((v) => v.state === 'released');
  if (list.error) return html`<${Refusal} error=${list.error} />`;
  if (!list.data) return html`<p role="status">${t('shell.loading')}</p>`;
  return html`<section aria-labelledby="mkt-inst-h" tabindex="0"><h2 id="mkt-inst-h">${t('mkt.installs')}</h2>
    ${list.data.installs.length === 0 ? html`<p>${t('mkt.noInstalls')}</p>` : html`<table>
      <thead><tr><th scope="col">${t('mkt.installName')}</th><th scope="col">${t('mkt.service')}</th><th scope="col">${t('mkt.on')}</th>
        <th scope="col">${t('mkt.edgeStates')}</th><th scope="col"><span class="sr-only">${t('mkt.actions')}</span></th></tr></thead>
      <tbody>${list.data.installs.map((i) => html`<tr data-install=${i.name}>
        <td>${i.name}</td><td><a href=${href('market', ['service', i.service])}>${i.service}</a> ${i.version}</td><td>${t('mkt.scope.' + i.scope)} ${i.target}</td>
        <td><ul class="plain">${i.edges.map((e) => html`<li data-edge-state=${e.state}>${e.name}: ${t('mkt.ps.' + e.state)}${e.error ? html` <small class="error">${e.error}</small>` : ''}</li>`)}</ul></td>
        <td>${can(who, 'engineer') && html`<form class="inline" onSubmit=${(e) => change(e, i.name)}>
            <label class="sr-only" for=${'ver-' + i.name}>${t('mkt.versionOf', { name: i.name })}</label>
            <select id=${'ver-' + i.name} name="version">${released(i.service).map((v) => html`<option value=${v.version} selected=${v.version === i.version}>${v.version}</option>`)}</select>
            <button type="submit" class="ghost" disabled=${act.busy} aria-label=${t('mkt.changeN', { name: i.name })}>${t('mkt.change')}</button></form>
          <button type="button" class="ghost" onClick=${() => remove(i.name)} aria-label=${t('mkt.uninstallN', { name: i.name })}>${t('mkt.uninstall')}</button>`}</td>
      </tr>`)}</tbody></table>`}
    ${act.status}
  </section>`;
}

// Versions lists versions with the actions base allows on each.
function Versions({ list, actions, platform, onDone, hook }) {
  const act = useAction();
  async function run(v, a) {
    const vars = { id: v.id, version: v.version, action: a };
    const opts = { method: 'POST', body: {} };
    const call = platform ? () => api(at('market/review/{id}/{version}/{action}', vars), opts)
      : () => api(at('market/services/{id}/versions/{version}/{action}', vars), opts);
    if (await act.run(call, t('mkt.done', { id: v.id, version: v.version, action: t('mkt.act.' + a) }))) onDone();
  }
  return html`${list.length === 0 ? html`<p>${t('mkt.noVersions')}</p>` : html`<table>
    <thead><tr><th scope="col">${t('mkt.service')}</th><th scope="col">${t('mkt.version')}</th><th scope="col">${t('mkt.state')}</th><th scope="col">${t('mkt.signer')}</th>
      <th scope="col"><span class="sr-only">${t('mkt.actions')}</span></th></tr></thead>
    <tbody>${list.map((v) => html`<tr ...${{ [hook]: v.id + '@' + v.version }}>
      <td><a href=${href('market', ['service', v.id])}>${v.id}</a> <small>${v.provider}</small></td><td>${v.version}</td><td>${t('mkt.st.' + v.state)}</td><td><small>${v.signer.slice(0, 19)}…</small></td>
      <td>${(actions[v.state] || []).map((a) => html`<button type="button" class="ghost" disabled=${act.busy} onClick=${() => run(v, a)}
        aria-label=${t('mkt.actOn', { action: t('mkt.act.' + a), id: v.id, version: v.version })}>${t('mkt.act.' + a)}</button>`)}</td></tr>`)}</tbody></table>`}
    ${act.status}`;
}

function Provider({ who }) {
  const d = useApi('market/provider', null, [who.org]);
  if (d.error) return html`<${Refusal} error=${d.error} />`;
  if (!d.data) return html`<p role="status">${t('shell.loading')}</p>`;
  return html`<section aria-labelledby="mkt-prov-h" tabindex="0"><h2 id="mkt-prov-h">${t('mkt.provider')}</h2>
    <p class="hint">${t('mkt.providerHint')}</p>
    <${Versions} list=${d.data.versions} hook="data-version" onDone=${d.reload}
      actions=${{ draft: ['submit', 'revoke'], 'in-review': ['withdraw'], released: ['deprecate', 'revoke'], deprecated: ['revoke'] }} />
    </section>
    <${Publish} onDone=${d.reload} />
    <section class="panel" aria-labelledby="mkt-keys-h"><h3 id="mkt-keys-h">${t('mkt.keys')}</h3>
    ${d.data.keys.length === 0 ? html`<p>${t('mkt.noKeys')}</p>` : html`<ul>${d.data.keys.map((k) => html`<li data-key=${k.id}><code>${k.id}</code> ${k.name}${k.revoked ? ' — ' + t('mkt.revokedKey') : ''}</li>`)}</ul>`}
    <${AddKey} onDone=${d.reload} />
  </section>`;
}

// fileText reads the file chosen in input name of form f ('' for none).
const fileText = (f, name) => (f.get(name) && f.get(name).size ? f.get(name).text() : Promise.resolve(''));

// AddKey registers a signing key's public half (molen service keygen
// writes NAME.pub), pasted or chosen as a file.
function AddKey({ onDone }) {
  const act = useAction();
  async function submit(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = { name: String(f.get('name')).trim(), public_key: (await fileText(f, 'file')) || String(f.get('pem')) };
    if (await act.run(() => api('market/keys', { method: 'POST', body }), (k) => t('mkt.keyAdded', { id: k.id }))) { form.reset(); onDone(); }
  }
  return html`<h4 id="mkt-addkey-h">${t('mkt.addKey')}</h4>
    <form class="grid-form" onSubmit=${submit} aria-labelledby="mkt-addkey-h">
    <label for="key-name">${t('mkt.keyName')}</label><input id="key-name" name="name" required maxlength="100" />
    <label for="key-file">${t('mkt.keyFile')}</label><input id="key-file" name="file" type="file" accept=".pub,.pem" aria-describedby="key-hint" />
    <label for="key-pem">${t('mkt.keyPem')}</label><textarea id="key-pem" name="pem" rows="3" placeholder="-----BEGIN PUBLIC KEY-----" aria-describedby="key-hint"></textarea>
    <span></span><p id="key-hint" class="hint">${t('mkt.keyHint')}</p>
    <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('mkt.register')}</button>
    <span></span><div>${act.status}</div>
  </form>`;
}

// publishRefusal puts the hub's refusal of an upload in the reader's
// words: the hub's own message follows.
function publishRefusal(err) {
  const m = err && err.message ? err.message : '';
  const key = /no signing key registered/.test(m) ? 'mkt.pubErr.noKey' : /changed after it was signed/.test(m) ? 'mkt.pubErr.changed'
    : /^signature:/.test(m) ? 'mkt.pubErr.signature' : /^package:/.test(m) ? 'mkt.pubErr.package' : /published already/.test(m) ? 'mkt.pubErr.exists' : '';
  if (!key) return err;
  const e = new Error(t(key) + ' (' + m + ')');
  e.status = err.status;
  return e;
}

// Publish uploads a signed package (molen service sign writes
// ID-VERSION.molen and ID-VERSION.molen.dsse.json) as a draft.
function Publish({ onDone }) {
  const act = useAction();
  async function submit(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = new FormData();
    body.append('signature', f.get('signature'));
    body.append('package', f.get('package'));
    const call = async () => { try { return await api('market/packages', { method: 'POST', body }); } catch (err) { throw publishRefusal(err); } };
    if (await act.run(call, (v) => t('mkt.uploaded', { id: v.id, version: v.version }))) { form.reset(); onDone(); }
  }
  return html`<section class="panel" aria-labelledby="mkt-pub-h"><h3 id="mkt-pub-h">${t('mkt.publish')}</h3>
    <form class="grid-form" onSubmit=${submit}>
      <label for="pub-package">${t('mkt.pubPackage')}</label><input id="pub-package" name="package" type="file" required accept=".molen" aria-describedby="pub-hint" />
      <label for="pub-signature">${t('mkt.pubSignature')}</label><input id="pub-signature" name="signature" type="file" required accept=".json" aria-describedby="pub-hint" />
      <span></span><p id="pub-hint" class="hint">${t('mkt.pubHint')}</p>
      <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('mkt.upload')}</button>
    </form>
    ${act.status}
  </section>`;
}

// DataSharing lists the organisation's data-sharing grants: the terms of
// a service accepted at an install, with the provider that receives what
// data; in force until the install goes, changes version or the version
// is revoked. Shown with the organisation's other grants (admin.js).
export function DataSharing({ who }) {
  const g = useApi('market/grants', null, [who.org]);
  const egress = (xs) => (xs.length === 0 ? t('mkt.noEgressShort') : xs.map((e) => t('mkt.egressItem', { data: e.data, to: e.to, purpose: e.purpose })).join(' '));
  return html`<h3 id="dsg-h">${t('mkt.dataGrants')}</h3>
    <p class="note">${t('mkt.dataGrantsHint')}</p>
    <${Refusal} error=${g.error} />
    ${g.data && (g.data.grants.length === 0 ? html`<p class="note">${t('mkt.noDataGrants')}</p>` : html`<table class="data" aria-labelledby="dsg-h">
      <thead><tr><th scope="col">${t('mkt.provider1')}</th><th scope="col">${t('mkt.service')}</th><th scope="col">${t('mkt.leaves')}</th><th scope="col">${t('mkt.termsSha')}</th>
        <th scope="col">${t('mkt.acceptedBy')}</th><th scope="col">${t('mkt.state')}</th></tr></thead>
      <tbody>${g.data.grants.map((x) => html`<tr data-data-grant=${x.install + '@' + x.version} data-active=${x.active}>
        <td>${x.provider}</td><td>${x.service} ${x.version} <small>(${x.install})</small></td><td>${egress(x.egress)}</td>
        <td><code title=${x.terms_sha256}>${x.terms_sha256.slice(0, 12)}…</code></td><td>${x.accepted_by}, ${x.accepted.slice(0, 16).replace('T', ' ')}</td>
        <td>${x.active ? t('mkt.inForce') : html`<span class="badge down">${t('mkt.ended.' + x.end_reason)}</span> ${x.ended.slice(0, 16).replace('T', ' ')}`}</td></tr>`)}</tbody></table>`)}`;
}

function Review({ who }) {
  const q = useApi('market/review', null, [who.org]);
  const all = useApi('market/services', null, [who.org]);
  if (q.error) return html`<${Refusal} error=${q.error} />`;
  if (!q.data || !all.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const released = all.data.services.flatMap((s) => s.versions.filter((v) => v.state === 'released' || v.state === 'deprecated'));
  const reload = () => { q.reload(); all.reload(); };
  return html`<section aria-labelledby="mkt-rev-h" tabindex="0"><h2 id="mkt-rev-h">${t('mkt.reviewQueue')}</h2>
      <${Versions} list=${q.data.versions} hook="data-review" platform=${true} onDone=${reload} actions=${{ 'in-review': ['release', 'reject'] }} />
    </section>
    <section aria-labelledby="mkt-rel-h" tabindex="0"><h2 id="mkt-rel-h">${t('mkt.releasedVersions')}</h2>
      <p class="hint">${t('mkt.revokeHint')}</p>
      <${Versions} list=${released} hook="data-version" platform=${true} onDone=${reload} actions=${{ released: ['deprecate', 'revoke'], deprecated: ['revoke'] }} />
    </section>`;
}
