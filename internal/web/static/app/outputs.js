// An edge's outputs besides the hub (docs/outputs.md), from its report:
// one row each with its state and counters. Shown on the fleet's edge
// page. Hooks for browser tests: [data-output] a row (output name) with
// [data-output-state].
import { html, t, fmtNum } from './core.js';

export function Outputs({ outputs }) {
  if (!outputs || outputs.length === 0) return null;
  return html`<section tabindex="0" aria-labelledby="fleet-outputs-h">
    <h3 id="fleet-outputs-h">${t('fleet.outputs')}</h3>
    <table>
      <caption class="sr-only">${t('fleet.outputs')}</caption>
      <thead><tr>
        <th scope="col">${t('fleet.outputName')}</th><th scope="col">${t('fleet.outputState')}</th>
        <th scope="col" class="num">${t('fleet.outputSent')}</th><th scope="col" class="num">${t('fleet.outputPending')}</th>
        <th scope="col" class="num">${t('fleet.outputLag')}</th><th scope="col" class="num">${t('fleet.outputDropped')}</th>
      </tr></thead>
      <tbody>${outputs.map((o) => html`<tr data-output=${o.name}>
        <td>${o.name} (${o.kind})</td>
        <td data-output-state=${o.state}>${t('fleet.output.' + o.state)}${o.error ? html` — <span class="error">${o.error}</span>` : ''}</td>
        <td class="num">${fmtNum(o.sent, 0)}</td><td class="num">${fmtNum(o.pending, 0)}</td>
        <td class="num">${fmtNum(o.lag_seconds, 0)} s</td><td class="num">${fmtNum(o.dropped, 0)}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}
