// The fleet's software screens: the releases the platform uploaded
// (version, platform, signer, when and by whom), the version an edge runs
// next to the one its desired state wants, and the choice of a released
// version in the layer editor (docs/fleet.md#software-update).
//
// Hooks for browser tests (keep them stable): [data-release] a release
// row (version os/arch), [data-software] an edge's software cell or facts
// (data-running, data-wanted, data-state), #fleet-version the editor's
// choice of version.
import { html, useApi, t, fmtTime } from './core.js';
import { Refusal } from './account.js';

// Software is the fleet's Software page: the releases.
export function Software({ who }) {
  const rels = useApi('fleet/releases', null, [who.org]);
  const list = rels.data ? rels.data.releases : [];
  return html`<section tabindex="0" aria-labelledby="fleet-releases-h">
    <h2 id="fleet-releases-h">${t('fleet.releases')}</h2>
    <p class="note">${t('fleet.releasesNote')}</p>
    <${Refusal} error=${rels.error} />
    ${!rels.data && !rels.error ? html`<p role="status">${t('shell.loading')}</p>`
      : list.length === 0 ? html`<p>${t('fleet.noReleases')}</p>` : html`<table>
      <caption class="sr-only">${t('fleet.releases')}</caption>
      <thead><tr><th scope="col">${t('fleet.releaseVersion')}</th><th scope="col">${t('fleet.platform')}</th>
        <th scope="col">${t('fleet.signer')}</th><th scope="col">${t('fleet.uploaded')}</th><th scope="col">${t('fleet.size')}</th></tr></thead>
      <tbody>${list.map((r) => html`<tr data-release=${r.version + ' ' + r.os + '/' + r.arch}>
        <th scope="row">${r.version}</th><td>${r.os}/${r.arch}</td>
        <td><code title=${r.signer}>${r.signer.slice(0, 23)}…</code></td>
        <td>${t('fleet.uploadedBy', { when: fmtTime(Date.parse(r.uploaded)), who: r.uploaded_by })}</td>
        <td>${(r.size / (1 << 20)).toFixed(1)} MiB</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

// SoftwareState shows what an edge's report says of its software: the
// version running and, when the desired state wants another, that one
// with the state of the update.
export function SoftwareState({ report: r }) {
  const sw = r && r.software;
  if (!r) return '–';
  const wanted = sw && sw.wanted && sw.wanted !== r.version ? sw.wanted : '';
  return html`<span data-software data-running=${r.version} data-wanted=${(sw && sw.wanted) || ''} data-state=${(sw && sw.state) || ''}>
    ${r.version || '?'} <small>${r.os}/${r.arch}</small>
    ${wanted && html` → ${wanted} <span class=${'badge state-' + sw.state}>${t('fleet.partState.' + (sw.state || 'pending'))}</span>`}
    ${sw && sw.trial ? html` <span class="badge">${t('fleet.onTrial')}</span>` : ''}
  </span>`;
}

// SoftwareFacts are the software lines of an edge's status.
export function SoftwareFacts({ report: r }) {
  const sw = r && r.software;
  if (!sw) return '';
  return html`<dt>${t('fleet.softwareWanted')}</dt><dd data-software data-running=${r.version} data-wanted=${sw.wanted || ''} data-state=${sw.state || ''}>
      ${sw.wanted ? html`${sw.wanted} <span class=${'badge state-' + (sw.state || 'pending')}>${t('fleet.partState.' + (sw.state || 'pending'))}</span>` : t('fleet.softwareAny')}
      ${sw.error ? html`<div class="error">${sw.error}</div>` : ''}
      <div class="meta">${sw.managed ? t('fleet.launcher') : t('fleet.noLauncher')}${sw.rolled_back ? ' · ' + t('fleet.wentBack', { n: sw.rolled_back }) : ''}${sw.refused ? ' · ' + t('fleet.refusedUpdates', { n: sw.refused }) : ''}</div>
    </dd>`;
}

// VersionPicker lets the layer editor's author choose a released version:
// it writes "software": {"molen": version} into the document of the
// textarea with the ID docID, keeping the rest as it is.
export function VersionPicker({ who, docID, onError }) {
  const rels = useApi('fleet/releases', null, [who.org]);
  const versions = [...new Set(((rels.data && rels.data.releases) || []).map((r) => r.version))];
  function set() {
    const area = document.getElementById(docID);
    const v = document.getElementById('fleet-version').value;
    let doc;
    try { doc = JSON.parse(area.value || '{}'); } catch (e) { onError(e); return; }
    doc.software = v ? { molen: v } : { molen: null };
    area.value = JSON.stringify(doc, null, 2);
    area.focus();
  }
  return html`<label for="fleet-version">${t('fleet.softwareVersion')}</label>
    <span class="inline">
      <select id="fleet-version" aria-describedby="fleet-version-hint">
        <option value="">${t('fleet.softwareNone')}</option>
        ${versions.map((v) => html`<option value=${v}>${v}</option>`)}
      </select>
      <button type="button" onClick=${set}>${t('fleet.setVersion')}</button>
    </span>
    <span id="fleet-version-hint" class="meta">${t('fleet.softwareVersionHint')}</span>`;
}
