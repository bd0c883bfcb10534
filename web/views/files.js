// Files: the ACS's file store (GET /api/files). An operator uploads one
// (PUT /api/files/{name} with its metadata, a progress bar from
// XMLHttpRequest's upload events), deletes one, or starts a download of
// one onto a device (a download task) or onto every device a filter
// matches (a bulk, POST /api/tasks).
import { h, fill, fmtTime, fmtNum, idPath } from '../lib.js';
import { useStyles, table, busy, confirmDialog, deviceInput } from './ops_lib.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const FILE_TYPES = ['1 Firmware Upgrade Image', '2 Web Content', '3 Vendor Configuration File',
                    '4 Tone File', '5 Ringer File'];
const KEY_STORE = 'outpost-api-key'; // where app.js keeps the signed-in key (this tab)

function fmtSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

// A file name the store takes, from a local file's name.
function storeName(local) {
  const s = local.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '');
  return s.slice(0, 128);
}

// PUT the bytes with XMLHttpRequest (fetch reports no upload progress).
function upload(name, file, meta, onProgress) {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(meta)) if (v) q.set(k, v);
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/files/${encodeURIComponent(name)}?${q}`);
    xhr.setRequestHeader('Authorization', `Bearer ${sessionStorage.getItem(KEY_STORE) || ''}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body });
      else reject(new Error((body && body.message) || `HTTP ${xhr.status}`));
    });
    xhr.addEventListener('error', () => reject(new Error('The upload was cut off')));
    xhr.addEventListener('abort', () => reject(new Error('Upload cancelled')));
    xhr.send(file);
    upload.current = xhr;
  });
}

function uploadForm(ctx, onDone) {
  const file = h('input', { id: 'file-input', type: 'file', required: true });
  const name = h('input', { id: 'file-name', type: 'text', required: true, maxlength: 128, spellcheck: 'false',
                            pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*', 'aria-describedby': 'file-name-help' });
  const type = h('select', { id: 'file-type' }, FILE_TYPES.map((t) => h('option', { value: t }, t)));
  const field = (id, label) => h('input', { id, type: 'text', maxlength: 64, spellcheck: 'false', 'aria-label': label });
  const oui = field('file-oui', 'OUI');
  const pc = field('file-pc', 'Product class');
  const ver = field('file-version', 'Version');
  const bar = h('progress', { class: 'ops-upload', id: 'file-progress', max: 100, value: 0, hidden: true,
                              'aria-label': 'Upload progress' });
  const status = h('p', { id: 'file-status', 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', class: 'primary', id: 'file-upload' }, 'Upload');
  const stop = h('button', { type: 'button', hidden: true }, 'Cancel upload');
  file.addEventListener('change', () => {
    if (file.files[0] && !name.value) name.value = storeName(file.files[0].name);
  });
  stop.addEventListener('click', () => upload.current && upload.current.abort());
  const form = h('form', { class: 'panel', 'aria-labelledby': 'file-up-title' },
    h('h2', { id: 'file-up-title' }, 'Upload a file'),
    h('div', { class: 'field' }, h('label', { for: 'file-input' }, 'File'), file),
    h('div', { class: 'field' }, h('label', { for: 'file-name' }, 'Name in the store'), name,
      h('span', { id: 'file-name-help', class: 'help' }, 'Letters, digits, . _ - (starting with a letter or digit); an existing name is replaced.')),
    h('div', { class: 'field' }, h('label', { for: 'file-type' }, 'File type'), type),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field' }, h('label', { for: 'file-oui' }, 'OUI'), oui),
      h('div', { class: 'field' }, h('label', { for: 'file-pc' }, 'Product class'), pc),
      h('div', { class: 'field' }, h('label', { for: 'file-version' }, 'Version'), ver)),
    h('div', { class: 'toolbar' }, go, stop), bar, status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) return;
    if (!NAME_RE.test(name.value)) {
      status.textContent = 'That name is not one the store takes.';
      status.className = 'error';
      name.focus();
      return;
    }
    go.disabled = true;
    stop.hidden = false;
    bar.hidden = false;
    bar.value = 0;
    status.className = '';
    status.textContent = `Uploading ${name.value}\u2026`;
    let last = 0;
    try {
      const r = await upload(name.value, f, { file_type: type.value, oui: oui.value.trim(),
                                              product_class: pc.value.trim(), version: ver.value.trim() },
      (done, total) => {
        bar.value = Math.round((100 * done) / total);
        bar.setAttribute('aria-valuetext', `${bar.value}%`);
        const now = Date.now();
        if (now - last > 1000 || done === total) { // the live region is read out at most once a second
          last = now;
          status.textContent = `Uploading ${name.value}: ${bar.value}% (${fmtSize(done)} of ${fmtSize(total)})`;
        }
      });
      bar.value = 100;
      status.textContent = `${name.value} ${r.status === 201 ? 'stored' : 'replaced'} (${fmtSize(r.body.size)}).`;
      ctx.notify(status.textContent, 'ok');
      file.value = '';
      name.value = '';
      onDone();
    } catch (err) {
      status.textContent = err.message;
      status.className = 'error';
    } finally {
      go.disabled = false;
      stop.hidden = true;
    }
  });
  return form;
}

// Start a download of the file: onto one device, or a bulk over a filter.
function downloadForm(ctx, f, done) {
  const target = `dl-${f.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const one = h('input', { type: 'radio', name: `${target}-to`, id: `${target}-one`, value: 'one', checked: true });
  const many = h('input', { type: 'radio', name: `${target}-to`, id: `${target}-many`, value: 'many' });
  const [device, list] = deviceInput(ctx, `${target}-device`);
  const filter = h('input', { id: `${target}-filter`, type: 'text', spellcheck: 'false', placeholder: 'model=HG8245 AND version^=1.' });
  const mif = h('input', { id: `${target}-mif`, type: 'number', min: 0, value: 50 });
  const out = h('p', { 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', class: 'primary' }, 'Start download');
  const form = h('form', { class: 'panel', 'aria-label': `Download ${f.name} onto devices` },
    h('h3', {}, `Download ${f.name}`),
    h('fieldset', {}, h('legend', {}, 'Onto'),
      h('div', {}, one, h('label', { for: one.id }, ' one device')),
      h('div', { class: 'field' }, h('label', { for: device.id }, 'Device id'), device, list),
      h('div', {}, many, h('label', { for: many.id }, ' every device a filter matches (a bulk)')),
      h('div', { class: 'field' }, h('label', { for: filter.id }, 'Filter'), filter),
      h('div', { class: 'field' }, h('label', { for: mif.id }, 'At most in flight (0: no cap)'), mif)),
    h('div', { class: 'toolbar' }, go), out);
  const sync = () => {
    device.disabled = !one.checked;
    filter.disabled = one.checked;
    mif.disabled = one.checked;
  };
  one.addEventListener('change', sync);
  many.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    out.className = '';
    const task = { type: 'download', parameters: { file: f.name } };
    if (one.checked) {
      const id = device.value.trim();
      if (!id) { device.focus(); return; }
      const t = await busy(ctx, go, () => ctx.api(`/api/devices/${idPath(id)}/tasks`, { body: task }));
      if (t) {
        fill(out, 'Download queued as ', h('a', { href: `#/tasks/${t.id}` }, `task #${t.id}`), '.');
        ctx.notify(`Download of ${f.name} queued as task #${t.id}`, 'ok');
        done();
      }
    } else {
      if (!filter.value.trim()) { filter.focus(); return; }
      const b = await busy(ctx, go, () => ctx.api('/api/tasks', {
        body: { filter: filter.value.trim(), task, max_in_flight: Number(mif.value) || 0 } }));
      if (b) {
        fill(out, `Bulk over ${fmtNum(b.total)} devices started: `, h('a', { href: `#/bulk/${b.id}` }, `bulk #${b.id}`), '.');
        ctx.notify(`Bulk download #${b.id} of ${f.name} started`, 'ok');
        done();
      }
    }
  });
  return form;
}

export default {
  path: '#/files',
  title: 'Files',
  nav: true,
  minRole: 'viewer',
  async render(el, ctx) {
    useStyles();
    const list = h('div');
    const side = h('div', { 'aria-live': 'polite' });
    el.append(h('h1', {}, 'Files'));
    const refresh = async () => {
      let files;
      try {
        files = await ctx.api('/api/files');
      } catch (e) {
        fill(list, h('p', { class: 'error', role: 'alert' }, e.message));
        return;
      }
      const cols = [
        { label: 'Name', cell: (f) => h('a', { href: `/api/files/${encodeURIComponent(f.name)}/content`,
          onclick: (ev) => { ev.preventDefault(); fetchContent(ctx, f); } }, f.name) },
        { label: 'Type', cell: (f) => f.file_type },
        { label: 'Size', num: true, cell: (f) => fmtSize(f.size) },
        { label: 'For', cell: (f) => [f.oui, f.product_class, f.version].filter(Boolean).join(' / ') || '-' },
        { label: 'SHA-256', cell: (f) => h('code', { title: f.sha256 }, f.sha256.slice(0, 12) + '\u2026') },
        { label: 'Updated', cell: (f) => fmtTime(f.updated) },
      ];
      if (ctx.can('operator')) {
        cols.push({ label: 'Actions', cell: (f) => {
          const dl = h('button', { type: 'button', 'aria-label': `Download ${f.name} onto devices` }, 'Download to devices');
          const del = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${f.name}` }, 'Delete');
          dl.addEventListener('click', () => {
            fill(side, downloadForm(ctx, f, () => {}));
            side.querySelector('input[type=text]').focus();
          });
          del.addEventListener('click', async () => {
            if (!await confirmDialog(`Delete ${f.name}? Devices can no longer download it.`,
                                     { confirm: 'Delete', danger: true })) return;
            const r = await busy(ctx, del, () => ctx.api(`/api/files/${encodeURIComponent(f.name)}`, { method: 'DELETE' }));
            if (r !== undefined) {
              ctx.notify(`${f.name} deleted`, 'ok');
              refresh();
            }
          });
          return h('span', { class: 'ops-actions' }, dl, del);
        } });
      }
      fill(list, files.length ? table(cols, files, { caption: 'Stored files' }) : h('p', {}, 'No files stored.'));
    };
    if (ctx.can('operator')) el.append(uploadForm(ctx, refresh));
    el.append(h('section', { 'aria-labelledby': 'files-list' }, h('h2', { id: 'files-list' }, 'Stored files'), list), side);
    await refresh();
    return undefined;
  },
};

// Save a stored file's bytes (the token goes in the header, so not a plain link).
async function fetchContent(ctx, f) {
  try {
    const res = await ctx.api(`/api/files/${encodeURIComponent(f.name)}/content`, { raw: true });
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: f.name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    ctx.notify(e.message, 'error');
  }
}
