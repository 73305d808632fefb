// The secrets of one desired-state layer, in the layer editor: their names
// and when each was set, never their values. A value is write-only: it is
// typed into a password field, sent once (PUT …/secrets/{name}) and the
// field is emptied; replacing it sends a new one. The hub keeps it
// encrypted and sends it to each edge encrypted for that edge's key.
//
// Hooks for browser tests: [data-secret] a secret's row (its name).
import { html, api, t } from './core.js';
import { at, useAction } from './account.js';

// secretCall calls the route of the layer's secret name.
function secretCall(scope, target, name, opts) {
  return scope === 'org' ? api(at('fleet/layers/org/secrets/{name}', { name }), opts)
    : api(at('fleet/layers/{scope}/{target}/secrets/{name}', { scope, target, name }), opts);
}

export function LayerSecrets({ scope, target, secrets, reload }) {
  const act = useAction();
  async function put(form, name, value) {
    if (await act.run(() => secretCall(scope, target, name, { method: 'PUT', body: { value } }), t('fleet.secretSaved'))) {
      form.reset();
      reload();
    }
  }
  function add(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    put(ev.target, f.get('name'), f.get('value'));
  }
  function replace(ev, name) {
    ev.preventDefault();
    put(ev.target, name, new FormData(ev.target).get('value'));
  }
  async function remove(name) {
    if (await act.run(() => secretCall(scope, target, name, { method: 'DELETE' }), t('fleet.secretDeleted'))) reload();
  }
  const layer = t('fleet.scope.' + scope) + (target ? ': ' + target : '');
  return html`<section aria-labelledby="fleet-secrets-h">
    <h3 id="fleet-secrets-h">${t('fleet.secrets', { layer })}</h3>
    <p class="note">${t('fleet.secretsNote')}</p>
    ${(secrets || []).length === 0 ? html`<p>${t('fleet.noSecrets')}</p>` : html`<table>
      <caption class="sr-only">${t('fleet.secrets', { layer })}</caption>
      <thead><tr><th scope="col">${t('fleet.secretName')}</th><th scope="col">${t('fleet.secretState')}</th><th scope="col">${t('fleet.secretReplace')}</th></tr></thead>
      <tbody>${secrets.map((s) => html`<tr data-secret=${s.name}>
        <th scope="row"><code>${s.name}</code></th>
        <td>${t('fleet.secretSet', { when: new Date(s.updated).toLocaleString() })}</td>
        <td><form class="inline" onSubmit=${(ev) => replace(ev, s.name)} aria-label=${t('fleet.secretReplace') + ' ' + s.name}>
          <label>${t('fleet.secretNew')} <input type="password" name="value" required autocomplete="new-password" /></label>
          <button type="submit" disabled=${act.busy}>${t('fleet.secretReplace')}</button>
          <button type="button" class="ghost" onClick=${() => remove(s.name)}>${t('fleet.delete')}</button>
        </form></td></tr>`)}</tbody>
    </table>`}
    <form class="inline" onSubmit=${add} aria-label=${t('fleet.secretAdd')}>
      <label>${t('fleet.secretName')} <input name="name" required pattern="[a-z0-9][a-z0-9._\\-]{0,62}" /></label>
      <label>${t('fleet.secretValue')} <input type="password" name="value" required autocomplete="new-password" /></label>
      <button type="submit" disabled=${act.busy}>${t('fleet.secretAdd')}</button>
    </form>
    ${act.status}
  </section>`;
}
