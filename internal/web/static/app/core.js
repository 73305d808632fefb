// The application's core: rendering (Preact + htm), the text catalogue,
// the hub's API (session cookie + CSRF header, or a bearer token), live
// data, routing and the registry of areas. Pages import from here only.
//
// All text from the hub goes into the page as text (htm escapes it), never
// as markup.
import { h, render } from '../vendor/preact.js';
import { useState, useEffect, useRef, useMemo, useCallback } from '../vendor/preact-hooks.js';
import htm from '../vendor/htm.js';
import { catalogue } from './i18n.js';

export const html = htm.bind(h);
export { render, useState, useEffect, useRef, useMemo, useCallback };

// ---- small reactive store ----------------------------------------------

// A signal is a value with subscribers; useSignal re-renders a component
// when it changes. Enough for the few pieces of global state we have.
export function signal(value) {
  const subs = new Set();
  return {
    get value() { return value; },
    set value(v) { value = v; subs.forEach((f) => f(v)); },
    subscribe(f) { subs.add(f); return () => subs.delete(f); },
  };
}
export function useSignal(s) {
  const [, force] = useState(0);
  const shown = s.value;
  useEffect(() => {
    const unsubscribe = s.subscribe(() => force((n) => n + 1));
    // A change between the render and this effect (which runs after the
    // browser painted, later on a busy machine) told no one: render again.
    if (s.value !== shown) force((n) => n + 1);
    return unsubscribe;
  }, [s]);
  return shown;
}

// ---- language ------------------------------------------------------------

const LANG_KEY = 'molen.lang';
export const languages = Object.keys(catalogue);

function initialLang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved && catalogue[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = l.toLowerCase().split('-')[0];
    if (catalogue[base]) return base;
  }
  return 'en';
}
export const lang = signal(initialLang());
document.documentElement.lang = lang.value;
export function setLang(l) {
  localStorage.setItem(LANG_KEY, l);
  document.documentElement.lang = l;
  lang.value = l;
}

// t returns the text of key in the current language, with {name}
// placeholders filled from vars. A missing key shows as the key (and the
// catalogue test catches it).
export function t(key, vars) {
  const s = catalogue[lang.value][key] ?? catalogue.en[key] ?? key;
  return vars ? s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m)) : s;
}
// label picks a {"en": …, "nl": …} label's text.
export function label(l) {
  if (!l || typeof l === 'string') return l || '';
  return l[lang.value] || l.en || Object.values(l)[0] || '';
}

// ---- theme ---------------------------------------------------------------

const THEME_KEY = 'molen.theme';
export const theme = signal(localStorage.getItem(THEME_KEY) ||
  (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
document.documentElement.dataset.theme = theme.value;
export function setTheme(v) {
  localStorage.setItem(THEME_KEY, v);
  document.documentElement.dataset.theme = v;
  theme.value = v;
}

// ---- formatting ----------------------------------------------------------

const locale = () => (lang.value === 'nl' ? 'nl-NL' : 'en-GB');
export function fmtNum(v, digits) {
  if (v === null || v === undefined || v === '') return '–';
  if (typeof v !== 'number') return String(v);
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return v.toLocaleString(locale(), { maximumFractionDigits: d, minimumFractionDigits: 0 });
}
export function fmtPct(v) {
  return v === null || v === undefined ? '–' : (v * 100).toLocaleString(locale(), { maximumFractionDigits: 1 }) + ' %';
}
export function fmtTime(ms, withDate = true) {
  if (!ms) return '–';
  const o = withDate ? { dateStyle: 'short', timeStyle: 'short' } : { timeStyle: 'medium' };
  return new Date(ms).toLocaleString(locale(), o);
}
// fmtDate writes the calendar day of ms ("Mon 30 Nov 2026").
export function fmtDate(ms, o = { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' }) {
  return ms ? new Date(ms).toLocaleDateString(locale(), o) : '–';
}
export function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60 ? (s % 60) + ' s' : '');
  const hh = Math.floor(s / 3600);
  return hh + ' h ' + Math.round((s % 3600) / 60) + ' min';
}
export function fmtAgo(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return t('ago.s', { n: s });
  if (s < 5400) return t('ago.m', { n: Math.round(s / 60) });
  if (s < 129600) return t('ago.h', { n: Math.round(s / 3600) });
  return t('ago.d', { n: Math.round(s / 86400) });
}

// Units from common tag suffixes (temperature_c, vibration_mm_s, power_kw…).
const UNIT_SUFFIXES = [
  ['_mm_s', 'mm/s'], ['_kwh', 'kWh'], ['_kw', 'kW'], ['_bar', 'bar'], ['_rpm', 'rpm'],
  ['_c', '°C'], ['_pct', '%'], ['_s', 's'], ['_hz', 'Hz'], ['_a', 'A'], ['_v', 'V'],
];
const UNIT_NAMES = { temperature: '°C', vibration: 'mm/s', pressure: 'bar', cycle_time: 's', availability: '', quality: '' };
export function unitOf(tag) {
  const last = tag.split('/').pop();
  if (last in UNIT_NAMES) return UNIT_NAMES[last];
  const hit = UNIT_SUFFIXES.find(([suffix]) => last.endsWith(suffix));
  return hit ? hit[1] : '';
}
// Tags that are bookkeeping of the pipeline, not figures for people.
export const INTERNAL_TAGS = new Set(['seq']);

// Machine states and their colour class.
const STATE_CLASS = {
  running: 'running', run: 'running', producing: 'running',
  idle: 'idle', waiting: 'idle', starved: 'idle', blocked: 'idle', stopped: 'idle',
  setup: 'setup', changeover: 'setup', maintenance: 'setup', cleaning: 'setup',
  down: 'down', fault: 'down', error: 'down', alarm: 'down', breakdown: 'down',
};
export function stateClass(s) { return STATE_CLASS[String(s).toLowerCase()] || 'unknown'; }
export function stateText(s) {
  const c = stateClass(s);
  return c === 'unknown' ? (s ? String(s) : t('state.unknown')) : t('state.' + c);
}
// A machine whose newest value of any tag is older than this is shown as
// stale: its last state may no longer be true.
export const STALE_MS = 3 * 60 * 1000;

// ---- time ranges ---------------------------------------------------------

// parseTime turns a route's from/to (ms, "now", "-24h") into unix ms.
const UNITS = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 };
export function parseTime(v, now = Date.now()) {
  if (v === undefined || v === null || v === '' || v === 'now') return now;
  const rel = /^-(\d+)([smhdwy])$/.exec(v);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]];
  const n = Number(v);
  return Number.isFinite(n) ? n : Date.parse(v);
}
export const RANGES = ['-15m', '-1h', '-8h', '-24h', '-7d', '-30d', '-1y'];

// ---- the hub's API -------------------------------------------------------

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// auth holds how requests authenticate: a bearer token (from the demo's
// #token= link, kept for this tab only) or the session cookie with its CSRF
// token.
const TOKEN_KEY = 'molen.token';
export const auth = { token: sessionStorage.getItem(TOKEN_KEY) || '', csrf: '' };
export function setToken(tok) {
  auth.token = tok;
  if (tok) sessionStorage.setItem(TOKEN_KEY, tok); else sessionStorage.removeItem(TOKEN_KEY);
}
// unauthorised is raised when the hub answers 401: the shell shows sign-in.
export const unauthorised = signal(0);

function headers(method, extra) {
  const hd = { Accept: 'application/json', ...extra };
  if (auth.token) hd.Authorization = 'Bearer ' + auth.token;
  else if (method !== 'GET' && auth.csrf) hd['X-CSRF-Token'] = auth.csrf;
  return hd;
}

// hubTime writes a relative time in days, weeks or years ("-30d") in
// hours, which the hub's durations understand; whole milliseconds stay.
export function hubTime(v) {
  const m = /^-(\d+)([dwy])$/.exec(v);
  if (m) return '-' + Number(m[1]) * { d: 24, w: 168, y: 8760 }[m[2]] + 'h';
  return typeof v === 'number' ? Math.round(v) : v;
}

// apiURL builds /api/v1/<path>?params; array values repeat the parameter
// and empty values are left out; from and to go through hubTime.
export function apiURL(path, params) {
  const u = new URL('/api/v1/' + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    for (const x of Array.isArray(v) ? v : [v]) {
      if (x !== undefined && x !== null && x !== '') u.searchParams.append(k, k === 'from' || k === 'to' ? hubTime(x) : x);
    }
  }
  return u;
}

// api calls the hub: a body is sent as JSON, a FormData as it is
// (multipart, an upload).
export async function api(path, { method = 'GET', params, body, raw } = {}) {
  const form = body instanceof FormData;
  const init = { method, credentials: 'same-origin', headers: headers(method, body && !form ? { 'Content-Type': 'application/json' } : {}) };
  if (body) init.body = form ? body : JSON.stringify(body);
  const r = await fetch(apiURL(path, params), init);
  if (!r.ok) {
    let msg = '';
    try { msg = (await r.json()).error; } catch { /* not JSON */ }
    if (r.status === 401 && path !== 'auth/login' && path !== 'auth/totp') unauthorised.value++;
    throw new ApiError(r.status, msg || r.statusText || String(r.status));
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

// download fetches an export and saves it under the hub's file name.
export async function download(path, params) {
  const r = await api(path, { params, raw: true });
  const cd = r.headers.get('Content-Disposition') || '';
  const name = (/filename="([^"]+)"/.exec(cd) || [])[1] || 'molen-export';
  const a = document.createElement('a');
  a.href = URL.createObjectURL(await r.blob());
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  return name;
}

// useApi loads path with params (re-loading when they change or when
// reload() is called) and answers {data, error, loading, reload}.
export function useApi(path, params, deps = []) {
  const [st, set] = useState({ data: null, error: null, loading: true, key: null });
  const [n, setN] = useState(0);
  const key = path === null ? null : path + JSON.stringify(params || {});
  useEffect(() => {
    if (key === null) return undefined;
    let alive = true;
    set((s) => ({ ...s, loading: true }));
    api(path, { params }).then(
      (data) => alive && set({ data, error: null, loading: false, key }),
      (error) => alive && set({ data: null, error, loading: false, key }));
    return () => { alive = false; };
  }, [key, n, ...deps]);
  // Data of an earlier path or parameters is still loading: in the first
  // render after they change, before this effect has run.
  return { ...st, loading: st.loading || st.key !== key, reload: () => setN((x) => x + 1) };
}

// ---- live data -----------------------------------------------------------

// live follows GET /api/v1/live?prefix= (server-sent events, read with
// fetch so a bearer token works too), resuming with Last-Event-ID after a
// drop. onMessage(kind, data) gets "points" (ts converted to unix ms),
// "events" and "reset". Returns a stop function.
export function live(prefix, onMessage, onStatus = () => {}) {
  let stopped = false, ctrl = null, lastID = '', wait = 1000, timer = 0;
  const sleep = (ms) => new Promise((res) => { timer = setTimeout(res, ms); });
  const points = (pts) => pts.map((p) => ({ ...p, ts: typeof p.ts === 'string' ? Date.parse(p.ts) : p.ts }));
  async function run() {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const hd = headers('GET', { Accept: 'text/event-stream' });
        if (lastID) hd['Last-Event-ID'] = lastID;
        const r = await fetch(apiURL('live', { prefix }), { headers: hd, credentials: 'same-origin', signal: ctrl.signal });
        if (r.status === 429) { await sleep(1000 * (Number(r.headers.get('Retry-After')) || 5)); continue; }
        if (!r.ok) throw new ApiError(r.status, r.statusText);
        onStatus('live');
        wait = 1000;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf = (buf + value).replace(/\r\n?/g, '\n');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            let ev = 'message', data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const c = line.indexOf(':');
              const f = c < 0 ? line : line.slice(0, c);
              const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (f === 'event') ev = v; else if (f === 'data') data += (data ? '\n' : '') + v; else if (f === 'id') lastID = v;
            }
            if (!data) continue;
            let d;
            try { d = JSON.parse(data); } catch { continue; }
            if (ev === 'points') d.points = points(d.points || []);
            onMessage(ev, d);
          }
        }
      } catch (e) {
        if (stopped) return undefined;
      }
      onStatus('reconnecting');
      await sleep(wait);
      wait = Math.min(wait * 2, 30000);
    }
    return undefined;
  }
  run();
  return () => { stopped = true; clearTimeout(timer); if (ctrl) ctrl.abort(); };
}

// ---- routing -------------------------------------------------------------

// Routes live in the URL fragment: #/<area>/<path…>?<query>, so any view
// is a link a colleague can open.
export function parseRoute(hash = location.hash) {
  const s = hash.replace(/^#\/?/, '');
  const q = s.indexOf('?');
  const segs = (q < 0 ? s : s.slice(0, q)).split('/').filter(Boolean).map(decodeURIComponent);
  return { area: segs[0] || '', path: segs.slice(1), query: new URLSearchParams(q < 0 ? '' : s.slice(q + 1)) };
}
export function href(area, path = [], query = {}) {
  const p = [area, ...path].map(encodeURIComponent).join('/');
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== '')).toString();
  return '#/' + p + (qs ? '?' + qs : '');
}
export const route = signal(parseRoute());
addEventListener('hashchange', () => { route.value = parseRoute(); });
// withQuery returns the current route's link with some query values changed.
export function withQuery(changes) {
  const r = route.value;
  const q = Object.fromEntries(r.query);
  Object.assign(q, changes);
  return href(r.area, r.path, q);
}

// ---- areas ---------------------------------------------------------------

// An area is one part of the application (factory, later fleet,
// marketplace, programme, admin): {id, title (catalogue key), visible(who),
// view({route, who})}. Its module registers it; the shell lists the areas
// the signed-in principal may see. Adding a page is adding a module.
export const areas = [];
export function registerArea(a) {
  if (areas.some((x) => x.id === a.id)) throw new Error('area registered twice: ' + a.id);
  areas.push(a);
}

// Roles in order of power; advisor and publisher read like viewers.
const RANK = { viewer: 1, advisor: 1, publisher: 1, engineer: 2, admin: 3, owner: 4, 'platform-admin': 5 };
export function can(who, role) { return !!who && (RANK[who.role] || 0) >= RANK[role]; }
