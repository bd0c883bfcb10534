// live.js: ctx.events for the device views, closed while the page is
// hidden in the back/forward cache. Chromium keeps a left page alive there
// with its open event stream, and each stream holds one of the six
// connections a browser opens to a host: after a few reloads or visits the
// new page's own API calls wait for the cache to drop the old ones (about a
// minute; bench/dashboard.sh saw it). 'pagehide' closes the stream,
// 'pageshow' from the cache opens it again.
export function liveEvents(ctx, filter, onEvent, onState) {
  if (!ctx.events) return () => {};
  let close = null;
  const open = () => {
    if (!close) {
      try { close = ctx.events(filter, onEvent, onState); } catch { close = null; }
    }
  };
  const hide = () => { if (close) { close(); close = null; if (onState) onState(false); } };
  const show = (e) => { if (e.persisted) open(); };
  window.addEventListener('pagehide', hide);
  window.addEventListener('pageshow', show);
  open();
  return () => {
    window.removeEventListener('pagehide', hide);
    window.removeEventListener('pageshow', show);
    hide();
  };
}
