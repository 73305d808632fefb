// molen hub UI: machine cards with state, latest values and a live chart.
//
// Plain browser JavaScript, no build step, no dependencies, no external
// resources. Everything it shows comes from the hub's JSON API on the same
// origin; all text from the data goes into the page through textContent,
// never as markup.
//
// Hooks for browser tests (keep them stable):
//   [data-machine="<asset path>"]  one card per machine
//   [data-state="<state>"]         the card's state badge (raw state value)
//   [data-tag="<tag>"]             a latest value (text formatted, data-value raw)
//   [data-chart][data-points="N"]  the chart and how many points it plots
//   [data-chart-tag]               the select choosing the charted tag
'use strict';

(function () {
  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 8000;
  const CHART_FROM = '-10m';
  const CHART_WINDOW_MS = 10 * 60 * 1000;
  const CHART_STEP = '5s';
  const CHART_STEP_MS = 5000;
  // A machine whose newest value is older than this is flagged as late.
  const LATE_MS = 60 * 1000;
  const TOKEN_KEY = 'molen.token';
  const CHART_TAG_KEY = 'molen.chartTag:';
  // An XML namespace name, not a resource: nothing is fetched from it.
  const SVG_NS = 'http://www.w3.org/2000/svg';

  // Display order: process values first (by the word they contain), then
  // counters and energy, then the rest alphabetically, bookkeeping last.
  const PREFERRED = ['temp', 'pressure', 'vibration', 'speed', 'power', 'cycle_time',
    'good_count', 'scrap_count', 'energy'];
  const LAST = ['seq'];
  // Tags preferred for the chart when the user has not picked one: the
  // first tag containing one of these words.
  const CHART_DEFAULT = ['temp', 'pressure', 'vibration', 'power', 'cycle_time'];
  // Units from common tag suffixes (temperature_c, vibration_mm_s, power_kw…)
  // and a few bare names.
  const UNIT_SUFFIXES = [
    ['_mm_s', 'mm/s'], ['_kwh', 'kWh'], ['_kw', 'kW'], ['_bar', 'bar'], ['_rpm', 'rpm'],
    ['_c', '°C'], ['_pct', '%'], ['_s', 's'], ['_hz', 'Hz'], ['_a', 'A'], ['_v', 'V'],
  ];
  const UNIT_NAMES = {
    temperature: '°C', vibration: 'mm/s', pressure: 'bar', power_kw: 'kW',
    energy_kwh: 'kWh', cycle_time: 's',
  };
  function unitOf(tag) {
    if (UNIT_NAMES[tag]) return UNIT_NAMES[tag];
    const hit = UNIT_SUFFIXES.find(([suffix]) => tag.endsWith(suffix));
    return hit ? hit[1] : '';
  }
  // Colour class per state value; anything else is shown grey with its own name.
  const STATE_CLASS = {
    running: 'running', run: 'running', producing: 'running', execute: 'running', auto: 'running',
    idle: 'idle', waiting: 'idle', starved: 'idle', blocked: 'idle', stopped: 'idle', ready: 'idle',
    setup: 'setup', changeover: 'setup', maintenance: 'setup', cleaning: 'setup',
    down: 'down', fault: 'down', error: 'down', alarm: 'down', breakdown: 'down', failure: 'down',
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    hubName: $('hub-name'), conn: $('conn'), connText: $('conn-text'), updated: $('updated'),
    changeToken: $('change-token'), error: $('error'), auth: $('auth'), authReason: $('auth-reason'),
    authForm: $('auth-form'), authCancel: $('auth-cancel'), tokenInput: $('token-input'), empty: $('empty'), machines: $('machines'),
  };

  // Only this origin's API is ever called. ?prefix=site/area narrows the view.
  const prefix = new URLSearchParams(location.search).get('prefix') || '';

  let token = takeToken();
  let generation = 0; // bumped to cancel a polling loop
  let lastOK = 0; // when the API last answered, ms
  let machineKey = ''; // sorted asset paths currently laid out
  const machines = new Map(); // asset path -> machine (see newMachine)

  ui.hubName.textContent = location.host + (prefix ? ' · ' + prefix : '');

  // ---- token -------------------------------------------------------------

  function storageGet(k) {
    try { return localStorage.getItem(k); } catch (e) { return null; }
  }
  function storageSet(k, v) {
    try {
      if (v === null) localStorage.removeItem(k); else localStorage.setItem(k, v);
    } catch (e) { /* private mode: keep it in memory only */ }
  }

  // takeToken reads #token=… from the address, stores it and removes it from
  // the address bar (so it does not end up in bookmarks or screenshots);
  // otherwise it uses the stored token.
  function takeToken() {
    const frag = new URLSearchParams(location.hash.slice(1));
    const t = frag.get('token');
    if (t !== null) {
      frag.delete('token');
      const rest = frag.toString();
      history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
      if (t.trim()) {
        storageSet(TOKEN_KEY, t.trim());
        return t.trim();
      }
    }
    return storageGet(TOKEN_KEY);
  }

  function showAuth(reason) {
    ui.authReason.textContent = reason;
    ui.auth.hidden = false;
    ui.empty.hidden = true;
    ui.error.hidden = true;
    ui.machines.hidden = true;
    ui.changeToken.hidden = true;
    ui.authCancel.hidden = !token;
    setConn('auth', 'not signed in');
    ui.tokenInput.value = '';
    ui.tokenInput.focus();
  }

  ui.authForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const t = ui.tokenInput.value.trim();
    if (!t) return;
    token = t;
    storageSet(TOKEN_KEY, t);
    ui.auth.hidden = true;
    ui.machines.hidden = false;
    setConn('starting', 'connecting…');
    start();
  });

  ui.authCancel.addEventListener('click', () => {
    ui.auth.hidden = true;
    ui.machines.hidden = false;
    setConn('starting', 'connecting…');
    start();
  });

  ui.changeToken.addEventListener('click', () => {
    generation++;
    showAuth('Paste a different token for this hub.');
  });

  // ---- API ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status; // 0: the hub could not be reached
    }
  }

  async function api(path) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), REQUEST_TIMEOUT_MS);
    let res;
    try {
      res = await fetch(path, {
        headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
        cache: 'no-store',
        signal: ctrl.signal,
      });
    } catch (e) {
      throw new APIError(0, ctrl.signal.aborted ? 'no answer within ' + REQUEST_TIMEOUT_MS / 1000 + ' s' : 'network error');
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      let msg = res.statusText || 'HTTP ' + res.status;
      try {
        const body = await res.json();
        if (body && typeof body.error === 'string') msg = body.error;
      } catch (e) { /* not JSON: keep the status text */ }
      throw new APIError(res.status, msg);
    }
    try {
      return await res.json();
    } catch (e) {
      throw new APIError(res.status, 'answer is not JSON');
    }
  }

  function latestURL() {
    return '/api/v1/latest?prefix=' + encodeURIComponent(prefix);
  }

  function queryURL(series) {
    return '/api/v1/query?series=' + encodeURIComponent(series) +
      '&from=' + CHART_FROM + '&to=now&agg=avg&step=' + CHART_STEP;
  }

  // ---- polling -----------------------------------------------------------

  function start() {
    const gen = ++generation;
    const loop = async () => {
      if (gen !== generation) return;
      await tick(gen);
      if (gen === generation) setTimeout(loop, POLL_MS);
    };
    loop();
  }

  async function tick(gen) {
    let body;
    try {
      body = await api(latestURL());
    } catch (e) {
      if (gen === generation) failed(e);
      return;
    }
    if (gen !== generation) return;
    lastOK = Date.now();
    ui.error.hidden = true;
    document.body.classList.remove('stale-data');
    ui.changeToken.hidden = false;
    const points = Array.isArray(body && body.points) ? body.points : [];
    const found = discover(points);
    setConn('live', 'live · ' + found.size + (found.size === 1 ? ' machine' : ' machines'));
    ui.updated.textContent = 'updated ' + clock(lastOK);
    render(found, points.length);
    await Promise.all([...machines.values()].map((m) => refreshChart(m, gen)));
  }

  function failed(e) {
    if (e.status === 401) {
      generation++;
      storageSet(TOKEN_KEY, null);
      token = null;
      showAuth('The hub did not accept the token (401: ' + e.message + ').');
      return;
    }
    let title;
    if (e.status === 0) title = 'Hub API unreachable (' + e.message + '). Retrying every ' + POLL_MS / 1000 + ' s…';
    else if (e.status === 403) title = 'The token may not read this data (403: ' + e.message + ').';
    else title = 'Hub API error ' + e.status + ': ' + e.message + '. Retrying every ' + POLL_MS / 1000 + ' s…';
    showError(title, lastOK
      ? 'Last data received at ' + clock(lastOK) + '; the values below may be out of date.'
      : 'No data received yet.');
    setConn('error', e.status === 0 ? 'offline' : 'error ' + e.status);
    if (lastOK) document.body.classList.add('stale-data');
  }

  function showError(title, detail) {
    ui.error.replaceChildren(document.createTextNode(title));
    if (detail) {
      const s = document.createElement('small');
      s.textContent = detail;
      ui.error.appendChild(s);
    }
    ui.error.hidden = false;
  }

  function setConn(state, text) {
    ui.conn.dataset.conn = state;
    ui.connText.textContent = text;
  }

  // ---- discovery ---------------------------------------------------------

  // discover groups the latest points by machine. A machine is the asset
  // path of any series whose tag is "state"; every other series belongs to
  // the nearest machine above it, named by its path relative to that machine
  // (usually just its tag).
  function discover(points) {
    const found = new Map();
    for (const p of points) {
      if (!p || typeof p.series !== 'string') continue;
      const i = p.series.lastIndexOf('/');
      if (i > 0 && p.series.slice(i + 1) === 'state') {
        found.set(p.series.slice(0, i), { state: p, tags: new Map() });
      }
    }
    for (const p of points) {
      if (!p || typeof p.series !== 'string') continue;
      for (let i = p.series.lastIndexOf('/'); i > 0; i = p.series.lastIndexOf('/', i - 1)) {
        const m = found.get(p.series.slice(0, i));
        if (m) {
          const tag = p.series.slice(i + 1);
          if (tag !== 'state') m.tags.set(tag, p);
          break;
        }
      }
    }
    return found;
  }

  function tagOrder(a, b) {
    const rank = (t) => {
      if (LAST.includes(t)) return 2000;
      const i = PREFERRED.findIndex((w) => t.includes(w));
      return i >= 0 ? i : 1000;
    };
    return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
  }

  // ---- rendering ---------------------------------------------------------

  function render(found, nPoints) {
    ui.auth.hidden = true;
    ui.machines.hidden = false;
    if (found.size === 0) {
      ui.empty.hidden = false;
      const note = ui.empty.querySelector('p');
      if (nPoints > 0) {
        note.textContent = 'The hub has ' + nPoints + ' series' + (prefix ? ' under ' + prefix : '') +
          ', but none ending in /state, so no machine can be shown yet.';
      }
    } else {
      ui.empty.hidden = true;
    }

    for (const [asset, m] of machines) {
      if (!found.has(asset)) {
        resized.unobserve(m.svg);
        m.el.remove();
        machines.delete(asset);
      }
    }
    for (const [asset, data] of found) {
      let m = machines.get(asset);
      if (!m) {
        m = newMachine(asset);
        machines.set(asset, m);
      }
      updateMachine(m, data);
    }
    layout();
  }

  // layout puts the cards into one grid per parent path (usually a line),
  // both in path order. It only moves elements when the set of machines
  // changed, so an open select is not disturbed.
  function layout() {
    const assets = [...machines.keys()].sort();
    const key = assets.join('\n');
    if (key === machineKey) return;
    machineKey = key;
    const groups = new Map();
    for (const a of assets) {
      const i = a.lastIndexOf('/');
      const parent = i > 0 ? a.slice(0, i) : '';
      if (!groups.has(parent)) groups.set(parent, []);
      groups.get(parent).push(machines.get(a));
    }
    const sections = [];
    for (const [parent, ms] of groups) {
      const sec = document.createElement('section');
      sec.className = 'group';
      if (parent) {
        const h = document.createElement('h2');
        h.textContent = parent;
        sec.appendChild(h);
      }
      const grid = document.createElement('div');
      grid.className = 'grid';
      for (const m of ms) grid.appendChild(m.el);
      sec.appendChild(grid);
      sections.push(sec);
    }
    ui.machines.replaceChildren(...sections);
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function newMachine(asset) {
    const i = asset.lastIndexOf('/');
    const card = el('article', 'card');
    card.dataset.machine = asset;

    const head = el('div', 'card-head');
    const title = el('div', 'card-title');
    const h = el('h3', '', i >= 0 ? asset.slice(i + 1) : asset);
    h.title = asset;
    title.appendChild(h);
    const badge = el('div', 'badge', '…');
    head.append(title, badge);

    const age = el('div', 'age');
    // OEE of the last window, when an edge pipeline computes it.
    const oee = el('div', 'oee');
    oee.hidden = true;
    const metrics = el('dl', 'metrics');

    const box = el('div', 'chart-box');
    const chartHead = el('div', 'chart-head');
    const label = el('label');
    const select = el('select');
    select.dataset.chartTag = '';
    select.title = 'tag to chart over the last 10 minutes';
    select.setAttribute('aria-label', select.title);
    label.append(select);
    const note = el('span', 'chart-note');
    chartHead.append(label, note);
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('role', 'img');
    svg.dataset.chart = '';
    svg.dataset.points = '0';
    box.append(chartHead, svg);

    card.append(head, age, oee, metrics, box);
    resized.observe(svg);

    const m = {
      asset, el: card, badge, age, oee, metrics, select, note, svg,
      newest: 0, tagKey: '', values: new Map(), numeric: [],
      chartTag: storageGet(CHART_TAG_KEY + asset) || '', chartData: null, chartBusy: false,
    };
    select.addEventListener('change', () => {
      m.chartTag = select.value;
      storageSet(CHART_TAG_KEY + asset, m.chartTag);
      m.chartData = null;
      drawChart(m);
      refreshChart(m, generation);
    });
    return m;
  }

  // updateOEE shows the last OEE window's figures, from the series
  // <machine>/oee/{oee,availability,performance,quality}.
  function updateOEE(m, tags) {
    const pct = (t) => {
      const p = tags.get('oee/' + t);
      return p && typeof p.value === 'number' ? Math.round(p.value * 100) + ' %' : '–';
    };
    const o = tags.get('oee/oee');
    if (!o || typeof o.value !== 'number') {
      m.oee.hidden = true;
      return;
    }
    m.oee.hidden = false;
    m.oee.dataset.oee = String(o.value);
    m.oee.replaceChildren(
      el('strong', '', 'OEE ' + pct('oee')),
      el('span', '', ' · availability ' + pct('availability') + ' · performance ' + pct('performance') + ' · quality ' + pct('quality')));
    m.oee.title = 'OEE of the last window computed at the edge (' + new Date(Number(o.ts)).toLocaleTimeString() + ')';
  }

  function updateMachine(m, data) {
    const raw = String(data.state.value);
    const state = raw.trim().toLowerCase();
    const cls = STATE_CLASS[state] || 'unknown';
    m.el.className = 'card s-' + cls;
    m.badge.className = 'badge s-' + cls;
    m.badge.textContent = raw;
    m.badge.title = 'state: ' + raw + ' (' + quality(data.state) + ')';
    m.badge.dataset.state = raw;

    let newest = Number(data.state.ts) || 0;
    const shown = [];
    for (const [tag, p] of data.tags) {
      newest = Math.max(newest, Number(p.ts) || 0);
      // OEE figures get their own line; state codes repeat the badge.
      if (tag.startsWith('oee/') || tag === 'state_code') continue;
      if (typeof p.value === 'number' || typeof p.value === 'boolean') shown.push(tag);
    }
    updateOEE(m, data.tags);
    shown.sort(tagOrder);
    m.newest = newest;
    updateAge(m);

    const key = shown.join('\n');
    if (key !== m.tagKey) {
      m.tagKey = key;
      m.values.clear();
      m.metrics.replaceChildren();
      for (const tag of shown) {
        const box = el('div', 'metric');
        const dt = el('dt', '', tag);
        dt.title = m.asset + '/' + tag;
        const dd = el('dd');
        const val = el('span', 'val');
        val.dataset.tag = tag;
        dd.appendChild(val);
        if (unitOf(tag)) dd.appendChild(el('span', 'unit', unitOf(tag)));
        box.append(dt, dd);
        m.metrics.appendChild(box);
        m.values.set(tag, { box, val });
      }
      m.numeric = shown.filter((t) => typeof data.tags.get(t).value === 'number');
      updateSelect(m);
    }
    for (const tag of shown) {
      const p = data.tags.get(tag);
      const v = m.values.get(tag);
      const text = fmt(p.value);
      v.val.textContent = text;
      v.val.dataset.value = String(p.value);
      // Long numbers and quality notes get two columns rather than an ellipsis.
      const wide = text.length + unitOf(tag).length > 9 || quality(p) !== 'good';
      v.box.className = 'metric q-' + quality(p) + (wide ? ' wide' : '');
      v.box.title = m.asset + '/' + tag + ' = ' + p.value + ' at ' + clock(p.ts) + ' (' + quality(p) + ')';
    }
  }

  function quality(p) {
    return p.q === 'uncertain' || p.q === 'bad' ? p.q : 'good';
  }

  function updateSelect(m) {
    const tags = m.numeric;
    if (!tags.includes(m.chartTag)) {
      m.chartTag = CHART_DEFAULT.map((w) => tags.find((t) => t.includes(w))).find(Boolean) || tags[0] || '';
      m.chartData = null;
    }
    m.select.replaceChildren(...tags.map((t) => {
      const o = el('option', '', unitOf(t) ? t + ' (' + unitOf(t) + ')' : t);
      o.value = t;
      return o;
    }));
    m.select.value = m.chartTag;
    m.select.disabled = tags.length === 0;
  }

  function updateAge(m) {
    if (!m.newest) {
      m.age.textContent = 'no timestamp';
      return;
    }
    const ms = Math.max(0, Date.now() - m.newest);
    const late = ms > LATE_MS;
    m.age.textContent = (late ? 'no new data for ' + duration(ms) : 'last value ' + duration(ms) + ' ago') +
      ' · ' + clock(m.newest);
    m.age.classList.toggle('late', late);
    m.el.classList.toggle('late', late);
  }

  setInterval(() => {
    for (const m of machines.values()) updateAge(m);
  }, 1000);

  // ---- chart -------------------------------------------------------------

  async function refreshChart(m, gen) {
    if (!m.chartTag || m.chartBusy) {
      if (!m.chartTag) drawChart(m);
      return;
    }
    const tag = m.chartTag;
    m.chartBusy = true;
    try {
      const body = await api(queryURL(m.asset + '/' + tag));
      if (gen !== generation || tag !== m.chartTag) return;
      const buckets = Array.isArray(body && body.buckets) ? body.buckets : [];
      m.chartData = {
        tag,
        step: Number(body.step_ms) || CHART_STEP_MS,
        pts: buckets.filter((b) => b && typeof b.value === 'number' && isFinite(b.value) && isFinite(b.ts))
          .map((b) => [Number(b.ts), b.value]),
      };
      m.chartError = '';
    } catch (e) {
      if (gen !== generation) return;
      if (e.status === 401) {
        failed(e);
        return;
      }
      m.chartError = e.status ? 'chart: ' + e.message : 'chart: hub unreachable';
    } finally {
      m.chartBusy = false;
    }
    drawChart(m);
  }

  function svgEl(name, attrs, text) {
    const e = document.createElementNS(SVG_NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // drawChart draws m.chartData into m.svg at the element's pixel size, so
  // text is never stretched: a time axis over the last 10 minutes and a value
  // axis with "nice" ticks. Buckets further apart than 2.5 steps are drawn as
  // a gap, not a line across the outage.
  function drawChart(m) {
    const svg = m.svg;
    const W = Math.max(200, Math.round(svg.clientWidth || svg.getBoundingClientRect().width || 400));
    const H = Math.max(120, Math.round(svg.clientHeight || 170));
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const d = m.chartData && m.chartData.tag === m.chartTag ? m.chartData : null;
    const all = d ? d.pts : [];
    const t1 = Math.max(Date.now(), all.length ? all[all.length - 1][0] : 0);
    const t0 = t1 - CHART_WINDOW_MS;
    const pts = all.filter((p) => p[0] >= t0);
    svg.dataset.points = String(pts.length);
    svg.setAttribute('aria-label', (m.chartTag || 'no tag') + ', last 10 minutes, ' + pts.length + ' points');

    const unit = unitOf(m.chartTag);
    if (m.chartError) m.note.textContent = m.chartError;
    else if (pts.length) {
      const [lt, lv] = pts[pts.length - 1];
      const old = Date.now() - lt > LATE_MS ? ' (' + Math.round((Date.now() - lt) / 60000) + ' min ago)' : '';
      m.note.textContent = fmt(lv) + (unit ? ' ' + unit : '') + old;
    }
    else m.note.textContent = '';
    m.note.classList.toggle('error', !!m.chartError);

    let lo = Infinity;
    let hi = -Infinity;
    for (const [, v] of pts) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!pts.length) { lo = 0; hi = 1; }
    const ticks = niceTicks(lo, hi, 4);
    const y0 = ticks[0];
    const y1 = ticks[ticks.length - 1];
    const labels = ticks.map((t) => fmt(t));

    const left = 10 + 7 * Math.max(...labels.map((s) => s.length));
    const right = 12;
    const top = 8;
    const bottom = 22;
    const pw = W - left - right;
    const ph = H - top - bottom;
    const x = (t) => left + ((t - t0) / CHART_WINDOW_MS) * pw;
    const y = (v) => top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;

    const kids = [];
    ticks.forEach((t, i) => {
      const yy = y(t).toFixed(1);
      kids.push(svgEl('line', { class: 'grid-line', x1: left, x2: W - right, y1: yy, y2: yy }));
      kids.push(svgEl('text', { class: 'tick', x: left - 6, y: yy, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, labels[i]));
    });
    for (let min = 10; min >= 0; min -= 2) {
      const xx = x(t1 - min * 60000).toFixed(1);
      kids.push(svgEl('line', { class: 'axis', x1: xx, x2: xx, y1: top + ph, y2: top + ph + 4 }));
      const anchor = min === 10 ? 'start' : min === 0 ? 'end' : 'middle';
      kids.push(svgEl('text', { class: 'tick', x: xx, y: H - 4, 'text-anchor': anchor }, min === 0 ? 'now' : min === 10 ? '−10 min' : '−' + min));
    }
    kids.push(svgEl('line', { class: 'axis', x1: left, x2: W - right, y1: top + ph, y2: top + ph }));

    if (pts.length) {
      const gap = 2.5 * (d.step || CHART_STEP_MS);
      let path = '';
      let prev = -Infinity;
      for (const [t, v] of pts) {
        path += (t - prev > gap ? 'M' : 'L') + x(t).toFixed(1) + ' ' + y(v).toFixed(1);
        prev = t;
      }
      kids.push(svgEl('path', { class: 'series', d: path }));
      const [lt, lv] = pts[pts.length - 1];
      kids.push(svgEl('circle', { class: 'last', cx: x(lt).toFixed(1), cy: y(lv).toFixed(1), r: 3.5 }));
    } else {
      const msg = !m.chartTag ? 'no numeric tag to chart'
        : m.chartError ? m.chartError
          : d ? 'no values in the last 10 minutes' : 'loading…';
      kids.push(svgEl('text', { class: 'nodata', x: left + pw / 2, y: top + ph / 2, 'text-anchor': 'middle' }, msg));
    }
    svg.replaceChildren(...kids);
  }

  // niceTicks returns about n evenly spaced round values covering lo..hi.
  function niceTicks(lo, hi, n) {
    if (hi - lo < 1e-9) {
      const pad = Math.abs(lo) > 1e-9 ? Math.abs(lo) * 0.05 : 1;
      lo -= pad;
      hi += pad;
    }
    const raw = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw);
    const start = Math.floor(lo / step) * step;
    const out = [];
    for (let v = start; v < hi + step * 0.999; v += step) out.push(Math.round(v / step) * step);
    return out.length >= 2 ? out : [start, start + step];
  }

  // Charts are drawn at their pixel size, so they are redrawn when it changes.
  const resized = new ResizeObserver((entries) => {
    for (const e of entries) {
      const m = machines.get(e.target.closest('[data-machine]').dataset.machine);
      if (m) drawChart(m);
    }
  });

  // ---- formatting --------------------------------------------------------

  function fmt(v) {
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v !== 'number' || !isFinite(v)) return String(v);
    const a = Math.abs(v);
    const digits = Number.isInteger(v) || a >= 1000 ? 0 : a >= 100 ? 1 : a >= 1 ? 2 : 3;
    return v.toLocaleString(undefined, { maximumFractionDigits: digits });
  }

  function duration(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + ' s';
    const min = Math.floor(s / 60);
    if (min < 60) return min + ' min' + (min < 10 && s % 60 ? ' ' + (s % 60) + ' s' : '');
    const h = Math.floor(min / 60);
    if (h < 48) return h + ' h' + (min % 60 ? ' ' + (min % 60) + ' min' : '');
    return Math.floor(h / 24) + ' days';
  }

  function clock(ms) {
    const d = new Date(Number(ms));
    if (isNaN(d.getTime())) return '?';
    const p = (n) => String(n).padStart(2, '0');
    const t = p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
    return d.toDateString() === new Date().toDateString() ? t : d.toISOString().slice(0, 10) + ' ' + t;
  }

  // ---- go ----------------------------------------------------------------

  if (token) start();
  else showAuth('This page needs an access token to read the hub\'s data.');
})();
