// The shell: who is signed in, the navigation of the areas they may see,
// the organisation switcher, language and theme, and the sign-in screen.
import {
  html, render, useState, useEffect, useRef, signal, useSignal, t, lang, languages, setLang, theme, setTheme,
  api, auth, setToken, unauthorised, route, areas, href,
} from './core.js';
import './factory.js';
import './account.js';
import './admin.js';
import './programme.js';
import './network.js';
import './fleet.js';
import './notify.js';
import './academy.js';
import './market.js';

// who is the signed-in principal: {kind: "person"|"token", name, org,
// role, orgs}; null while unknown, false when nobody is signed in.
const who = signal(null);

// A demo's link carries #token=…: keep it for this tab and take it out of
// the address, which then shows the view.
function takeToken() {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (m) {
    setToken(decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search + '#/');
    route.value = { area: '', path: [], query: new URLSearchParams() };
  }
}

async function loadWho() {
  try {
    if (auth.token) {
      const w = await api('whoami');
      who.value = { kind: 'token', name: w.name, org: w.org, role: w.role, orgs: [] };
      return;
    }
    const me = await api('me');
    auth.csrf = me.csrf;
    who.value = { kind: 'person', name: me.name || me.email, email: me.email, org: me.org, role: me.role, orgs: me.orgs || [], via: me.via };
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      if (auth.token) setToken('');
      who.value = false;
    } else {
      who.value = { error: e.message };
    }
  }
}

function SignIn() {
  const [step, setStep] = useState('password');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const first = useRef(null);
  useEffect(() => { if (first.current) first.current.focus(); }, [step]);
  async function submit(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    setBusy(true);
    setErr('');
    try {
      const res = step === 'password'
        ? await api('auth/login', { method: 'POST', body: { email: f.get('email'), password: f.get('password') } })
        : await api('auth/totp', { method: 'POST', body: { code: String(f.get('code')).replace(/\s/g, '') } });
      if (res.second_factor) { setStep('totp'); return; }
      auth.csrf = res.csrf;
      await loadWho();
    } catch (e) {
      setErr(e.status === 401 ? t(step === 'password' ? 'signin.wrong' : 'signin.wrongCode')
        : e.status === 429 ? t('signin.locked') : e.message);
    } finally {
      setBusy(false);
    }
  }
  return html`<main id="main" class="signin">
    <form class="panel" onSubmit=${submit} aria-describedby=${err ? 'signin-error' : undefined}>
      <h1><img src="/static/favicon.svg" alt="" width="32" height="32" /> ${t('signin.title')}</h1>
      ${err && html`<p id="signin-error" class="error" role="alert">${err}</p>`}
      ${step === 'password' ? html`
        <label for="email">${t('signin.email')}</label>
        <input id="email" name="email" type="email" autocomplete="username" required ref=${first} />
        <label for="password">${t('signin.password')}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
      ` : html`
        <p>${t('signin.totpHelp')}</p>
        <label for="code">${t('signin.code')}</label>
        <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,8}" required ref=${first} />
      `}
      <button type="submit" class="primary" disabled=${busy}>${step === 'password' ? t('signin.submit') : t('signin.verify')}</button>
      ${step === 'password' && html`<button type="button" class="ghost" onClick=${() => setStep('totp')}>${t('signin.haveCode')}</button>`}
      <p class="hint">${t('signin.hint')}</p>
      <p class="hint"><a href="#/catalogue">${t('cat.title')}</a></p>
    </form>
    <${Prefs} />
  </main>`;
}

function Prefs() {
  const l = useSignal(lang);
  const th = useSignal(theme);
  return html`<div class="prefs">
    <label class="sr-only" for="lang-select">${t('prefs.language')}</label>
    <select id="lang-select" value=${l} onChange=${(e) => setLang(e.target.value)} data-testid="lang">
      ${languages.map((x) => html`<option value=${x}>${t('lang.' + x)}</option>`)}
    </select>
    <button type="button" class="ghost" onClick=${() => setTheme(th === 'dark' ? 'light' : 'dark')}
      aria-pressed=${th === 'dark'} title=${t('prefs.dark')}>${th === 'dark' ? '☾' : '☀'}<span class="sr-only">${t('prefs.dark')}</span></button>
  </div>`;
}

function OrgSwitcher({ w }) {
  const [err, setErr] = useState('');
  if (w.kind !== 'person' || w.orgs.length < 2) {
    return html`<span class="org" title=${t('shell.org')}>${w.org}</span>`;
  }
  async function change(e) {
    try {
      const res = await api('auth/switch', { method: 'POST', body: { org: e.target.value } });
      auth.csrf = res.csrf;
      await loadWho();
      location.hash = '#/';
    } catch (x) { setErr(x.message); }
  }
  return html`<span class="org">
    <label class="sr-only" for="org-select">${t('shell.org')}</label>
    <select id="org-select" value=${w.org} onChange=${change}>
      ${w.orgs.map((o) => html`<option value=${o.org}>${o.org_name || o.org}${o.delegate ? ' (' + t('shell.delegated') + ')' : ''}</option>`)}
    </select>
    ${err && html`<span role="alert" class="error">${err}</span>`}
  </span>`;
}

async function signOut() {
  if (auth.token) setToken('');
  else {
    try { await api('auth/logout', { method: 'POST' }); } catch { /* the session is gone either way */ }
  }
  auth.csrf = '';
  who.value = false;
}

function Shell({ w }) {
  const r = useSignal(route);
  useSignal(lang);
  const visible = areas.filter((a) => a.visible(w));
  const current = visible.find((a) => a.id === r.area) || visible[0];
  const [menu, setMenu] = useState(false);
  useEffect(() => {
    document.title = (current ? t(current.title) + ' · ' : '') + 'molen';
    // The address the page now shows, for scripts (and tests) that need
    // to know a navigation has been rendered, not only started.
    document.documentElement.dataset.view = location.hash;
    setMenu(false);
  }, [r, current]);
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>${t('shell.skip')}</a>
    <header class="top">
      <a class="brand" href="#/"><img src="/static/favicon.svg" alt="" width="28" height="28" /><span>molen</span></a>
      <button type="button" class="ghost menu-toggle" aria-expanded=${menu} aria-controls="nav" onClick=${() => setMenu(!menu)}>☰<span class="sr-only">${t('shell.menu')}</span></button>
      <nav id="nav" class=${menu ? 'open' : ''} aria-label=${t('shell.nav')}>
        <ul>${visible.map((a) => html`<li><a href=${href(a.id)} aria-current=${a === current ? 'page' : undefined}>${t(a.title)}</a></li>`)}</ul>
      </nav>
      <div class="who">
        <${OrgSwitcher} w=${w} />
        <span class="user">${w.name}</span>
        <${Prefs} />
        <button type="button" class="ghost" onClick=${signOut}>${t('shell.signout')}</button>
      </div>
    </header>
    <main id="main" tabindex="-1">
      ${current ? html`<${current.view} route=${r} who=${w} />` : html`<p>${t('shell.nothing')}</p>`}
    </main>`;
}

function App() {
  const w = useSignal(who);
  const u = useSignal(unauthorised);
  const r = useSignal(route);
  useSignal(lang);
  useEffect(() => { if (u && who.value) { auth.csrf = ''; who.value = false; } }, [u]);
  if (w === null) return html`<p class="boot" role="status">${t('shell.loading')}</p>`;
  // Signed out, only a public area (the catalogue) or the sign-in.
  const pub = areas.find((a) => a.public && a.id === r.area);
  if (w === false) return pub ? html`<${pub.view} route=${r} who=${null} />` : html`<${SignIn} />`;
  if (w.error) return html`<main id="main" class="panel"><p role="alert" class="error">${t('shell.unreachable')}: ${w.error}</p></main>`;
  return html`<${Shell} w=${w} />`;
}

takeToken();
addEventListener('hashchange', takeToken);
render(html`<${App} />`, document.getElementById('app'));
loadWho();
