// Remote diagnostics of one edge (docs/fleet.md#diagnostics), on the
// edge's page for engineers: its status and recent logs as the edge sends
// them, a restart of one input (confirmed first), a draft pipeline tried
// on the edge's live data, and a support bundle to download. Each action
// is a command the edge takes at its long poll; the screen waits for the
// result.
//
// Hooks for browser tests (keep them stable): [data-diag] the panel,
// [data-diag-run] a button (its kind), [data-diag-result] the result (its
// kind, data-state the command's state), [data-log] a log record,
// [data-restart] an input's restart button (its name), [data-test-line]
// a line of a pipeline test's output, [data-bundle] the download link,
// [data-command] a row of the recent actions (its kind, data-state).
import { html, useState, useApi, api, t, apiURL, fmtAgo } from './core.js';
import { at, Refusal } from './account.js';

const DRAFT = `pipelines:
  - name: draft
    match: ["#"]
    stages:
      - deadband: {absolute: 0.5}
`;

// run sends a command and waits for its result, long-polling the hub.
async function run(edge, kind, args, onState) {
  const c = await api(at('fleet/edges/{edge}/commands', { edge }), { method: 'POST', body: { kind, args } });
  onState(c);
  let cur = c;
  for (let i = 0; i < 40 && (cur.state === 'pending' || cur.state === 'sent'); i++) {
    cur = await api(at('fleet/edges/{edge}/commands/{command}', { edge, command: c.id }), { params: { wait: '25s' } });
    onState(cur);
  }
  return cur;
}

export function Diagnostics({ id, inputs }) {
  const [res, setRes] = useState(null); // the last command: {kind, state, output, error, id}
  const [error, setError] = useState(null);
  const [spec, setSpec] = useState(DRAFT);
  const busy = res && (res.state === 'pending' || res.state === 'sent');
  const recent = useApi(at('fleet/edges/{edge}/commands', { edge: id }), null, [id, res && res.id, res && res.state]);
  async function go(kind, args) {
    setError(null);
    try {
      await run(id, kind, args, setRes);
    } catch (e) {
      setError(e);
    }
  }
  function restart(name) {
    if (!confirm(t('diag.restartConfirm', { input: name }))) return;
    go('restart-input', { input: name });
  }
  return html`<section class="panel" data-diag aria-labelledby="diag-h">
    <h3 id="diag-h">${t('diag.title')}</h3>
    <p class="note">${t('diag.note')}</p>
    <div class="inline" role="group" aria-label=${t('diag.actions')}>
      <button type="button" data-diag-run="status" disabled=${busy} onClick=${() => go('status')}>${t('diag.status')}</button>
      <button type="button" data-diag-run="logs" disabled=${busy} onClick=${() => go('logs')}>${t('diag.logs')}</button>
      <button type="button" data-diag-run="bundle" disabled=${busy} onClick=${() => go('bundle')}>${t('diag.bundle')}</button>
    </div>
    ${inputs && inputs.length > 0 && html`<h4>${t('diag.inputs')}</h4><ul class="plain">
      ${inputs.map((i) => html`<li>${i.name} (${i.kind}): ${i.state}
        <button type="button" data-restart=${i.name} disabled=${busy} onClick=${() => restart(i.name)}>${t('diag.restart')}</button></li>`)}
    </ul>`}
    <form class="stack" onSubmit=${(e) => { e.preventDefault(); go('pipeline-test', { spec }); }}>
      <label for="diag-spec">${t('diag.draft')}</label>
      <textarea id="diag-spec" rows="7" spellcheck="false" value=${spec} onInput=${(e) => setSpec(e.target.value)}></textarea>
      <button type="submit" data-diag-run="pipeline-test" disabled=${busy}>${t('diag.test')}</button>
    </form>
    <${Refusal} error=${error} />
    ${res && html`<${Result} edge=${id} c=${res} />`}
    ${recent.data && recent.data.commands.length > 0 && html`<h4 id="diag-recent-h">${t('diag.recent')}</h4>
      <div class="lines" tabindex="0" aria-labelledby="diag-recent-h"><table><caption class="sr-only">${t('diag.recent')}</caption>
        <thead><tr><th scope="col">${t('diag.action')}</th><th scope="col">${t('diag.stateTitle')}</th><th scope="col">${t('diag.by')}</th><th scope="col">${t('diag.when')}</th></tr></thead>
        <tbody>${recent.data.commands.map((c) => html`<tr data-command=${c.kind} data-state=${c.state}>
          <td>${t('diag.kind.' + c.kind)}${c.args && c.args.input ? ' ' + c.args.input : ''}</td>
          <td><span class=${'badge state-' + c.state}>${t('diag.state.' + c.state)}</span></td><td><code>${c.actor}</code></td>
          <td>${fmtAgo(Date.parse(c.created))}</td></tr>`)}</tbody></table></div>`}
  </section>`;
}

function Result({ edge, c }) {
  const head = html`<h4>${t('diag.kind.' + c.kind)} <span class=${'badge state-' + c.state}>${t('diag.state.' + c.state)}</span></h4>`;
  let body = null;
  if (c.state === 'pending' || c.state === 'sent') body = html`<p role="status">${t('diag.waiting')}</p>`;
  else if (c.state === 'failed' || c.state === 'expired') body = html`<p role="alert" class="error">${c.error}</p>`;
  else if (c.kind === 'logs') {
    const recs = (c.output && c.output.records) || [];
    body = html`<div class="lines" tabindex="0" aria-label=${t('diag.logs')}><table><caption class="sr-only">${t('diag.logs')}</caption>
      <thead><tr><th scope="col">${t('diag.time')}</th><th scope="col">${t('diag.level')}</th><th scope="col">${t('diag.message')}</th></tr></thead>
      <tbody>${recs.slice().reverse().map((r) => html`<tr data-log><td>${new Date(r.time).toLocaleString()}</td><td>${r.level}</td>
        <td>${r.msg} <small>${r.attrs}</small></td></tr>`)}</tbody></table></div>`;
  } else if (c.kind === 'status') {
    const s = c.output || {};
    const o = s.outbox || {};
    body = html`<dl class="facts">
      <dt>${t('diag.inputsState')}</dt><dd>${(s.inputs || []).length === 0 ? '–' : s.inputs.map((i) => html`<div>${i.input} (${i.kind}): ${i.state}${i.last_error ? ' — ' + i.last_error : ''}</div>`)}</dd>
      <dt>${t('diag.buffer')}</dt><dd>${t('diag.bufferText', { records: o.pending_records ?? 0, points: o.pending_points ?? 0 })}</dd>
      <dt>${t('diag.hub')}</dt><dd>${(s.hub && s.hub.last_error) || t('diag.hubOk')}</dd>
    </dl>`;
  } else if (c.kind === 'pipeline-test') {
    const p = c.output || {};
    body = html`<p>${t('diag.testText', { points: p.points_in, series: p.series, out: (p.output || []).length })}</p>
      ${(p.warnings || []).map((w) => html`<p class="note">${t('diag.warning')} ${w}</p>`)}
      <pre class="lines" tabindex="0" aria-label=${t('diag.output')}>${(p.output || []).map((l) => html`<span data-test-line>${l}</span>`)}</pre>
      <pre tabindex="0" aria-label=${t('diag.explain')}>${p.explain}</pre>`;
  } else if (c.kind === 'bundle') {
    body = html`<p><a data-bundle href=${apiURL(at('fleet/edges/{edge}/commands/{command}/bundle', { edge, command: c.id })).toString()}
      download>${t('diag.download', { kib: Math.ceil((c.bundle_bytes || 0) / 1024) })}</a></p>`;
  } else if (c.kind === 'restart-input') {
    body = html`<p role="status">${t('diag.restarted', { input: c.args && c.args.input })}</p>`;
  }
  return html`<div data-diag-result=${c.kind} data-state=${c.state} aria-live="polite">${head}${body}</div>`;
}
