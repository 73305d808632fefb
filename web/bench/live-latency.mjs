// How late live data reaches a browser: opens the hub's web application in
// headless Chromium and, inside the page, follows GET /api/v1/live for 30 s,
// noting for every point how long after its own timestamp it arrived.
// Series whose points come later than 1 s are the pipeline's windowed
// aggregates (stamped with their window's start, sent when it closes); the
// figure is over the other series. Usage, with a running demo:
//
//   node web/bench/live-latency.mjs http://127.0.0.1:8080 "$(cat molen-data/hub/admin-token)"
import { chromium } from 'playwright-core';

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error('usage: node web/bench/live-latency.mjs <hub URL> <API token>');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
await page.goto(base + '/');
const seen = await page.evaluate(async (token) => {
  const ctrl = new AbortController();
  const r = await fetch('/api/v1/live?prefix=', { headers: { Authorization: 'Bearer ' + token }, signal: ctrl.signal });
  if (!r.ok) throw new Error('live: ' + r.status);
  const rd = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const out = [];
  const end = Date.now() + 30000;
  while (Date.now() < end) {
    const { value, done } = await rd.read();
    if (done) break;
    const now = Date.now();
    buf += dec.decode(value, { stream: true });
    for (let i; (i = buf.indexOf('\n\n')) >= 0;) {
      const msg = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!msg.startsWith('event: points') && !msg.includes('\nevent: points')) continue;
      const data = msg.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
      for (const p of JSON.parse(data).points) out.push([now - Date.parse(p.ts), p.series]);
    }
  }
  ctrl.abort();
  return out;
}, token);
await browser.close();

const windowed = new Set(seen.filter(([d]) => d > 1000).map(([, s]) => s));
const lat = seen.filter(([, s]) => !windowed.has(s)).map(([d]) => d).sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(JSON.stringify({
  series: new Set(seen.map(([, s]) => s)).size - windowed.size, windowed_series: windowed.size,
  points: lat.length, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: lat[lat.length - 1],
}));
