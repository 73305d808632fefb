// The fleet area: the organisation's edges (inventory with filters), one
// edge (its report, its place, the parts of its desired state with their
// states, where each part comes from and what would change), and the
// desired state itself: groups by label and the layers organisation <
// site < group < edge, edited as JSON and checked by the hub.
//
// Hooks for browser tests (keep them stable): [data-edge] an inventory
// row (edge ID), [data-health] its health, [data-part] a part row of the
// edge (its name) with [data-state], [data-origin] an explain row (part
// name, data-layer the layer), [data-change] a diff row (part name, its
// kind of change), [data-layer-row] a layer (scope/target),
// [data-group] a group row.
import {
  html, useState, useApi, api, t, lang, useSignal, registerArea, href, fmtNum, fmtAgo, can,
} from './core.js';
import { at, Refusal, useAction } from './account.js';
import { LayerSecrets } from './layersecrets.js';
import { MargoReported } from './fleetmargo.js';
import { Rollouts, RolloutDetail, parseLabels } from './fleet-rollouts.js';
import { RegisterEdge, RevokeEdge } from './fleet-register.js';
import { Diagnostics } from './fleet-diagnostics.js';
import { Outputs } from './outputs.js';

registerArea({ id: 'fleet', title: 'area.fleet', visible: (w) => can(w, 'viewer'), view: FleetView });

const TABS = ['edges', 'state', 'rollouts'];

function FleetView({ route, who }) {
  useSignal(lang);
  const [page, id] = route.path;
  const tab = page === 'state' ? 'state' : page === 'rollouts' || page === 'rollout' ? 'rollouts' : 'edges';
  const body = page === 'edge' && id ? html`<${EdgeDetail} id=${id} who=${who} />`
    : page === 'rollout' && id ? html`<${RolloutDetail} id=${id} who=${who} />`
      : tab === 'state' ? html`<${DesiredState} who=${who} />`
        : tab === 'rollouts' ? html`<${Rollouts} who=${who} />` : html`<${Inventory} route=${route} who=${who} />`;
  return html`<h1>${t('area.fleet')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('fleet.sections')}><ul>
      ${TABS.map((x) => html`<li><a href=${href('fleet', x === 'edges' ? [] : [x])} aria-current=${x === tab ? 'page' : undefined}>${t('fleet.' + x)}</a></li>`)}
    </ul></nav>
    ${body}`;
}

const Health = ({ h }) => html`<span class=${'badge health-' + h} data-health=${h}>${t('fleet.health.' + h)}</span>`;
const Labels = ({ labels }) => Object.entries(labels || {}).map(([k, v]) => html`<span class="badge">${k}=${v}</span> `);
const bytes = (n) => (n >= 1 << 30 ? fmtNum(n / (1 << 30), 1) + ' GiB' : fmtNum(n / (1 << 20), 0) + ' MiB');

// ---- inventory -------------------------------------------------------------

function Inventory({ route, who }) {
  const q = Object.fromEntries(route.query);
  const list = useApi('fleet/edges', q, [who.org, route.query.toString()]);
  function filter(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const query = {};
    for (const k of ['q', 'site', 'group', 'health', 'label']) if (f.get(k)) query[k] = f.get(k);
    location.hash = href('fleet', [], query);
  }
  const edges = list.data ? list.data.edges : [];
  return html`<section tabindex="0" aria-labelledby="fleet-inv-h">
    <h2 id="fleet-inv-h">${t('fleet.inventory')}</h2>
    <form class="inline filters" onSubmit=${filter} aria-label=${t('fleet.filter')}>
      <label>${t('fleet.search')} <input name="q" defaultValue=${q.q || ''} /></label>
      <label>${t('fleet.site')} <input name="site" defaultValue=${q.site || ''} /></label>
      <label>${t('fleet.group')} <input name="group" defaultValue=${q.group || ''} /></label>
      <label>${t('fleet.label')} <input name="label" placeholder="line=press" defaultValue=${q.label || ''} /></label>
      <label>${t('fleet.healthTitle')} <select name="health" defaultValue=${q.health || ''}>
        <option value="">${t('fleet.any')}</option>
        ${['ok', 'degraded', 'offline', 'unknown'].map((h) => html`<option value=${h} selected=${q.health === h}>${t('fleet.health.' + h)}</option>`)}
      </select></label>
      <button type="submit">${t('fleet.apply')}</button>
    </form>
    <${Refusal} error=${list.error} />
    ${!list.data && !list.error ? html`<p role="status">${t('shell.loading')}</p>`
      : list.data && edges.length === 0 ? html`<p>${t('fleet.noEdges')}</p>` : html`<table>
      <caption class="sr-only">${t('fleet.inventory')}</caption>
      <thead><tr><th scope="col">${t('fleet.edge')}</th><th scope="col">${t('fleet.site')}</th><th scope="col">${t('fleet.labels')}</th>
        <th scope="col">${t('fleet.healthTitle')}</th><th scope="col">${t('fleet.version')}</th><th scope="col">${t('fleet.lastContact')}</th>
        <th scope="col">${t('fleet.buffer')}</th><th scope="col">${t('fleet.desired')}</th></tr></thead>
      <tbody>${edges.map((e) => {
        const r = e.reported ? e.reported.report : null;
        return html`<tr data-edge=${e.id}>
          <th scope="row"><a href=${href('fleet', ['edge', e.id])}>${e.name}</a> <code>${e.id}</code>${e.revoked ? html` <span class="badge">${t('fleet.revoked')}</span>` : ''}</th>
          <td>${e.site || '–'}</td><td><${Labels} labels=${e.labels} /></td><td><${Health} h=${e.health} /></td>
          <td>${r ? html`${r.version || '?'} <small>${r.os}/${r.arch}</small>` : '–'}</td>
          <td>${e.reported ? fmtAgo(Date.parse(e.reported.at)) : '–'}</td>
          <td>${r ? fmtNum(r.buffer_records, 0) : '–'}</td>
          <td>${r ? t('fleet.versions', { run: r.manifest.version, want: e.desired_version }) : e.desired_version || '–'}</td></tr>`;
      })}</tbody></table>`}
  </section>
  ${can(who, 'engineer') && html`<${RegisterEdge} onDone=${list.reload} />`}`;
}

// ---- one edge ----------------------------------------------------------------

// diff compares the desired manifest with what the edge reports it runs.
function diff(manifest, applied) {
  const running = Object.fromEntries(((applied && applied.parts) || []).filter((p) => p.state === 'installed').map((p) => [p.name, p]));
  const out = manifest.parts.map((p) => ({ name: p.name, change: !running[p.name] ? 'added' : running[p.name].digest === p.digest ? 'same' : 'changed' }));
  for (const name of Object.keys(running)) if (!manifest.parts.some((p) => p.name === name)) out.push({ name, change: 'removed' });
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

function EdgeDetail({ id, who }) {
  const d = useApi(at('fleet/edges/{edge}', { edge: id }), null, [who.org, id]);
  if (d.error) return html`<${Refusal} error=${d.error} />`;
  if (!d.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const { edge: e, desired } = d.data;
  const r = e.reported ? e.reported.report : null;
  const changes = diff(desired.manifest, r && r.manifest);
  return html`<p><a href=${href('fleet')}>${t('fleet.back')}</a></p>
    <h2>${e.name} <code>${e.id}</code> <${Health} h=${e.health} /></h2>
    <${RevokeEdge} e=${e} who=${who} reload=${d.reload} />
    <div class="columns">
      <section class="panel" aria-labelledby="fleet-status-h">
        <h3 id="fleet-status-h">${t('fleet.status')}</h3>
        ${r ? html`<dl class="facts">
          <dt>${t('fleet.version')}</dt><dd>${r.version} (${r.os}/${r.arch})</dd>
          <dt>${t('fleet.lastContact')}</dt><dd>${fmtAgo(Date.parse(e.reported.at))}</dd>
          <dt>${t('fleet.buffer')}</dt><dd>${t('fleet.bufferText', { records: fmtNum(r.buffer_records, 0), age: fmtNum(r.oldest_pending_seconds, 0) })}</dd>
          <dt>${t('fleet.cpu')}</dt><dd>${fmtNum(r.cpu_percent, 1)} %</dd>
          <dt>${t('fleet.memory')}</dt><dd>${bytes(r.memory_bytes)}</dd>
          <dt>${t('fleet.disk')}</dt><dd>${t('fleet.diskText', { free: bytes(r.disk_free_bytes), total: bytes(r.disk_total_bytes) })}</dd>
          <dt>${t('fleet.pipelineErrors')}</dt><dd>${fmtNum(r.pipeline_errors, 0)}${r.pipeline_error ? ' — ' + r.pipeline_error : ''}</dd>
          <dt>${t('fleet.inputs')}</dt><dd>${r.inputs.length === 0 ? '–' : r.inputs.map((i) => html`<div>${i.name} (${i.kind}): ${i.state}${i.error ? ' — ' + i.error : ''}</div>`)}</dd>
        </dl>` : html`<p>${d.data.margo && d.data.margo.client ? t('fleet.margoClient') : t('fleet.neverReported')}</p>`}
      </section>
      <${Place} e=${e} reload=${d.reload} />
    </div>
    ${can(who, 'engineer') && html`<${Diagnostics} id=${e.id} inputs=${r ? r.inputs : []} />`}
    <${Outputs} outputs=${r && r.outputs} />
    <section tabindex="0" aria-labelledby="fleet-parts-h">
      <h3 id="fleet-parts-h">${t('fleet.parts')}</h3>
      <p>${t('fleet.runs', { run: r ? r.manifest.version : 0, want: desired.manifest.version })}</p>
      ${r && r.manifest.pending_reason && html`<p class="note" data-pending=${r.manifest.pending}>${t('diag.pending')} ${r.manifest.pending_reason}</p>`}
      ${r && r.manifest.error && html`<p role="alert" class="error" data-manifest-error>${r.manifest.rolled_back ? t('fleet.rolledBack') + ' ' : ''}${r.manifest.error}</p>`}
      ${r && r.manifest.parts && r.manifest.parts.length > 0 ? html`<table>
        <caption class="sr-only">${t('fleet.parts')}</caption>
        <thead><tr><th scope="col">${t('fleet.part')}</th><th scope="col">${t('fleet.partStateTitle')}</th><th scope="col">${t('fleet.error')}</th></tr></thead>
        <tbody>${r.manifest.parts.map((p) => html`<tr data-part=${p.name} data-state=${p.state}><th scope="row"><code>${p.name}</code></th>
          <td><span class=${'badge state-' + p.state}>${t('fleet.partState.' + p.state)}</span></td><td>${p.error || (p.since ? t('fleet.removedAt', { when: new Date(p.since).toLocaleString() }) : '')}</td></tr>`)}</tbody>
      </table>` : html`<p>${d.data.margo && d.data.margo.client ? t('fleet.margoClient') : t('fleet.noParts')}</p>`}
    </section>
    <section tabindex="0" aria-labelledby="fleet-diff-h">
      <h3 id="fleet-diff-h">${t('fleet.diff')}</h3>
      <table><caption class="sr-only">${t('fleet.diff')}</caption>
        <thead><tr><th scope="col">${t('fleet.part')}</th><th scope="col">${t('fleet.change')}</th></tr></thead>
        <tbody>${changes.map((c) => html`<tr data-change=${c.name} data-kind=${c.change}><th scope="row"><code>${c.name}</code></th><td>${t('fleet.change.' + c.change)}</td></tr>`)}</tbody>
      </table>
    </section>
    <section tabindex="0" aria-labelledby="fleet-explain-h">
      <h3 id="fleet-explain-h">${t('fleet.explain')}</h3>
      <p class="note">${t('fleet.explainNote', { groups: desired.groups && desired.groups.length ? desired.groups.join(', ') : '–' })}</p>
      <table><caption class="sr-only">${t('fleet.explain')}</caption>
        <thead><tr><th scope="col">${t('fleet.part')}</th><th scope="col">${t('fleet.layer')}</th><th scope="col">${t('fleet.overrides')}</th></tr></thead>
        <tbody>${(desired.explain || []).map((o) => html`<tr data-origin=${o.part} data-layer=${o.layer}><th scope="row"><code>${o.part}</code></th>
          <td>${o.layer}${o.removed ? ' — ' + t('fleet.removedBy') : ''}${o.skipped ? ' — ' + t('fleet.skipped.' + o.skipped) : ''}</td><td>${(o.overridden || []).join(', ') || '–'}</td></tr>`)}</tbody>
      </table>
    </section>
    <${MargoReported} caps=${(d.data.margo && d.data.margo.capabilities) || (r && r.capabilities)} deployments=${d.data.margo && d.data.margo.deployments} />`;
}

const labelText = (l) => Object.entries(l || {}).map(([k, v]) => k + '=' + v).join(', ');

function Place({ e, reload }) {
  const act = useAction();
  async function save(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = { site: f.get('site'), labels: parseLabels(f.get('labels')) };
    if (await act.run(() => api(at('fleet/edges/{edge}/place', { edge: e.id }), { method: 'PUT', body }), t('fleet.placeSaved'))) reload();
  }
  return html`<section class="panel" aria-labelledby="fleet-place-h">
    <h3 id="fleet-place-h">${t('fleet.place')}</h3>
    <form class="grid-form" onSubmit=${save}>
      <label for="fleet-site">${t('fleet.site')}</label><input id="fleet-site" name="site" defaultValue=${e.site} />
      <label for="fleet-labels">${t('fleet.labels')}</label><input id="fleet-labels" name="labels" defaultValue=${labelText(e.labels)} placeholder="line=press, ring=canary" />
      <span></span><button type="submit" disabled=${act.busy}>${t('fleet.savePlace')}</button>
    </form>
    ${act.status}
    <p>${t('fleet.groups')}: ${e.groups.length ? e.groups.join(', ') : '–'}</p>
  </section>`;
}

// ---- desired state -------------------------------------------------------------

const EXAMPLE = JSON.stringify({
  pipelines: { 'temps-deadband': { match: ['site/+/+/+/temp'], stages: [{ deadband: { absolute: 0.5 } }] } },
  settings: { health_window: '1m' },
}, null, 2);

function DesiredState({ who }) {
  const layers = useApi('fleet/layers', null, [who.org]);
  const groups = useApi('fleet/groups', null, [who.org]);
  const act = useAction();
  const gact = useAction();
  const [doc, setDoc] = useState(null); // the layer being edited: {scope, target, text}
  const engineer = can(who, 'engineer');
  const layerCall = (scope, target, opts) => (scope === 'org' ? api('fleet/layers/org', opts)
    : api(at('fleet/layers/{scope}/{target}', { scope, target }), opts));
  function edit(l) {
    const { scope, target, updated, secrets, ...body } = l;
    setDoc({ scope, target, text: JSON.stringify(body, null, 2), key: Date.now() });
  }
  async function save(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const scope = f.get('scope'), target = scope === 'org' ? '' : f.get('target');
    let body;
    try { body = JSON.parse(f.get('doc')); } catch (e) {
      act.run(() => Promise.reject(Object.assign(new Error(t('fleet.notJSON') + ' ' + e.message), { status: 400 })));
      return;
    }
    if (await act.run(() => layerCall(scope, target, { method: 'PUT', body }), t('fleet.layerSaved'))) layers.reload();
  }
  async function remove(l) {
    if (await act.run(() => layerCall(l.scope, l.target, { method: 'DELETE' }), t('fleet.layerDeleted'))) layers.reload();
  }
  async function saveGroup(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const form = ev.target;
    if (await gact.run(() => api(at('fleet/groups/{group}', { group: f.get('name') }), { method: 'PUT', body: parseLabels(f.get('selector')) }), t('fleet.groupSaved'))) {
      form.reset();
      groups.reload();
    }
  }
  const ls = layers.data ? layers.data.layers : [];
  return html`<section tabindex="0" aria-labelledby="fleet-layers-h">
      <h2 id="fleet-layers-h">${t('fleet.layers')}</h2>
      <p class="note">${t('fleet.layersNote')}</p>
      <${Refusal} error=${layers.error} />
      ${ls.length === 0 ? html`<p>${t('fleet.noLayers')}</p>` : html`<table>
        <caption class="sr-only">${t('fleet.layers')}</caption>
        <thead><tr><th scope="col">${t('fleet.layer')}</th><th scope="col">${t('fleet.contents')}</th><th scope="col"><span class="sr-only">${t('fleet.actions')}</span></th></tr></thead>
        <tbody>${ls.map((l) => html`<tr data-layer-row=${l.scope + '/' + l.target}>
          <th scope="row">${t('fleet.scope.' + l.scope)}${l.target ? ': ' + l.target : ''}</th>
          <td>${['inputs', 'pipelines', 'settings', 'deployments'].map((k) => Object.keys(l[k] || {}).map((n) => html`<code>${k.replace(/s$/, '')}/${n}</code> `))}
            ${(l.secrets || []).map((s) => html`<code>secret/${s.name}</code> `)}</td>
          <td>${engineer && html`<button type="button" onClick=${() => edit(l)}>${t('fleet.edit')}</button>
            <button type="button" class="ghost" onClick=${() => remove(l)}>${t('fleet.delete')}</button>`}</td></tr>`)}</tbody>
      </table>`}
    </section>
    ${engineer && html`<section class="panel" aria-labelledby="fleet-editor-h">
      <h2 id="fleet-editor-h">${t('fleet.editor')}</h2>
      <p class="note">${t('fleet.editorNote')}</p>
      <form class="grid-form" onSubmit=${save} key=${doc ? doc.key : 'new'}>
        <label for="fleet-scope">${t('fleet.scopeTitle')}</label>
        <select id="fleet-scope" name="scope" defaultValue=${doc ? doc.scope : 'org'}>
          ${['org', 'site', 'group', 'edge'].map((s) => html`<option value=${s} selected=${doc && doc.scope === s}>${t('fleet.scope.' + s)}</option>`)}
        </select>
        <label for="fleet-target">${t('fleet.target')}</label><input id="fleet-target" name="target" defaultValue=${doc ? doc.target : ''} aria-describedby="fleet-target-hint" />
        <span id="fleet-target-hint" class="meta">${t('fleet.targetHint')}</span>
        <label for="fleet-doc">${t('fleet.document')}</label>
        <textarea id="fleet-doc" name="doc" rows="14" spellcheck="false" class="code">${doc ? doc.text : EXAMPLE}</textarea>
        <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('fleet.saveLayer')}</button>
      </form>
      ${act.status}
      ${doc && html`<${LayerSecrets} scope=${doc.scope} target=${doc.target} reload=${layers.reload}
        secrets=${(ls.find((l) => l.scope === doc.scope && l.target === doc.target) || {}).secrets} />`}
    </section>`}
    <section tabindex="0" aria-labelledby="fleet-groups-h">
      <h2 id="fleet-groups-h">${t('fleet.groups')}</h2>
      <${Refusal} error=${groups.error} />
      <table><caption class="sr-only">${t('fleet.groups')}</caption>
        <thead><tr><th scope="col">${t('fleet.group')}</th><th scope="col">${t('fleet.selector')}</th></tr></thead>
        <tbody>${((groups.data && groups.data.groups) || []).map((g) => html`<tr data-group=${g.name}><th scope="row">${g.name}</th><td><${Labels} labels=${g.selector} /></td></tr>`)}</tbody>
      </table>
      ${engineer && html`<form class="inline" onSubmit=${saveGroup} aria-label=${t('fleet.saveGroup')}>
        <label>${t('fleet.group')} <input name="name" required /></label>
        <label>${t('fleet.selector')} <input name="selector" required placeholder="line=press" /></label>
        <button type="submit" disabled=${gact.busy}>${t('fleet.saveGroup')}</button>
      </form>${gact.status}`}
    </section>`;
}
