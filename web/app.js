// app.js: the dashboard's shell. Sign-in with an API key (kept in this
// tab's sessionStorage), the key's role (GET /api/whoami), the hash router
// over the views listed in views/index.js, the nav, api() and events()
// for the views, and the notice area. docs/dashboard.md describes the
// view contract:
//   export default { path: '#/tasks', title: 'Tasks', nav: true,
//                    minRole: 'viewer', render(el, ctx) }
//   ctx = { api, events, role, can(role), navigate, params, notify }
// render may return a cleanup function (called when the view is left).
import views from './views/index.js';
import { h, fill } from './lib.js';

const KEY_STORE = 'outpost-api-key';
const ROLES = { viewer: 1, operator: 2, admin: 3 };
const $ = (id) => document.getElementById(id);

let key = sessionStorage.getItem(KEY_STORE) || '';
let role = '';
let cleanup = null;
let streams = 0; // open event streams (the live dot)
let routeGen = 0; // the route being rendered (a slow render that lost the race is cleaned up)

// ---- the API ---------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// api(path, {method, query, body, headers, signal, raw}): the JSON answer
// (null for 204), or throws ApiError with the API's message. body: an
// object (sent as JSON), or a Blob/File/ArrayBuffer/string sent as is.
// raw: resolve with the Response itself (uploads, downloads). A 401 signs
// out (the key was revoked).
export async function api(path, opts = {}) {
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, v);
    }
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const headers = { Authorization: `Bearer ${opts.key ?? key}`, ...(opts.headers || {}) };
  let body = opts.body;
  if (body !== undefined && body !== null && !(body instanceof Blob) && !(body instanceof ArrayBuffer)
      && typeof body !== 'string') {
    body = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(url, { method: opts.method || (body !== undefined ? 'POST' : 'GET'), headers,
                             body, signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The ACS cannot be reached', null);
  }
  if (opts.raw && res.ok) return res;
  const text = await res.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!res.ok) {
    const msg = (json && (json.message || json.error)) || text.trim() || `HTTP ${res.status}`;
    const err = new ApiError(res.status, (json && json.error) || String(res.status), msg, json);
    if (res.status === 401 && opts.key === undefined && key) signOut('Your key is no longer accepted; sign in again.');
    throw err;
  }
  return json;
}

// ---- live events (GET /api/events, text/event-stream) ------------------------

// events({types: 'task,inform', device: id}, onEvent, onState?): a live
// stream; onEvent({type, id, data}) with data parsed from JSON. Reconnects
// with backoff (sending Last-Event-ID) until the returned close() is
// called. EventSource cannot send the Authorization header, so this reads
// the stream with fetch().
//
// A page left for the back/forward cache closes its streams ('pagehide')
// and opens them again if it comes back ('pageshow'): Chromium keeps such a
// page alive, and each open stream holds one of the six connections a
// browser opens to a host, so after a few visits a new page's own API calls
// would wait for the cache to let old ones go (about a minute).
export function events(filter, onEvent, onState) {
  const ctl = { closed: false, paused: false, wake: null, abort: null, lastId: '' };
  let delay = 1000;
  const hide = () => { ctl.paused = true; if (ctl.abort) ctl.abort.abort(); };
  const show = (e) => {
    if (e.persisted && ctl.paused) { ctl.paused = false; if (ctl.wake) ctl.wake(); }
  };
  window.addEventListener('pagehide', hide);
  window.addEventListener('pageshow', show);
  const state = (up) => {
    streams += up ? 1 : -1;
    $('live').classList.toggle('on', streams > 0);
    $('live').title = streams > 0 ? 'live updates on' : 'live updates off';
    if (onState) onState(up);
  };
  const run = async () => {
    while (!ctl.closed) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(filter || {})) if (v) q.set(k, v);
      const ac = new AbortController();
      ctl.abort = ac;
      let up = false;
      try {
        const headers = { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' };
        if (ctl.lastId) headers['Last-Event-ID'] = ctl.lastId;
        const res = await fetch(`/api/events${q.toString() ? '?' + q : ''}`, { headers, signal: ac.signal });
        if (res.status === 401) { signOut('Your key is no longer accepted; sign in again.'); return; }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        up = true;
        state(true);
        delay = 1000;
        await readStream(res.body, ctl, onEvent);
      } catch (e) {
        if (ctl.closed) break;
      } finally {
        if (up) state(false);
      }
      if (ctl.closed) break;
      if (ctl.paused) {   // in the back/forward cache: until it is shown again
        await new Promise((r) => { ctl.wake = r; });
        ctl.wake = null;
        continue;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  };
  run();
  return () => {
    ctl.closed = true;
    window.removeEventListener('pagehide', hide);
    window.removeEventListener('pageshow', show);
    if (ctl.abort) ctl.abort.abort();
    if (ctl.wake) ctl.wake();
  };
}

async function readStream(body, ctl, onEvent) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let ev = { type: 'message', data: [], id: '' };
  for (;;) {
    const { value, done } = await reader.read();
    if (done || ctl.closed) return;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (ev.data.length) {
          if (ev.id) ctl.lastId = ev.id;
          let data = ev.data.join('\n');
          try { data = JSON.parse(data); } catch { /* kept as text */ }
          try { onEvent({ type: ev.type, id: ev.id, data }); } catch (e) { console.error(e); }
        }
        ev = { type: 'message', data: [], id: '' };
      } else if (!line.startsWith(':')) {
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const val = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') ev.type = val;
        else if (field === 'data') ev.data.push(val);
        else if (field === 'id') ev.id = val;
      }
    }
  }
}

// ---- notices ---------------------------------------------------------------

// notify(message, kind = 'info' | 'ok' | 'error', ms = 6000)
export function notify(message, kind = 'info', ms = 6000) {
  const close = h('button', { type: 'button', 'aria-label': 'Dismiss' }, '\u00d7');
  const t = h('div', { class: `toast ${kind}` }, h('span', {}, message), close);
  const remove = () => t.remove();
  close.addEventListener('click', remove);
  $('toasts').append(t);
  if (ms) setTimeout(remove, kind === 'error' ? ms * 2 : ms);
}

// ---- roles -----------------------------------------------------------------

export function can(need) {
  return (ROLES[role] || 0) >= (ROLES[need] || 0);
}

// ---- router ----------------------------------------------------------------

// A view's path may have captures: '#/devices/{id}'. The hash may carry a
// query after '?': '#/devices?filter=model%3DX' (ctx.params.filter).
function match(hash) {
  const [path, query] = hash.split('?', 2);
  for (const v of views) {
    const pp = v.path.split('/');
    const hp = path.split('/');
    if (pp.length !== hp.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; ok && i < pp.length; i++) {
      const m = /^\{(\w+)\}$/.exec(pp[i]);
      if (m) {
        try { params[m[1]] = decodeURIComponent(hp[i]); } catch { ok = false; }
        if (hp[i] === '') ok = false;
      } else if (pp[i] !== hp[i]) ok = false;
    }
    if (!ok) continue;
    for (const [k, val] of new URLSearchParams(query || '')) params[k] = val;
    return { view: v, params };
  }
  return null;
}

// navigate('#/devices', {filter: 'model=X'}) or navigate('#/devices?filter=...')
export function navigate(hash, query) {
  let target = hash;
  if (query) {
    const q = new URLSearchParams(query).toString();
    if (q) target += (target.includes('?') ? '&' : '?') + q;
  }
  if (location.hash === target) route();
  else location.hash = target;
}

function defaultHash() {
  const first = views.find((v) => v.nav && can(v.minRole || 'viewer'));
  return first ? first.path : '#/';
}

async function route() {
  if (!key || !role) return;
  if (!location.hash || location.hash === '#' || location.hash === '#/') {
    location.replace(defaultHash());
    return;
  }
  if (cleanup) {
    try { cleanup(); } catch (e) { console.error(e); }
    cleanup = null;
  }
  routeGen++;
  const el = $('view');
  fill(el);
  const m = match(location.hash);
  markNav(m && m.view);
  if (!m) {
    el.append(h('h1', {}, 'Not found'), h('p', {}, 'No page here. ', h('a', { href: defaultHash() }, 'Go to the start page')));
    document.title = 'Not found - Outpost ACS';
    return;
  }
  document.title = `${m.view.title} - Outpost ACS`;
  if (!can(m.view.minRole || 'viewer')) {
    el.append(h('h1', {}, m.view.title),
              h('p', { class: 'error' }, `This page needs the ${m.view.minRole} role; your key is ${role}.`));
    return;
  }
  const ctx = { api, events, role, can, navigate, params: m.params, notify };
  const gen = ++routeGen;
  try {
    const c = await m.view.render(el, ctx);
    if (typeof c === 'function') {
      if (gen === routeGen) cleanup = c;
      else c(); // the operator moved on while this view was loading
    }
  } catch (e) {
    if (gen === routeGen) el.append(h('p', { class: 'error', role: 'alert' }, `This page failed: ${e.message}`));
    console.error(e);
  }
  if (gen !== routeGen) return;
  $('main').focus({ preventScroll: true });
}

function markNav(view) {
  for (const a of document.querySelectorAll('#nav-list a')) {
    if (view && a.getAttribute('href') === view.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function buildNav() {
  const list = $('nav-list');
  fill(list, views.filter((v) => v.nav && can(v.minRole || 'viewer'))
    .map((v) => h('li', {}, h('a', { href: v.path, dataset: { view: v.path.slice(2) } }, v.title))));
}

// ---- sign-in ---------------------------------------------------------------

function showSignIn(message) {
  $('signin').hidden = false;
  $('view').hidden = true;
  $('nav').hidden = true;
  $('who').hidden = true;
  $('nav-toggle').hidden = true;
  const err = $('signin-error');
  err.hidden = !message;
  err.textContent = message || '';
  document.title = 'Sign in - Outpost ACS';
  $('signin-key').focus();
}

function showApp() {
  $('signin').hidden = true;
  $('view').hidden = false;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('nav-toggle').hidden = false;
  $('who-role').textContent = role;
  $('who-role').title = `signed in with a ${role} key`;
  buildNav();
  route();
}

export function signOut(message) {
  routeGen++;
  if (cleanup) {
    try { cleanup(); } catch (e) { console.error(e); }
    cleanup = null;
  }
  fill($('view'));
  key = '';
  role = '';
  sessionStorage.removeItem(KEY_STORE);
  showSignIn(message);
}

async function signIn(k) {
  try {
    const who = await api('/api/whoami', { key: k });
    key = k;
    role = who.role;
    sessionStorage.setItem(KEY_STORE, k);
    showApp();
    return '';
  } catch (e) {
    if (e.status === 401) return 'That key was not accepted.';
    if (e.status === 429) return 'Too many wrong keys from this address; wait a minute and try again.';
    return e.message;
  }
}

function init() {
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('signin-key');
    const btn = ev.target.querySelector('button');
    btn.disabled = true;
    const err = await signIn(input.value.trim());
    btn.disabled = false;
    if (err) showSignIn(err);
    else input.value = '';
  });
  $('signout').addEventListener('click', () => signOut(''));
  $('nav-toggle').addEventListener('click', () => {
    const nav = $('nav');
    const open = nav.classList.toggle('collapsed') === false;
    $('nav-toggle').setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', route);
  if (window.matchMedia('(max-width: 720px)').matches) $('nav').classList.add('collapsed');
  if (key) {
    signIn(key).then((err) => { if (err) signOut(err); });
  } else {
    showSignIn('');
  }
}

init();
