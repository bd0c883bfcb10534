// lib.js: small helpers the shell and every view share (no state here).
//   h(tag, attrs, ...children)  build an element; text children become text
//                               nodes (never HTML), so device text is safe
//   svg(tag, attrs, ...)        the same in the SVG namespace
//   fmtTime, fmtAge, fmtNum     display formats
//   idText(id), idPath(id)      a device id shown decoded / put in a URL encoded
//   lineChart(points, opts)     an SVG line chart of [{t, v}] (Overview)

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Empty an element and fill it again.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function fmtNum(n) {
  return typeof n === 'number' ? n.toLocaleString('en') : '-';
}

// Unix seconds or an ISO string -> "2026-12-03 14:05:09" (local time)
export function fmtTime(t) {
  if (t === undefined || t === null || t === '') return '-';
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (isNaN(d)) return String(t);
  const p = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

// How long ago: "5 s", "3 min", "2 h", "4 d"
export function fmtAge(t, now = Date.now() / 1000) {
  if (t === undefined || t === null || t === '') return '-';
  const s = typeof t === 'number' ? t : Date.parse(t) / 1000;
  if (isNaN(s)) return '-';
  const d = Math.max(0, Math.round(now - s));
  if (d < 60) return `${d} s`;
  if (d < 3600) return `${Math.round(d / 60)} min`;
  if (d < 86400) return `${Math.round(d / 3600)} h`;
  return `${Math.round(d / 86400)} d`;
}

// Ids travel percent-encoded in the API (OUI-Product-Serial with escapes);
// the page shows them decoded and sends them encoded.
export function idText(id) {
  try { return decodeURIComponent(id); } catch { return id; }
}
export function idPath(id) {
  return encodeURIComponent(id);
}

// An SVG line chart: points [{t: unix s, v: number}], evenly spaced in t.
// opts: {title, height, unit}. Axis labels: the max value and the time span.
export function lineChart(points, opts = {}) {
  const W = 480, H = opts.height || 140, L = 36, R = 8, T = 10, B = 20;
  const max = Math.max(1, ...points.map((p) => p.v));
  const n = points.length;
  const x = (i) => L + (n <= 1 ? 0 : (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const title = opts.title || 'chart';
  const total = points.reduce((s, p) => s + p.v, 0);
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img',
                             'aria-label': `${title}: ${total} in ${n} minutes, at most ${max} a minute` });
  chart.append(svg('title', {}, title));
  for (const f of [0, 0.5, 1]) {
    chart.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(max * f), y2: y(max * f) }));
  }
  chart.append(svg('text', { x: L - 4, y: y(max) + 4, 'text-anchor': 'end' }, fmtNum(max)));
  chart.append(svg('text', { x: L - 4, y: y(0) + 4, 'text-anchor': 'end' }, '0'));
  chart.append(svg('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }));
  if (n > 0) {
    const mins = Math.round(((points[n - 1].t - points[0].t) / 60)) + 1;
    chart.append(svg('text', { x: L, y: H - 4 }, `-${mins >= 120 ? Math.round(mins / 60) + ' h' : mins + ' min'}`));
    chart.append(svg('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, 'now'));
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    chart.append(svg('path', { class: 'area', d: `${d} L${x(n - 1).toFixed(1)},${y(0)} L${x(0)},${y(0)} Z` }));
    chart.append(svg('path', { class: 'line', d }));
  }
  return chart;
}
