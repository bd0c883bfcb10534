// ops_css.js: what the operations views (tasks, faults, bulk, files,
// presets, provisions, virtual parameters, keys) add to app.css: progress
// bars, the line-numbered editor, the detail panels, tables stacked at phone
// width. A constructed stylesheet (adoptedStyleSheets): the page's CSP
// (style-src 'self') refuses <style> and style attributes, and /views/
// serves modules only.
export default `
.ops-progress { width: 100%; height: 14px; border-radius: 4px; background: #e5e7eb; overflow: hidden; display: flex; }
.ops-progress span { display: block; height: 100%; }
.ops-progress .p-done { background: #16a34a; }
.ops-progress .p-failed { background: #b91c1c; }
.ops-progress .p-cancelled { background: #6b7280; }
.ops-progress .p-inflight { background: #d97706; }
.ops-legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0; padding: 0; list-style: none; font-variant-numeric: tabular-nums; }
.ops-legend b { font-weight: 650; }
progress.ops-upload { width: 100%; height: 16px; }
.ops-editor { display: grid; grid-template-columns: auto 1fr; border: 1px solid #6b7280; border-radius: 5px; background: #fff; max-height: 60vh; overflow: auto; }
.ops-editor:focus-within { outline: 3px solid var(--focus, #f59e0b); outline-offset: 2px; }
.ops-editor .gutter { margin: 0; padding: 5px 6px; text-align: right; color: #4b5563; background: #f3f4f6; border-right: 1px solid #d1d5db;
                      font: 14px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; user-select: none; white-space: pre; }
.ops-editor .gutter .bad { background: #fecaca; color: #7f1d1d; font-weight: 700; display: inline-block; min-width: 100%; }
.ops-editor textarea { border: none; border-radius: 0; resize: vertical; min-height: 18em; padding: 5px 8px; white-space: pre; overflow-x: auto;
                       font: 14px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; outline: none; overflow-y: hidden; tab-size: 2; }
.ops-syntax { margin: 8px 0; padding: 8px 12px; border-left: 4px solid var(--bad, #b91c1c); background: #fef2f2; color: #7f1d1d; }
.ops-detail pre, pre.ops-json { background: #f3f4f6; padding: 8px; border-radius: 5px; overflow: auto; max-height: 40vh; white-space: pre-wrap; word-break: break-all; margin: 4px 0 10px; }
.ops-detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0 0 10px; }
.ops-detail dt { font-weight: 600; color: var(--muted, #4b5563); }
.ops-detail dd { margin: 0; word-break: break-word; }
.ops-token { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.ops-token code { background: #fef3c7; padding: 6px 8px; border-radius: 4px; word-break: break-all; flex: 1 1 260px; }
.ops-actions { white-space: nowrap; display: flex; gap: 6px; flex-wrap: wrap; }
.ops-split { display: grid; grid-template-columns: minmax(220px, 1fr) 2fr; gap: 16px; align-items: start; }
.ops-list { list-style: none; margin: 0; padding: 0; }
.ops-list li a, .ops-list li button { display: block; width: 100%; text-align: left; padding: 6px 8px; border-radius: 4px; text-decoration: none; }
.ops-list li a[aria-current="true"] { background: #1e40af; color: #fff; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
@media (max-width: 720px) {
  .ops-split { grid-template-columns: 1fr; }
  /* tables become stacked cards at phone width: each cell with its header */
  table.ops-stack thead { position: absolute; left: -9999px; }
  table.ops-stack tr { display: block; border-bottom: 2px solid var(--line, #d1d5db); padding: 4px 0; }
  table.ops-stack td { display: grid; grid-template-columns: 40% 1fr; gap: 8px; border: none; padding: 3px 8px; }
  table.ops-stack td::before { content: attr(data-label); font-weight: 600; color: var(--muted, #4b5563); }
  table.ops-stack td.num { text-align: left; }
}
`;
