// Tasks: every device's tasks, newest first (GET /api/tasks, keyset pages),
// filtered by status and device; each opens on #/tasks/{id}; an operator
// cancels a pending one. Rows follow task events live.
import { h, fill, fmtTime, idText, idPath } from '../lib.js';
import { useStyles, getPage, table, statusBadge, busy, confirmDialog, moreButton, deviceInput } from './ops_lib.js';

const STATUSES = ['pending', 'sent', 'done', 'failed', 'expired', 'cancelled'];

export function cancelTaskButton(ctx, task, after) {
  const b = h('button', { type: 'button', class: 'danger', 'aria-label': `Cancel task ${task.id}` }, 'Cancel');
  b.addEventListener('click', async () => {
    if (!await confirmDialog(`Cancel task ${task.id} (${task.type} on ${idText(task.device_id)})?`,
                             { confirm: 'Cancel the task', danger: true })) return;
    const t = await busy(ctx, b, () => ctx.api(`/api/tasks/${task.id}`, { method: 'DELETE' }));
    if (t) {
      ctx.notify(`Task ${t.id} cancelled`, 'ok');
      after(t);
    }
  });
  return b;
}

export default {
  path: '#/tasks',
  title: 'Tasks',
  nav: true,
  minRole: 'viewer',
  async render(el, ctx) {
    useStyles();
    const status = h('select', { id: 'tasks-status', name: 'status' },
      h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s }, s)));
    status.value = STATUSES.includes(ctx.params.status) ? ctx.params.status : '';
    const [device, devList] = deviceInput(ctx, 'tasks-device', ctx.params.device || '');
    const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter tasks' },
      h('div', { class: 'field' }, h('label', { for: 'tasks-status' }, 'Status'), status),
      h('div', { class: 'field grow' }, h('label', { for: 'tasks-device' }, 'Device'), device, devList),
      h('button', { type: 'submit', class: 'primary' }, 'Show'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      ctx.navigate('#/tasks', { status: status.value, device: device.value.trim() });
    });
    const count = h('p', { class: 'muted', 'aria-live': 'polite' });
    const body = h('div');
    const more = h('div', { class: 'toolbar' });
    el.append(h('h1', {}, 'Tasks'), form,
      ctx.params.bulk ? h('p', {}, `Tasks of bulk #${ctx.params.bulk}. `, h('a', { href: '#/tasks' }, 'Show every task')) : null,
      count, body, more);

    let rows = [];
    let next = null;
    const byId = new Map();
    const cols = [
      { label: 'Task', cell: (t) => h('a', { href: `#/tasks/${t.id}` }, `#${t.id}`) },
      { label: 'Device', cell: (t) => h('a', { href: `#/devices/${idPath(t.device_id)}` }, idText(t.device_id)) },
      { label: 'Type', cell: (t) => t.type },
      { label: 'Status', cell: (t) => h('span', {}, statusBadge(t.status),
        t.fault ? h('span', { class: 'muted' }, ` ${t.fault.code}`) : null) },
      { label: 'Attempts', num: true, cell: (t) => String(t.attempts) },
      { label: 'Created', cell: (t) => fmtTime(t.created) },
      { label: 'Updated', cell: (t) => fmtTime(t.updated) },
    ];
    if (ctx.can('operator')) {
      cols.push({ label: 'Actions', cell: (t) => (t.status === 'pending'
        ? cancelTaskButton(ctx, t, (nt) => update(nt)) : '') });
    }
    const draw = () => {
      fill(body, rows.length ? table(cols, rows, { caption: 'Tasks, newest first',
                                                   rowAttrs: (t) => ({ 'data-task': t.id }) })
        : h('p', {}, 'No tasks match.'));
      count.textContent = `${rows.length} task${rows.length === 1 ? '' : 's'} shown${next ? ' (more below)' : ''}`;
      fill(more, next ? moreButton('Load more', load) : null);
    };
    const update = (t) => {
      const i = rows.findIndex((r) => r.id === t.id);
      if (i >= 0) {
        rows[i] = t;
        byId.set(t.id, t);
        draw();
      }
    };
    const query = { status: status.value, device: device.value.trim(), bulk: ctx.params.bulk, limit: 50 };
    async function load() {
      const page = next ? await getPage(ctx, next) : await getPage(ctx, '/api/tasks', query);
      for (const t of page.items) byId.set(t.id, t);
      rows = rows.concat(page.items);
      next = page.next;
      draw();
    }
    await load();

    // Live: a task event for a row shown refreshes that row (one GET each,
    // gathered over half a second so a burst costs one pass).
    const due = new Set();
    let timer = null;
    const flush = async () => {
      timer = null;
      const ids = [...due];
      due.clear();
      for (const id of ids) {
        try { update(await ctx.api(`/api/tasks/${id}`)); } catch { /* gone: leave the row */ }
      }
    };
    // A task newer than the newest shown that the filters take goes on top.
    const takes = (d) => (!query.status || d.status === query.status) &&
      (!query.device || d.device === query.device) && !query.bulk;
    const close = ctx.events({ types: 'task', device: query.device || undefined }, (ev) => {
      const d = ev.data || {};
      const id = Number(d.id);
      if (!byId.has(id) && id > (rows.length ? rows[0].id : 0) && takes(d)) {
        byId.set(id, null);
        rows.unshift({ id, device_id: d.device, type: d.type, status: d.status, fault: d.fault, attempts: 0 });
      }
      if (byId.has(id)) {
        due.add(id);
        if (!timer) timer = setTimeout(flush, 500);
      }
    });
    return () => {
      close();
      if (timer) clearTimeout(timer);
    };
  },
};
