// What an edge says of itself in Margo's terms, on the edge's page: its
// device capabilities (a Margo client's, or the one a molen edge sends with
// its report) and, for a Margo client, each deployment's reported status.
//
// Hooks for browser tests: [data-margo-caps] the capabilities,
// [data-margo-deployment] a deployment's row (its ID) with [data-state].
import { html, t } from './core.js';

export function MargoReported({ caps, deployments }) {
  if (!caps && !(deployments || []).length) return null;
  const p = caps ? caps.properties : null;
  return html`<section tabindex="0" aria-labelledby="fleet-margo-h">
    <h3 id="fleet-margo-h">${t('fleet.margo')}</h3>
    ${p && html`<dl class="facts" data-margo-caps>
      <dt>${t('fleet.margoDevice')}</dt><dd>${p.vendor} ${p.modelNumber} (${p.serialNumber})</dd>
      <dt>${t('fleet.margoRoles')}</dt><dd>${(p.roles || []).join(', ') || '–'}</dd>
      <dt>${t('fleet.margoCPU')}</dt><dd>${t('fleet.margoCores', { n: p.resources.cpu.cores })}${p.resources.cpu.architecture ? ', ' + p.resources.cpu.architecture : ''}</dd>
      <dt>${t('fleet.memory')}</dt><dd>${p.resources.memory}</dd>
      <dt>${t('fleet.disk')}</dt><dd>${p.resources.storage}</dd>
      <dt>${t('fleet.margoInterfaces')}</dt><dd>${(p.resources.interfaces || []).map((i) => i.type).join(', ') || '–'}</dd>
    </dl>`}
    ${(deployments || []).length > 0 && html`<table>
      <caption>${t('fleet.margoDeployments')}</caption>
      <thead><tr><th scope="col">${t('fleet.margoDeployment')}</th><th scope="col">${t('fleet.partStateTitle')}</th><th scope="col">${t('fleet.margoComponents')}</th></tr></thead>
      <tbody>${deployments.map((d) => html`<tr data-margo-deployment=${d.deploymentId} data-state=${d.status.state}>
        <th scope="row"><code>${d.deploymentId}</code></th>
        <td><span class=${'badge state-' + d.status.state}>${t('fleet.partState.' + d.status.state)}</span>${d.status.error && d.status.error.message ? ' — ' + d.status.error.message : ''}</td>
        <td>${(d.components || []).map((c) => c.name + ': ' + t('fleet.partState.' + c.state)).join(', ') || '–'}</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}
