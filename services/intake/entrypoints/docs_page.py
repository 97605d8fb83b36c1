"""Browsable API docs: `GET /docs`, one self-contained page that renders `/openapi.json`.

No CDN and no third-party script: the page works offline and behind a strict Content-Security-
Policy (no inline script or style: both are served files of this service, `/docs/docs.js` and
`/docs/docs.css`; nothing may frame the page). It lists every path and method with its
summary, description, parameters, request and response examples, built with DOM calls
(`textContent`, never `innerHTML`), so nothing in the document can inject markup.
"""

from __future__ import annotations

from aiohttp import web

from shared.http import browser_headers, database_free

_SCRIPT = r"""
"use strict";
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};
const pretty = (value) => JSON.stringify(value, null, 2);
const resolve = (doc, item) => {
  let node = item;
  for (let i = 0; node && node.$ref && i < 10; i++) {
    node = node.$ref.replace(/^#\//, "").split("/").reduce((o, k) => (o || {})[k], doc);
  }
  return node || {};
};
const examplesOf = (content) => {
  const out = [];
  for (const [type, media] of Object.entries(content || {})) {
    if (media.example !== undefined) out.push([type, media.example]);
    for (const [name, ex] of Object.entries(media.examples || {})) out.push([type + " — " + name, ex.value]);
  }
  return out;
};
function operation(doc, path, method, op) {
  const card = el("section", "op");
  card.id = method + " " + path;
  const head = el("h3");
  head.append(el("span", "method " + method, method.toUpperCase()), el("code", "path", path));
  card.append(head);
  if (op.summary) card.append(el("p", "summary", op.summary));
  if (op.description) card.append(el("p", "description", op.description));
  const params = op.parameters || [];
  if (params.length) {
    card.append(el("h4", null, "Parameter"));
    const table = el("table", "params");
    const hr = el("tr");
    for (const h of ["nama", "di", "wajib", "keterangan", "contoh"]) hr.append(el("th", null, h));
    table.append(hr);
    for (const raw of params) {
      const p = resolve(doc, raw);
      const row = el("tr", "param");
      const example = p.example !== undefined ? p.example : (p.schema || {}).example;
      row.append(el("td", "name", p.name), el("td", null, p.in),
        el("td", null, p.required ? "ya" : "tidak"), el("td", null, p.description || ""),
        el("td", "example", example === undefined ? "" : pretty(example)));
      table.append(row);
    }
    card.append(table);
  }
  if (op.requestBody) {
    card.append(el("h4", null, "Isi permintaan"));
    for (const [type, ex] of examplesOf(resolve(doc, op.requestBody).content)) {
      card.append(el("div", "media", type), el("pre", "example", typeof ex === "string" ? ex : pretty(ex)));
    }
  }
  card.append(el("h4", null, "Jawaban"));
  const list = el("ul", "responses");
  for (const [code, raw] of Object.entries(op.responses || {})) {
    const resp = resolve(doc, raw);
    const item = el("li", "response");
    item.append(el("strong", null, code + " "), document.createTextNode(resp.description || ""));
    for (const [type, ex] of examplesOf(resp.content)) {
      item.append(el("div", "media", type), el("pre", "example", typeof ex === "string" ? ex : pretty(ex)));
    }
    list.append(item);
  }
  card.append(list);
  return card;
}
async function main() {
  const root = document.getElementById("api");
  let doc;
  try {
    const resp = await fetch("openapi.json", {headers: {Accept: "application/json"}});
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    doc = await resp.json();
  } catch (err) {
    root.replaceChildren(el("p", "error", "Dokumen OpenAPI tidak dapat dimuat: " + err.message));
    return;
  }
  const info = doc.info || {};
  document.title = (info.title || "API") + " — dokumentasi";
  document.getElementById("title").textContent = (info.title || "API") + " " + (info.version || "");
  document.getElementById("intro").textContent = info.description || "";
  const toc = el("ul", "toc");
  const ops = [];
  for (const [path, item] of Object.entries(doc.paths || {}).sort(([a], [b]) => a.localeCompare(b))) {
    for (const method of ["get", "post", "put", "patch", "delete"]) {
      if (!item[method]) continue;
      const card = operation(doc, path, method, item[method]);
      const summary = item[method].summary ? " — " + item[method].summary : "";
      const link = el("a", null, method.toUpperCase() + " " + path + summary);
      link.href = "#" + encodeURIComponent(card.id);
      const li = el("li");
      li.append(link);
      toc.append(li);
      ops.push(card);
    }
  }
  root.replaceChildren(toc, ...ops);
}
main();
"""

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;color:#1b1b1b}
h1{margin-bottom:.2rem} .op{border-top:1px solid #ccc;padding:.5rem 0 1rem}
.method{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase;margin-right:.6rem}
.get{color:#05668d}.post{color:#2a7f3f}.put,.patch{color:#a86500}.delete{color:#b00020}
code.path{font-size:1.05rem} table{border-collapse:collapse;width:100%} th,td{border:1px solid #ddd;
padding:.25rem .5rem;text-align:left;vertical-align:top} pre{background:#f5f5f5;padding:.6rem;overflow:auto}
.media{color:#555;font-size:.85rem;margin-top:.4rem} .toc{columns:2;font-size:.9rem} .error{color:#b00020}
"""

PAGE = """<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dokumentasi API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/docs.css">
</head>
<body>
<h1 id="title">Dokumentasi API</h1>
<p id="intro"></p>
<p>Dokumen mesin: <a href="openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
<main id="api"><p>Memuat…</p></main>
<noscript>Halaman ini memerlukan JavaScript; dokumen lengkap ada di openapi.json.</noscript>
<script src="docs/docs.js"></script>
</body>
</html>
"""
# Only this service's own files run or style the page; nothing may frame it (clickjacking).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = browser_headers(CSP)


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html", headers=HEADERS)


async def docs_script(request: web.Request) -> web.Response:
    return web.Response(text=_SCRIPT, content_type="text/javascript", charset="utf-8", headers=HEADERS)


async def docs_style(request: web.Request) -> web.Response:
    return web.Response(text=_STYLE, content_type="text/css", charset="utf-8", headers=HEADERS)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/docs", docs_page)
    app.router.add_get("/docs/docs.js", docs_script)
    app.router.add_get("/docs/docs.css", docs_style)
    database_free(app, "/docs", "/docs/docs.js", "/docs/docs.css")
