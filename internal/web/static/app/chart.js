// Charts: a thin component over uPlot. Several series overlay on shared
// time; each unit gets its own y-axis (the first on the left, the second on
// the right); rollups show their min/max as a band; a drag selects a range
// to zoom into. The y-axes never shrink below a sensible span, so a flat
// line does not look like noise.
import { html, useEffect, useRef, theme, lang, useSignal, t, fmtNum, fmtTime } from './core.js';
import uPlot from '../vendor/uplot.js';

const PALETTE = ['#1f6feb', '#d9480f', '#2b8a3e', '#9c36b5', '#c92a2a', '#0b7285', '#e67700', '#5f3dc4', '#495057', '#a61e4d'];
export const colour = (i) => PALETTE[i % PALETTE.length];

// minSpan widens [min, max] to at least 10 % of its magnitude (and 0.5
// for values near zero) around its middle.
export function minSpan(min, max) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const mid = (min + max) / 2;
  const want = Math.max(Math.abs(mid) * 0.1, 0.5);
  if (max - min >= want) {
    const pad = (max - min) * 0.05;
    return [min - pad, max + pad];
  }
  return [mid - want / 2, mid + want / 2];
}

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

// chartData joins the lines into uPlot's columns: x in seconds (uPlot's
// time axis), one column per line plus min and max columns for bands, and
// a target as a line from \`from\` to \`to\`, so it shows across the chart
// even when the lines have a single point.
export function chartData(lines, from, to, target) {
  const tables = lines.map((l) => {
    const cols = [l.ts.map((x) => x / 1000), l.values];
    if (l.min) cols.push(l.min, l.max);
    return cols;
  });
  if (!tables.length) return [[]];
  if (target !== undefined) tables.push([[from / 1000, to / 1000], [target, target]]);
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}

// Chart props: lines [{label, unit, ts: [ms], values: [n], min?: [n], max?: [n]}],
// from/to (ms), onZoom(from, to), height, title (for screen readers).
export function Chart({ lines, from, to, onZoom, height = 280, title, bars = false, target, yRange }) {
  const el = useRef(null);
  const plot = useRef(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;
  const th = useSignal(theme);
  const lg = useSignal(lang);

  // Shape: the columns chartData makes.
  const shapeKey = lines.map((l) => l.label + '|' + l.unit + '|' + !!l.min).join(';') + th + lg + bars + (target ?? '');
  useEffect(() => {
    const node = el.current;
    const data = chartData(lines, from, to, target);
    const units = [...new Set(lines.map((l) => l.unit || ''))];
    const scaleOf = (u) => 'y' + units.indexOf(u);
    const axisColour = cssVar('--muted') || '#555';
    const gridColour = cssVar('--grid') || '#ddd';
    // Times in the page's language: hours and minutes within two days,
    // dates beyond.
    const series = [{ label: t('chart.time'), value: (u, v) => (v === null ? '–' : fmtTime(v * 1000)) }];
    // A band's min and max series stay out of the legend: the line's own
    // entry shows them as "avg (min–max)".
    const bands = [], hidden = [];
    lines.forEach((l, i) => {
      const c = colour(i);
      const idx = series.length;
      series.push({
        label: l.label + (l.unit ? ' (' + l.unit + ')' : ''), stroke: c, width: 2, scale: scaleOf(l.unit || ''),
        spanGaps: false,
        value: l.min
          ? (u, v, si, di) => (v === null || di === null ? fmtNum(v) : fmtNum(v) + ' (' + fmtNum(u.data[idx + 1][di]) + '–' + fmtNum(u.data[idx + 2][di]) + ')')
          : (u, v) => fmtNum(v),
        ...(bars ? { paths: uPlot.paths.bars({ size: [0.6, 60] }), fill: c + 'cc' } : {}),
      });
      if (l.min) {
        series.push({ label: l.label + ' min', stroke: c + '55', width: 1, scale: scaleOf(l.unit || ''), value: (u, v) => fmtNum(v) });
        series.push({ label: l.label + ' max', stroke: c + '55', width: 1, scale: scaleOf(l.unit || ''), value: (u, v) => fmtNum(v) });
        bands.push({ series: [idx + 2, idx + 1], fill: c + '22' });
        hidden.push(idx + 1, idx + 2);
      }
    });
    if (target !== undefined && lines.length) {
      series.push({ label: t('oee.target'), stroke: cssVar('--fg') || '#000', dash: [6, 4], width: 1.5, scale: 'y0', value: () => fmtNum(target) });
    }
    const scales = { x: { time: true, min: from / 1000, max: to / 1000 } };
    units.forEach((u) => { scales[scaleOf(u)] = { range: (p, lo, hi) => yRange || (bars ? [0, Math.max(1.05, hi || 0)] : minSpan(lo, hi)) }; });
    const loc = document.documentElement.lang === 'nl' ? 'nl-NL' : 'en-GB';
    // Over more than two days a tick at local midnight names its day and
    // the others their hour, so no date repeats along the axis.
    const xValues = (u, splits) => {
      const span = (splits[splits.length - 1] - splits[0]) || 0;
      const hm = { hour: '2-digit', minute: '2-digit' };
      return splits.map((v) => {
        const d = new Date(v * 1000);
        if (span <= 2 * 86400) return d.toLocaleString(loc, hm);
        return d.getHours() || d.getMinutes() ? d.toLocaleString(loc, hm) : d.toLocaleString(loc, { day: 'numeric', month: 'short' });
      });
    };
    const axes = [{ stroke: axisColour, grid: { stroke: gridColour }, values: xValues }];
    units.slice(0, 2).forEach((u, i) => axes.push({
      scale: scaleOf(u), side: i === 0 ? 3 : 1, stroke: axisColour, label: u, grid: { show: i === 0, stroke: gridColour },
      values: (p, vals) => vals.map((v) => fmtNum(v)), size: node.clientWidth < 500 ? 44 : 60,
    }));
    const opts = {
      width: node.clientWidth || 600, height, series, scales, axes, bands,
      cursor: { drag: { x: !!zoom.current, y: false } },
      legend: { live: true },
      hooks: {
        setSelect: [(u) => {
          if (!zoom.current || u.select.width < 5) return;
          const a = u.posToVal(u.select.left, 'x'), b = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ width: 0, height: 0 }, false);
          zoom.current(Math.round(a * 1000), Math.round(b * 1000));
        }],
      },
    };
    plot.current = new uPlot(opts, data, node);
    const rows = node.querySelectorAll('.u-legend .u-series');
    for (const i of hidden) if (rows[i]) { rows[i].style.display = 'none'; rows[i].dataset.band = ''; }
    node.dataset.points = String(lines.reduce((n, l) => n + l.values.length, 0));
    node.dataset.span = String(to - from);
    const ro = new ResizeObserver(() => plot.current && plot.current.setSize({ width: node.clientWidth, height }));
    ro.observe(node);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, [shapeKey, height]);

  // New data of the same shape (a live point) only updates the plot.
  useEffect(() => {
    if (!plot.current) return;
    if (!lines.length) return;
    plot.current.setData(chartData(lines, from, to, target), false);
    plot.current.setScale('x', { min: from / 1000, max: to / 1000 });
    el.current.dataset.points = String(lines.reduce((n, l) => n + l.values.length, 0));
    el.current.dataset.span = String(to - from);
  }, [lines]);

  const summary = title + ': ' + lines.map((l) => l.label + ' ' + (l.values.length ? fmtNum(l.values[l.values.length - 1]) + (l.unit ? ' ' + l.unit : '') : '–')).join(', ');
  return html`<figure class="chart">
    <div ref=${el} role="img" aria-label=${summary} data-chart></div>
    ${lines.length === 0 && html`<figcaption>${t('chart.empty')}</figcaption>`}
  </figure>`;
}
