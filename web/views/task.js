// One task (#/tasks/{id}): what was asked (parameters), what came back
// (result), the fault, the connection request sent for it, its times; an
// operator cancels it while it is pending. Follows its events live.
import { h, fill, fmtTime, idText, idPath } from '../lib.js';
import { useStyles, statusBadge, jsonBlock, detailList } from './ops_lib.js';
import { cancelTaskButton } from './tasks.js';

export default {
  path: '#/tasks/{id}',
  title: 'Task',
  nav: false,
  minRole: 'viewer',
  async render(el, ctx) {
    useStyles();
    const id = ctx.params.id;
    if (!/^[1-9][0-9]*$/.test(id)) {
      el.append(h('h1', {}, 'Task'), h('p', { class: 'error' }, 'No such task.'));
      return undefined;
    }
    const box = h('div', { class: 'ops-detail' });
    el.append(h('p', {}, h('a', { href: '#/tasks' }, '\u2190 All tasks')), box);
    let status = '';
    let shown = '';
    let deviceId = '';
    const draw = (t) => {
      status = t.status;
      shown = t.updated;
      deviceId = t.device_id;
      const cr = t.connection_request;
      fill(box,
        h('h1', {}, `Task #${t.id} `, statusBadge(t.status)),
        h('div', { class: 'panel' },
          detailList([
            ['Device', h('a', { href: `#/devices/${idPath(t.device_id)}` }, idText(t.device_id))],
            ['Type', t.type],
            ['Status', t.status],
            ['Attempts', String(t.attempts)],
            ['Created', fmtTime(t.created)],
            ['Updated', fmtTime(t.updated)],
            ['Sent', t.sent_at ? fmtTime(t.sent_at) : null],
            ['Finished', t.done_at ? fmtTime(t.done_at) : null],
            ['Expires', t.expires_at ? fmtTime(t.expires_at) : null],
            ['Connection request', cr ? `${cr.status}${cr.reason ? ': ' + cr.reason : ''} (${fmtTime(cr.at)})` : null],
          ]),
          ctx.can('operator') && t.status === 'pending'
            ? h('div', { class: 'toolbar' }, cancelTaskButton(ctx, t, draw)) : null),
        t.fault ? h('section', { class: 'panel', 'aria-labelledby': 'task-fault' },
          h('h2', { id: 'task-fault', class: 'error' }, 'Fault'),
          h('p', { class: 'error', role: 'status' }, `${t.fault.code}: ${t.fault.message}`)) : null,
        h('section', { class: 'panel', 'aria-labelledby': 'task-req' },
          h('h2', { id: 'task-req' }, 'Request'), jsonBlock(t.parameters)),
        h('section', { class: 'panel', 'aria-labelledby': 'task-res' },
          h('h2', { id: 'task-res' }, 'Result'),
          t.result === null ? h('p', { class: 'muted' }, 'None yet.') : jsonBlock(t.result)));
    };
    try {
      draw(await ctx.api(`/api/tasks/${id}`));
    } catch (e) {
      fill(box, h('h1', {}, `Task #${id}`), h('p', { class: 'error', role: 'alert' }, e.message));
      return undefined;
    }
    const again = async () => {
      try {
        const t = await ctx.api(`/api/tasks/${id}`);
        if (t.status !== status || t.updated !== shown) draw(t);
      } catch { /* keep what is shown */ }
    };
    const close = ctx.events({ types: 'task', device: deviceId }, (ev) => {
      if (String((ev.data || {}).id) === id) again();
    });
    // A backstop while it is open (pending or sent) in case an event was
    // missed (the stream reconnecting): one small GET every 5 s.
    const tick = setInterval(() => { if (status === 'pending' || status === 'sent') again(); }, 5000);
    return () => { close(); clearInterval(tick); };
  },
};
