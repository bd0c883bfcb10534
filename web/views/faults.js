// Faults: the fleet's open faults (GET /api/faults): failed tasks not
// cleared and faulted presets, by kind, code and device, in pages; an
// operator retries one (queued again, the device woken) or clears it.
import { h, fill, fmtTime, idText, idPath, fmtNum } from '../lib.js';
import { useStyles, table, busy, confirmDialog, deviceInput } from './ops_lib.js';

const PAGE = 50;

export default {
  path: '#/faults',
  title: 'Faults',
  nav: true,
  minRole: 'viewer',
  async render(el, ctx) {
    useStyles();
    const p = ctx.params;
    const kind = h('select', { id: 'faults-kind' }, h('option', { value: '' }, 'any'),
      h('option', { value: 'task' }, 'task'), h('option', { value: 'preset' }, 'preset'));
    kind.value = ['task', 'preset'].includes(p.kind) ? p.kind : '';
    const code = h('input', { id: 'faults-code', type: 'text', inputmode: 'numeric', pattern: '[0-9]*',
                              size: 6, value: p.code || '' });
    const [device, devList] = deviceInput(ctx, 'faults-device', p.device || '');
    const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Filter faults' },
      h('div', { class: 'field' }, h('label', { for: 'faults-kind' }, 'Kind'), kind),
      h('div', { class: 'field' }, h('label', { for: 'faults-code' }, 'Code'), code),
      h('div', { class: 'field grow' }, h('label', { for: 'faults-device' }, 'Device'), device, devList),
      h('button', { type: 'submit', class: 'primary' }, 'Show'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      ctx.navigate('#/faults', { kind: kind.value, code: code.value.trim(), device: device.value.trim() });
    });
    const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
    const body = h('div');
    const pager = h('nav', { class: 'toolbar', 'aria-label': 'Fault pages' });
    el.append(h('h1', {}, 'Faults'), form, summary, body, pager);

    let offset = 0;
    const query = () => ({ kind: kind.value, code: code.value.trim(), device: device.value.trim(),
                           limit: PAGE, offset });
    const act = async (f, button, retry) => {
      const what = f.kind === 'task' ? `task ${f.task.id} (${f.task.type})` : `preset ${f.preset.name}`;
      if (!retry && !await confirmDialog(`Clear the fault of ${what} on ${idText(f.device_id)}? It is no longer listed.`,
                                         { confirm: 'Clear', danger: true })) return;
      // the path built here: ids encoded (the answer's `path` has the id as stored)
      const path = f.kind === 'task' ? `/api/faults/tasks/${f.task.id}`
        : `/api/faults/presets/${idPath(f.device_id)}/${encodeURIComponent(f.preset.name)}`;
      const r = await busy(ctx, button, () => ctx.api(path + (retry ? '/retry' : ''),
                                                     { method: retry ? 'POST' : 'DELETE' }));
      if (r === undefined) return;
      ctx.notify(retry ? (f.kind === 'task' ? `Task queued again as #${r.id}` : `Preset ${f.preset.name} runs at the next session`)
        : `Fault of ${what} cleared`, 'ok');
      await load();
    };
    const cols = [
      { label: 'Kind', cell: (f) => f.kind },
      { label: 'Device', cell: (f) => h('a', { href: `#/devices/${idPath(f.device_id)}` }, idText(f.device_id)) },
      { label: 'What', cell: (f) => (f.kind === 'task'
        ? h('a', { href: `#/tasks/${f.task.id}` }, `task #${f.task.id} ${f.task.type}`)
        : `preset ${f.preset.name}`) },
      { label: 'Code', num: true, cell: (f) => String(f.code) },
      { label: 'Message', cell: (f) => f.message },
      { label: 'When', cell: (f) => fmtTime(f.at) },
      { label: 'Tries', num: true, cell: (f) => String(f.kind === 'task' ? f.task.attempts : f.preset.tries) },
    ];
    if (ctx.can('operator')) {
      cols.push({ label: 'Actions', cell: (f) => {
        const what = f.kind === 'task' ? `task ${f.task.id}` : `preset ${f.preset.name} on ${idText(f.device_id)}`;
        const retry = h('button', { type: 'button', 'aria-label': `Retry ${what}` }, 'Retry');
        const clear = h('button', { type: 'button', class: 'danger', 'aria-label': `Clear ${what}` }, 'Clear');
        retry.addEventListener('click', () => act(f, retry, true));
        clear.addEventListener('click', () => act(f, clear, false));
        return h('span', { class: 'ops-actions' }, retry, clear);
      } });
    }
    async function load() {
      let res;
      try {
        res = await ctx.api('/api/faults', { query: query(), raw: true });
      } catch (e) {
        fill(body, h('p', { class: 'error', role: 'alert' }, e.message));
        return;
      }
      const list = await res.json();
      const total = Number(res.headers.get('X-Total-Count') || list.length);
      if (!list.length && offset > 0) { // the last page emptied (cleared): step back
        offset = Math.max(0, offset - PAGE);
        await load();
        return;
      }
      summary.textContent = total ? `${fmtNum(total)} open fault${total === 1 ? '' : 's'}; ${offset + 1}-${offset + list.length} shown`
        : 'No open faults.';
      fill(body, list.length ? table(cols, list, { caption: 'Open faults, newest first' }) : null);
      const prev = h('button', { type: 'button', disabled: offset === 0 }, 'Previous');
      const nxt = h('button', { type: 'button', disabled: offset + list.length >= total }, 'Next');
      prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
      nxt.addEventListener('click', () => { offset += PAGE; load(); });
      fill(pager, total > PAGE ? [prev, nxt] : null);
    }
    await load();
    // New faults arrive live: reload the page shown (at most every 2 s).
    let timer = null;
    const close = ctx.events({ types: 'fault' }, () => {
      if (!timer) timer = setTimeout(() => { timer = null; load(); }, 2000);
    });
    return () => { close(); if (timer) clearTimeout(timer); };
  },
};
