// Your account: name, password, second factor (TOTP), sessions, export of
// your data and erasing the account. Also the small pieces the admin area
// shares: at() for routes with an ID, Refusal for the hub's answers, Once
// for a secret shown once with a copy button, and useAction.
//
// Hooks for browser tests (keep them stable): [data-secret] a secret shown
// once, [data-totp-secret] the second factor's secret (base32, no spaces),
// img[data-totp-qr] its QR code,
// [data-session] a session row.
import {
  html, useState, useApi, api, download, t, lang, useSignal, registerArea, fmtTime, auth,
} from './core.js';

registerArea({ id: 'account', title: 'area.account', visible: (w) => w.kind === 'person', view: AccountView });

// at fills a route's {placeholders} with path-escaped values:
// at('members/{user}', {user: id}) → "members/usr_…". Keeping the route's
// own spelling lets the contract test check the hub serves it.
export function at(path, vars) {
  return path.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(vars[k]));
}

// roleName is a role's name in the current language.
export const roleName = (r) => (r ? t('role.' + r) : '');

// Refusal says what the hub refused, plainly: a role too weak, a missing
// route, or the hub's own message.
export function Refusal({ error }) {
  if (!error) return null;
  const why = error.status === 403 ? t('admin.refused')
    : error.status === 404 || error.status === 405 ? t('error.unavailable') : '';
  return html`<p role="alert" class="error">${why}${why && error.message ? ' — ' : ''}${error.status === 404 ? '' : error.message}</p>`;
}

// useAction runs an API change and keeps its error and a success message;
// run returns the answer, or undefined when the hub refused.
export function useAction() {
  const [st, set] = useState({ busy: false, error: null, done: '' });
  async function run(fn, done) {
    set({ busy: true, error: null, done: '' });
    try {
      const res = await fn();
      set({ busy: false, error: null, done: typeof done === 'function' ? done(res) : (done || '') });
      return res ?? true;
    } catch (e) {
      set({ busy: false, error: e, done: '' });
      return undefined;
    }
  }
  const status = html`<${Refusal} error=${st.error} />${st.done && html`<p role="status" class="ok">${st.done}</p>`}`;
  return { ...st, run, status, clear: () => set({ busy: false, error: null, done: '' }) };
}

// Once shows a secret (a link or a token) the hub will not show again,
// with a button that copies it.
export function Once({ label, value, onClose }) {
  const [copied, setCopied] = useState('');
  const id = 'once-' + label.replace(/\W+/g, '-');
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(t('once.copied'));
    } catch {
      const el = document.getElementById(id);
      el.select();
      setCopied(t('once.select'));
    }
  }
  return html`<div class="once panel" role="group" aria-labelledby=${id + '-l'}>
    <p id=${id + '-l'}><strong>${label}</strong> ${t('once.warning')}</p>
    <div class="inline">
      <input id=${id} class="secret" readonly value=${value} data-secret=${value} aria-labelledby=${id + '-l'}
        onFocus=${(e) => e.target.select()} />
      <button type="button" onClick=${copy}>${t('once.copy')}</button>
      ${onClose && html`<button type="button" class="ghost" onClick=${onClose}>${t('once.done')}</button>`}
    </div>
    <p role="status" class="meta">${copied}</p>
  </div>`;
}

// ---- the account page ----------------------------------------------------

function AccountView({ who }) {
  useSignal(lang);
  const me = useApi('me', null, [who.org]);
  if (me.error) return html`<h1>${t('account.title')}</h1><${Refusal} error=${me.error} />`;
  if (!me.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const m = me.data;
  return html`<h1>${t('account.title')} <small>${m.email}</small></h1>
    <div class="columns">
      <${Profile} me=${m} reload=${me.reload} />
      <${Password} me=${m} />
      <${SecondFactor} me=${m} reload=${me.reload} />
    </div>
    <${Sessions} />
    <${YourData} me=${m} />`;
}

function Profile({ me, reload }) {
  const act = useAction();
  async function save(e) {
    e.preventDefault();
    const name = new FormData(e.target).get('name');
    if (await act.run(() => api('me', { method: 'PATCH', body: { name } }), t('account.saved'))) reload();
  }
  return html`<section class="panel" aria-labelledby="acc-profile">
    <h2 id="acc-profile">${t('account.profile')}</h2>
    <dl class="facts">
      <dt>${t('account.email')}</dt><dd>${me.email}</dd>
      <dt>${t('account.org')}</dt><dd>${me.org} (${roleName(me.role)})</dd>
      <dt>${t('account.created')}</dt><dd>${fmtTime(me.created)}</dd>
      <dt>${t('account.lastLogin')}</dt><dd>${fmtTime(me.last_login)}</dd>
    </dl>
    <form class="stack" onSubmit=${save}>
      <label for="acc-name">${t('account.name')}</label>
      <input id="acc-name" name="name" autocomplete="name" maxlength="200" value=${me.name} required />
      <button type="submit" disabled=${act.busy}>${t('account.saveName')}</button>
    </form>
    ${act.status}
  </section>`;
}

function Password({ me }) {
  const act = useAction();
  async function change(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    if (f.get('new') !== f.get('again')) { act.run(() => Promise.reject(new Error(t('account.mismatch')))); return; }
    const form = e.target;
    if (await act.run(() => api('me/password', { method: 'POST', body: { current: f.get('current'), new: f.get('new') } }), t('account.passwordChanged'))) form.reset();
  }
  return html`<section class="panel" aria-labelledby="acc-password">
    <h2 id="acc-password">${t('account.password')}</h2>
    ${me.has_password === false && html`<p class="note">${t('account.noPassword')}</p>`}
    <form class="stack" onSubmit=${change}>
      <label for="acc-current">${t('account.current')}</label>
      <input id="acc-current" name="current" type="password" autocomplete="current-password" required />
      <label for="acc-new">${t('account.new')}</label>
      <input id="acc-new" name="new" type="password" autocomplete="new-password" minlength="12" required aria-describedby="acc-new-hint" />
      <span id="acc-new-hint" class="meta">${t('account.newHint')}</span>
      <label for="acc-again">${t('account.again')}</label>
      <input id="acc-again" name="again" type="password" autocomplete="new-password" minlength="12" required />
      <button type="submit" disabled=${act.busy}>${t('account.changePassword')}</button>
    </form>
    ${act.status}
  </section>`;
}

// groups writes a base32 secret in groups of four, easier to type.
const groups = (s) => s.replace(/(.{4})/g, '$1 ').trim();

function SecondFactor({ me, reload }) {
  const [pending, setPending] = useState(null);
  const act = useAction();
  async function begin() {
    const res = await act.run(() => api('me/totp', { method: 'POST' }));
    if (res) setPending(res);
  }
  async function confirm(e) {
    e.preventDefault();
    const code = String(new FormData(e.target).get('code')).replace(/\s/g, '');
    if (await act.run(() => api('me/totp/confirm', { method: 'POST', body: { code } }), t('totp.on'))) { setPending(null); reload(); }
  }
  async function remove(e) {
    e.preventDefault();
    const password = new FormData(e.target).get('password');
    if (await act.run(() => api('me/totp', { method: 'DELETE', body: { password } }), t('totp.removed'))) reload();
  }
  return html`<section class="panel" aria-labelledby="acc-totp">
    <h2 id="acc-totp">${t('totp.title')} <span class=${'badge ' + (me.second_factor ? 'running' : '')}>${me.second_factor ? t('totp.enabled') : t('totp.disabled')}</span></h2>
    ${!me.second_factor && !pending && html`<p>${t('totp.explain')}</p>
      <button type="button" class="primary" onClick=${begin} disabled=${act.busy}>${t('totp.begin')}</button>`}
    ${pending && html`<ol class="steps">
        <li>${t('totp.step1')}
          <p><img class="qr" data-totp-qr src=${pending.qr} width="200" height="200" alt=${t('totp.qr')} /></p>
          <p>${t('totp.orType')}</p>
          <p><code class="secret big" data-totp-secret=${pending.secret} aria-label=${t('totp.secret')}>${groups(pending.secret)}</code></p>
          <p class="meta">${t('totp.orLink')} <a href=${pending.uri}>${t('totp.link')}</a></p></li>
        <li><form class="stack" onSubmit=${confirm}>
          <label for="totp-code">${t('totp.step2')}</label>
          <input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,8}" required />
          <button type="submit" class="primary" disabled=${act.busy}>${t('totp.confirm')}</button>
        </form></li>
      </ol>`}
    ${me.second_factor && html`<form class="stack" onSubmit=${remove}>
        <label for="totp-password">${t('totp.removeWith')}</label>
        <input id="totp-password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit" class="danger" disabled=${act.busy}>${t('totp.remove')}</button>
      </form>`}
    ${act.status}
  </section>`;
}

function Sessions() {
  const list = useApi('me/sessions');
  const act = useAction();
  async function end(s) {
    if (await act.run(() => api(at('me/sessions/{session}', { session: s.id }), { method: 'DELETE' }), t('sessions.ended'))) list.reload();
  }
  async function endOthers(rows) {
    const others = rows.filter((s) => !s.current);
    if (await act.run(async () => { for (const s of others) await api(at('me/sessions/{session}', { session: s.id }), { method: 'DELETE' }); }, t('sessions.othersEnded', { n: others.length }))) list.reload();
  }
  const rows = list.data ? list.data.sessions : [];
  return html`<section tabindex="0" aria-labelledby="acc-sessions">
    <h2 id="acc-sessions">${t('sessions.title')}
      ${rows.some((s) => !s.current) && html`<button type="button" onClick=${() => endOthers(rows)} disabled=${act.busy}>${t('sessions.endOthers')}</button>`}</h2>
    <${Refusal} error=${list.error} />
    ${act.status}
    <table class="data">
      <thead><tr><th>${t('sessions.device')}</th><th>${t('sessions.addr')}</th><th>${t('account.org')}</th>
        <th>${t('sessions.created')}</th><th>${t('sessions.seen')}</th><th>${t('admin.actions')}</th></tr></thead>
      <tbody>${rows.map((s) => html`<tr data-session=${s.id}>
        <td>${s.agent || '–'} ${s.current && html`<span class="badge running">${t('sessions.this')}</span>`}</td>
        <td>${s.addr}</td><td>${s.org}</td><td>${fmtTime(s.created)}</td><td>${fmtTime(s.seen)}</td>
        <td>${!s.current && html`<button type="button" onClick=${() => end(s)} aria-label=${t('sessions.endOne', { when: fmtTime(s.created) })}>${t('sessions.end')}</button>`}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}

function YourData({ me }) {
  const act = useAction();
  async function erase(e) {
    e.preventDefault();
    const password = new FormData(e.target).get('password');
    if (!confirm(t('erase.confirm', { email: me.email }))) return;
    if (await act.run(() => api('me', { method: 'DELETE', body: { password } }))) {
      auth.csrf = '';
      location.hash = '#/';
      location.reload();
    }
  }
  return html`<section aria-labelledby="acc-data">
    <h2 id="acc-data">${t('data.title')}</h2>
    <p>${t('data.explain')}</p>
    <button type="button" onClick=${() => act.run(() => download('me/export'), (n) => t('data.saved', { name: n }))}>${t('data.export')}</button>
    <details class="admin">
      <summary>${t('erase.title')}</summary>
      <p class="note">${t('erase.explain')}</p>
      <form class="inline" onSubmit=${erase}>
        <label for="erase-password">${t('erase.password')}</label>
        <input id="erase-password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit" class="danger" disabled=${act.busy}>${t('erase.button')}</button>
      </form>
    </details>
    ${act.status}
  </section>`;
}
