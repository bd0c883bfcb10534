/*
 * acs_dash: the web dashboard, served by the API listener at / (HTML, JS
 * and CSS embedded here: no CDN, no build step). The page is static and
 * public; everything it shows comes from the REST API with the operator's
 * bearer token (kept in the browser's localStorage). Device-supplied text
 * is only ever inserted with textContent, and the Content-Security-Policy
 * allows nothing but this origin's own files.
 *
 * To change the page, edit the strings below (they are plain HTML/JS/CSS,
 * one source line per C line).
 */
#include <string.h>

#include "acs/acs_internal.h"

static const char dash_html[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Outpost ACS</title>\n"
    "<link rel=\"stylesheet\" href=\"/dashboard.css\">\n"
    "</head>\n"
    "<body>\n"
    "<header>\n"
    "  <h1>Outpost ACS</h1>\n"
    "  <form id=\"tokenform\"><input id=\"token\" type=\"password\" placeholder=\"API token\" autocomplete=\"off\"><button>Use token</button></form>\n"
    "</header>\n"
    "<main>\n"
    "  <section id=\"stats\" class=\"cards\">\n"
    "    <div class=\"card\"><span id=\"s-total\">-</span><label>devices</label></div>\n"
    "    <div class=\"card ok\"><span id=\"s-online\">-</span><label>online</label></div>\n"
    "    <div class=\"card off\"><span id=\"s-offline\">-</span><label>offline</label></div>\n"
    "    <div class=\"card\"><span id=\"s-pending\">-</span><label>pending tasks</label></div>\n"
    "    <div class=\"card\"><span id=\"s-sessions\">-</span><label>live sessions</label></div>\n"
    "  </section>\n"
    "  <p id=\"error\" class=\"error\" hidden></p>\n"
    "  <div class=\"split\">\n"
    "    <section id=\"list\">\n"
    "      <div class=\"toolbar\">\n"
    "        <input id=\"q\" placeholder=\"id, serial or model prefix, or a filter: model=X AND tag=lab\">\n"
    "        <select id=\"online\"><option value=\"\">all</option><option value=\"true\">online</option><option value=\"false\">offline</option></select>\n"
    "      </div>\n"
    "      <table>\n"
    "        <thead><tr><th></th><th>device</th><th>model</th><th>software</th><th>last inform</th></tr></thead>\n"
    "        <tbody id=\"devices\"></tbody>\n"
    "      </table>\n"
    "      <div class=\"toolbar\"><button id=\"prev\">&larr;</button><span id=\"page\"></span><button id=\"next\">&rarr;</button></div>\n"
    "    </section>\n"
    "    <section id=\"detail\" hidden>\n"
    "      <h2 id=\"d-id\"></h2>\n"
    "      <dl id=\"d-info\"></dl>\n"
    "      <div class=\"actions\">\n"
    "        <button data-act=\"reboot\">Reboot</button>\n"
    "        <button data-act=\"factory-reset\" class=\"danger\">Factory reset</button>\n"
    "        <button data-act=\"connection-request\">Connection request</button>\n"
    "        <button data-act=\"refresh\">Refresh parameters</button>\n"
    "      </div>\n"
    "      <h3>Tasks</h3>\n"
    "      <table><thead><tr><th>#</th><th>type</th><th>status</th><th>updated</th><th>fault</th></tr></thead><tbody id=\"tasks\"></tbody></table>\n"
    "      <h3>Parameters</h3>\n"
    "      <input id=\"prefix\" placeholder=\"prefix, e.g. Device.DeviceInfo.\">\n"
    "      <table><thead><tr><th>name</th><th>value</th><th>type</th></tr></thead><tbody id=\"params\"></tbody></table>\n"
    "    </section>\n"
    "  </div>\n"
    "</main>\n"
    "<script src=\"/dashboard.js\"></script>\n"
    "</body>\n"
    "</html>\n"
    "\n";

static const char dash_js[] =
    "\"use strict\";\n"
    "// Outpost ACS dashboard: plain JS against the REST API. Every value that\n"
    "// comes from a device is put into the page with textContent, never as HTML.\n"
    "const $ = (id) => document.getElementById(id);\n"
    "let token = localStorage.getItem(\"acs-token\") || \"\";\n"
    "let offset = 0, selected = null;\n"
    "const LIMIT = 50;\n"
    "\n"
    "async function api(method, path, body) {\n"
    "  const r = await fetch(path, {\n"
    "    method, headers: Object.assign({ \"Authorization\": \"Bearer \" + token },\n"
    "                                   body ? { \"Content-Type\": \"application/json\" } : {}),\n"
    "    body: body ? JSON.stringify(body) : undefined });\n"
    "  const text = await r.text();\n"
    "  const data = text ? JSON.parse(text) : null;\n"
    "  if (!r.ok) throw new Error((data && data.message) || r.status + \" \" + r.statusText);\n"
    "  return data;\n"
    "}\n"
    "\n"
    "function showError(e) { const el = $(\"error\"); el.hidden = !e; el.textContent = e ? String(e.message || e) : \"\"; }\n"
    "function cell(tr, text, cls) { const td = document.createElement(\"td\"); td.textContent = text == null ? \"\" : String(text); if (cls) td.className = cls; tr.appendChild(td); return td; }\n"
    "function when(iso) { return iso ? new Date(iso).toLocaleString() : \"\"; }\n"
    "\n"
    "async function loadStats() {\n"
    "  const s = await api(\"GET\", \"/api/stats\");\n"
    "  $(\"s-total\").textContent = s.total_devices; $(\"s-online\").textContent = s.online_devices;\n"
    "  $(\"s-offline\").textContent = s.offline_devices; $(\"s-pending\").textContent = s.pending_tasks;\n"
    "  $(\"s-sessions\").textContent = s.live_sessions;\n"
    "}\n"
    "\n"
    "async function loadDevices() {\n"
    "  const p = new URLSearchParams({ limit: LIMIT, offset });\n"
    "  // a search in the filter language (docs/acs_fleet.md) has an operator or a space\n"
    "  const q = $(\"q\").value.trim();\n"
    "  if (q) p.set(/[=<>^\\s]/.test(q) ? \"filter\" : \"q\", q);\n"
    "  if ($(\"online\").value) p.set(\"online\", $(\"online\").value);\n"
    "  const devs = await api(\"GET\", \"/api/devices?\" + p);\n"
    "  const tb = $(\"devices\"); tb.replaceChildren();\n"
    "  for (const d of devs) {\n"
    "    const tr = document.createElement(\"tr\");\n"
    "    const dot = document.createElement(\"span\"); dot.className = \"dot\" + (d.online ? \" on\" : \"\");\n"
    "    dot.title = d.online ? \"online\" : \"offline\"; cell(tr, \"\").appendChild(dot);\n"
    "    cell(tr, d.id); cell(tr, d.manufacturer + \" \" + d.product_class); cell(tr, d.software_version);\n"
    "    cell(tr, when(d.last_inform));\n"
    "    tr.onclick = () => select(d.id);\n"
    "    tb.appendChild(tr);\n"
    "  }\n"
    "  $(\"page\").textContent = devs.length ? `${offset + 1}–${offset + devs.length}` : \"none\";\n"
    "}\n"
    "\n"
    "async function select(id) { selected = id; $(\"detail\").hidden = false; await loadDetail(); }\n"
    "\n"
    "async function loadDetail() {\n"
    "  if (!selected) return;\n"
    "  const enc = encodeURIComponent(selected);\n"
    "  const d = await api(\"GET\", \"/api/devices/\" + enc);\n"
    "  $(\"d-id\").textContent = d.id;\n"
    "  const dl = $(\"d-info\"); dl.replaceChildren();\n"
    "  for (const [k, v] of [[\"status\", d.online ? \"online\" : \"offline\"], [\"manufacturer\", d.manufacturer],\n"
    "                        [\"OUI\", d.oui], [\"product class\", d.product_class], [\"serial\", d.serial_number],\n"
    "                        [\"software\", d.software_version], [\"hardware\", d.hardware_version],\n"
    "                        [\"IP address\", d.ip_address], [\"connection request URL\", d.connection_request_url],\n"
    "                        [\"inform interval\", d.periodic_inform_interval + \" s\"], [\"first seen\", when(d.first_seen)],\n"
    "                        [\"last inform\", when(d.last_inform)], [\"last events\", d.last_events],\n"
    "                        [\"tags\", (d.tags || []).join(\", \")]]) {\n"
    "    const dt = document.createElement(\"dt\"); dt.textContent = k;\n"
    "    const dd = document.createElement(\"dd\"); dd.textContent = v == null ? \"\" : String(v);\n"
    "    dl.append(dt, dd);\n"
    "  }\n"
    "  const tasks = await api(\"GET\", \"/api/devices/\" + enc + \"/tasks?limit=20\");\n"
    "  const tb = $(\"tasks\"); tb.replaceChildren();\n"
    "  for (const t of tasks) {\n"
    "    const tr = document.createElement(\"tr\");\n"
    "    cell(tr, t.id); cell(tr, t.type); cell(tr, t.status, \"status-\" + t.status); cell(tr, when(t.updated));\n"
    "    cell(tr, t.fault ? t.fault.code + \" \" + t.fault.message : \"\");\n"
    "    tb.appendChild(tr);\n"
    "  }\n"
    "  await loadParams();\n"
    "}\n"
    "\n"
    "async function loadParams() {\n"
    "  if (!selected) return;\n"
    "  const p = new URLSearchParams(); if ($(\"prefix\").value) p.set(\"prefix\", $(\"prefix\").value);\n"
    "  const params = await api(\"GET\", \"/api/devices/\" + encodeURIComponent(selected) + \"/parameters?\" + p);\n"
    "  const tb = $(\"params\"); tb.replaceChildren();\n"
    "  for (const x of params.slice(0, 2000)) {\n"
    "    const tr = document.createElement(\"tr\"); cell(tr, x.name); cell(tr, x.value); cell(tr, x.type); tb.appendChild(tr);\n"
    "  }\n"
    "}\n"
    "\n"
    "async function act(what) {\n"
    "  if (!selected) return;\n"
    "  const enc = encodeURIComponent(selected);\n"
    "  if (what === \"factory-reset\" && !confirm(\"Factory reset \" + selected + \"?\")) return;\n"
    "  try {\n"
    "    if (what === \"refresh\") {\n"
    "      // GetParameterValues of the prefix, or of the data model's root.\n"
    "      let path = $(\"prefix\").value;\n"
    "      if (!path) {\n"
    "        const first = $(\"params\").querySelector(\"td\");\n"
    "        path = first ? first.textContent.split(\".\")[0] + \".\" : \"InternetGatewayDevice.\";\n"
    "      }\n"
    "      await api(\"POST\", `/api/devices/${enc}/tasks`, { type: \"get_params\", parameters: { names: [path] } });\n"
    "    } else {\n"
    "      await api(\"POST\", `/api/devices/${enc}/${what}`);\n"
    "    }\n"
    "    showError(null);\n"
    "  } catch (e) { showError(e); }\n"
    "  await refresh();\n"
    "}\n"
    "\n"
    "async function refresh() {\n"
    "  if (!token) { showError(\"enter the API token (printed by outpost acs on first start)\"); return; }\n"
    "  try { await loadStats(); await loadDevices(); await loadDetail(); showError(null); }\n"
    "  catch (e) { showError(e); }\n"
    "}\n"
    "\n"
    "$(\"tokenform\").onsubmit = (e) => { e.preventDefault(); token = $(\"token\").value.trim(); localStorage.setItem(\"acs-token\", token); refresh(); };\n"
    "$(\"q\").oninput = () => { offset = 0; refresh(); };\n"
    "$(\"online\").onchange = () => { offset = 0; refresh(); };\n"
    "$(\"prev\").onclick = () => { offset = Math.max(0, offset - LIMIT); refresh(); };\n"
    "$(\"next\").onclick = () => { offset += LIMIT; refresh(); };\n"
    "$(\"prefix\").onchange = () => loadParams().catch(showError);\n"
    "for (const b of document.querySelectorAll(\"[data-act]\")) b.onclick = () => act(b.dataset.act);\n"
    "refresh();\n"
    "setInterval(refresh, 5000);\n"
    "\n";

static const char dash_css[] =
    "body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f4f5f7; }\n"
    "header { display: flex; align-items: center; justify-content: space-between; padding: 8px 16px; background: #1f2937; color: #fff; }\n"
    "header h1 { font-size: 18px; margin: 0; }\n"
    "main { padding: 16px; }\n"
    ".cards { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }\n"
    ".card { background: #fff; border-radius: 6px; padding: 10px 16px; min-width: 110px; box-shadow: 0 1px 2px #0002; }\n"
    ".card span { display: block; font-size: 24px; font-weight: 600; }\n"
    ".card.ok span { color: #15803d; } .card.off span { color: #b91c1c; }\n"
    ".card label { color: #666; }\n"
    ".split { display: flex; gap: 16px; align-items: flex-start; }\n"
    "#list { flex: 1 1 55%; } #detail { flex: 1 1 45%; background: #fff; padding: 12px; border-radius: 6px; box-shadow: 0 1px 2px #0002; overflow-wrap: anywhere; }\n"
    "table { width: 100%; border-collapse: collapse; background: #fff; }\n"
    "th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }\n"
    "tbody tr:hover { background: #eef2ff; cursor: pointer; }\n"
    ".dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block; background: #b91c1c; }\n"
    ".dot.on { background: #15803d; }\n"
    ".toolbar { display: flex; gap: 8px; margin: 8px 0; align-items: center; }\n"
    ".actions { display: flex; gap: 8px; flex-wrap: wrap; }\n"
    "button { padding: 4px 10px; border: 1px solid #9ca3af; background: #fff; border-radius: 4px; cursor: pointer; }\n"
    "button.danger { border-color: #b91c1c; color: #b91c1c; }\n"
    ".error { color: #b91c1c; }\n"
    "dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; }\n"
    "dt { color: #666; }\n"
    ".status-done { color: #15803d; } .status-failed, .status-expired { color: #b91c1c; } .status-pending, .status-sent { color: #a16207; }\n"
    "\n";

#define DASH_HEADERS                                                                          \
    "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n"                 \
    "X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n"

static void serve(http_req_t *req, const char *ctype, const char *body, size_t len)
{
    http_respond_hdrs(req, 200, DASH_HEADERS, ctype, body, len);
}

static void h_index(http_req_t *req, void *ud)
{
    serve(req, "text/html; charset=utf-8", dash_html, sizeof dash_html - 1);
}

static void h_js(http_req_t *req, void *ud)
{
    serve(req, "application/javascript; charset=utf-8", dash_js, sizeof dash_js - 1);
}

static void h_css(http_req_t *req, void *ud)
{
    serve(req, "text/css; charset=utf-8", dash_css, sizeof dash_css - 1);
}

void acs_dash_register(acs_t *a, http_router_t *r)
{
    http_router_add(r, "GET", "/", HTTP_ACCESS_PUBLIC, h_index, a);
    http_router_add(r, "GET", "/index.html", HTTP_ACCESS_PUBLIC, h_index, a);
    http_router_add(r, "GET", "/dashboard.js", HTTP_ACCESS_PUBLIC, h_js, a);
    http_router_add(r, "GET", "/dashboard.css", HTTP_ACCESS_PUBLIC, h_css, a);
}
