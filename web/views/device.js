// device.js: one device. Identity and status; the parameter tree, opened
// a level at a time (GET .../parameters?prefix=P&next_level=true), searched
// (?search=), with writable marks and each value's age; a writable value
// edited in place becomes a set_params task followed live (pending -> sent ->
// done, or the CPE's fault per parameter); objects: add/delete an instance,
// refresh a subtree (get_params); tags; the task history (open one, cancel a
// pending one); sessions with their events and RPCs; actions by role:
// connection request (its outcome shown), reboot, factory reset (typed
// confirmation), firmware download from stored files, upload of a
// configuration or log. Tasks are followed through ctx.events and, as a
// fallback and a safety net, by polling GET /api/tasks/{id}.
import { useStyle } from './devices_style.js';
import { h, fill, fmtAge, fmtTime, idText, idPath } from '../lib.js';

useStyle();

const FINAL = new Set(['done', 'failed', 'expired', 'cancelled']);
const XSD = new Set(['xsd:string', 'xsd:int', 'xsd:unsignedInt', 'xsd:long', 'xsd:unsignedLong',
                     'xsd:boolean', 'xsd:dateTime', 'xsd:base64Binary', 'xsd:hexBinary']);

function lastSeg(name) {
  const s = name.endsWith('.') ? name.slice(0, -1) : name;
  return s.slice(s.lastIndexOf('.') + 1);
}

function faultText(t) {
  const out = [];
  if (t.fault) out.push(`${t.fault.code} ${t.fault.message}`);
  for (const f of (t.result && t.result.set_parameter_values_faults) || []) out.push(`${f.name}: ${f.code} ${f.message}`);
  return out.join('; ');
}

export default {
  path: '#/devices/{id}',
  title: 'Device',
  nav: false,
  minRole: 'viewer',
  async render(el, ctx) {
    const id = ctx.params.id;
    const base = `/api/devices/${idPath(id)}`;
    const canAct = ctx.can('operator');
    let alive = true;
    let dev = null;
    const tracked = new Map(); // task id -> [callback(task)]
    let live = false;
    const timers = [];

    const copyBtn = h('button', { type: 'button', class: 'link', id: 'dv-copy', title: 'Copy the id as the API writes it',
      onclick: async () => {
        try { await navigator.clipboard.writeText(id); ctx.notify(`Copied ${id}`, 'ok'); } catch { ctx.notify(`The id: ${id}`, 'info'); }
      } }, 'Copy id');
    const head = h('h1', {}, idText(id), ' ', h('small', {}, copyBtn));
    document.title = `${idText(id)} - Outpost ACS`;
    const statusBox = h('section', { class: 'panel', 'aria-labelledby': 'dv-status-h', id: 'dv-status' });
    const actions = h('section', { class: 'panel', 'aria-labelledby': 'dv-actions-h', id: 'dv-actions' });
    const tagsBox = h('section', { class: 'panel', 'aria-labelledby': 'dv-tags-h', id: 'dv-tags' });
    const paramsBox = h('section', { class: 'panel', 'aria-labelledby': 'dv-params-h', id: 'dv-params' });
    const tasksBox = h('section', { class: 'panel', 'aria-labelledby': 'dv-tasks-h', id: 'dv-tasks' });
    const sessBox = h('section', { class: 'panel', 'aria-labelledby': 'dv-sess-h', id: 'dv-sessions' });
    fill(el, h('p', {}, h('a', { href: '#/devices' }, '‹ Devices')), head,
      h('div', { class: 'grid2' }, statusBox, h('div', {}, canAct ? actions : null, tagsBox)),
      paramsBox, tasksBox, sessBox);

    try {
      dev = await ctx.api(base);
    } catch (e) {
      fill(statusBox, h('p', { class: 'error', role: 'alert' }, e.status === 404 ? 'No such device.' : e.message));
      return () => { alive = false; };
    }

    // ---- following tasks --------------------------------------------------------
    // follow(task, cb): cb(task) now and at each change until it is final.
    function follow(task, cb) {
      cb(task);
      if (FINAL.has(task.status)) return;
      if (!tracked.has(task.id)) tracked.set(task.id, []);
      tracked.get(task.id).push(cb);
    }
    async function refreshTask(tid) {
      let t;
      try { t = await ctx.api(`/api/tasks/${tid}`); } catch { return; }
      if (!alive) return;
      const cbs = tracked.get(tid);
      if (cbs) {
        for (const cb of cbs) cb(t);
        if (FINAL.has(t.status)) tracked.delete(tid);
      }
      taskChanged(t);
    }
    let pollBusy = false;
    const poll = async () => {
      if (pollBusy || !alive) return;
      pollBusy = true;
      try {
        const ids = [...tracked.keys()];
        if (ids.length <= 3) await Promise.all(ids.map(refreshTask));
        else {
          // many at once (a burst of tasks): one read of the recent ones
          const list = await ctx.api(`${base}/tasks`, { query: { limit: 100 } });
          if (!alive) return;
          for (const t of list) {
            const cbs = tracked.get(t.id);
            if (!cbs) continue;
            for (const cb of cbs) cb(t);
            if (FINAL.has(t.status)) tracked.delete(t.id);
            taskChanged(t);
          }
          const seen = new Set(list.map((t) => t.id));
          await Promise.all(ids.filter((i) => !seen.has(i)).slice(0, 3).map(refreshTask));
        }
      } catch { /* the next tick tries again */ } finally { pollBusy = false; }
    };
    // Polling: every second without the event stream, every 5 s with it.
    let tick = 0;
    timers.push(setInterval(() => { tick++; if (tracked.size && (!live || tick % 5 === 0)) poll(); }, 1000));
    let closeEvents = null;
    // Live events (GET /api/events?device=ID): a task event carries its id,
    // status and fault; the whole task (its result: per-parameter faults)
    // is read only when one the page follows finishes.
    let listTimer = null;
    const reloadTasksSoon = () => { if (!listTimer) listTimer = setTimeout(() => { listTimer = null; loadTasks(); }, 1000); };
    function onEvent(ev) {
      const d = ev.data || {};
      if (ev.type === 'task' && d.id !== undefined) {
        const cbs = tracked.get(d.id);
        if (cbs && cbs.length && FINAL.has(d.status)) { refreshTask(d.id); return; }
        const cur = tasksList.find((x) => x.id === d.id);
        if (!cur) { reloadTasksSoon(); return; }
        const t = { ...cur, status: d.status, fault: d.fault !== undefined ? d.fault : cur.fault };
        if (cbs) { for (const cb of cbs) cb(t); if (FINAL.has(t.status)) tracked.delete(d.id); }
        taskChanged(t);
      } else if (ev.type === 'inform' || ev.type === 'device') {
        reloadDevice();
        if (ev.type === 'inform') loadSessionsSoon();
      }
    }
    closeEvents = ctx.events({ device: id, types: 'task,inform,device' }, onEvent, (up) => { live = up; });

    // ---- status -------------------------------------------------------------------
    function drawStatus() {
      const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
      const interval = dev.periodic_inform_interval;
      fill(statusBox, h('h2', { id: 'dv-status-h' }, 'Status'),
        h('p', { id: 'dv-online' }, h('span', { class: `dot${dev.online ? ' on' : ''}`, 'aria-hidden': 'true' }), ' ',
          h('strong', {}, dev.online ? 'Online' : 'Offline'), dev.in_session ? ' · in a session now' : '',
          ' · last inform ', h('span', { title: fmtTime(dev.last_inform) }, dev.last_inform ? `${fmtAge(dev.last_inform)} ago` : 'never')),
        h('dl', { class: 'kv' },
          row('Manufacturer', dev.manufacturer), row('OUI', dev.oui), row('Model', dev.product_class),
          row('Serial', dev.serial_number), row('Software', dev.software_version), row('Hardware', dev.hardware_version),
          row('IP address', dev.ip_address), row('Inform interval', interval ? `${interval} s` : 'not reported'),
          row('Last inform', fmtTime(dev.last_inform)), row('First seen', fmtTime(dev.first_seen)),
          row('Last events', dev.last_events || '-'),
          row('Connection request URL', dev.connection_request_url || 'none reported'),
          row('Id (encoded)', h('code', {}, dev.id))));
    }
    let reloadTimer = null;
    function reloadDevice() {
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(async () => {
        try { dev = await ctx.api(base); } catch { return; }
        if (alive) { drawStatus(); drawTags(); }
      }, 300);
    }
    drawStatus();
    timers.push(setInterval(() => { if (!live) reloadDevice(); }, 15000));
    // without the event stream, tasks made elsewhere show up by reading the list
    timers.push(setInterval(() => { if (!live) loadTasks(); }, 5000));

    // ---- tags -----------------------------------------------------------------------
    function drawTags() {
      const input = h('input', { id: 'dv-tag-new', size: 16, pattern: '[A-Za-z0-9_.:\\-]{1,64}', autocomplete: 'off',
                                 title: '1-64 of A-Z a-z 0-9 _ . : -' });
      const add = async (e) => {
        e.preventDefault();
        const t = input.value.trim();
        if (!t) return;
        try {
          dev = { ...dev, ...(await ctx.api(`${base}/tags/${encodeURIComponent(t)}`, { method: 'PUT' })) };
          drawTags();
          tagsBox.querySelector('#dv-tag-new').focus();
        } catch (err) { ctx.notify(err.message, 'error'); }
      };
      fill(tagsBox, h('h2', { id: 'dv-tags-h' }, 'Tags'),
        h('ul', { class: 'chips', id: 'dv-tag-list' }, dev.tags.length ? dev.tags.map((t) => h('li', { class: 'badge' },
          h('a', { href: `#/devices?tag=${encodeURIComponent(t)}` }, t),
          canAct ? h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove tag ${t}`, onclick: async () => {
            try {
              dev = { ...dev, ...(await ctx.api(`${base}/tags/${encodeURIComponent(t)}`, { method: 'DELETE' })) };
              drawTags();
              tagsBox.querySelector('#dv-tag-new')?.focus();
            } catch (err) { ctx.notify(err.message, 'error'); }
          } }, '×') : null)) : h('li', { class: 'muted' }, 'none')),
        canAct ? h('form', { class: 'toolbar', onsubmit: add }, h('label', { for: 'dv-tag-new' }, 'Add a tag'), input,
                   h('button', { type: 'submit' }, 'Add')) : null);
    }
    drawTags();

    // ---- actions --------------------------------------------------------------------
    // A task made by an action, followed in a line of its own.
    function taskLine(label, where) {
      return (t) => {
        const cr = t.connection_request;
        fill(where, h('span', { class: `status-${t.status}` }, `${label}: task ${t.id} ${t.status}`),
          t.status === 'failed' ? ` — ${faultText(t)}` : '',
          cr && !FINAL.has(t.status) ? h('span', { class: 'muted' }, ` (connection request ${cr.status}: ${cr.reason})`) : '');
      };
    }
    async function queue(label, path, body, where) {
      try {
        const t = await ctx.api(path, { method: 'POST', body });
        follow(t, taskLine(label, where));
        taskChanged(t);
      } catch (e) {
        fill(where, h('span', { class: 'error' }, `${label}: ${e.message}`));
      }
    }
    async function drawActions() {
      if (!canAct) return;
      const out = h('p', { id: 'dv-action-out', role: 'status', 'aria-live': 'polite' });
      const crBtn = h('button', { type: 'button', id: 'dv-cr', onclick: async () => {
        crBtn.disabled = true;
        fill(out, 'Connection request: sending…');
        try {
          const r = await ctx.api(`${base}/connection-request`, { method: 'POST' });
          fill(out, h('span', { class: 'status-done' }, `Connection request: CPE answered ${r.http_status}; it should call in now.`));
          reloadDevice();
        } catch (e) {
          const b = e.body || {};
          fill(out, h('span', { class: 'error' }, `Connection request ${b.outcome || 'failed'}: ${e.message}`,
                      b.http_status ? ` (HTTP ${b.http_status})` : ''));
        } finally { crBtn.disabled = false; }
      } }, 'Connection request');
      const rebootBtn = h('button', { type: 'button', id: 'dv-reboot', onclick: () => {
        if (confirm(`Reboot ${idText(id)}?`)) queue('Reboot', `${base}/reboot`, undefined, out);
      } }, 'Reboot');
      const frBtn = h('button', { type: 'button', class: 'danger', id: 'dv-reset', onclick: () => resetDialog(out) }, 'Factory reset…');
      const fileSel = h('select', { id: 'dv-fw-file' }, h('option', { value: '' }, 'loading…'));
      const fwForm = h('form', { class: 'toolbar', onsubmit: (e) => {
        e.preventDefault();
        if (!fileSel.value) { ctx.notify('Choose a stored file.', 'error'); return; }
        queue('Download', `${base}/tasks`, { type: 'download', parameters: { file: fileSel.value } }, out);
      } }, h('label', { for: 'dv-fw-file' }, 'Firmware'), fileSel, h('button', { type: 'submit', id: 'dv-fw-go' }, 'Download to device'));
      const upType = h('select', { id: 'dv-up-type' }, h('option', { value: '1 Vendor Configuration File' }, 'configuration'),
                       h('option', { value: '2 Vendor Log File' }, 'log'));
      const stamp = new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '');
      const upName = h('input', { id: 'dv-up-name', size: 24, value: `${dev.serial_number || 'device'}-${stamp}.cfg`.replace(/[^A-Za-z0-9._-]/g, '_') });
      upType.addEventListener('change', () => { upName.value = upName.value.replace(/\.(cfg|log)$/, upType.value.startsWith('2') ? '.log' : '.cfg'); });
      const upForm = h('form', { class: 'toolbar', onsubmit: (e) => {
        e.preventDefault();
        queue('Upload', `${base}/tasks`, { type: 'upload', parameters: { file: upName.value.trim(), file_type: upType.value } }, out);
      } }, h('label', { for: 'dv-up-type' }, 'Upload its'), upType, h('label', { for: 'dv-up-name' }, 'as file'), upName,
        h('button', { type: 'submit', id: 'dv-up-go' }, 'Upload'));
      fill(actions, h('h2', { id: 'dv-actions-h' }, 'Actions'),
        h('div', { class: 'toolbar' }, crBtn, rebootBtn, frBtn), fwForm, upForm, out);
      try {
        // a device's upload is not served to CPEs (the ACS refuses to send it)
        const files = (await ctx.api('/api/files')).filter((f) => !f.task_id);
        const fw = files.filter((f) => String(f.file_type).startsWith('1 '));
        const list = fw.length ? fw : files;
        fill(fileSel, list.length ? list.map((f) => h('option', { value: f.name },
          `${f.name}${f.version ? ' (' + f.version + ')' : ''}`)) : h('option', { value: '' }, 'no stored file'));
      } catch (e) {
        fill(fileSel, h('option', { value: '' }, 'files unavailable'));
      }
    }
    function resetDialog(out) {
      const want = dev.serial_number || lastSeg(id);
      const input = h('input', { id: 'dv-reset-confirm', autocomplete: 'off', spellcheck: 'false' });
      const go = h('button', { type: 'submit', class: 'danger', id: 'dv-reset-go', disabled: true }, 'Factory reset');
      input.addEventListener('input', () => { go.disabled = input.value !== want; });
      const dlg = h('dialog', { 'aria-labelledby': 'dv-reset-h', id: 'dv-reset-dialog' },
        h('form', { method: 'dialog', onsubmit: (e) => {
          e.preventDefault();
          if (input.value !== want) return;
          dlg.close();
          queue('Factory reset', `${base}/factory-reset`, undefined, out);
        } },
          h('h2', { id: 'dv-reset-h' }, 'Factory reset'),
          h('p', {}, 'The device loses its whole configuration and starts as new (BOOTSTRAP).'),
          h('label', { for: 'dv-reset-confirm' }, 'Type the serial number ', h('code', {}, want), ' to confirm'),
          h('div', { class: 'toolbar' }, input),
          h('div', { class: 'toolbar' }, go, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'))));
      dlg.addEventListener('close', () => { dlg.remove(); actions.querySelector('#dv-reset')?.focus(); });
      document.body.append(dlg);
      dlg.showModal();
      input.focus();
    }
    drawActions();

    // ---- parameters -----------------------------------------------------------------
    const rows = new Map(); // parameter name -> its row element's parts, to update in place
    const treeRoot = h('ul', { class: 'tree', id: 'dv-tree', role: 'list' });
    const results = h('div', { id: 'dv-search-results', hidden: true });
    const searchIn = h('input', { id: 'dv-param-search', type: 'search', size: 30, spellcheck: 'false', autocomplete: 'off',
                                  'aria-describedby': 'dv-param-help' });
    const treeStatus = h('p', { class: 'muted', id: 'dv-tree-status', 'aria-live': 'polite' });
    fill(paramsBox, h('h2', { id: 'dv-params-h' }, 'Parameters'),
      h('div', { class: 'toolbar' }, h('label', { for: 'dv-param-search' }, 'Search names and values'), searchIn,
        canAct ? h('button', { type: 'button', id: 'dv-refresh-all', onclick: () => refreshSubtree(rootName(), treeStatus) }, 'Refresh all') : null),
      h('p', { class: 'help', id: 'dv-param-help' }, 'Open an object to see what it holds. ✎ marks a writable value',
        canAct ? ' (Edit changes it on the device)' : '', '; ages are since the value was last read.'),
      treeStatus, treeRoot, results);
    function rootName() {
      const first = treeRoot.querySelector('li.obj');
      return first ? first.dataset.name : '';
    }

    function leafRow(p, full) {
      const valueEl = h('span', { class: 'pval' }, p.value ?? '');
      const ageEl = h('span', { class: 'page muted', title: `read ${fmtTime(p.last_updated)}${p.set_by === 'acs' ? ', set by the ACS' : ''}` },
                      p.last_updated ? fmtAge(p.last_updated) : '');
      const stateEl = h('span', { class: 'pstate', 'aria-live': 'polite' });
      const li = h('li', { class: 'leaf', dataset: { name: p.name } },
        h('span', { class: 'pname', title: p.name }, full ? p.name : lastSeg(p.name)),
        p.writable ? h('span', { class: 'wmark', title: 'writable' }, '✎', h('span', { class: 'sr-only' }, 'writable'))
                   : h('span', { class: 'wmark', 'aria-hidden': 'true' }),
        valueEl, h('span', { class: 'ptype muted' }, p.type ? p.type.replace(/^xsd:/, '') : ''), ageEl,
        // a value the store calls read-only may still be tried (the flags are
        // as last read): the CPE's fault then says why
        canAct ? h('button', { type: 'button', class: `link pedit${p.writable ? '' : ' ro'}`, 'aria-label': `${p.writable ? 'Edit' : 'Try to set read-only'} ${p.name}`,
                               title: p.writable ? null : 'read-only as last read: the CPE will likely refuse',
                               onclick: () => edit(p, li, valueEl, stateEl) }, p.writable ? 'Edit' : 'Set…') : null,
        stateEl);
      rows.set(p.name, { p, valueEl, ageEl, stateEl, li });
      return li;
    }

    function edit(p, li, valueEl, stateEl) {
      const isBool = p.type === 'xsd:boolean';
      const input = isBool
        ? h('select', { 'aria-label': `New value of ${p.name}` }, h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'))
        : h('input', { value: p.value ?? '', size: Math.min(40, Math.max(10, (p.value || '').length + 4)), spellcheck: 'false',
                       'aria-label': `New value of ${p.name}` });
      if (isBool) input.value = ['1', 'true'].includes(String(p.value).toLowerCase()) ? 'true' : 'false';
      const shown = valueEl.textContent;
      const done = () => { form.replaceWith(valueEl); li.querySelector('.pedit')?.focus(); };
      const form = h('form', { class: 'pform', onsubmit: async (e) => {
        e.preventDefault();
        const v = input.value;
        form.replaceWith(valueEl);
        valueEl.textContent = v;
        valueEl.classList.add('changing');
        const values = { [p.name]: XSD.has(p.type) ? { value: v, type: p.type } : v };
        try {
          const t = await ctx.api(`${base}/tasks`, { method: 'POST', body: { type: 'set_params', parameters: { values } } });
          taskChanged(t);
          follow(t, (task) => showSet(p.name, task, shown));
        } catch (err) {
          valueEl.textContent = shown;
          valueEl.classList.remove('changing');
          fill(stateEl, h('span', { class: 'error' }, err.message));
        }
        li.querySelector('.pedit')?.focus();
      } }, input, h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', onclick: done }, 'Cancel'));
      input.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); done(); } });
      valueEl.replaceWith(form);
      input.focus();
      if (input.select) input.select();
    }

    // A set_params' progress next to its parameter (in the tree and the results).
    function showSet(name, t, oldValue) {
      for (const r of [rows.get(name)].filter(Boolean)) {
        const st = t.status;
        if (st === 'failed' || st === 'expired' || st === 'cancelled') {
          r.valueEl.textContent = oldValue;
          r.valueEl.classList.remove('changing');
          const mine = ((t.result && t.result.set_parameter_values_faults) || []).filter((f) => f.name === name);
          const msg = mine.length ? mine.map((f) => `fault ${f.code}: ${f.message}`).join('; ')
                    : t.fault ? `fault ${t.fault.code}: ${t.fault.message}` : st;
          fill(r.stateEl, h('span', { class: 'status-failed pfault', role: 'alert' }, `${st}: ${msg}`));
        } else {
          fill(r.stateEl, h('span', { class: `status-${st} ptask`, dataset: { task: t.id, status: st } },
            st === 'done' ? '✓ done' : st === 'sent' ? '… sent' : '… pending'),
            st === 'pending' && t.connection_request ? h('span', { class: t.connection_request.status === 'ok' ? 'muted' : 'error' },
              ` (connection request ${t.connection_request.status}: ${t.connection_request.reason}${t.connection_request.status === 'ok' ? '' : '; it waits for the next inform'})`) : '');
          if (st === 'done') {
            r.valueEl.classList.remove('changing');
            refreshLeaf(name);
          }
        }
      }
    }

    async function refreshLeaf(name) {
      try {
        const r = await ctx.api(`${base}/parameters`, { query: { prefix: name, limit: 1 } });
        const row = rows.get(name);
        if (row && r.length && r[0].name === name) {
          row.valueEl.textContent = r[0].value ?? '';
          row.ageEl.textContent = fmtAge(r[0].last_updated);
          row.p = r[0];
        }
      } catch { /* stays as shown */ }
    }

    function objRow(o) {
      const toggle = h('button', { type: 'button', class: 'tgl', 'aria-expanded': 'false', 'aria-label': `${o.name} (${o.children ?? 0} below)` },
        h('span', { class: 'caret', 'aria-hidden': 'true' }, '▸'), ' ', lastSeg(o.name));
      const sub = h('ul', { class: 'tree', role: 'list', hidden: true });
      const line = h('span', { class: 'status muted', 'aria-live': 'polite' });
      const isInstance = /\.\d+\.$/.test(o.name);
      const li = h('li', { class: 'obj', dataset: { name: o.name } },
        h('div', { class: 'objline' }, toggle, h('span', { class: 'badge' }, String(o.children ?? 0)),
          o.writable ? h('span', { class: 'wmark', title: 'a table: instances can be added', 'aria-label': 'writable' }, '✎') : null,
          canAct ? h('span', { class: 'objacts' },
            h('button', { type: 'button', class: 'link', 'aria-label': `Refresh ${o.name}`, onclick: () => refreshSubtree(o.name, line, li) }, 'Refresh'),
            o.writable && !isInstance ? h('button', { type: 'button', class: 'link', 'aria-label': `Add an instance to ${o.name}`,
              onclick: () => objectTask('add_object', o.name, line, li) }, 'Add instance') : null,
            isInstance ? h('button', { type: 'button', class: 'link', 'aria-label': `Delete ${o.name}`,
              onclick: () => { if (confirm(`Delete ${o.name} on the device?`)) objectTask('delete_object', o.name, line, li); } }, 'Delete') : null) : null,
          line),
        sub);
      toggle.addEventListener('click', () => {
        const open = toggle.getAttribute('aria-expanded') !== 'true';
        toggle.setAttribute('aria-expanded', String(open));
        toggle.querySelector('.caret').textContent = open ? '▾' : '▸';
        sub.hidden = !open;
        if (open && !sub.dataset.loaded) loadLevel(o.name, sub);
      });
      return li;
    }

    async function loadLevel(prefix, ul) {
      ul.dataset.loaded = '1';
      fill(ul, h('li', { class: 'muted' }, 'Loading…'));
      let list;
      try {
        list = await ctx.api(`${base}/parameters`, { query: { prefix, next_level: 'true' } });
      } catch (e) {
        delete ul.dataset.loaded;
        fill(ul, h('li', { class: 'error' }, e.message));
        return;
      }
      if (!alive) return;
      fill(ul, list.length ? list.map((p) => (p.name.endsWith('.') ? objRow(p) : leafRow(p))) : h('li', { class: 'muted' }, 'Nothing stored here.'));
    }

    // Read a level again after a change under it; open: show it too (an
    // added instance is what one wants to see next).
    async function reloadLevel(li, open = false) {
      const ul = li ? li.querySelector(':scope > ul') : treeRoot;
      if (!ul) return;
      if (ul.hidden) {
        if (!open) { delete ul.dataset.loaded; return; }
        const tgl = li.querySelector(':scope > .objline > .tgl');
        tgl.setAttribute('aria-expanded', 'true');
        tgl.querySelector('.caret').textContent = '▾';
        ul.hidden = false;
      }
      await loadLevel(li ? li.dataset.name : '', ul);
    }

    function refreshSubtree(name, line, li) {
      objectTaskRun({ type: 'get_params', parameters: { names: [name] } }, 'Refresh', line, li);
    }
    function objectTask(type, name, line, li) {
      objectTaskRun({ type, parameters: { object: name } }, type === 'add_object' ? 'Add' : 'Delete', line,
                    type === 'delete_object' ? li.parentElement.closest('li.obj') : li);
    }
    async function objectTaskRun(body, label, line, li) {
      try {
        const t = await ctx.api(`${base}/tasks`, { method: 'POST', body });
        taskChanged(t);
        follow(t, (task) => {
          const extra = task.status === 'done' && task.result && task.result.instance_number ? ` (instance ${task.result.instance_number})` : '';
          fill(line, h('span', { class: `status-${task.status}` }, ` ${label}: ${task.status}${extra}`),
               task.status === 'failed' ? ` — ${faultText(task)}` : '');
          if (task.status === 'done' && body.type === 'delete_object') {
            // the store dropped the instance's rows; the tree drops its node
            li.querySelector(`:scope > ul > li[data-name="${CSS.escape(body.parameters.object)}"]`)?.remove();
            ctx.notify(`${body.parameters.object} deleted on the device`, 'ok');
          } else if (task.status === 'done') {
            // an added instance is known once the table is read again
            if (body.type !== 'get_params') {
              ctx.api(`${base}/tasks`, { method: 'POST', body: { type: 'get_params', parameters: { names: [body.parameters.object] } } })
                .then((g) => follow(g, (gt) => { if (gt.status === 'done') reloadLevel(li, true); })).catch(() => {});
            } else reloadLevel(li);
          }
        });
      } catch (e) {
        fill(line, h('span', { class: 'error' }, ` ${label}: ${e.message}`));
      }
    }

    let searchTimer = null;
    let searchSeq = 0;
    searchIn.addEventListener('input', () => {
      clearTimeout(searchTimer);
      clearTimeout(listTimer);
      clearTimeout(sessTimer);
      searchTimer = setTimeout(async () => {
        const q = searchIn.value.trim();
        const seq = ++searchSeq;
        if (!q) {
          results.hidden = true;
          treeRoot.hidden = false;
          treeStatus.textContent = '';
          return;
        }
        try {
          const list = await ctx.api(`${base}/parameters`, { query: { search: q, limit: 501 } });
          if (seq !== searchSeq || !alive) return;
          treeRoot.hidden = true;
          results.hidden = false;
          const leaves = list.filter((p) => !p.name.endsWith('.'));
          treeStatus.textContent = `${list.length > 500 ? 'More than 500' : leaves.length} match${leaves.length === 1 ? 'es' : ''} for “${q}”.`;
          fill(results, h('ul', { class: 'tree flat', role: 'list' }, leaves.slice(0, 500).map((p) => leafRow(p, true))));
        } catch (e) {
          treeStatus.textContent = e.message;
        }
      }, 200);
    });

    // ---- tasks ------------------------------------------------------------------------
    const taskTable = h('table', { class: 'data', id: 'dv-task-table' });
    const openTasks = new Set();
    let tasksList = [];
    fill(tasksBox, h('h2', { id: 'dv-tasks-h' }, 'Tasks'), h('div', { class: 'table-wrap' }, taskTable));
    function taskChanged(t) {
      const i = tasksList.findIndex((x) => x.id === t.id);
      if (i >= 0) tasksList[i] = t; else tasksList.unshift(t);
      if (tasksList.length > 50) tasksList.length = 50;
      scheduleDrawTasks();
      if (!FINAL.has(t.status) && !tracked.has(t.id)) tracked.set(t.id, []);
    }
    async function loadTasks() {
      try { tasksList = await ctx.api(`${base}/tasks`, { query: { limit: 50 } }); } catch (e) {
        fill(taskTable, h('tbody', {}, h('tr', {}, h('td', { class: 'error' }, e.message))));
        return;
      }
      if (!alive) return;
      for (const t of tasksList) if (!FINAL.has(t.status) && !tracked.has(t.id)) tracked.set(t.id, []);
      drawTasks();
    }
    // one redraw a frame, however many updates came in it
    let drawPending = false;
    function scheduleDrawTasks() {
      if (drawPending) return;
      drawPending = true;
      requestAnimationFrame(() => { drawPending = false; if (alive) drawTasks(); });
    }
    function drawTasks() {
      const body = [];
      for (const t of tasksList) {
        const open = openTasks.has(t.id);
        body.push(h('tr', { dataset: { task: t.id } },
          h('td', { class: 'num' }, String(t.id)), h('td', {}, t.type),
          h('td', {}, h('span', { class: `status-${t.status}` }, t.status), t.fault ? h('span', { class: 'muted' }, ` ${t.fault.code}`) : ''),
          h('td', { title: fmtTime(t.created) }, fmtAge(t.created)), h('td', { title: fmtTime(t.done_at) }, t.done_at ? fmtAge(t.done_at) : '-'),
          h('td', {},
            h('button', { type: 'button', class: 'link', 'aria-expanded': String(open), 'aria-label': `${open ? 'Close' : 'Open'} task ${t.id}`,
                          onclick: () => { open ? openTasks.delete(t.id) : openTasks.add(t.id); drawTasks(); } }, open ? 'Close' : 'Open'),
            canAct && t.status === 'pending' ? [' ', h('button', { type: 'button', class: 'link', 'aria-label': `Cancel task ${t.id}`, onclick: async () => {
              try { taskChanged(await ctx.api(`/api/tasks/${t.id}`, { method: 'DELETE' })); } catch (e) { ctx.notify(e.message, 'error'); }
            } }, 'Cancel')] : null)));
        if (open) {
          const pre = (x) => h('pre', { class: 'json' }, JSON.stringify(x, null, 2));
          body.push(h('tr', { class: 'detail' }, h('td', { colspan: 6 },
            h('dl', { class: 'kv' },
              h('dt', {}, 'Request'), h('dd', {}, pre(t.parameters)),
              h('dt', {}, 'Result'), h('dd', {}, t.result ? pre(t.result) : 'none yet'),
              h('dt', {}, 'Fault'), h('dd', {}, t.fault ? `${t.fault.code} ${t.fault.message}` : 'none',
                ...((t.result && t.result.set_parameter_values_faults) || []).map((f) => h('div', {}, `${f.name}: ${f.code} ${f.message}`))),
              h('dt', {}, 'Connection request'), h('dd', {}, t.connection_request ? `${t.connection_request.status}: ${t.connection_request.reason}` : '-'),
              h('dt', {}, 'Attempts'), h('dd', {}, String(t.attempts)),
              h('dt', {}, 'Sent'), h('dd', {}, fmtTime(t.sent_at)),
              h('dt', {}, 'Expires'), h('dd', {}, fmtTime(t.expires_at))))));
        }
      }
      fill(taskTable, h('thead', {}, h('tr', {}, ['Id', 'Type', 'Status', 'Created', 'Finished', ''].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, body.length ? body : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No task yet.'))));
    }

    let sessTimer = null;
    const loadSessionsSoon = () => { clearTimeout(sessTimer); sessTimer = setTimeout(loadSessions, 1500); };
    // ---- sessions ----------------------------------------------------------------------
    async function loadSessions() {
      let list;
      try { list = await ctx.api(`${base}/sessions`, { query: { limit: 20, log: 'false' } }); } catch (e) {
        fill(sessBox, h('h2', { id: 'dv-sess-h' }, 'Sessions'), h('p', { class: 'error' }, e.message));
        return;
      }
      if (!alive) return;
      fill(sessBox, h('h2', { id: 'dv-sess-h' }, 'Sessions'),
        h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: loadSessions }, 'Reload')),
        list.length ? h('ul', { class: 'plain sessions' }, list.map((s) => h('li', {}, h('details', {},
          h('summary', {}, `${fmtTime(s.started)} · ${s.events.join(', ') || 'no event'} · ${s.rpc_count} RPC${s.rpc_count === 1 ? '' : 's'} · ${s.duration_ms} ms · `,
            h('span', { class: s.outcome === 'ok' ? 'status-done' : 'status-failed' }, s.outcome)),
          s.rpcs.length ? h('ol', {}, s.rpcs.map((r) => h('li', {}, r.name, ' ', h('span', { class: 'muted' }, r.from === 'cpe' ? '(from the CPE)' : ''),
            r.fault !== null ? h('span', { class: 'status-failed' }, ` fault ${r.fault}`) : ''))) : h('p', { class: 'muted' }, 'No RPC.')))))
          : h('p', { class: 'muted' }, 'No session recorded.'));
    }

    await Promise.all([loadLevel('', treeRoot), loadTasks(), loadSessions()]);
    // open the root object at once: its first level is what one looks for
    const first = treeRoot.querySelector('li.obj > .objline > .tgl');
    if (first && treeRoot.children.length === 1 && first.getAttribute('aria-expanded') !== 'true') first.click();

    return () => {
      alive = false;
      for (const t of timers) clearInterval(t);
      clearTimeout(reloadTimer);
      clearTimeout(searchTimer);
      clearTimeout(listTimer);
      clearTimeout(sessTimer);
      if (closeEvents) closeEvents();
    };
  },
};
