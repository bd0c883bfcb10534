// devices.js: the device list. A search box that takes the API's filter
// language (docs/acs_fleet.md) with suggestions for field names as one
// types (param.NAME ones from a device's own tree), quick filters (tag,
// model, version, online) ANDed to it, columns the operator chooses (any
// parameter too; kept in localStorage), sorting, cursor pages from the
// Link header with X-Total-Count, and row selection for a bulk task
// (POST /api/tasks with the ids or the whole filter; its progress is at
// #/bulk/{id}). The view's state lives in the hash (#/devices?filter=..&sort=..)
// so a filtered list can be linked to and Back works.
import { useStyle } from './devices_style.js';
import { h, fill, fmtAge, fmtTime, fmtNum, idText, idPath } from '../lib.js';

useStyle();

const COLS_KEY = 'outpost-devices-columns';
const SIZE_KEY = 'outpost-devices-page-size';

// Built-in columns: key, header, cell text, the API's sort key (if any).
const BUILTIN = [
  { key: 'id', label: 'Device', sort: 'id' },
  { key: 'serial_number', label: 'Serial', sort: 'serial' },
  { key: 'oui', label: 'OUI', sort: 'oui' },
  { key: 'product_class', label: 'Model', sort: 'model' },
  { key: 'manufacturer', label: 'Manufacturer' },
  { key: 'software_version', label: 'Software', sort: 'software_version' },
  { key: 'hardware_version', label: 'Hardware' },
  { key: 'online', label: 'Online' },
  { key: 'last_inform', label: 'Last inform', sort: 'last_inform' },
  { key: 'first_seen', label: 'First seen', sort: 'first_seen' },
  { key: 'ip_address', label: 'IP address' },
  { key: 'tags', label: 'Tags' },
  { key: 'last_events', label: 'Last events' },
];
const DEFAULT_COLS = ['id', 'product_class', 'software_version', 'online', 'last_inform', 'tags'];

// The filter language's fields, for suggestions (docs/acs_fleet.md).
const FIELDS = [
  ['id', 'device id: = != ^='], ['serial', 'serial number: = != ^='], ['tag', 'a tag: = !='],
  ['oui', '= != ^='], ['model', 'product class: = != ^='], ['manufacturer', '= != ^='],
  ['version', 'software version: = != ^='], ['hardware_version', '= != ^='], ['ip', '= != ^='],
  ['online', 'alone, or =true/false'], ['offline', 'alone'],
  ['last_inform', '< <= > >= a time: -30m, -2h, -7d, ISO, Unix s'],
  ['first_seen', '< <= > >= a time'], ['param.', 'param.NAME: = != ^= text, < > numbers'],
  ['AND', 'both'], ['OR', 'either'], ['NOT', 'negation'],
];

function loadCols() {
  try {
    const c = JSON.parse(localStorage.getItem(COLS_KEY));
    if (Array.isArray(c) && c.length && c.every((x) => typeof x === 'string')) return c;
  } catch { /* the default */ }
  return DEFAULT_COLS.slice();
}

// RFC 8288 Link header -> { next: url, prev: url }
export function parseLink(header) {
  const out = {};
  for (const part of (header || '').split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part);
    if (!m) continue;
    const rel = /rel="?([^";]+)"?/.exec(m[2]);
    if (rel) for (const r of rel[1].split(/\s+/)) out[r] = m[1];
  }
  return out;
}

// A value in the filter language: bare when it can be, else quoted.
export function quoteValue(v) {
  return /^[^\s()"]+$/.test(v) ? v : `"${v.replace(/[\\"]/g, (c) => '\\' + c)}"`;
}

// The search box's text and the quick filters -> the query of GET /api/devices.
// As docs/acs_fleet.md says of the search box: text with an operator or a
// space is a filter, a bare word a prefix of id, serial or model (q).
export function buildQuery(text, quick) {
  const parts = [];
  const q = {};
  const t = text.trim();
  if (t) {
    if (/[\s=<>!^()]/.test(t)) parts.push(/\bOR\b/i.test(t) ? `(${t})` : t);
    else q.q = t;
  }
  if (quick.tag) parts.push(`tag=${quoteValue(quick.tag)}`);
  if (quick.model) parts.push(`model=${quoteValue(quick.model)}`);
  if (quick.version) parts.push(`version=${quoteValue(quick.version)}`);
  if (quick.online === 'online') parts.push('online');
  if (quick.online === 'offline') parts.push('offline');
  if (parts.length) q.filter = parts.join(' AND ');
  return q;
}

export default {
  path: '#/devices',
  title: 'Devices',
  nav: true,
  minRole: 'viewer',
  render(el, ctx) {
    const p = ctx.params || {};
    const st = {
      text: p.search || p.filter || '', // filter: the Overview's links (#/devices?filter=model%3DX)
      quick: { tag: p.tag || '', model: p.model || '', version: p.version || '', online: p.online || '' },
      sort: p.sort || 'id',
      limit: Number(localStorage.getItem(SIZE_KEY)) || 100,
      cursor: '',
      cols: loadCols(),
      rows: [],
      total: 0,
      links: {},
      selected: new Set(),
      paramCache: new Map(), // `${id}\n${name}` -> value
      localSort: null,        // {col, desc}: a parameter column sorts the page it shows
    };
    let alive = true;
    let loadSeq = 0;
    const canAct = ctx.can('operator');

    // ---- the search form ----------------------------------------------------
    const searchIn = h('input', {
      id: 'dev-search', type: 'search', value: st.text, autocomplete: 'off', spellcheck: 'false',
      role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false',
      'aria-controls': 'dev-suggest', 'aria-describedby': 'dev-search-help',
      placeholder: 'model=HG8245 AND param.Device.DeviceInfo.SoftwareVersion^=2.',
    });
    const suggest = h('ul', { id: 'dev-suggest', role: 'listbox', class: 'suggest', hidden: true,
                              'aria-label': 'Suggestions' });
    const quickIn = {
      tag: h('input', { id: 'dev-tag', list: 'dev-tags', value: st.quick.tag, size: 10, autocomplete: 'off' }),
      model: h('input', { id: 'dev-model', list: 'dev-models', value: st.quick.model, size: 10, autocomplete: 'off' }),
      version: h('input', { id: 'dev-version', list: 'dev-versions', value: st.quick.version, size: 10, autocomplete: 'off' }),
      online: h('select', { id: 'dev-online' }, h('option', { value: '' }, 'any'),
                h('option', { value: 'online' }, 'online'), h('option', { value: 'offline' }, 'offline')),
    };
    quickIn.online.value = st.quick.online;
    const lists = { tags: h('datalist', { id: 'dev-tags' }), models: h('datalist', { id: 'dev-models' }),
                    versions: h('datalist', { id: 'dev-versions' }) };
    const searchErr = h('p', { class: 'error', id: 'dev-search-error', role: 'alert', hidden: true });
    const form = h('form', { class: 'panel', role: 'search', onsubmit: (e) => { e.preventDefault(); search(); } },
      h('div', { class: 'field combo' }, h('label', { for: 'dev-search' }, 'Search'),
        h('div', { class: 'toolbar' }, h('div', { class: 'grow combo-wrap' }, searchIn, suggest),
          h('button', { type: 'submit', class: 'primary' }, 'Search'),
          h('button', { type: 'button', onclick: clearAll }, 'Clear'))),
      h('p', { id: 'dev-search-help', class: 'help' },
        'A word is a prefix of id, serial or model; otherwise the filter language: ',
        h('code', {}, 'tag=lab AND NOT online'), ', ', h('code', {}, 'param.Device.WiFi.SSID.1.SSID^=guest'),
        ', ', h('code', {}, 'last_inform<-1d'), '. Suggestions appear as you type (arrows and Enter pick one).'),
      searchErr,
      h('div', { class: 'toolbar quick' },
        h('label', { for: 'dev-tag' }, 'Tag'), quickIn.tag,
        h('label', { for: 'dev-model' }, 'Model'), quickIn.model,
        h('label', { for: 'dev-version' }, 'Version'), quickIn.version,
        h('label', { for: 'dev-online' }, 'Status'), quickIn.online),
      lists.tags, lists.models, lists.versions);
    for (const k of ['tag', 'model', 'version']) quickIn[k].addEventListener('change', search);
    quickIn.online.addEventListener('change', search);

    // ---- suggestions ------------------------------------------------------------
    let sugItems = [];
    let sugIndex = -1;
    let sugSeq = 0;
    let sugTimer = null;
    const tokenAt = () => {
      const v = searchIn.value;
      const end = searchIn.selectionStart ?? v.length;
      const m = /[^\s()]*$/.exec(v.slice(0, end));
      return { start: end - m[0].length, end, word: m[0] };
    };
    const closeSuggest = () => {
      suggest.hidden = true;
      searchIn.setAttribute('aria-expanded', 'false');
      searchIn.removeAttribute('aria-activedescendant');
      sugItems = [];
      sugIndex = -1;
    };
    const showSuggest = (items) => {
      sugItems = items.slice(0, 12);
      sugIndex = -1;
      fill(suggest, sugItems.map((it, i) => h('li', {
        id: `dev-sug-${i}`, role: 'option', 'aria-selected': 'false',
        onmousedown: (e) => { e.preventDefault(); pick(i); },
      }, h('span', { class: 'sug-name' }, it.label), it.help ? h('span', { class: 'muted' }, ` ${it.help}`) : null)));
      suggest.hidden = !sugItems.length;
      searchIn.setAttribute('aria-expanded', sugItems.length ? 'true' : 'false');
    };
    const moveSuggest = (d) => {
      if (!sugItems.length) return;
      sugIndex = (sugIndex + d + sugItems.length) % sugItems.length;
      suggest.querySelectorAll('li').forEach((li, i) => li.setAttribute('aria-selected', i === sugIndex ? 'true' : 'false'));
      searchIn.setAttribute('aria-activedescendant', `dev-sug-${sugIndex}`);
    };
    const pick = (i) => {
      const it = sugItems[i];
      if (!it) return;
      const t = tokenAt();
      const v = searchIn.value;
      searchIn.value = v.slice(0, t.start) + it.insert + v.slice(t.end);
      const pos = t.start + it.insert.length;
      searchIn.setSelectionRange(pos, pos);
      searchIn.focus();
      closeSuggest();
      if (it.insert.endsWith('.')) updateSuggest(); // go on down a parameter's path
    };
    const updateSuggest = () => {
      const { word } = tokenAt();
      const seq = ++sugSeq;
      if (!word || /[=<>!^]/.test(word)) { closeSuggest(); return; }
      if (word.startsWith('param.')) {
        // the names one level down, from a device of the list (next_level)
        const rest = word.slice(6);
        const prefix = rest.slice(0, rest.lastIndexOf('.') + 1);
        const dev = st.rows[0];
        if (!dev) { closeSuggest(); return; }
        clearTimeout(sugTimer);
        sugTimer = setTimeout(async () => {
          try {
            const list = await ctx.api(`/api/devices/${idPath(dev.id)}/parameters`,
                                       { query: { prefix, next_level: 'true', limit: 400 } });
            if (seq !== sugSeq || !alive) return;
            const lower = rest.toLowerCase();
            showSuggest(list.filter((x) => x.name.toLowerCase().startsWith(lower))
              .map((x) => ({ label: `param.${x.name}`, insert: `param.${x.name}`,
                             help: x.name.endsWith('.') ? `${x.children ?? ''} under it` : x.type })));
          } catch { closeSuggest(); }
        }, 120);
        return;
      }
      const lower = word.toLowerCase();
      showSuggest(FIELDS.filter(([f]) => f.toLowerCase().startsWith(lower) && f.toLowerCase() !== lower)
        .map(([f, help]) => ({ label: f, insert: /^(AND|OR|NOT)$/.test(f) ? `${f} ` : f, help })));
    };
    searchIn.addEventListener('input', updateSuggest);
    searchIn.addEventListener('blur', () => setTimeout(closeSuggest, 100));
    searchIn.addEventListener('keydown', (e) => {
      if (suggest.hidden) {
        if (e.key === 'ArrowDown') { updateSuggest(); e.preventDefault(); }
        return;
      }
      if (e.key === 'ArrowDown') { moveSuggest(1); e.preventDefault(); }
      else if (e.key === 'ArrowUp') { moveSuggest(-1); e.preventDefault(); }
      else if (e.key === 'Escape') { closeSuggest(); e.preventDefault(); }
      else if ((e.key === 'Enter' || e.key === 'Tab') && sugIndex >= 0) { pick(sugIndex); e.preventDefault(); }
    });

    // ---- the table ----------------------------------------------------------
    const status = h('p', { class: 'muted', id: 'dev-status', 'aria-live': 'polite' }, 'Loading…');
    const table = h('table', { class: 'data devices', id: 'dev-table' });
    const prevBtn = h('button', { type: 'button', id: 'dev-prev', onclick: () => page('prev') }, '‹ Previous');
    const nextBtn = h('button', { type: 'button', id: 'dev-next', onclick: () => page('next') }, 'Next ›');
    const sizeSel = h('select', { id: 'dev-size', onchange: () => {
      st.limit = Number(sizeSel.value);
      localStorage.setItem(SIZE_KEY, String(st.limit));
      st.cursor = '';
      load();
    } }, [25, 50, 100, 250, 500, 1000].map((n) => h('option', { value: n }, String(n))));
    sizeSel.value = String(st.limit);
    const colsBtn = h('button', { type: 'button', id: 'dev-cols-btn', 'aria-expanded': 'false',
                                  'aria-controls': 'dev-cols', onclick: toggleCols }, 'Columns…');
    const colsPanel = h('div', { id: 'dev-cols', class: 'panel', hidden: true });
    const bulkPanel = h('div', { id: 'dev-bulk', class: 'panel', hidden: true });
    const bulkBtn = canAct ? h('button', { type: 'button', id: 'dev-bulk-btn', 'aria-expanded': 'false',
                                           'aria-controls': 'dev-bulk', onclick: toggleBulk }, 'Bulk action…') : null;

    fill(el,
      h('h1', {}, 'Devices'),
      form,
      h('div', { class: 'toolbar' }, status, h('span', { class: 'grow' }),
        bulkBtn, colsBtn,
        h('label', { for: 'dev-size' }, 'Per page'), sizeSel),
      colsPanel, bulkPanel,
      h('div', { class: 'table-wrap' }, table),
      h('nav', { class: 'toolbar pager', 'aria-label': 'Pages' }, prevBtn, nextBtn));

    function colDef(key) {
      if (key.startsWith('param.')) return { key, label: key.slice(6).split('.').slice(-2).join('.'), title: key.slice(6), param: key.slice(6) };
      return BUILTIN.find((c) => c.key === key);
    }

    function cell(d, c) {
      if (c.param) {
        const v = st.paramCache.get(`${d.id}\n${c.param}`);
        return h('td', { class: 'param', dataset: { param: c.param } }, v === undefined ? '…' : v === null ? '—' : v);
      }
      switch (c.key) {
        case 'id':
          return h('td', {}, h('a', { href: `#/devices/${idPath(d.id)}` }, idText(d.id)));
        case 'online':
          return h('td', {}, h('span', { class: `dot${d.online ? ' on' : ''}`, 'aria-hidden': 'true' }), ' ', d.online ? 'online' : 'offline');
        case 'last_inform': case 'first_seen':
          return h('td', { title: fmtTime(d[c.key]) }, d[c.key] ? `${fmtAge(d[c.key])} ago` : 'never');
        case 'tags':
          return h('td', {}, (d.tags || []).map((t) => h('button', {
            type: 'button', class: 'badge tagchip', title: `Filter by tag ${t}`,
            onclick: () => { quickIn.tag.value = t; search(); },
          }, t)));
        default:
          return h('td', {}, d[c.key] ?? '');
      }
    }

    function drawTable() {
      const cols = st.cols.map(colDef).filter(Boolean);
      const [sortKey, desc] = st.sort.startsWith('-') ? [st.sort.slice(1), true] : [st.sort, false];
      const allSel = st.rows.length > 0 && st.rows.every((d) => st.selected.has(d.id));
      const head = h('tr', {},
        canAct ? h('th', { scope: 'col' }, h('input', {
          type: 'checkbox', id: 'dev-sel-all', 'aria-label': 'Select every device on this page', checked: allSel,
          onchange: (e) => { for (const d of st.rows) e.target.checked ? st.selected.add(d.id) : st.selected.delete(d.id); drawTable(); },
        })) : null,
        cols.map((c) => {
          let sorted = null;
          if (c.sort && c.sort === sortKey) sorted = desc ? 'descending' : 'ascending';
          if (c.param && st.localSort && st.localSort.col === c.key) sorted = st.localSort.desc ? 'descending' : 'ascending';
          const can = c.sort || c.param;
          return h('th', { scope: 'col', 'aria-sort': sorted || (can ? 'none' : null), title: c.title || null },
            can ? h('button', { type: 'button', class: 'sort', onclick: () => sortBy(c),
                                title: c.param ? 'Sorts the devices of this page (the API sorts by built-in fields)' : null },
              c.label, sorted ? (sorted === 'ascending' ? ' ▲' : ' ▼') : '') : c.label);
        }));
      let rows = st.rows;
      if (st.localSort) {
        const k = st.localSort.col.slice(6);
        const val = (d) => st.paramCache.get(`${d.id}\n${k}`) ?? '';
        rows = rows.slice().sort((a, b) => {
          const x = val(a), y = val(b);
          const nx = Number(x), ny = Number(y);
          const r = x !== '' && y !== '' && !isNaN(nx) && !isNaN(ny) ? nx - ny : String(x).localeCompare(String(y));
          return st.localSort.desc ? -r : r;
        });
      }
      const body = rows.map((d) => h('tr', { dataset: { id: d.id } },
        canAct ? h('td', {}, h('input', {
          type: 'checkbox', class: 'dev-sel', 'aria-label': `Select ${idText(d.id)}`, checked: st.selected.has(d.id),
          onchange: (e) => { e.target.checked ? st.selected.add(d.id) : st.selected.delete(d.id); updateBulk(); },
        })) : null,
        cols.map((c) => cell(d, c))));
      fill(table, h('caption', { class: 'sr-only' }, 'Devices'), h('thead', {}, head),
           h('tbody', {}, body.length ? body : h('tr', {}, h('td', { colspan: cols.length + 1, class: 'muted' }, 'No device matches.'))));
      updateBulk();
    }

    function sortBy(c) {
      if (c.param) {
        st.localSort = st.localSort && st.localSort.col === c.key ? { col: c.key, desc: !st.localSort.desc } : { col: c.key, desc: false };
        drawTable();
        return;
      }
      st.localSort = null;
      st.sort = st.sort === c.sort ? `-${c.sort}` : c.sort;
      st.cursor = '';
      syncHash();
      load();
    }

    // ---- loading --------------------------------------------------------------
    function syncHash() {
      const q = new URLSearchParams();
      if (searchIn.value.trim()) q.set('search', searchIn.value.trim());
      for (const k of ['tag', 'model', 'version', 'online']) if (st.quick[k]) q.set(k, st.quick[k]);
      if (st.sort !== 'id') q.set('sort', st.sort);
      const s = q.toString();
      history.replaceState(null, '', `#/devices${s ? '?' + s : ''}`);
    }

    function currentQuery() {
      return { ...buildQuery(searchIn.value, st.quick), sort: st.sort, limit: st.limit };
    }

    async function load(url) {
      const seq = ++loadSeq;
      status.textContent = 'Loading…';
      searchErr.hidden = true;
      let res;
      try {
        res = url ? await ctx.api(url, { raw: true })
                  : await ctx.api('/api/devices', { query: currentQuery(), raw: true });
      } catch (e) {
        if (seq !== loadSeq || !alive) return;
        status.textContent = 'The search failed.';
        searchErr.hidden = false;
        searchErr.textContent = e.message;
        if (e.body && typeof e.body.position === 'number' && e.body.field === 'filter') {
          // the position is in the filter we built; the box's text comes first
          const t = searchIn.value.trim();
          const shift = /\bOR\b/i.test(t) ? 1 : 0; // buildQuery put the box's text in parentheses
          const pos = Math.max(0, Math.min(e.body.position - shift, searchIn.value.length));
          searchIn.focus();
          searchIn.setSelectionRange(pos, pos);
        }
        return;
      }
      const rows = await res.json();
      if (seq !== loadSeq || !alive) return;
      st.rows = rows;
      st.total = Number(res.headers.get('X-Total-Count') || rows.length);
      st.links = parseLink(res.headers.get('Link'));
      status.textContent = `${fmtNum(st.total)} device${st.total === 1 ? '' : 's'} match; showing ${fmtNum(rows.length)}.`;
      prevBtn.disabled = !st.links.prev;
      nextBtn.disabled = !st.links.next;
      fillLists(rows);
      drawTable();
      loadParamCols(seq);
    }

    function fillLists(rows) {
      const uniq = (f) => [...new Set(rows.flatMap(f))].filter(Boolean).sort().slice(0, 50);
      fill(lists.tags, uniq((d) => d.tags || []).map((v) => h('option', { value: v })));
      fill(lists.models, uniq((d) => [d.product_class]).map((v) => h('option', { value: v })));
      fill(lists.versions, uniq((d) => [d.software_version]).map((v) => h('option', { value: v })));
    }

    // Parameter columns: each device's value (the name's own row: prefix
    // order puts it first), six requests at a time.
    async function loadParamCols(seq) {
      const names = st.cols.filter((c) => c.startsWith('param.')).map((c) => c.slice(6));
      const jobs = [];
      for (const d of st.rows) for (const n of names) if (!st.paramCache.has(`${d.id}\n${n}`)) jobs.push([d.id, n]);
      const worker = async () => {
        while (jobs.length && seq === loadSeq && alive) {
          const [id, n] = jobs.shift();
          let v = null;
          try {
            const r = await ctx.api(`/api/devices/${idPath(id)}/parameters`, { query: { prefix: n, limit: 1 } });
            if (r.length && r[0].name === n) v = r[0].value;
          } catch { v = null; }
          st.paramCache.set(`${id}\n${n}`, v);
          const td = table.querySelector(`tr[data-id="${CSS.escape(id)}"] td[data-param="${CSS.escape(n)}"]`);
          if (td) td.textContent = v === null ? '—' : v;
        }
      };
      await Promise.all([1, 2, 3, 4, 5, 6].map(worker));
    }

    function search() {
      closeSuggest();
      for (const k of ['tag', 'model', 'version']) st.quick[k] = quickIn[k].value.trim();
      st.quick.online = quickIn.online.value;
      st.cursor = '';
      st.selected.clear();
      syncHash();
      load();
    }

    function clearAll() {
      searchIn.value = '';
      for (const k of ['tag', 'model', 'version']) quickIn[k].value = '';
      quickIn.online.value = '';
      search();
      searchIn.focus();
    }

    function page(dir) {
      const url = st.links[dir];
      if (url) load(url).then(() => table.focus?.());
    }

    // ---- columns ----------------------------------------------------------------
    function toggleCols() {
      const open = colsPanel.hidden;
      colsPanel.hidden = !open;
      colsBtn.setAttribute('aria-expanded', String(open));
      if (open) drawCols();
    }

    function saveCols() {
      localStorage.setItem(COLS_KEY, JSON.stringify(st.cols));
      drawTable();
      loadParamCols(loadSeq);
    }

    function drawCols() {
      const paramIn = h('input', { id: 'dev-col-param', placeholder: 'Device.DeviceInfo.UpTime', size: 36, spellcheck: 'false' });
      const add = () => {
        let n = paramIn.value.trim().replace(/^param\./, '');
        if (!n || n.endsWith('.')) { ctx.notify('Give a parameter name (not an object).', 'error'); return; }
        if (!st.cols.includes(`param.${n}`)) st.cols.push(`param.${n}`);
        saveCols();
        drawCols();
        colsPanel.querySelector('#dev-col-param').focus();
      };
      paramIn.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } });
      const params = st.cols.filter((c) => c.startsWith('param.'));
      fill(colsPanel,
        h('fieldset', {}, h('legend', {}, 'Columns shown'),
          h('div', { class: 'colchoice' }, BUILTIN.map((c) => h('label', {},
            h('input', { type: 'checkbox', checked: st.cols.includes(c.key), onchange: (e) => {
              if (e.target.checked) st.cols.splice(Math.min(BUILTIN.indexOf(c), st.cols.length), 0, c.key);
              else st.cols = st.cols.filter((k) => k !== c.key);
              saveCols();
            } }), ' ', c.label)))),
        h('fieldset', {}, h('legend', {}, 'Parameter columns'),
          h('ul', { class: 'plain' }, params.map((c) => h('li', {}, h('code', {}, c.slice(6)), ' ',
            h('button', { type: 'button', class: 'link', 'aria-label': `Remove column ${c.slice(6)}`, onclick: () => {
              st.cols = st.cols.filter((k) => k !== c);
              saveCols();
              drawCols();
            } }, 'remove')))),
          h('div', { class: 'toolbar' }, h('label', { for: 'dev-col-param' }, 'Add parameter'), paramIn,
            h('button', { type: 'button', onclick: add }, 'Add column'),
            h('button', { type: 'button', onclick: () => { st.cols = DEFAULT_COLS.slice(); saveCols(); drawCols(); } }, 'Reset'))));
    }

    // ---- bulk action --------------------------------------------------------------
    function toggleBulk() {
      const open = bulkPanel.hidden;
      bulkPanel.hidden = !open;
      bulkBtn.setAttribute('aria-expanded', String(open));
      if (open) drawBulk();
    }

    function updateBulk() {
      const n = bulkPanel.querySelector('#bulk-n-sel');
      if (n) n.textContent = fmtNum(st.selected.size);
      const a = bulkPanel.querySelector('#bulk-n-all');
      if (a) a.textContent = fmtNum(st.total);
      const r = bulkPanel.querySelector('#bulk-scope-sel');
      if (r) {
        r.disabled = st.selected.size === 0;
        if (r.disabled && r.checked) bulkPanel.querySelector('#bulk-scope-all').checked = true;
      }
      if (bulkBtn) bulkBtn.textContent = st.selected.size ? `Bulk action (${st.selected.size} selected)…` : 'Bulk action…';
    }

    async function drawBulk() {
      const typeSel = h('select', { id: 'bulk-type' },
        h('option', { value: 'reboot' }, 'Reboot'),
        h('option', { value: 'set_params' }, 'Set a parameter'),
        h('option', { value: 'get_params' }, 'Refresh parameters (read)'),
        h('option', { value: 'download' }, 'Firmware download (stored file)'),
        h('option', { value: 'schedule_inform' }, 'Schedule an inform'),
        h('option', { value: 'factory_reset' }, 'Factory reset'));
      const extra = h('div', { id: 'bulk-extra' });
      const maxIn = h('input', { id: 'bulk-max', type: 'number', min: 0, value: 50, size: 6 });
      const ratioIn = h('input', { id: 'bulk-ratio', type: 'number', min: 0, max: 1, step: 0.05, value: 0, size: 6 });
      const result = h('div', { id: 'bulk-result', 'aria-live': 'polite' });
      const scopeSel = h('input', { type: 'radio', name: 'bulk-scope', id: 'bulk-scope-sel', value: 'ids', checked: st.selected.size > 0, disabled: st.selected.size === 0 });
      const scopeAll = h('input', { type: 'radio', name: 'bulk-scope', id: 'bulk-scope-all', value: 'filter', checked: st.selected.size === 0 });
      let files = null;
      const drawExtra = async () => {
        const t = typeSel.value;
        if (t === 'set_params') {
          fill(extra, h('div', { class: 'toolbar' },
            h('label', { for: 'bulk-name' }, 'Name'), h('input', { id: 'bulk-name', size: 40, spellcheck: 'false', required: true }),
            h('label', { for: 'bulk-value' }, 'Value'), h('input', { id: 'bulk-value', size: 20, spellcheck: 'false' })));
        } else if (t === 'get_params') {
          fill(extra, h('div', { class: 'toolbar' }, h('label', { for: 'bulk-name' }, 'Name or object (ends with .)'),
            h('input', { id: 'bulk-name', size: 40, spellcheck: 'false', required: true })));
        } else if (t === 'download') {
          if (!files) {
            try { files = await ctx.api('/api/files'); } catch (e) { files = []; ctx.notify(e.message, 'error'); }
          }
          fill(extra, files.length
            ? h('div', { class: 'toolbar' }, h('label', { for: 'bulk-file' }, 'File'), h('select', { id: 'bulk-file' },
              files.map((f) => h('option', { value: f.name }, `${f.name} (${f.file_type}${f.version ? ', ' + f.version : ''})`))))
            : h('p', { class: 'muted' }, 'No stored file: upload one on the Files page first.'));
        } else if (t === 'schedule_inform') {
          fill(extra, h('div', { class: 'toolbar' }, h('label', { for: 'bulk-delay' }, 'Delay (s)'),
            h('input', { id: 'bulk-delay', type: 'number', min: 1, value: 5, size: 6 })));
        } else if (t === 'factory_reset') {
          fill(extra, h('div', { class: 'toolbar' }, h('label', { for: 'bulk-confirm' }, 'Type RESET to confirm'),
            h('input', { id: 'bulk-confirm', size: 8, autocomplete: 'off' })));
        } else fill(extra);
      };
      typeSel.addEventListener('change', drawExtra);
      const start = async (e) => {
        e.preventDefault();
        const t = typeSel.value;
        const task = { type: t };
        const v = (id) => bulkPanel.querySelector(`#${id}`)?.value ?? '';
        if (t === 'set_params') {
          if (!v('bulk-name').trim()) { ctx.notify('Give the parameter name.', 'error'); return; }
          task.parameters = { values: { [v('bulk-name').trim()]: v('bulk-value') } };
        } else if (t === 'get_params') {
          if (!v('bulk-name').trim()) { ctx.notify('Give a parameter or object name.', 'error'); return; }
          task.parameters = { names: [v('bulk-name').trim()] };
        } else if (t === 'download') {
          if (!v('bulk-file')) { ctx.notify('No stored file to download.', 'error'); return; }
          task.parameters = { file: v('bulk-file') };
        } else if (t === 'schedule_inform') {
          task.parameters = { delay_seconds: Number(v('bulk-delay')) || 1 };
        } else if (t === 'factory_reset' && v('bulk-confirm') !== 'RESET') {
          ctx.notify('Type RESET to confirm a factory reset.', 'error');
          return;
        }
        const body = { task, max_in_flight: Number(maxIn.value) || 0, max_failure_ratio: Number(ratioIn.value) || 0 };
        if (scopeSel.checked && st.selected.size) body.ids = [...st.selected];
        else {
          const q = buildQuery(searchIn.value, st.quick);
          if (q.q) {
            // the search box's bare word (a prefix of id, serial or model) in the language
            const w = quoteValue(q.q);
            q.filter = `(id^=${w} OR serial^=${w} OR model^=${w})${q.filter ? ' AND ' + q.filter : ''}`;
          }
          if (!q.filter) {
            if (!confirm(`No filter: this makes a task on every device (${fmtNum(st.total)}). Go on?`)) return;
            body.filter = 'online OR offline';
          } else body.filter = q.filter;
        }
        fill(result, h('p', { class: 'muted' }, 'Starting…'));
        try {
          const b = await ctx.api('/api/tasks', { method: 'POST', body });
          fill(result, h('p', { class: 'ok', role: 'status' }, `Bulk ${b.id} started: ${fmtNum(b.total)} task${b.total === 1 ? '' : 's'}`,
            b.unknown_ids ? ` (${b.unknown_ids} unknown ids skipped)` : '', '. ',
            h('a', { href: `#/bulk/${b.id}`, id: 'bulk-link' }, 'See its progress')));
          ctx.notify(`Bulk ${b.id} started (${b.total} tasks)`, 'ok');
        } catch (err) {
          fill(result, h('p', { class: 'error', role: 'alert' }, err.message));
        }
      };
      fill(bulkPanel, h('form', { onsubmit: start, 'aria-labelledby': 'bulk-title' },
        h('h2', { id: 'bulk-title' }, 'Bulk action'),
        h('fieldset', {}, h('legend', {}, 'Devices'),
          h('label', {}, scopeSel, ' the selected devices (', h('span', { id: 'bulk-n-sel' }, fmtNum(st.selected.size)), ')'), ' ',
          h('label', {}, scopeAll, ' every device the search matches (', h('span', { id: 'bulk-n-all' }, fmtNum(st.total)), ')')),
        h('div', { class: 'toolbar' }, h('label', { for: 'bulk-type' }, 'Task'), typeSel),
        extra,
        h('div', { class: 'toolbar' },
          h('label', { for: 'bulk-max' }, 'At most in flight'), maxIn,
          h('label', { for: 'bulk-ratio' }, 'Stop when failures pass (0-1, 0 never)'), ratioIn),
        h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary', id: 'bulk-start' }, 'Start'),
          h('button', { type: 'button', onclick: toggleBulk }, 'Close')),
        result));
      drawExtra();
      updateBulk();
    }

    // Live: the rows shown follow their devices' informs and online state
    // (one stream for the page; events for devices not shown are ignored).
    const closeEvents = ctx.events({ types: 'inform,device' }, (ev) => {
      const d = ev.data || {};
      const row = d.device && st.rows.find((r) => r.id === d.device);
      if (!row) return;
      if (ev.type === 'inform') { row.last_inform = new Date().toISOString(); row.online = true; }
      else if (d.state) row.online = d.state === 'online';
      scheduleDraw();
    });
    let drawQueued = false;
    function scheduleDraw() {
      if (drawQueued) return;
      drawQueued = true;
      // not while a row's checkbox or a header button has the focus: a redraw would take it away
      setTimeout(() => {
        drawQueued = false;
        if (!alive) return;
        if (table.contains(document.activeElement)) { scheduleDraw(); return; }
        drawTable();
      }, 1000);
    }

    load();
    return () => { alive = false; closeEvents(); };
  },
};
