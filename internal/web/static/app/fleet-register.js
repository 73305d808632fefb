// Registering an edge (engineers): a name gives a one-time enrollment
// token, shown once with the commands that start the edge with it; and
// revoking one (admins), after a confirmation. fleet.js places them.
//
// Hooks for browser tests: [data-register-edge] the form,
// [data-enroll-command] the commands shown with the token,
// [data-revoke-edge] the revoke button.
import { html, useState, api, t, can } from './core.js';
import { at, Once, useAction } from './account.js';

// RegisterEdge is the "Register an edge" form of the inventory.
export function RegisterEdge({ onDone }) {
  const act = useAction();
  const [made, setMade] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const form = e.target;
    const name = String(new FormData(form).get('name') || '').trim();
    const res = await act.run(() => api('edges', { method: 'POST', body: { name } }), (r) => t('fleet.registered', { name: r.name }));
    if (res) {
      form.reset();
      setMade(res);
      onDone();
    }
  }
  const hub = location.origin;
  return html`<section class="panel" aria-labelledby="fleet-reg-h" data-register-edge>
    <h3 id="fleet-reg-h">${t('fleet.register')}</h3>
    <p class="note">${t('fleet.registerNote')}</p>
    <form class="inline" onSubmit=${submit}>
      <label for="fleet-reg-name">${t('fleet.edgeName')}</label>
      <input id="fleet-reg-name" name="name" required maxlength="100" placeholder=${t('fleet.edgeNameHint')} />
      <button type="submit" class="primary" disabled=${act.busy}>${t('fleet.registerButton')}</button>
    </form>
    ${act.status}
    ${made && html`<${Once} label=${t('fleet.enrollToken', { name: made.name })} value=${made.enroll_token} onClose=${() => setMade(null)} />
      <p>${t('fleet.enrollExpires', { at: new Date(made.enroll_expires).toLocaleString() })}</p>
      <p>${t('fleet.enrollHow')}</p>
      <pre data-enroll-command><code>${`molen edge --hub ${hub} --enroll-token ${made.enroll_token}`}</code></pre>
      <p>${t('fleet.enrollDeb')}</p>
      <pre><code>${`# /etc/molen/edge.yaml\nhub: ${hub}\n# /etc/default/molen-edge (mode 0600)\nMOLEN_ENROLL_TOKEN=${made.enroll_token}\n\nsudo systemctl enable --now molen-edge`}</code></pre>`}
  </section>`;
}

// RevokeEdge ends an edge's access (admins): its key and credential stop
// working at once; its data stays.
export function RevokeEdge({ e, who, reload }) {
  const act = useAction();
  if (!can(who, 'admin')) return null;
  // The confirmation stays once the edge's page shows it revoked.
  if (e.revoked) return html`<p class="badge" data-revoked>${t('fleet.revoked')}</p>${act.status}`;
  async function revoke() {
    if (!confirm(t('fleet.confirmRevoke', { name: e.name }))) return;
    if (await act.run(() => api(at('edges/{edge}/revoke', { edge: e.id }), { method: 'POST' }), t('fleet.revokedDone', { name: e.name }))) reload();
  }
  return html`<div class="inline">
    <button type="button" class="danger" onClick=${revoke} disabled=${act.busy} data-revoke-edge>${t('fleet.revoke')}</button>
    <span class="meta">${t('fleet.revokeNote')}</span>
  </div>${act.status}`;
}
