// ops_lib.js: what the operations views share (tasks, faults, bulk, files,
// presets, provisions, virtual parameters, keys), on top of ../lib.js:
//   useStyles()                 ops_css.js, adopted once
//   getPage(ctx, path, query)   a JSON list and its Link rel="next" URL
//   table(cols, rows, opts)     a data table (stacked cards at phone width)
//   confirmDialog(text, opts)   a modal yes/no (<dialog>, focus returned)
//   busy(button, fn)            disable while an action runs; errors to notify
//   deviceInput(ctx, id, value) a device id input suggesting devices as one types
//   editor(opts)                a textarea with line numbers; markLine(n)
//   statusBadge(status), jsonBlock(value), detailList(pairs), progressBar(counts)
import { h, fill, idText } from '../lib.js';
import OPS_CSS from './ops_css.js';

let sheet = null;
export function useStyles() {
  if (sheet) return;
  sheet = new CSSStyleSheet();
  sheet.replaceSync(OPS_CSS);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}

// The next page's URL from an RFC 8288 Link header (same origin path).
export function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return null;
}

// GET a list: {items, next} (next: the URL of the next page, or null).
export async function getPage(ctx, path, query) {
  const res = await ctx.api(path, { query, raw: true });
  return { items: await res.json(), next: nextLink(res.headers.get('Link')) };
}

// cols: [{label, cell(row) -> node|text, num?}]; rows: array.
export function table(cols, rows, opts = {}) {
  const t = h('table', { class: 'data ops-stack' },
    opts.caption ? h('caption', { class: 'sr-only' }, opts.caption) : null,
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {},
      cols.map((c) => h('td', { class: c.num ? 'num' : null, 'data-label': c.label }, c.cell(r)))))));
  return h('div', { class: 'table-wrap' }, t);
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, status);
}

export function jsonBlock(value) {
  return h('pre', { class: 'ops-json' }, value === undefined ? '' : JSON.stringify(value, null, 2));
}

// [[term, value], ...] -> <dl>; null values are left out.
export function detailList(pairs) {
  return h('dl', {}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A modal confirmation. opts: {confirm: label, danger: bool, typed: text the
// operator must type}. Resolves true/false; focus goes back where it was.
export function confirmDialog(text, opts = {}) {
  return new Promise((resolve) => {
    const back = document.activeElement;
    const input = opts.typed ? h('input', { id: 'ops-typed', autocomplete: 'off', spellcheck: 'false' }) : null;
    const ok = h('button', { type: 'submit', class: opts.danger ? 'danger' : 'primary', value: 'yes' },
      opts.confirm || 'Confirm');
    const no = h('button', { type: 'button' }, 'Cancel');
    const msgId = `ops-dlg-${Math.random().toString(36).slice(2)}`;
    const d = h('dialog', { 'aria-describedby': msgId, 'aria-label': opts.title || 'Confirm' },
      h('form', { method: 'dialog' },
        h('p', { id: msgId }, text),
        input ? h('div', { class: 'field' },
          h('label', { for: 'ops-typed' }, `Type ${opts.typed} to confirm`), input) : null,
        h('div', { class: 'toolbar' }, ok, no)));
    const done = (v) => {
      d.close();
      d.remove();
      if (back && back.focus) back.focus();
      resolve(v);
    };
    if (input) {
      ok.disabled = true;
      input.addEventListener('input', () => { ok.disabled = input.value !== opts.typed; });
    }
    d.addEventListener('submit', (e) => { e.preventDefault(); done(true); });
    d.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    no.addEventListener('click', () => done(false));
    document.body.append(d);
    d.showModal();
    (input || no).focus();
  });
}

// Run fn with the button disabled; an ApiError becomes an error notice.
// Resolves fn's value, or undefined when it failed.
export async function busy(ctx, button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    if (e && e.name !== 'AbortError') ctx.notify(e.message || String(e), 'error');
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}

// A bulk's progress: a stacked bar and its legend. counts as GET /api/bulk/{id}.
export function progressBar(total, c) {
  const pct = (n) => (total > 0 ? (100 * n) / total : 0);
  const finished = c.done + c.failed + c.expired + c.cancelled;
  // widths through the CSSOM: the CSP refuses style attributes
  const seg = (cls, n) => {
    const el = h('span', { class: cls });
    el.style.width = `${pct(n)}%`;
    return el;
  };
  const bar = h('div', { class: 'ops-progress', role: 'progressbar', 'aria-valuemin': '0',
                         'aria-valuemax': String(total), 'aria-valuenow': String(finished),
                         'aria-valuetext': `${finished} of ${total} finished` },
    seg('p-done', c.done), seg('p-failed', c.failed + c.expired), seg('p-cancelled', c.cancelled),
    seg('p-inflight', c.sent));
  return bar;
}

// A textarea with line numbers. opts: {id, label, value, readOnly, rows}.
// Returns {el, textarea, value(), markLine(n | 0)}.
export function editor(opts) {
  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
  const ta = h('textarea', { id: opts.id, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
                             wrap: 'off', rows: opts.rows || 18, readonly: opts.readOnly || null,
                             'aria-describedby': opts.describedBy || null });
  ta.value = opts.value || '';
  let bad = 0;
  const draw = () => {
    const n = ta.value.split('\n').length;
    const lines = [];
    for (let i = 1; i <= n; i++) lines.push(i === bad ? h('span', { class: 'bad' }, String(i)) : String(i), '\n');
    fill(gutter, lines);
    ta.style.height = 'auto';
    ta.style.height = `${Math.max(ta.scrollHeight, 18 * 21)}px`;
  };
  ta.addEventListener('input', () => { bad = 0; draw(); });
  // Tab indents (two spaces); Escape then Tab leaves the editor (keyboard users are not trapped).
  let escaped = false;
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { escaped = true; return; }
    if (e.key === 'Tab' && !e.shiftKey && !escaped && !ta.readOnly) {
      e.preventDefault();
      const s = ta.selectionStart;
      ta.setRangeText('  ', s, ta.selectionEnd, 'end');
      draw();
    }
    escaped = false;
  });
  const wrap = h('div', { class: 'ops-editor' }, gutter, ta);
  const el = h('div', { class: 'field' }, h('label', { for: opts.id }, opts.label),
    h('span', { class: 'help' }, 'Tab indents; Escape then Tab moves on.'), wrap);
  requestAnimationFrame(draw);
  draw();
  return {
    el,
    textarea: ta,
    value: () => ta.value,
    set: (v) => { ta.value = v; bad = 0; draw(); },
    // Mark a line (0: none) and put the caret at its start.
    markLine(n) {
      bad = n || 0;
      draw();
      if (n > 0) {
        const lines = ta.value.split('\n');
        let pos = 0;
        for (let i = 0; i < n - 1 && i < lines.length; i++) pos += lines[i].length + 1;
        ta.focus();
        ta.setSelectionRange(pos, pos + (lines[n - 1] || '').length);
      }
    },
  };
}

// A "Load more" button for a paged list: calls more() and hides itself when
// there is no next page.
export function moreButton(label, more) {
  const b = h('button', { type: 'button' }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await more(); } finally { b.disabled = false; }
  });
  return b;
}

// A device id input: ids are sent as the API has them (OUI-Class-Serial
// with its escapes, as copied from a device page); as one types, the
// devices whose id, serial or product class start with it are suggested,
// shown decoded, and a choice fills in the id. Returns [input, datalist].
export function deviceInput(ctx, id, value = '') {
  const list = h('datalist', { id: `${id}-list` });
  const input = h('input', { id, type: 'search', list: list.id, autocomplete: 'off', spellcheck: 'false',
                             value, placeholder: 'device id or serial' });
  let asked = '';
  input.addEventListener('input', async () => {
    const q = input.value.trim();
    if (q.length < 2 || q === asked) return;
    asked = q;
    try {
      const devs = await ctx.api('/api/devices', { query: { q, limit: 20 } });
      fill(list, devs.map((d) => h('option', { value: d.id }, `${idText(d.id)} (${d.serial_number})`)));
    } catch { /* no suggestions */ }
  });
  return [input, list];
}
