// Quotas: an organisation's admins see what it used today of its quota
// (series, points per day) and what the quota refused; a platform admin
// reads and sets any organisation's quota. Shown in the admin area's
// organisations tab.
//
// Hooks for browser tests: [data-quota] a usage table (its organisation).
import { html, useState, useApi, api, t, fmtNum } from './core.js';
import { at, Refusal, useAction } from './account.js';

const limit = (n) => (n ? fmtNum(n) : t('quota.none'));

// Usage is one organisation's quota and use today.
function Usage({ q }) {
  const d = q.today;
  return html`<table class="data" data-quota=${q.org}>
    <caption>${q.default ? t('quota.default') : t('quota.own')}</caption>
    <thead><tr><td></td><th scope="col">${t('quota.used')}</th><th scope="col">${t('quota.limit')}</th><th scope="col">${t('quota.refused')}</th></tr></thead>
    <tbody>
      <tr><th scope="row">${t('quota.series')}</th><td>${fmtNum(d.series)}</td><td>${limit(q.limits.series)}</td><td>${fmtNum(d.refused_series)}</td></tr>
      <tr><th scope="row">${t('quota.points')}</th><td>${fmtNum(d.points)}</td><td>${limit(q.limits.points_per_day)}</td><td>${fmtNum(d.refused_points)}</td></tr>
    </tbody>
  </table>`;
}

// OwnQuota shows the caller's organisation's quota and use today.
export function OwnQuota({ who }) {
  const q = useApi('quota', null, [who.org]);
  return html`<section aria-labelledby="quota-h">
    <h2 id="quota-h">${t('quota.title')}</h2>
    <p class="note">${t('quota.explain')}</p>
    <${Refusal} error=${q.error} />
    ${q.data && html`<${Usage} q=${q.data} />`}
  </section>`;
}

// SetQuota lets a platform admin read and set the quota of one of orgs.
export function SetQuota({ orgs }) {
  const [org, setOrg] = useState('');
  const q = useApi(org ? at('quotas/{org}', { org }) : null, null, [org]);
  const act = useAction();
  async function save(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { series: Number(f.get('series')), points_per_day: Number(f.get('points')) };
    if (await act.run(() => api(at('quotas/{org}', { org }), { method: 'PUT', body }), t('quota.saved'))) q.reload();
  }
  async function reset() {
    if (await act.run(() => api(at('quotas/{org}', { org }), { method: 'DELETE' }), t('quota.reset'))) q.reload();
  }
  return html`<details class="admin">
    <summary>${t('quota.set')}</summary>
    <p class="note">${t('quota.setExplain')}</p>
    <div class="grid-form">
      <label for="quota-org">${t('quota.org')}</label>
      <select id="quota-org" onChange=${(e) => { act.clear(); setOrg(e.target.value); }}>
        <option value="">–</option>
        ${orgs.map((o) => html`<option value=${o.id}>${o.name} (${o.id})</option>`)}
      </select>
    </div>
    <${Refusal} error=${q.error} />
    ${q.data && q.data.org === org && html`<${Usage} q=${q.data} />
      <form class="grid-form" key=${org + JSON.stringify(q.data.limits)} onSubmit=${save}>
        <label for="quota-series">${t('quota.series')}</label>
        <input id="quota-series" name="series" type="number" min="0" step="1" required defaultValue=${q.data.limits.series} aria-describedby="quota-zero" />
        <label for="quota-points">${t('quota.points')}</label>
        <input id="quota-points" name="points" type="number" min="0" step="1" required defaultValue=${q.data.limits.points_per_day} aria-describedby="quota-zero" />
        <span id="quota-zero" class="meta">${t('quota.zero')}</span>
        <span></span><span><button type="submit" class="primary" disabled=${act.busy}>${t('quota.save')}</button>
        <button type="button" disabled=${act.busy || q.data.default} onClick=${reset}>${t('quota.toDefault')}</button></span>
      </form>`}
    ${act.status}
  </details>`;
}
