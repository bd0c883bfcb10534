// Overview: the fleet at a glance. Cards (devices, online, offline, pending
// tasks, open faults, live sessions), per-minute charts of informs,
// sessions and faults (GET /api/stats/history), and the devices by model
// and software version (GET /api/stats/breakdown; a click opens the device
// list filtered to it). Live: events refresh the numbers (debounced), so a
// new device or a finished task shows without a reload.
import { h, fill, fmtNum, lineChart } from '../lib.js';

const RANGES = [[60, '1 hour'], [180, '3 hours'], [720, '12 hours'], [1440, '24 hours']];

// A filter value in the search language: bare word, or "quoted".
function filterValue(v) {
  return /^[A-Za-z0-9._:+\-\/]+$/.test(v) ? v : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function card(id, label, cls) {
  return h('div', { class: `card ${cls || ''}`, id },
    h('span', { class: 'value', 'aria-live': 'polite' }, '-'), h('span', { class: 'label' }, label));
}

function setCard(el, id, v) {
  const c = el.querySelector(`#${id} .value`);
  if (c) c.textContent = fmtNum(v);
}

function breakdownList(title, field, data, ctx) {
  const max = Math.max(1, ...data.top.map((x) => x.count));
  const list = h('ul', { class: 'bars' });
  for (const x of data.top) {
    const shown = x.value === '' ? '(none)' : x.value;
    const filter = `${field}=${filterValue(x.value)}`;
    list.append(h('li', {},
      h('button', { type: 'button', class: 'link', title: `Devices where ${filter}`,
                    onclick: () => ctx.navigate('#/devices', { filter }) }, shown),
      h('div', { class: 'track', 'aria-hidden': 'true' },
        h('div', { class: 'fill', dataset: { w: String(x.count / max) } })),
      h('span', { class: 'num' }, fmtNum(x.count))));
  }
  // widths through the CSSOM (the CSP allows no inline style attributes)
  for (const f of list.querySelectorAll('.fill')) f.style.width = `${Number(f.dataset.w) * 100}%`;
  if (data.others) list.append(h('li', { class: 'muted' }, h('span', {}, 'others'), h('span'), h('span', { class: 'num' }, fmtNum(data.others))));
  if (!data.top.length) list.append(h('li', { class: 'muted' }, 'no devices yet'));
  return h('section', { class: 'panel', 'aria-label': title }, h('h2', {}, title), list);
}

export default {
  path: '#/overview',
  title: 'Overview',
  nav: true,
  minRole: 'viewer',
  async render(el, ctx) {
    let minutes = Number(ctx.params.minutes) || 180;
    const range = h('select', { id: 'ov-range' },
      RANGES.map(([m, label]) => h('option', { value: m, selected: m === minutes }, label)));
    const cards = h('div', { class: 'cards', id: 'ov-cards' },
      card('ov-total', 'devices'), card('ov-online', 'online', 'ok'), card('ov-offline', 'offline', 'bad'),
      card('ov-pending', 'pending tasks', 'warn'), card('ov-faults', 'open faults', 'bad'),
      card('ov-sessions', 'live sessions'));
    const charts = h('div', { class: 'grid2', id: 'ov-charts' });
    const breakdown = h('div', { class: 'grid2', id: 'ov-breakdown' });
    const updated = h('p', { class: 'muted', id: 'ov-updated' });
    el.append(h('h1', {}, 'Overview'), cards,
      h('div', { class: 'toolbar' }, h('label', { for: 'ov-range' }, 'Charts over the last'), range, updated),
      charts, breakdown);

    let alive = true;
    const timers = new Set();
    const later = (fn, ms) => { const t = setTimeout(() => { timers.delete(t); fn(); }, ms); timers.add(t); return t; };

    async function loadStats() {
      const [s, f] = await Promise.all([
        ctx.api('/api/stats'),
        ctx.api('/api/faults', { query: { limit: 1 }, raw: true }),
      ]);
      if (!alive) return;
      setCard(el, 'ov-total', s.total_devices);
      setCard(el, 'ov-online', s.online_devices);
      setCard(el, 'ov-offline', s.offline_devices);
      setCard(el, 'ov-pending', s.pending_tasks + (s.sent_tasks || 0));
      setCard(el, 'ov-sessions', s.live_sessions);
      setCard(el, 'ov-faults', Number(f.headers.get('X-Total-Count') || 0));
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    }

    async function loadCharts() {
      const hist = await ctx.api('/api/stats/history', { query: { minutes } });
      if (!alive) return;
      const series = (k) => hist.buckets.map((b) => ({ t: b.t, v: b[k] }));
      const label = RANGES.find(([m]) => m === minutes)?.[1] || `${minutes} minutes`;
      fill(charts,
        h('section', { class: 'panel', id: 'ov-chart-informs' }, h('h2', {}, 'Informs per minute'),
          lineChart(series('informs'), { title: `Informs per minute, last ${label}` })),
        h('section', { class: 'panel', id: 'ov-chart-sessions' }, h('h2', {}, 'Sessions (most at once, per minute)'),
          lineChart(series('sessions'), { title: `Sessions per minute, last ${label}` })),
        h('section', { class: 'panel', id: 'ov-chart-faults' }, h('h2', {}, 'Faults per minute'),
          lineChart(series('faults'), { title: `Faults per minute, last ${label}` })));
    }

    async function loadBreakdown() {
      const b = await ctx.api('/api/stats/breakdown');
      if (!alive) return;
      fill(breakdown, breakdownList('By model', 'model', b.model, ctx),
        breakdownList('By software version', 'version', b.software_version, ctx));
    }

    const safe = (fn) => () => fn().catch((e) => { if (alive) ctx.notify(e.message, 'error'); });
    // debounced refreshes: at most one of each in flight per interval
    const pending = {};
    const soon = (name, fn, ms) => {
      if (pending[name]) return;
      pending[name] = true;
      later(() => { pending[name] = false; if (alive) safe(fn)(); }, ms);
    };

    range.addEventListener('change', () => {
      minutes = Number(range.value);
      safe(loadCharts)();
    });

    await Promise.all([safe(loadStats)(), safe(loadCharts)(), safe(loadBreakdown)()]);

    const close = ctx.events({ types: 'inform,device,task,fault' }, (ev) => {
      soon('stats', loadStats, 500);
      if (ev.type === 'inform' || ev.type === 'device') soon('breakdown', loadBreakdown, 3000);
      soon('charts', loadCharts, 5000);
    });
    // the minute buckets move on even when nothing happens
    const tick = setInterval(() => { safe(loadCharts)(); safe(loadStats)(); }, 60000);

    return () => {
      alive = false;
      close();
      clearInterval(tick);
      for (const t of timers) clearTimeout(t);
    };
  },
};
