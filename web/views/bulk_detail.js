// One bulk (#/bulk/{id}): its state, counts and progress, the task it
// runs, its failed tasks with their faults, its tasks by status; an
// operator cancels it while it runs. Live while it runs.
import { h, fill, fmtTime, fmtNum, idText, idPath } from '../lib.js';
import { useStyles, table, statusBadge, jsonBlock, detailList, progressBar } from './ops_lib.js';
import { cancelBulkButton, countsLegend } from './bulk.js';

const STATUSES = ['pending', 'sent', 'done', 'failed', 'expired', 'cancelled'];

export default {
  path: '#/bulk/{id}',
  title: 'Bulk',
  nav: false,
  minRole: 'viewer',
  async render(el, ctx) {
    useStyles();
    const id = ctx.params.id;
    if (!/^[1-9][0-9]*$/.test(id)) {
      el.append(h('h1', {}, 'Bulk'), h('p', { class: 'error' }, 'No such bulk.'));
      return undefined;
    }
    const head = h('div', { class: 'ops-detail' });
    const listStatus = h('select', { id: 'bulk-list-status' }, h('option', { value: '' }, 'choose'),
      STATUSES.map((s) => h('option', { value: s }, s)));
    const listed = h('div');
    el.append(h('p', {}, h('a', { href: '#/bulk' }, '\u2190 All bulks')), head,
      h('section', { class: 'panel', 'aria-labelledby': 'bulk-tasks' },
        h('h2', { id: 'bulk-tasks' }, 'Tasks by status'),
        h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'bulk-list-status' }, 'Status'), listStatus),
          h('a', { href: `#/tasks?bulk=${id}` }, 'All of its tasks on the Tasks page')),
        listed));
    let b = null;
    const draw = () => {
      const failed = b.failed_tasks || [];
      fill(head,
        h('h1', {}, `Bulk #${b.id} `, statusBadge(b.state)),
        h('div', { class: 'panel' },
          progressBar(b.total, b.counts), countsLegend(b),
          detailList([
            ['Task', b.type],
            ['Devices', b.filter ? h('code', {}, b.filter) : 'an id list'],
            ['Reason', b.reason],
            ['Max in flight', b.max_in_flight ? fmtNum(b.max_in_flight) : 'no cap'],
            ['Stops past failure ratio', b.max_failure_ratio ? `${b.max_failure_ratio} (after ${b.min_finished} finished)` : 'never'],
            ['Created', fmtTime(b.created)],
            ['Updated', fmtTime(b.updated)],
          ]),
          h('details', {}, h('summary', {}, 'Task parameters'), jsonBlock(b.parameters)),
          ctx.can('operator') && b.state === 'running'
            ? h('div', { class: 'toolbar' }, cancelBulkButton(ctx, b, (nb) => { b = nb; draw(); })) : null),
        h('section', { class: 'panel', 'aria-labelledby': 'bulk-failed' },
          h('h2', { id: 'bulk-failed' }, `Failed tasks (${fmtNum(b.counts.failed + b.counts.expired)})`),
          failed.length ? table([
            { label: 'Task', cell: (t) => h('a', { href: `#/tasks/${t.task}` }, `#${t.task}`) },
            { label: 'Device', cell: (t) => h('a', { href: `#/devices/${idPath(t.device)}` }, idText(t.device)) },
            { label: 'Status', cell: (t) => statusBadge(t.status) },
            { label: 'Fault', cell: (t) => `${t.fault_code}: ${t.fault_string}` },
          ], failed, { caption: 'Failed tasks' }) : h('p', { class: 'muted' }, 'None.')));
    };
    const refresh = async () => {
      b = await ctx.api(`/api/bulk/${id}`);
      draw();
    };
    try {
      await refresh();
    } catch (e) {
      fill(head, h('h1', {}, `Bulk #${id}`), h('p', { class: 'error', role: 'alert' }, e.message));
      return undefined;
    }
    listStatus.addEventListener('change', async () => {
      if (!listStatus.value) { fill(listed); return; }
      try {
        const r = await ctx.api(`/api/bulk/${id}`, { query: { status: listStatus.value, limit: 1000 } });
        fill(listed, r.tasks.length ? table([
          { label: 'Task', cell: (t) => h('a', { href: `#/tasks/${t.task}` }, `#${t.task}`) },
          { label: 'Device', cell: (t) => h('a', { href: `#/devices/${idPath(t.device)}` }, idText(t.device)) },
          { label: 'Attempts', num: true, cell: (t) => String(t.attempts) },
          { label: 'Updated', cell: (t) => fmtTime(t.updated) },
        ], r.tasks, { caption: `Tasks ${listStatus.value}` }) : h('p', { class: 'muted' }, `No task ${listStatus.value}.`));
      } catch (e) {
        fill(listed, h('p', { class: 'error', role: 'alert' }, e.message));
      }
    });
    let timer = null;
    const soon = () => {
      if (!timer && b && b.state === 'running') {
        timer = setTimeout(() => { timer = null; refresh().catch(() => {}); }, 1000);
      }
    };
    const close = ctx.events({ types: 'task,bulk' }, soon);
    const tick = setInterval(soon, 5000);
    return () => { close(); clearInterval(tick); if (timer) clearTimeout(timer); };
  },
};
