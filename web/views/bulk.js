// Bulk: every bulk with its progress (GET /api/bulk, keyset pages); an
// operator cancels a running one. bulk_detail.js is one bulk (#/bulk/{id}).
import { h, fill, fmtTime, fmtNum } from '../lib.js';
import { useStyles, getPage, table, statusBadge, busy, confirmDialog, progressBar, moreButton } from './ops_lib.js';

const STATES = ['running', 'done', 'cancelled', 'stopped'];

export function cancelBulkButton(ctx, b, after) {
  const btn = h('button', { type: 'button', class: 'danger', 'aria-label': `Cancel bulk ${b.id}` }, 'Cancel');
  btn.addEventListener('click', async () => {
    if (!await confirmDialog(`Cancel bulk ${b.id}? Its ${fmtNum(b.counts.pending)} tasks not sent yet are cancelled; those sent finish.`,
                             { confirm: 'Cancel the bulk', danger: true })) return;
    const r = await busy(ctx, btn, () => ctx.api(`/api/bulk/${b.id}`, { method: 'DELETE' }));
    if (r) {
      ctx.notify(`Bulk ${b.id} cancelled (${fmtNum(r.cancelled_now)} tasks)`, 'ok');
      after(r);
    }
  });
  return btn;
}

export function countsLegend(b) {
  const c = b.counts;
  const item = (label, n) => h('li', {}, `${label} `, h('b', {}, fmtNum(n)));
  return h('ul', { class: 'ops-legend', 'aria-label': `Bulk ${b.id} counts` },
    item('total', b.total), item('held', c.held), item('in flight', c.in_flight), item('sent', c.sent),
    item('done', c.done), item('failed', c.failed), item('expired', c.expired), item('cancelled', c.cancelled));
}

export default {
  path: '#/bulk',
  title: 'Bulk',
  nav: true,
  minRole: 'viewer',
  async render(el, ctx) {
    useStyles();
    const state = h('select', { id: 'bulk-state' }, h('option', { value: '' }, 'any'),
      STATES.map((s) => h('option', { value: s }, s)));
    state.value = STATES.includes(ctx.params.state) ? ctx.params.state : '';
    state.addEventListener('change', () => ctx.navigate('#/bulk', { state: state.value }));
    const body = h('div');
    const more = h('div', { class: 'toolbar' });
    el.append(h('h1', {}, 'Bulk tasks'),
      h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'bulk-state' }, 'State'), state)),
      body, more);
    let rows = [];
    let next = null;
    const cols = [
      { label: 'Bulk', cell: (b) => h('a', { href: `#/bulk/${b.id}` }, `#${b.id}`) },
      { label: 'State', cell: (b) => statusBadge(b.state) },
      { label: 'Task', cell: (b) => b.type },
      { label: 'Devices', cell: (b) => (b.filter ? h('code', {}, b.filter) : 'id list') },
      { label: 'Progress', cell: (b) => h('div', {}, progressBar(b.total, b.counts),
        h('span', { class: 'muted' }, `${fmtNum(b.counts.done)} done, ${fmtNum(b.counts.failed + b.counts.expired)} failed, ${fmtNum(b.total)} in all`)) },
      { label: 'Created', cell: (b) => fmtTime(b.created) },
    ];
    if (ctx.can('operator')) {
      cols.push({ label: 'Actions', cell: (b) => (b.state === 'running' ? cancelBulkButton(ctx, b, () => reload()) : '') });
    }
    const draw = () => {
      fill(body, rows.length ? table(cols, rows, { caption: 'Bulks, newest first' })
        : h('p', {}, 'No bulks. Select devices on the Devices page to start one, or start a download from Files.'));
      fill(more, next ? moreButton('Load more', load) : null);
    };
    async function load() {
      const page = next ? await getPage(ctx, next) : await getPage(ctx, '/api/bulk', { state: state.value, limit: 50 });
      rows = rows.concat(page.items);
      next = page.next;
      draw();
    }
    async function reload() {
      const shown = Math.max(rows.length, 1);
      const page = await getPage(ctx, '/api/bulk', { state: state.value, limit: Math.min(1000, shown) });
      rows = page.items;
      next = page.next;
      draw();
    }
    await load();
    // While some bulk runs, its counts move: refresh on task events (at most
    // once a second) and every 5 s in any case.
    let timer = null;
    const running = () => rows.some((b) => b.state === 'running');
    const soon = () => {
      if (!timer && running()) timer = setTimeout(() => { timer = null; reload().catch(() => {}); }, 1000);
    };
    const close = ctx.events({ types: 'task,bulk' }, soon);
    const tick = setInterval(soon, 5000);
    return () => { close(); clearInterval(tick); if (timer) clearTimeout(timer); };
  },
};
