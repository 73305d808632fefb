// The factory area: site → area → line → machine from the Unified
// Namespace, with live state, OEE, state timelines, downtime and its
// reasons, alarms, events, charts, export and series management.
//
// Hooks for browser tests (keep them stable): [data-machine] a machine
// card, [data-state] its state (raw value, "stale" when no fresh data),
// [data-tag][data-value] a latest value, [data-chart][data-points] a chart.
import {
  html, useState, useEffect, useMemo, useApi, api, download, live, t, label, lang, useSignal, registerArea, href,
  withQuery, parseTime, RANGES, fmtNum, fmtPct, fmtTime, fmtDate, fmtDuration, fmtAgo, unitOf, INTERNAL_TAGS, stateClass,
  stateText, STALE_MS, can,
} from './core.js';
import { Chart, colour } from './chart.js';

registerArea({ id: 'factory', title: 'area.factory', visible: () => true, view: FactoryView });

// ---- the UNS tree --------------------------------------------------------

// buildTree makes the tree of asset paths from the series list: a machine
// is an asset with a state tag (or, for series under no such asset, the
// series' parent); its series are every series below it; the levels above
// are sites, areas and lines.
export function buildTree(series) {
  const paths = series.map((s) => s.path);
  const machines = new Set(paths.filter((p) => p.endsWith('/state')).map((p) => p.slice(0, -6)));
  const owner = (p) => {
    for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      if (machines.has(p.slice(0, i))) return p.slice(0, i);
    }
    return null;
  };
  for (const p of paths) if (!owner(p) && p.includes('/')) machines.add(p.slice(0, p.lastIndexOf('/')));
  const nodes = new Map();
  const node = (p) => {
    if (!nodes.has(p)) {
      const seg = p.split('/');
      nodes.set(p, { path: p, name: seg[seg.length - 1] || '', depth: p ? seg.length : 0, children: [], machine: machines.has(p), series: [] });
      if (p) {
        const parent = node(seg.slice(0, -1).join('/'));
        parent.children.push(p);
      }
    }
    return nodes.get(p);
  };
  node('');
  for (const m of machines) node(m);
  for (const s of series) {
    const m = owner(s.path);
    if (m) node(m).series.push({ ...s, tag: s.path.slice(m.length + 1) });
  }
  for (const n of nodes.values()) {
    n.children.sort();
    n.series.sort((a, b) => a.tag.localeCompare(b.tag));
  }
  return nodes;
}
export const machinesUnder = (nodes, p) => [...nodes.values()].filter((n) => n.machine && (p === '' || n.path === p || n.path.startsWith(p + '/')));
const LEVELS = ['site', 'area', 'line'];
const levelOf = (n) => (n.machine ? 'machine' : LEVELS[n.depth - 1] || 'group');

// ---- views ---------------------------------------------------------------

function FactoryView({ route, who }) {
  useSignal(lang);
  const tree = useApi('series', { limit: 100000 }, [who.org]);
  if (tree.error) return html`<${Failure} error=${tree.error} />`;
  if (!tree.data) return html`<p role="status">${t('shell.loading')}</p>`;
  const nodes = buildTree(tree.data.series);
  const path = route.path.join('/');
  const n = nodes.get(path);
  if (!n) return html`<${Crumbs} path=${path} /><p role="alert">${t('factory.notFound', { path })}</p>`;
  if (n.machine) return html`<${Crumbs} path=${path} /><${MachinePage} node=${n} route=${route} who=${who} reload=${tree.reload} />`;
  if (n.children.length === 0) return html`<h1>${t('area.factory')}</h1><p>${t('factory.empty')}</p>`;
  return html`<${Crumbs} path=${path} /><${NodePage} node=${n} nodes=${nodes} route=${route} who=${who} />`;
}

function Crumbs({ path }) {
  const segs = path ? path.split('/') : [];
  return html`<nav aria-label=${t('factory.breadcrumb')} class="crumbs"><ol>
    <li><a href=${href('factory')} aria-current=${segs.length ? undefined : 'page'}>${t('area.factory')}</a></li>
    ${segs.map((s, i) => html`<li><a href=${href('factory', segs.slice(0, i + 1))} aria-current=${i === segs.length - 1 ? 'page' : undefined}>${s}</a></li>`)}
  </ol></nav>`;
}

function Failure({ error }) {
  if (error.status === 404 || error.status === 405) return html`<p class="note">${t('error.unavailable')}</p>`;
  return html`<p role="alert" class="error">${error.message}</p>`;
}

// Tabs of a site, area or line, each its own link.
const TABS = ['overview', 'timeline', 'oee', 'downtime', 'alarms', 'events'];

function NodePage({ node, nodes, route, who }) {
  const tab = TABS.includes(route.query.get('tab')) ? route.query.get('tab') : 'overview';
  const title = node.path ? node.name : t('area.factory');
  const View = { overview: Overview, timeline: Timeline, oee: OEEView, downtime: ParetoView, alarms: AlarmsView, events: EventsView }[tab];
  return html`
    <h1>${title} ${node.path && html`<small>${t('level.' + levelOf(node))}</small>`}</h1>
    <nav class="tabs" aria-label=${t('factory.views')}><ul>
      ${TABS.map((x) => html`<li><a href=${href('factory', route.path, x === 'overview' ? {} : { tab: x })} aria-current=${x === tab ? 'page' : undefined}>${t('tab.' + x)}</a></li>`)}
    </ul></nav>
    <${View} node=${node} nodes=${nodes} route=${route} who=${who} />`;
}

// RangePicker sets from/to in the route; the period is part of the link.
function RangePicker({ route, def = '-24h', ranges = RANGES }) {
  const from = route.query.get('from') || def;
  return html`<div class="range" role="group" aria-labelledby="range-l"><span class="group-label" id="range-l">${t('range.label')}</span>
    ${ranges.map((r) => html`<a class="chip" href=${withQuery({ from: r, to: '' })} aria-current=${from === r ? 'true' : undefined}>${t('range.' + r)}</a>`)}
    ${ranges.includes('-24h') && html`<a class="chip" href=${withQuery(yesterday())} aria-current=${from === yesterday().from ? 'true' : undefined}>${t('range.yesterday')}</a>`}
  </div>`;
}
// yesterday is the local calendar day before today, as from/to.
function yesterday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  const to = d.getTime();
  d.setDate(d.getDate() - 1);
  return { from: String(d.getTime()), to: String(to) };
}
function rangeOf(route, def = '-24h') {
  const now = Date.now();
  const fromQ = route.query.get('from') || def, toQ = route.query.get('to') || '';
  return { from: parseTime(fromQ, now), to: parseTime(toQ, now), live: !toQ, fromQ, toQ };
}

// useLatest keeps the newest point of every series under prefix, from
// /latest and then the live stream.
function useLatest(prefix) {
  const [latest, setLatest] = useState(null);
  const [status, setStatus] = useState('');
  useEffect(() => {
    let alive = true;
    const merge = (pts) => alive && setLatest((old) => {
      const m = new Map(old || []);
      for (const p of pts) if (!m.has(p.series) || m.get(p.series).ts <= p.ts) m.set(p.series, p);
      return m;
    });
    api('latest', { params: { prefix, limit: 100000 } }).then((d) => merge(d.points), () => {});
    const stop = live(prefix, (kind, d) => {
      if (kind === 'points') merge(d.points);
      if (kind === 'reset') api('latest', { params: { prefix, limit: 100000 } }).then((x) => merge(x.points), () => {});
    }, (s) => alive && setStatus(s));
    return () => { alive = false; stop(); };
  }, [prefix]);
  // Until /latest answers, latest is an empty map and loading is true.
  return { latest: latest || EMPTY, status, loading: latest === null };
}
const EMPTY = new Map();

function LiveStatus({ status }) {
  if (!status) return null;
  return html`<span class="live" data-live=${status} role="status"><span class="dot" aria-hidden="true"></span>${t('live.' + status)}</span>`;
}

// machineState answers a machine's state as shown: its state value, or
// stale when none of its series has a fresh point.
export function machineState(n, latest, now) {
  let newest = 0;
  for (const s of n.series) newest = Math.max(newest, latest.get(s.path)?.ts || 0);
  const st = latest.get(n.path + '/state');
  const stale = !newest || now - newest > STALE_MS;
  return { value: st ? st.value : '', stale, newest };
}

// stateNow is machineState with the first time the machine reported a
// state: with no interval closed in the period, the current state has
// lasted since then or since before the period.
function stateNow(n, latest, now) {
  return { ...machineState(n, latest, now), since: n.series.find((x) => x.tag === 'state')?.first };
}

function StateBadge({ st, loading }) {
  if (loading) return html`<span class="badge unknown" data-state="loading">${t('shell.loading')}</span>`;
  if (st.stale) {
    return html`<span class="badge unknown" data-state="stale">${t('state.stale')}${st.value ? html` <small>(${t('state.last', { state: stateText(st.value) })})</small>` : ''}</span>`;
  }
  return html`<span class=${'badge ' + stateClass(st.value)} data-state=${st.value}>${stateText(st.value)}</span>`;
}

// kpiTags picks a machine's process values for its card: numeric, not
// internal, not OEE details.
const PREFERRED = ['temp', 'pressure', 'vibration', 'speed', 'power', 'cycle', 'good_count', 'scrap_count', 'energy'];
function kpiTags(n) {
  const rank = (tag) => { const i = PREFERRED.findIndex((w) => tag.includes(w)); return i < 0 ? 99 : i; };
  return n.series.filter((s) => s.tag !== 'state' && !INTERNAL_TAGS.has(s.tag) && !s.tag.includes('/') && s.kind !== 'string')
    .sort((a, b) => rank(a.tag) - rank(b.tag) || a.tag.localeCompare(b.tag));
}

function Overview({ node, nodes, who }) {
  const machines = machinesUnder(nodes, node.path);
  const { latest, status, loading } = useLatest(node.path);
  const alarms = useApi('alarms', { prefix: node.path, state: 'open', from: '-30d' });
  const openBy = new Map();
  for (const a of alarms.data?.alarms || []) openBy.set(a.asset, (openBy.get(a.asset) || 0) + 1);
  const now = Date.now();
  const children = node.children.map((c) => nodes.get(c)).filter((c) => !c.machine);
  return html`
    <${OEENow} prefix=${node.path} />
    <p class="quick">${t('factory.lostOutput')}
      <a href=${href('factory', node.path ? node.path.split('/') : [], { tab: 'oee', bucket: 'day' })}>${t('factory.oeeByDay')}</a> ·
      <a href=${href('factory', node.path ? node.path.split('/') : [], { tab: 'downtime', ...yesterday() })}>${t('factory.downtimeYesterday')}</a> ·
      <a href=${href('factory', node.path ? node.path.split('/') : [], { tab: 'timeline', ...yesterday() })}>${t('factory.timelineYesterday')}</a></p>
    ${children.length > 0 && html`<section aria-labelledby="children-h"><h2 id="children-h">${t('factory.below')}</h2>
      <ul class="children">${children.map((c) => {
        const ms = machinesUnder(nodes, c.path);
        const counts = {};
        for (const m of ms) { const s = machineState(m, latest, now); const k = s.stale ? 'unknown' : stateClass(s.value); counts[k] = (counts[k] || 0) + 1; }
        return html`<li><a href=${href('factory', c.path.split('/'))}>${c.name}</a> <small>${t('level.' + levelOf(c))}</small>
          <span class="counts">${Object.entries(counts).map(([k, v]) => html`<span class=${'badge ' + k}>${v} ${t('state.' + k)}</span>`)}</span></li>`;
      })}</ul></section>`}
    <section aria-labelledby="machines-h">
      <h2 id="machines-h">${t('factory.machines')} <${LiveStatus} status=${status} /></h2>
      <div class="cards">${machines.map((m) => html`<${MachineCard} n=${m} latest=${latest} loading=${loading} now=${now} alarms=${openBy.get(m.path) || 0} alarmsKnown=${!!alarms.data} />`)}</div>
    </section>`;
}

function MachineCard({ n, latest, loading, now, alarms, alarmsKnown }) {
  const st = machineState(n, latest, now);
  return html`<article class=${'card ' + (st.stale ? 'stale' : stateClass(st.value))} data-machine=${n.path}>
    <h3><a href=${href('factory', n.path.split('/'))}>${n.name}</a></h3>
    <${StateBadge} st=${st} loading=${loading} />
    <dl class="kpis">${kpiTags(n).slice(0, 4).map((s) => {
      const p = latest.get(s.path);
      return html`<div><dt>${s.tag}</dt><dd data-tag=${s.tag} data-value=${p ? String(p.value) : ''}>${p ? fmtNum(p.value) : '–'} <small>${unitOf(s.tag)}</small></dd></div>`;
    })}</dl>
    <p class="meta">${st.newest ? t('factory.updated', { ago: fmtAgo(st.newest) }) : t('factory.noData')}
      ${alarmsKnown && html` · <a href=${href('factory', n.path.split('/').slice(0, -1), { tab: 'alarms' })} class=${alarms ? 'alarm' : ''}>${t('alarms.openCount', { n: alarms })}</a>`}</p>
  </article>`;
}

// ---- OEE -------------------------------------------------------------------

// combine sums OEE buckets the way the hub does: availability = Σ running
// / Σ planned, performance weighted by running time, quality = Σ good /
// Σ total.
export function combine(buckets) {
  let run = 0, plan = 0, good = 0, total = 0, perfRun = 0, perfW = 0, start = Infinity, end = 0;
  for (const b of buckets) {
    run += b.running_s || 0; plan += b.planned_s || 0; good += b.good || 0; total += b.total || 0;
    if (b.performance !== null && b.performance !== undefined) { perfRun += b.performance * (b.running_s || 0); perfW += b.running_s || 0; }
    start = Math.min(start, b.start); end = Math.max(end, b.end);
  }
  const availability = plan ? run / plan : null;
  const performance = perfW ? perfRun / perfW : null;
  const quality = total ? good / total : null;
  const oee = availability !== null && performance !== null && quality !== null ? availability * performance * quality
    : (plan && (!run || !total) ? 0 : null);
  return { availability, performance, quality, oee, running_s: run, planned_s: plan, good, total, start, end };
}

function OEENow({ prefix }) {
  const r = useApi('oee', { prefix, by: 'site', bucket: 'hour', from: '-24h' });
  if (r.error) return html`<${Failure} error=${r.error} />`;
  if (!r.data) return null;
  const all = combine(r.data.groups.flatMap((g) => g.buckets));
  if (!all.end) return html`<p class="note">${t('oee.none')}</p>`;
  return html`<section class="oee-now" aria-labelledby="oee-now-h">
    <h2 id="oee-now-h">${t('oee.title')} <small>${t('oee.period', { from: fmtTime(all.start), to: fmtTime(all.end) })}</small></h2>
    <div class="factors">
      ${['oee', 'availability', 'performance', 'quality'].map((k) => html`<div class=${'factor ' + k} data-factor=${k}><span>${t('oee.' + k)}</span><strong>${fmtPct(all[k])}</strong></div>`)}
    </div></section>`;
}

// isoWeek is the ISO 8601 week number of the local day holding ms.
export function isoWeek(ms) {
  const d = new Date(ms);
  const th = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate() + 3 - ((d.getDay() + 6) % 7))); // the week's Thursday
  return 1 + Math.floor((th - Date.UTC(th.getUTCFullYear(), 0, 1)) / (7 * 864e5));
}

// bucketLabel names an OEE row as a person reads the calendar: a day, a
// week with its dates, a shift by its day and start.
export function bucketLabel(x, bucket) {
  const short = { day: 'numeric', month: 'short' };
  if (bucket === 'week') return t('oee.weekOf', { n: isoWeek(x.key), from: fmtDate(x.key, short), to: fmtDate(x.end - 1, short) });
  if (bucket === 'shift') return t('oee.shiftOf', { day: fmtDate(x.key), shift: x.shift || fmtTime(x.key, false) });
  return fmtDate(x.key);
}

const TARGET_KEY = 'molen.oeeTarget';
function OEEView({ node, route }) {
  const bucket = ['shift', 'day', 'week'].includes(route.query.get('bucket')) ? route.query.get('bucket') : 'day';
  const rg = rangeOf(route, bucket === 'shift' ? '-7d' : '-30d');
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const r = useApi('oee', { prefix: node.path, by: 'site', bucket, from: rg.fromQ, to: rg.toQ, tz });
  const [target, setTarget] = useState(Number(localStorage.getItem(TARGET_KEY)) || 0.85);
  const rows = useMemo(() => {
    if (!r.data) return [];
    // One row per calendar bucket of the hub, the sites under the node
    // combined.
    const by = new Map();
    for (const b of r.data.groups.flatMap((g) => g.buckets)) {
      if (!by.has(b.start)) by.set(b.start, []);
      by.get(b.start).push(b);
    }
    return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([k, bs]) => ({ ...combine(bs), key: k, shift: bs[0].shift }));
  }, [r.data, bucket]);
  const lines = ['oee', 'availability', 'performance', 'quality'].map((k) => ({
    label: t('oee.' + k), unit: '%', ts: rows.map((x) => x.key), values: rows.map((x) => (x[k] === null ? null : x[k] * 100)),
  }));
  return html`<section aria-labelledby="oee-h">
    <h2 id="oee-h">${t('oee.title')}</h2>
    <div class="toolbar">
      <div class="range" role="group" aria-labelledby="bucket-l"><span class="group-label" id="bucket-l">${t('oee.bucket')}</span>
        ${['shift', 'day', 'week'].map((b) => html`<a class="chip" href=${withQuery({ bucket: b })} aria-current=${b === bucket ? 'true' : undefined}>${t('bucket.' + b)}</a>`)}
      </div>
      <${RangePicker} route=${route} def=${bucket === 'shift' ? '-7d' : '-30d'} ranges=${['-24h', '-7d', '-30d', '-1y']} />
      <label>${t('oee.target')} <input type="number" min="0" max="100" step="1" value=${Math.round(target * 100)} class="narrow"
        onChange=${(e) => { const v = Number(e.target.value) / 100; localStorage.setItem(TARGET_KEY, String(v)); setTarget(v); }} /> %</label>
    </div>
    ${r.error ? html`<${Failure} error=${r.error} />` : !r.data ? html`<p role="status">${t('shell.loading')}</p>` : rows.length === 0 ? html`<p class="note">${t('oee.none')}</p>` : html`
      <${Chart} lines=${lines} from=${rows[0].key} to=${rows[rows.length - 1].end} title=${t('oee.title')} target=${target * 100} yRange=${[0, 105]} height=${240} />
      <table class="data"><caption class="sr-only">${t('oee.title')}</caption>
        <thead><tr><th scope="col">${t('bucket.' + bucket)}</th><th scope="col">${t('oee.oee')}</th><th scope="col">${t('oee.availability')}</th><th scope="col">${t('oee.performance')}</th><th scope="col">${t('oee.quality')}</th><th scope="col">${t('oee.good')}</th></tr></thead>
        <tbody>${rows.map((x) => html`<tr class=${x.oee !== null && x.oee < target ? 'below' : ''}>
          <th scope="row">${bucketLabel(x, bucket)}</th><td>${fmtPct(x.oee)}</td><td>${fmtPct(x.availability)}</td><td>${fmtPct(x.performance)}</td><td>${fmtPct(x.quality)}</td><td>${fmtNum(x.good)} / ${fmtNum(x.total)}</td></tr>`)}</tbody>
      </table>`}
  </section>`;
}

// ---- timeline and downtime ---------------------------------------------

// StateStrip draws one machine's state intervals over [from, to) as a
// Gantt strip; its text alternative gives the share of each state.
// The edge sends a state interval when it ends; the current state, while
// fresh, fills the strip from the last interval's end to now.
function StateStrip({ events, from, to, name, current }) {
  const span = to - from;
  const shares = {};
  const ivs = events.filter((e) => e.kind === 'state').map((e) => ({ a: e.start, b: e.end || to, st: e.attrs?.state || '' }));
  if (current && !current.stale && current.value) {
    const last = Math.max(0, ...ivs.map((x) => x.b));
    if (last < current.newest) ivs.push({ a: last || current.since || current.newest, b: Math.min(to, Date.now()), st: current.value });
  }
  const segs = ivs.map((x) => ({ a: Math.max(x.a, from), b: Math.min(x.b, to), st: x.st })).filter((x) => x.b > x.a);
  for (const x of segs) shares[stateClass(x.st)] = (shares[stateClass(x.st)] || 0) + (x.b - x.a);
  const text = Object.entries(shares).map(([k, v]) => t('state.' + k) + ' ' + Math.round((100 * v) / span) + ' %').join(', ');
  return html`<div class="strip" role="img" aria-label=${name + ': ' + (text || t('timeline.none'))}>
    ${segs.map((s) => html`<span class=${'seg ' + stateClass(s.st)} style=${{ left: ((s.a - from) / span) * 100 + '%', width: ((s.b - s.a) / span) * 100 + '%' }}
      title=${stateText(s.st) + ': ' + fmtTime(s.a) + ' – ' + fmtTime(s.b) + ' (' + fmtDuration((s.b - s.a) / 1000) + ')'}></span>`)}
  </div>`;
}

// TimeAxis marks round local times across a strip's period [from, to):
// quarter hours to days, about a dozen ticks, the first and last moment
// with their date below.
export function axisTicks(from, to) {
  const H = 3600e3, span = to - from;
  const step = [15 * 60e3, H, 2 * H, 3 * H, 6 * H, 12 * H, 24 * H].find((x) => span / x <= 12);
  if (!step) return [];
  const d = new Date(from);
  if (step >= 24 * H) d.setHours(0, 0, 0, 0); else d.setMinutes(Math.floor(d.getMinutes() / 15) * 15, 0, 0);
  const out = [];
  while (d.getTime() <= to) {
    const at = d.getTime();
    const local = d.getHours() * H + d.getMinutes() * 60e3;
    if (at > from && at < to && (step >= 24 * H || local % step === 0)) out.push(at);
    if (step >= 24 * H) d.setDate(d.getDate() + 1); else d.setTime(at + 15 * 60e3);
  }
  return out;
}
function TimeAxis({ from, to }) {
  const day = to - from > 3 * 864e5;
  // A label is centred on its tick, but kept inside the axis at either
  // end, so the axis never makes its section scroll sideways.
  const edge = (f) => (f < 0.05 ? 'start' : f > 0.95 ? 'end' : undefined);
  return html`<div class="ticks" aria-hidden="true">${axisTicks(from, to).map((at) => html`<span class=${edge((at - from) / (to - from))} style=${{ left: ((at - from) / (to - from)) * 100 + '%' }}>${
    day ? fmtDate(at, { day: 'numeric', month: 'short' }) : fmtTime(at, false).slice(0, 5)}</span>`)}</div>
    <p class="axis"><span>${fmtTime(from)}</span><span>${fmtTime(to)}</span></p>`;
}

function Legend() {
  return html`<p class="legend">${['running', 'idle', 'setup', 'down'].map((k) => html`<span><span class=${'swatch ' + k}></span>${t('state.' + k)}</span>`)}</p>`;
}

function Timeline({ node, nodes, route, who }) {
  const rg = rangeOf(route, '-24h');
  const machines = machinesUnder(nodes, node.path);
  const ev = useApi('events', { asset: node.path, kind: 'state', from: rg.fromQ, to: rg.toQ, limit: 10000 });
  const by = new Map(machines.map((m) => [m.path, []]));
  for (const e of ev.data?.events || []) if (by.has(e.asset)) by.get(e.asset).push(e);
  const { latest } = useLatest(node.path);
  const now = Date.now();
  return html`<section aria-labelledby="timeline-h">
    <h2 id="timeline-h">${t('timeline.title')}</h2>
    <${RangePicker} route=${route} ranges=${['-1h', '-8h', '-24h', '-7d']} />
    ${ev.error && html`<${Failure} error=${ev.error} />`}
    <${Legend} />
    <div class="strips">${machines.map((m) => html`<div class="strip-row"><a href=${href('factory', m.path.split('/'))}>${m.name}</a>
      <${StateStrip} events=${by.get(m.path)} from=${rg.from} to=${rg.to} name=${m.name} current=${rg.live && stateNow(m, latest, now)} /></div>`)}</div>
    <div class="strip-row"><span></span><div><${TimeAxis} from=${rg.from} to=${rg.to} /></div></div>
    <${DowntimeList} prefix=${node.path} from=${rg.fromQ} to=${rg.toQ} who=${who} />
  </section>`;
}

// useNames maps the organisation's people's IDs to their names, for who
// gave a reason or acknowledged an alarm; an ID without a name (a token,
// a person who left) shows as itself.
function useNames() {
  const r = useApi('members', {});
  const m = new Map((r.data?.members || []).map((x) => [x.user, x.name]));
  return (id) => m.get(id) || id;
}

// useReasons loads the organisation's downtime reasons.
function useReasons() {
  const r = useApi('reasons', {});
  return { list: r.data?.reasons || [], error: r.error, reload: r.reload, loaded: !!r.data };
}

// ReasonsEditor lets an admin replace the organisation's downtime reasons.
function ReasonsEditor({ reasons }) {
  const [rows, setRows] = useState(null);
  const [msg, setMsg] = useState('');
  const list = rows || reasons.list.map((r) => ({ code: r.code, en: r.label?.en || '', nl: r.label?.nl || '', planned: !!r.planned }));
  const set = (i, k, v) => setRows(list.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  async function save(e) {
    e.preventDefault();
    try {
      await api('reasons', { method: 'PUT', body: { reasons: list.map((r) => ({ code: r.code.trim(), label: { en: r.en.trim(), nl: r.nl.trim() }, planned: r.planned })) } });
      setMsg(t('reasons.saved'));
      setRows(null);
      reasons.reload();
    } catch (x) { setMsg(x.message); }
  }
  return html`<details class="admin"><summary>${t('reasons.title')}</summary>
    <form onSubmit=${save}>
      <table class="data"><caption class="sr-only">${t('reasons.title')}</caption>
        <thead><tr><th scope="col">${t('reasons.code')}</th><th scope="col">English</th><th scope="col">Nederlands</th><th scope="col">${t('downtime.planned')}</th><th scope="col"><span class="sr-only">${t('admin.delete')}</span></th></tr></thead>
        <tbody>${list.map((r, i) => html`<tr>
          <td><input aria-label=${t('reasons.code') + ' ' + (i + 1)} value=${r.code} required pattern="[a-z0-9_-]+" onInput=${(e) => set(i, 'code', e.target.value)} /></td>
          <td><input aria-label=${'English ' + (i + 1)} value=${r.en} required onInput=${(e) => set(i, 'en', e.target.value)} /></td>
          <td><input aria-label=${'Nederlands ' + (i + 1)} value=${r.nl} required onInput=${(e) => set(i, 'nl', e.target.value)} /></td>
          <td><input type="checkbox" aria-label=${t('downtime.planned') + ' ' + (i + 1)} checked=${r.planned} onChange=${(e) => set(i, 'planned', e.target.checked)} /></td>
          <td><button type="button" class="danger" onClick=${() => setRows(list.filter((_, j) => j !== i))}>${t('admin.delete')}<span class="sr-only"> ${r.code}</span></button></td></tr>`)}</tbody>
      </table>
      <div class="toolbar"><button type="button" onClick=${() => setRows([...list, { code: '', en: '', nl: '', planned: false }])}>${t('reasons.add')}</button>
        <button type="submit" class="primary">${t('reasons.save')}</button> <span role="status" class="note">${msg}</span></div>
    </form></details>`;
}

function DowntimeList({ prefix, from, to, who, onChange }) {
  const ev = useApi('events', { asset: prefix, kind: 'downtime', from, to, limit: 1000 });
  const reasons = useReasons();
  const byCode = new Map(reasons.list.map((r) => [r.code, r]));
  const mayAssign = can(who, 'engineer') && reasons.list.length > 0;
  const name = useNames();
  const [msg, setMsg] = useState('');
  async function assign(e, code, comment) {
    try {
      await api('events/reason', { method: 'POST', body: { asset: e.asset, kind: e.kind, start: new Date(e.start).toISOString(), reason: code, comment } });
      setMsg(t('downtime.saved'));
      ev.reload();
      if (onChange) onChange();
    } catch (x) { setMsg(x.message); }
  }
  const list = ev.data?.events || [];
  return html`<section aria-labelledby="downtime-h">
    <h2 id="downtime-h">${t('downtime.title')}</h2>
    ${ev.error && html`<${Failure} error=${ev.error} />`}
    ${reasons.error && can(who, 'engineer') && html`<p class="note">${t('downtime.noReasons')}</p>`}
    <p role="status" class="note">${msg}</p>
    ${list.length === 0 ? html`<p class="note">${t('downtime.none')}</p>` : html`
    <table class="data"><caption class="sr-only">${t('downtime.title')}</caption>
      <thead><tr><th scope="col">${t('col.machine')}</th><th scope="col">${t('col.start')}</th><th scope="col">${t('col.duration')}</th><th scope="col">${t('col.reason')}</th></tr></thead>
      <tbody>${list.map((e) => html`<tr data-downtime=${e.asset + '@' + e.start}>
        <td>${e.asset.split('/').pop()}</td><td>${fmtTime(e.start)}</td>
        <td>${e.end ? fmtDuration((e.end - e.start) / 1000) : t('downtime.ongoing')}</td>
        <td>${mayAssign ? html`<${ReasonPicker} e=${e} reasons=${reasons.list} onAssign=${assign} name=${name} />`
          : (byCode.has(e.attrs?.reason) ? label(byCode.get(e.attrs.reason).label) : e.attrs?.reason || '–')}</td></tr>`)}</tbody>
    </table>`}
  </section>`;
}

function ReasonPicker({ e, reasons, onAssign, name }) {
  const id = 'reason-' + e.asset.replace(/\W/g, '-') + '-' + e.start;
  const cur = e.attrs?.reason || '';
  const known = reasons.some((r) => r.code === cur);
  return html`<span class="reason">
    <label class="sr-only" for=${id}>${t('downtime.reasonFor', { machine: e.asset.split('/').pop(), start: fmtTime(e.start) })}</label>
    <select id=${id} value=${known ? cur : ''} onChange=${(x) => x.target.value && onAssign(e, x.target.value, '')}>
      <option value="">${known ? '' : (cur ? cur + ' — ' : '') + t('downtime.pick')}</option>
      ${reasons.map((r) => html`<option value=${r.code}>${label(r.label)}${r.planned ? ' (' + t('downtime.planned') + ')' : ''}</option>`)}
    </select>${e.attrs?.reason_by ? html` <small>${t('downtime.by', { who: name(e.attrs.reason_by) })}</small>` : ''}
  </span>`;
}

function ParetoView({ node, route, who }) {
  const rg = rangeOf(route, '-7d');
  const by = route.query.get('by') === 'asset' ? 'asset' : 'reason';
  const r = useApi('downtime/pareto', { prefix: node.path, by, from: rg.fromQ, to: rg.toQ });
  const reasons = useReasons();
  const byCode = new Map(reasons.list.map((x) => [x.code, x]));
  // A downtime nobody explained yet is keyed by the machine's state.
  const name = (k) => (by === 'asset' ? k.split('/').pop() : byCode.has(k) ? label(byCode.get(k).label)
    : k === 'unknown' ? t('downtime.unknown') : t('pareto.unexplained', { state: stateText(k) }));
  const items = r.data?.items || [];
  const max = Math.max(1, ...items.map((x) => x.duration_s));
  return html`<section aria-labelledby="pareto-h">
    <h2 id="pareto-h">${t('pareto.title')}</h2>
    <div class="toolbar">
      <div class="range" role="group" aria-labelledby="by-l"><span class="group-label" id="by-l">${t('pareto.by')}</span>
        ${['reason', 'asset'].map((b) => html`<a class="chip" href=${withQuery({ by: b })} aria-current=${b === by ? 'true' : undefined}>${t('pareto.' + b)}</a>`)}
      </div>
      <${RangePicker} route=${route} def="-7d" ranges=${['-8h', '-24h', '-7d', '-30d']} />
    </div>
    ${r.error ? html`<${Failure} error=${r.error} />` : !r.data ? html`<p role="status">${t('shell.loading')}</p>` : items.length === 0 ? html`<p class="note">${t('downtime.none')}</p>` : html`
    <p>${t('pareto.total', { d: fmtDuration(r.data.total_s) })}</p>
    <table class="data pareto" data-pareto=${by}><caption class="sr-only">${t('pareto.title')}</caption>
      <thead><tr><th scope="col">${t(by === 'asset' ? 'col.machine' : 'col.reason')}</th><th scope="col">${t('col.duration')}</th><th scope="col">${t('col.count')}</th><th scope="col">${t('col.share')}</th><th scope="col">${t('col.cumulative')}</th></tr></thead>
      <tbody>${items.map((x) => html`<tr data-key=${x.key} data-seconds=${x.duration_s}>
        <th scope="row">${name(x.key)}</th>
        <td><span class="bar" style=${{ width: (x.duration_s / max) * 100 + '%' }}></span>${fmtDuration(x.duration_s)}</td>
        <td>${x.count}</td><td>${fmtPct(x.share)}</td><td>${fmtPct(x.cumulative)}</td></tr>`)}</tbody>
    </table>`}
    <${DowntimeList} prefix=${node.path} from=${rg.fromQ} to=${rg.toQ} who=${who} onChange=${r.reload} />
    ${can(who, 'admin') && reasons.loaded && html`<${ReasonsEditor} reasons=${reasons} />`}
  </section>`;
}

// ---- alarms ----------------------------------------------------------------

function AlarmsView({ node, route, who }) {
  const st = ['open', 'acked', 'all'].includes(route.query.get('state')) ? route.query.get('state') : 'open';
  const rg = rangeOf(route, '-7d');
  const r = useApi('alarms', { prefix: node.path, state: st, from: rg.fromQ, to: rg.toQ });
  const [msg, setMsg] = useState('');
  const name = useNames();
  async function act(a, ack, comment) {
    try {
      // The hub names alarms by their start as it gave it (RFC 3339 with
      // nanoseconds), which is exact.
      const start = typeof a.start === 'string' ? a.start : new Date(a.start).toISOString();
      const req = { method: 'POST', body: { asset: a.asset, kind: a.kind, start, comment } };
      await (ack ? api('alarms/ack', req) : api('alarms/comment', req));
      setMsg(t(ack ? 'alarms.ackDone' : 'alarms.commented'));
      r.reload();
    } catch (x) { setMsg(x.message); }
  }
  const list = r.data?.alarms || [];
  return html`<section aria-labelledby="alarms-h">
    <h2 id="alarms-h">${t('alarms.title')}</h2>
    <div class="toolbar"><div class="range" role="group" aria-labelledby="af-l"><span class="group-label" id="af-l">${t('alarms.filter')}</span>
      ${['open', 'acked', 'all'].map((s) => html`<a class="chip" href=${withQuery({ state: s })} aria-current=${s === st ? 'true' : undefined}>${t('alarms.' + s)}</a>`)}
    </div><${RangePicker} route=${route} def="-7d" ranges=${['-24h', '-7d', '-30d']} /></div>
    <p role="status" class="note">${msg}</p>
    ${r.error ? html`<${Failure} error=${r.error} />` : list.length === 0 ? html`<p class="note">${r.data ? t('alarms.none') : t('shell.loading')}</p>` : html`
    <ul class="alarms">${list.map((a) => html`<li class=${a.acked ? 'acked' : 'open'}>
      <${AlarmItem} a=${a} mayAct=${can(who, 'engineer')} onAct=${act} name=${name} /></li>`)}</ul>`}
  </section>`;
}

function AlarmItem({ a, mayAct, onAct, name }) {
  const [text, setText] = useState('');
  const id = 'c-' + a.asset.replace(/\W/g, '-') + a.start;
  const attrs = Object.entries(a.attrs || {}).map(([k, v]) => k + '=' + v).join(', ');
  return html`<div class="alarm-head"><strong>${a.kind}</strong> · <a href=${href('factory', a.asset.split('/'))}>${a.asset.split('/').pop()}</a>
      · ${fmtTime(a.start)}${a.end ? ' – ' + fmtTime(a.end) : ' (' + t('alarms.active') + ')'}
      ${a.acked ? html` · <span class="badge running">${t('alarms.ackedBy', { who: name(a.acked_by) })}</span>` : html` · <span class="badge down">${t('alarms.open')}</span>`}</div>
    ${attrs && html`<p class="meta">${attrs}</p>`}
    ${(a.comments || []).length > 0 && html`<ul class="comments">${a.comments.map((c) => html`<li><small>${name(c.by)}, ${fmtTime(Date.parse(c.at) || c.at)}:</small> ${c.text}</li>`)}</ul>`}
    ${mayAct && html`<form class="inline" onSubmit=${(e) => { e.preventDefault(); onAct(a, false, text); setText(''); }}>
      <label class="sr-only" for=${id}>${t('alarms.comment')}</label>
      <input id=${id} value=${text} onInput=${(e) => setText(e.target.value)} placeholder=${t('alarms.comment')} />
      <button type="submit" disabled=${!text}>${t('alarms.addComment')}</button>
      ${!a.acked && html`<button type="button" class="primary" onClick=${() => { onAct(a, true, text); setText(''); }}>${t('alarms.ack')}</button>`}
    </form>`}`;
}

// ---- events ------------------------------------------------------------------

// The usual kinds; one a link names (a service's, say) is offered too.
const KINDS = ['', 'state', 'downtime', 'alarm', 'anomaly'];
function EventsView({ node, route }) {
  const q = route.query;
  const asset = q.get('asset') ?? node.path, kind = q.get('kind') || '';
  const rg = rangeOf(route, '-24h');
  const r = useApi('events', { asset, kind, from: rg.fromQ, to: rg.toQ, limit: 500 });
  function search(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const ms = (v) => (v ? String(new Date(v).getTime()) : '');
    // Unchanged times keep the period as it was (relative ones move on).
    const from = f.get('from') && f.get('from') !== local(rg.from) ? ms(f.get('from')) : rg.fromQ;
    const to = f.get('to') !== (rg.toQ ? local(rg.to) : '') ? ms(f.get('to')) : rg.toQ;
    location.hash = withQuery({ asset: f.get('asset'), kind: f.get('kind'), from, to });
  }
  // datetime-local wants local time without a zone.
  const local = (t0) => new Date(t0 - new Date(t0).getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  return html`<section aria-labelledby="events-h">
    <h2 id="events-h">${t('events.title')}</h2>
    <form class="toolbar" onSubmit=${search}>
      <label>${t('events.asset')} <input name="asset" value=${asset} /></label>
      <label>${t('events.kind')} <select name="kind" value=${kind}>${(KINDS.includes(kind) ? KINDS : [...KINDS, kind]).map((k) => html`<option value=${k}>${k || t('events.all')}</option>`)}</select></label>
      <label>${t('events.from')} <input type="datetime-local" name="from" value=${local(rg.from)} /></label>
      <label>${t('events.to')} <input type="datetime-local" name="to" value=${rg.toQ ? local(rg.to) : ''} /></label>
      <button type="submit">${t('events.search')}</button>
      <button type="button" onClick=${() => download('export', { events: 1, asset, kind, from: rg.from, to: rg.to, format: 'csv' })}>${t('export.csv')}</button>
    </form>
    <${RangePicker} route=${route} ranges=${['-1h', '-24h', '-7d', '-30d']} />
    ${r.error ? html`<${Failure} error=${r.error} />` : !r.data ? html`<p role="status">${t('shell.loading')}</p>` : html`
    <table class="data"><caption class="sr-only">${t('events.title')}</caption>
      <thead><tr><th scope="col">${t('col.machine')}</th><th scope="col">${t('events.kind')}</th><th scope="col">${t('col.start')}</th><th scope="col">${t('col.duration')}</th><th scope="col">${t('events.attrs')}</th></tr></thead>
      <tbody>${r.data.events.map((e) => html`<tr><td>${e.asset}</td><td>${e.kind}</td><td>${fmtTime(e.start)}</td>
        <td>${e.end ? fmtDuration((e.end - e.start) / 1000) : t('downtime.ongoing')}</td>
        <td>${Object.entries(e.attrs || {}).map(([k, v]) => k + '=' + v).join(', ')}</td></tr>`)}</tbody>
    </table>${r.data.truncated && html`<p class="note">${t('events.truncated')}</p>`}`}
  </section>`;
}

// ---- machine detail ----------------------------------------------------------

// defaultTags picks what to chart when the link names nothing.
function defaultTags(n) { return kpiTags(n).filter((s) => s.kind !== 'bool').slice(0, 2).map((s) => s.tag); }

// seriesData loads one series over [from, to): about `points` buckets; when
// the hub answers from rollups (a step of a minute or more) the minimum and
// maximum too, for a band.
async function seriesData(path, from, to, points) {
  const p = { series: path, from, to, points };
  const avg = await api('query', { params: p });
  const line = { ts: avg.buckets.map((b) => b.ts), values: avg.buckets.map((b) => b.value), step: avg.step_ms };
  if (avg.step_ms >= 60000 && avg.buckets.length) {
    const [mn, mx] = await Promise.all([api('query', { params: { ...p, agg: 'min' } }), api('query', { params: { ...p, agg: 'max' } })]);
    const mi = new Map(mn.buckets.map((b) => [b.ts, b.value])), ma = new Map(mx.buckets.map((b) => [b.ts, b.value]));
    line.min = line.ts.map((x) => mi.get(x) ?? null);
    line.max = line.ts.map((x) => ma.get(x) ?? null);
  }
  return line;
}

function MachinePage({ node, route, who, reload }) {
  const q = route.query;
  const fromQ = q.get('from') || '-1h', toQ = q.get('to') || '';
  const rg = useMemo(() => rangeOf(route, '-1h'), [fromQ, toQ]);
  const tags = q.get('s') ? q.get('s').split(',').filter((x) => node.series.some((s) => s.tag === x)) : defaultTags(node);
  const { latest, status, loading } = useLatest(node.path);
  const [lines, setLines] = useState([]);
  const [err, setErr] = useState(null);
  const [fetched, setFetched] = useState(0);
  const key = tags.join(',') + '|' + rg.fromQ + '|' + rg.toQ;
  // Load the charted series for the range.
  useEffect(() => {
    let alive = true;
    setErr(null);
    const points = Math.min(1000, Math.max(200, Math.round((document.getElementById('main')?.clientWidth || 800) / 2)));
    Promise.all(tags.map((tag) => seriesData(node.path + '/' + tag, rg.from, rg.to, points))).then((ls) => {
      if (!alive) return;
      setLines(ls.map((l, i) => ({ ...l, tag: tags[i], label: tags[i], unit: unitOf(tags[i]) })));
      setFetched(Date.now());
    }, (e) => alive && setErr(e));
    return () => { alive = false; };
  }, [key, node.path]);
  // Live points extend a chart that ends now.
  useEffect(() => {
    if (!rg.live || !lines.length) return;
    setLines((ls) => {
      let changed = false;
      const out = ls.map((l) => {
        const p = latest.get(node.path + '/' + l.tag);
        if (!p || typeof p.value !== 'number' || (l.ts.length && p.ts <= l.ts[l.ts.length - 1])) return l;
        changed = true;
        return { ...l, ts: [...l.ts, p.ts], values: [...l.values, p.value], min: l.min && [...l.min, p.value], max: l.max && [...l.max, p.value] };
      });
      return changed ? out : ls;
    });
  }, [latest, fetched]);
  const now = Date.now();
  const st = machineState(node, latest, now);
  const to = rg.live ? Math.max(rg.to, ...lines.map((l) => l.ts[l.ts.length - 1] || 0)) : rg.to;
  const span = rg.to - rg.from;
  const zoom = (a, b) => { location.hash = withQuery({ from: String(a), to: String(b) }); };
  const toggle = (tag) => {
    const next = tags.includes(tag) ? tags.filter((x) => x !== tag) : [...tags, tag];
    return withQuery({ s: next.join(',') });
  };
  return html`
    <h1>${node.name} <small>${t('level.machine')}</small> <${StateBadge} st=${st} loading=${loading} /> <${LiveStatus} status=${status} /></h1>
    <p class="meta">${st.newest ? t('factory.updated', { ago: fmtAgo(st.newest) }) : t('factory.noData')}</p>
    <section aria-labelledby="chart-h">
      <h2 id="chart-h">${t('chart.title')}</h2>
      <div class="toolbar">
        <${RangePicker} route=${route} def="-1h" />
        <div class="range" role="group" aria-label=${t('chart.pan')}>
          <a class="chip" href=${withQuery({ from: String(Math.round(rg.from - span / 2)), to: String(Math.round(rg.to - span / 2)) })}>◀ ${t('chart.earlier')}</a>
          ${!rg.live && html`<a class="chip" href=${withQuery({ from: String(Math.round(rg.from + span / 2)), to: String(Math.round(Math.min(Date.now(), rg.to + span / 2))) })}>${t('chart.later')} ▶</a>`}
          <a class="chip" href=${withQuery({ from: String(Math.round(rg.from - span / 2)), to: rg.live ? '' : String(Math.round(Math.min(Date.now(), rg.to + span / 2))) })}>${t('chart.zoomOut')}</a>
          ${!rg.live && html`<a class="chip" href=${withQuery({ from: '-1h', to: '' })}>${t('chart.reset')}</a>`}
        </div>
      </div>
      <p class="note">${t('chart.period', { from: fmtTime(rg.from), to: rg.live ? t('chart.now') : fmtTime(rg.to) })} · ${t('chart.dragHint')}</p>
      ${err ? html`<${Failure} error=${err} />` : html`<${Chart} lines=${lines} from=${rg.from} to=${to} onZoom=${zoom} title=${node.name} />`}
      <div class="toolbar">
        <button type="button" disabled=${!tags.length} onClick=${() => download('export', { series: tags.map((x) => node.path + '/' + x), from: rg.from, to: to, format: 'csv' })}>${t('export.csv')}</button>
        <button type="button" disabled=${!tags.length} onClick=${() => download('export', { series: tags.map((x) => node.path + '/' + x), from: rg.from, to: to, format: 'parquet' })}>${t('export.parquet')}</button>
      </div>
    </section>
    <section aria-labelledby="mtl-h">
      <h2 id="mtl-h">${t('timeline.title')}</h2>
      <${MachineTimeline} node=${node} from=${rg.from} to=${to} fromQ=${rg.fromQ} toQ=${rg.toQ} current=${rg.live && stateNow(node, latest, now)} />
    </section>
    <${DowntimeList} prefix=${node.path} from=${rg.fromQ} to=${rg.toQ} who=${who} />
    <section aria-labelledby="series-h">
      <h2 id="series-h">${t('series.title')}</h2>
      <table class="data"><caption class="sr-only">${t('series.title')}</caption>
        <thead><tr><th scope="col">${t('series.shown')}</th><th scope="col">${t('series.tag')}</th><th scope="col">${t('series.value')}</th><th scope="col">${t('series.updated')}</th></tr></thead>
        <tbody>${node.series.filter((s) => !INTERNAL_TAGS.has(s.tag)).map((s) => {
          const p = latest.get(s.path);
          const i = tags.indexOf(s.tag);
          return html`<tr><td>${s.kind === 'string' ? '' : html`<label class="toggle"><input type="checkbox" checked=${i >= 0} data-series=${s.tag} onChange=${() => { location.hash = toggle(s.tag); }} />
              <span class="swatch" style=${i >= 0 ? { background: colour(i) } : {}}></span><span class="sr-only">${t('series.show', { tag: s.tag })}</span></label>`}</td>
            <th scope="row">${s.tag}</th>
            <td data-tag=${s.tag} data-value=${p ? String(p.value) : ''}>${p ? (s.tag === 'state' ? stateText(p.value) : fmtNum(p.value)) : '–'} ${unitOf(s.tag)}</td>
            <td>${p ? fmtAgo(p.ts) : '–'}</td></tr>`;
        })}</tbody>
      </table>
    </section>
    ${can(who, 'admin') && html`<${SeriesAdmin} node=${node} reload=${reload} />`}`;
}

function MachineTimeline({ node, from, to, fromQ, toQ, current }) {
  const ev = useApi('events', { asset: node.path, kind: 'state', from: fromQ, to: toQ, limit: 10000 });
  if (ev.error) return html`<${Failure} error=${ev.error} />`;
  return html`<${Legend} /><${StateStrip} events=${(ev.data?.events || []).filter((e) => e.asset === node.path)} from=${from} to=${to} name=${node.name} current=${current} />
    <${TimeAxis} from=${from} to=${to} />`;
}

// SeriesAdmin lets an admin rename, merge and delete a machine's series.
function SeriesAdmin({ node, reload }) {
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  async function run(what, fn) {
    setBusy(true);
    try { await fn(); setMsg(t('admin.done', { what })); reload(); } catch (e) { setMsg(e.message); } finally { setBusy(false); }
  }
  return html`<details class="admin"><summary>${t('admin.series')}</summary>
    <p class="note">${t('admin.warning')}</p>
    <p role="status" class="note">${msg}</p>
    <table class="data"><caption class="sr-only">${t('admin.series')}</caption>
      <thead><tr><th scope="col">${t('series.tag')}</th><th scope="col">${t('admin.rename')}</th><th scope="col">${t('admin.merge')}</th><th scope="col">${t('admin.delete')}</th></tr></thead>
      <tbody>${node.series.map((s) => html`<tr><th scope="row">${s.path}</th>
        <td><form class="inline" onSubmit=${(e) => { e.preventDefault(); const to = new FormData(e.target).get('to'); run(t('admin.rename'), () => api('series/rename', { method: 'POST', body: { from: s.path, to } })); }}>
          <label class="sr-only" for=${'rn-' + s.path}>${t('admin.newName', { tag: s.tag })}</label>
          <input id=${'rn-' + s.path} name="to" required defaultValue=${s.path} /><button type="submit" disabled=${busy}>${t('admin.rename')}</button></form></td>
        <td><form class="inline" onSubmit=${(e) => { e.preventDefault(); const into = new FormData(e.target).get('into'); if (confirm(t('admin.confirmMerge', { from: s.path, into }))) run(t('admin.merge'), () => api('series/merge', { method: 'POST', body: { from: s.path, into } })); }}>
          <label class="sr-only" for=${'mg-' + s.path}>${t('admin.mergeInto', { tag: s.tag })}</label>
          <select id=${'mg-' + s.path} name="into">${node.series.filter((x) => x !== s).map((x) => html`<option value=${x.path}>${x.tag}</option>`)}</select>
          <button type="submit" disabled=${busy}>${t('admin.merge')}</button></form></td>
        <td><button type="button" class="danger" disabled=${busy} onClick=${() => confirm(t('admin.confirmDelete', { path: s.path })) && run(t('admin.delete'), () => api('series', { method: 'DELETE', params: { path: s.path } }))}>${t('admin.delete')}<span class="sr-only"> ${s.tag}</span></button></td></tr>`)}</tbody>
    </table></details>`;
}
