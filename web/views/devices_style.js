// devices_style.js: the device list's and the device page's own styles,
// added to the page once (the shell's app.css has the shared ones; the
// shell serves views/*.js only, so the rules live here as text).
const CSS = `
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.combo-wrap { position: relative; }
.combo-wrap input { width: 100%; }
.suggest { position: absolute; left: 0; right: 0; top: 100%; z-index: 5; margin: 2px 0 0; padding: 2px 0; list-style: none;
           background: var(--panel, #fff); border: 1px solid #6b7280; border-radius: 5px; box-shadow: 0 4px 12px #0003;
           max-height: 320px; overflow-y: auto; }
.suggest li { padding: 4px 10px; cursor: pointer; }
.suggest li[aria-selected="true"], .suggest li:hover { background: #dbeafe; }
.suggest .sug-name { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.quick label { margin-left: 4px; }
table.devices th button.sort { border: none; background: none; padding: 0; font-weight: 600; min-height: 0; color: var(--fg, #111827); }
table.devices th button.sort:hover { text-decoration: underline; }
table.devices td { white-space: nowrap; }
.tagchip { border: none; margin: 0 3px 2px 0; min-height: 0; cursor: pointer; }
.colchoice { display: flex; flex-wrap: wrap; gap: 4px 14px; }
.colchoice label { font-weight: normal; }
fieldset { border: 1px solid var(--line, #d1d5db); border-radius: 6px; margin: 6px 0; }
ul.plain { list-style: none; padding: 0; margin: 4px 0; }
.ok { color: var(--ok, #166534); }
.pager { justify-content: flex-end; }

/* the device page */
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0; }
dl.kv dt { color: var(--muted, #4b5563); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
ul.chips { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
ul.chips .badge { display: inline-flex; align-items: center; gap: 4px; font-size: 14px; padding: 2px 4px 2px 10px; }
.chip-x { min-height: 24px; padding: 0 6px; border: none; background: transparent; color: var(--bad, #b91c1c); }
ul.tree { list-style: none; margin: 0; padding-left: 18px; }
#dv-tree { padding-left: 0; }
ul.tree.flat { padding-left: 0; }
ul.tree li { margin: 1px 0; }
.objline { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.tgl { border: none; background: none; padding: 1px 4px; min-height: 0; font-weight: 600; color: var(--fg, #111827); }
.tgl .caret { display: inline-block; width: 1em; }
.objacts { display: inline-flex; gap: 10px; }
li.leaf { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; padding: 2px 0 2px 22px; border-bottom: 1px solid #eef0f3; }
li.leaf .pname { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; flex: 0 0 20em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
li.leaf .pval { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; max-width: 46em; }
li.leaf .pval.changing { font-style: italic; }
li.leaf .ptype, li.leaf .page { font-size: 12px; }
.wmark { color: var(--accent, #1d4ed8); display: inline-block; min-width: 1em; }
.pform { display: inline-flex; gap: 4px; flex-wrap: wrap; }
pre.json { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 240px; overflow: auto; background: #f9fafb; padding: 4px 6px; }
tr.detail td { background: #f9fafb; }
.sessions details { margin: 4px 0; }
.sessions summary { cursor: pointer; }
@media (max-width: 720px) {
  li.leaf .pname { flex-basis: 100%; white-space: normal; overflow-wrap: anywhere; }
  li.leaf .pedit.ro { opacity: 1; }
  dl.kv { grid-template-columns: 1fr; }
  dl.kv dd { margin-bottom: 4px; }
  table.devices td { white-space: normal; }
}
li.leaf .pedit.ro { color: var(--muted, #4b5563); font-size: 13px; opacity: 0; }
li.leaf:hover .pedit.ro, li.leaf:focus-within .pedit.ro { opacity: 1; }
`;

// A constructed sheet: the page's Content-Security-Policy refuses inline
// <style> elements, not the CSSOM.
let sheet = null;
export function useStyle() {
  if (sheet) return;
  sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}
