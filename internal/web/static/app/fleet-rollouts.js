// The fleet's rollouts: the list with each one's progress, the wizard
// that starts one (a layer's new content, the edges it goes to, the plan:
// canary, ramp, rate, abort threshold, step timeout), and one rollout's
// progress (its steps, each edge's state, pause, resume and abort).
//
// Hooks for browser tests (keep them stable): [data-rollout] a list row
// (rollout ID) with [data-rollout-state]; #rollout-state the state on a
// rollout's page; [data-step] a step (its number) with [data-step-state];
// [data-rollout-edge] an edge row (edge ID) with [data-edge-state].
import {
  html, useState, useEffect, useApi, api, t, href, fmtAgo, fmtNum, can,
} from './core.js';
import { at, Refusal, useAction } from './account.js';

const STATE_BADGE = {
  running: 'setup', paused: 'idle', completed: 'running', aborted: 'down',
  waiting: '', installing: 'setup', installed: 'running', failed: 'down', skipped: 'idle',
};
const Badge = ({ s }) => html`<span class=${'badge ' + (STATE_BADGE[s] || '')}>${t('rollout.state.' + s)}</span>`;
const layerName = (sp) => t('fleet.scope.' + sp.scope) + (sp.target ? ': ' + sp.target : '');
const active = (r) => r.state === 'running' || r.state === 'paused';

// useRefresh reloads a view every few seconds while on is true: a rollout
// moves on by the edges' reports.
function useRefresh(on, reload) {
  useEffect(() => {
    if (!on) return undefined;
    const id = setInterval(reload, 3000);
    return () => clearInterval(id);
  }, [on]);
}

export function Rollouts({ who }) {
  const list = useApi('fleet/rollouts', null, [who.org]);
  const rs = list.data ? list.data.rollouts : [];
  useRefresh(rs.some(active), list.reload);
  return html`<section tabindex="0" aria-labelledby="rollouts-h">
      <h2 id="rollouts-h">${t('rollout.title')}</h2>
      <p class="note">${t('rollout.note')}</p>
      <${Refusal} error=${list.error} />
      ${list.data && rs.length === 0 ? html`<p>${t('rollout.none')}</p>` : html`<table>
        <caption class="sr-only">${t('rollout.title')}</caption>
        <thead><tr><th scope="col">${t('rollout.rollout')}</th><th scope="col">${t('fleet.layer')}</th><th scope="col">${t('rollout.stateTitle')}</th>
          <th scope="col">${t('rollout.progress')}</th><th scope="col">${t('rollout.started')}</th><th scope="col">${t('rollout.by')}</th></tr></thead>
        <tbody>${rs.map((r) => html`<tr data-rollout=${r.id} data-rollout-state=${r.state}>
          <th scope="row"><a href=${href('fleet', ['rollout', r.id])}><code>${r.id}</code></a></th>
          <td>${layerName(r.spec)}</td><td><${Badge} s=${r.state} />${r.reason ? html` <small>${r.reason}</small>` : ''}</td>
          <td>${t('rollout.counts', counts(r))}</td><td>${fmtAgo(Date.parse(r.created))}</td><td>${r.created_by}</td></tr>`)}</tbody>
      </table>`}
    </section>
    ${can(who, 'engineer') && html`<${Wizard} who=${who} />`}`;
}

function counts(r) {
  const c = r.counts || {};
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  return { installed: fmtNum(c.installed || 0, 0), total: fmtNum(total, 0), failed: fmtNum(c.failed || 0, 0), skipped: fmtNum(c.skipped || 0, 0) };
}

// parseLabels reads "line=press, ring=canary" into an object (for the
// fleet's forms: a place's labels, a group's selector, a rollout's).
export function parseLabels(s) {
  const out = {};
  for (const kv of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const i = kv.indexOf('=');
    out[i < 0 ? kv : kv.slice(0, i).trim()] = i < 0 ? '' : kv.slice(i + 1).trim();
  }
  return out;
}

const num = (f, k) => (f.get(k) === '' ? undefined : Number(f.get(k)));

function Wizard({ who }) {
  const layers = useApi('fleet/layers', null, [who.org]);
  const act = useAction();
  const [from, setFrom] = useState({ scope: 'group', target: '', text: '{\n  "pipelines": {},\n  "settings": {}\n}', key: 0 });
  function startFrom(ev) {
    const l = (layers.data ? layers.data.layers : []).find((x) => x.scope + '/' + x.target === ev.target.value);
    if (!l) return;
    const { scope, target, updated, ...body } = l;
    setFrom({ scope, target, text: JSON.stringify(body, null, 2), key: Date.now() });
  }
  async function start(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    let content;
    try { content = JSON.parse(f.get('doc')); } catch (e) {
      act.run(() => Promise.reject(Object.assign(new Error(t('fleet.notJSON') + ' ' + e.message), { status: 400 })));
      return;
    }
    const canary = f.get('canary').trim();
    const body = {
      ...content, scope: f.get('scope'), target: f.get('scope') === 'org' ? '' : f.get('target'),
      labels: parseLabels(f.get('labels')), group: f.get('group'),
      ramp: num(f, 'ramp'), max_per_minute: num(f, 'max_per_minute'),
      failure_percent: num(f, 'failure_percent'), min_failures: num(f, 'min_failures'), step_timeout: f.get('step_timeout'),
    };
    if (canary.endsWith('%')) body.canary_percent = Number(canary.slice(0, -1));
    else if (canary) body.canary_count = Number(canary);
    const r = await act.run(() => api('fleet/rollouts', { method: 'POST', body }), t('rollout.startedMsg'));
    if (r && r.id) location.hash = href('fleet', ['rollout', r.id]);
  }
  const ls = layers.data ? layers.data.layers : [];
  return html`<section class="panel" aria-labelledby="rollout-wizard-h">
    <h2 id="rollout-wizard-h">${t('rollout.wizard')}</h2>
    <p class="note">${t('rollout.wizardNote')}</p>
    <form class="grid-form" onSubmit=${start} key=${from.key} aria-describedby="rollout-wizard-h">
      <label for="rollout-from">${t('rollout.from')}</label>
      <select id="rollout-from" onChange=${startFrom}>
        <option value="">${t('rollout.fromNone')}</option>
        ${ls.map((l) => html`<option value=${l.scope + '/' + l.target}>${t('fleet.scope.' + l.scope)}${l.target ? ': ' + l.target : ''}</option>`)}
      </select>
      <label for="rollout-scope">${t('fleet.scopeTitle')}</label>
      <select id="rollout-scope" name="scope">
        ${['org', 'site', 'group', 'edge'].map((s) => html`<option value=${s} selected=${from.scope === s}>${t('fleet.scope.' + s)}</option>`)}
      </select>
      <label for="rollout-target">${t('fleet.target')}</label><input id="rollout-target" name="target" defaultValue=${from.target} />
      <label for="rollout-doc">${t('rollout.content')}</label>
      <textarea id="rollout-doc" name="doc" rows="10" spellcheck="false" class="code">${from.text}</textarea>
      <label for="rollout-labels">${t('rollout.labels')}</label>
      <input id="rollout-labels" name="labels" placeholder="line=press, ring=canary" aria-describedby="rollout-labels-hint" />
      <span id="rollout-labels-hint" class="meta">${t('rollout.labelsHint')}</span>
      <label for="rollout-group">${t('fleet.group')}</label><input id="rollout-group" name="group" />
      <label for="rollout-canary">${t('rollout.canary')}</label>
      <input id="rollout-canary" name="canary" defaultValue="1" aria-describedby="rollout-canary-hint" />
      <span id="rollout-canary-hint" class="meta">${t('rollout.canaryHint')}</span>
      <label for="rollout-ramp">${t('rollout.ramp')}</label><input id="rollout-ramp" name="ramp" type="number" min="1" max="10" defaultValue="2" />
      <label for="rollout-rate">${t('rollout.rate')}</label><input id="rollout-rate" name="max_per_minute" type="number" min="1" defaultValue="60" />
      <label for="rollout-fail">${t('rollout.failurePercent')}</label><input id="rollout-fail" name="failure_percent" type="number" min="0" max="100" step="any" defaultValue="10" />
      <label for="rollout-minfail">${t('rollout.minFailures')}</label><input id="rollout-minfail" name="min_failures" type="number" min="1" defaultValue="1" />
      <label for="rollout-timeout">${t('rollout.stepTimeout')}</label>
      <input id="rollout-timeout" name="step_timeout" defaultValue="10m" aria-describedby="rollout-timeout-hint" />
      <span id="rollout-timeout-hint" class="meta">${t('rollout.stepTimeoutHint')}</span>
      <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('rollout.start')}</button>
    </form>
    ${act.status}
  </section>`;
}

export function RolloutDetail({ id, who }) {
  const d = useApi(at('fleet/rollouts/{rollout}', { rollout: id }), null, [who.org, id]);
  const act = useAction();
  useRefresh(!!(d.data && active(d.data)), d.reload);
  if (d.error) return html`<${Refusal} error=${d.error} />`;
  if (!d.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const r = d.data;
  const sp = r.spec;
  const calls = {
    pause: () => api(at('fleet/rollouts/{rollout}/pause', { rollout: id }), { method: 'POST' }),
    resume: () => api(at('fleet/rollouts/{rollout}/resume', { rollout: id }), { method: 'POST' }),
    abort: () => api(at('fleet/rollouts/{rollout}/abort', { rollout: id }), { method: 'POST' }),
  };
  async function change(action) {
    if (await act.run(calls[action], t('rollout.done.' + action))) d.reload();
  }
  const stepState = (i) => (i < r.step || r.state === 'completed' ? 'passed' : i === r.step ? (active(r) ? 'current' : r.state) : 'pending');
  const engineer = can(who, 'engineer');
  return html`<p><a href=${href('fleet', ['rollouts'])}>${t('rollout.back')}</a></p>
    <h2>${t('rollout.rollout')} <code>${r.id}</code> <span id="rollout-state" data-state=${r.state}><${Badge} s=${r.state} /></span></h2>
    ${r.reason && html`<p class=${r.state === 'aborted' ? 'error' : 'note'} data-reason>${r.reason}</p>`}
    <div class="columns">
      <section class="panel" aria-labelledby="rollout-plan-h">
        <h3 id="rollout-plan-h">${t('rollout.plan')}</h3>
        <dl class="facts">
          <dt>${t('fleet.layer')}</dt><dd>${layerName(sp)}</dd>
          <dt>${t('rollout.selector')}</dt><dd>${Object.entries(sp.labels || {}).map(([k, v]) => k + '=' + v).join(', ') || t('rollout.all')}${sp.group ? ' · ' + t('fleet.group') + ' ' + sp.group : ''}</dd>
          <dt>${t('rollout.canary')}</dt><dd>${sp.canary_percent ? fmtNum(sp.canary_percent, 0) + ' %' : sp.canary_count}</dd>
          <dt>${t('rollout.ramp')}</dt><dd>×${sp.ramp}, ${t('rollout.perMinute', { n: sp.max_per_minute })}</dd>
          <dt>${t('rollout.threshold')}</dt><dd>${t('rollout.thresholdText', { pct: fmtNum(sp.failure_percent, 0), min: sp.min_failures })}</dd>
          <dt>${t('rollout.stepTimeout')}</dt><dd>${sp.step_timeout}</dd>
          <dt>${t('rollout.started')}</dt><dd>${fmtAgo(Date.parse(r.created))} · ${r.created_by}</dd>
        </dl>
        ${engineer && active(r) && html`<p class="actions">
          ${r.state === 'running' ? html`<button type="button" onClick=${() => change('pause')} disabled=${act.busy}>${t('rollout.pause')}</button>`
            : html`<button type="button" onClick=${() => change('resume')} disabled=${act.busy}>${t('rollout.resume')}</button>`}
          <button type="button" class="danger" onClick=${() => change('abort')} disabled=${act.busy}>${t('rollout.abort')}</button></p>`}
        ${act.status}
      </section>
      <section class="panel" aria-labelledby="rollout-steps-h">
        <h3 id="rollout-steps-h">${t('rollout.steps')}</h3>
        <ol class="steps">${r.steps.map((n, i) => html`<li data-step=${i} data-step-state=${stepState(i)}>
          ${i === 0 ? t('rollout.canaryStep', { n }) : t('rollout.step', { n })} — ${t('rollout.stepState.' + stepState(i))}</li>`)}</ol>
        <p>${t('rollout.counts', counts(r))}</p>
      </section>
    </div>
    <section tabindex="0" aria-labelledby="rollout-edges-h">
      <h3 id="rollout-edges-h">${t('rollout.edges')}</h3>
      <table><caption class="sr-only">${t('rollout.edges')}</caption>
        <thead><tr><th scope="col">${t('fleet.edge')}</th><th scope="col">${t('rollout.stepTitle')}</th><th scope="col">${t('rollout.stateTitle')}</th>
          <th scope="col">${t('rollout.version')}</th><th scope="col">${t('rollout.detail')}</th></tr></thead>
        <tbody>${r.edges.map((e) => html`<tr data-rollout-edge=${e.edge} data-edge-state=${e.state}>
          <th scope="row"><a href=${href('fleet', ['edge', e.edge])}><code>${e.edge}</code></a></th>
          <td>${e.step < 0 ? '–' : e.step + 1}</td><td><${Badge} s=${e.state} /></td><td>${e.version || '–'}</td><td>${e.detail || ''}</td></tr>`)}</tbody>
      </table>
    </section>`;
}
