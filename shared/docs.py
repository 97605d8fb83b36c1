"""`GET /docs` on every service: Swagger UI over the service's `/openapi.json`, offline.

Swagger UI's files come from the swagger-ui-py package (pinned in pyproject.toml) and are served
by the service itself; the page starts Swagger UI from a served file (`/docs/docs.js`), so the
Content-Security-Policy allows only this service's own scripts and styles, no inline script, and
no framing. Swagger UI's validator badge (which calls a public server) is off.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path

from aiohttp import web

from shared.http import browser_headers, database_free
from shared.openapi import DOCS_FILES, DOCS_PAGE


def _static_dir() -> Path:
    # Found, not imported: the package's own code (framework adapters, a YAML loader) is not used.
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SWAGGER_UI = _static_dir()

_START = """"use strict";
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "list",
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
"""

PAGE = """<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dokumentasi API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<noscript>Halaman ini memerlukan JavaScript; dokumen lengkap:
<a href="openapi.json">openapi.json</a>.</noscript>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs.js"></script>
</body>
</html>
"""
# Only this service's own files run or style the page; Swagger UI's icons are data: URIs.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = browser_headers(CSP)


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html", headers=HEADERS)


async def _start(request: web.Request) -> web.Response:
    return web.Response(text=_START, content_type="text/javascript", charset="utf-8", headers=HEADERS)


@cache
def _swagger_bytes(name: str) -> bytes:
    return (SWAGGER_UI / name).read_bytes()


def _swagger_file(name: str, media: str) -> web.RouteDef:
    # From memory (1.6 MB, read once), cached by browsers for a day: the files change only with
    # the pinned package, i.e. with a new release and a restart.
    async def serve(request: web.Request) -> web.Response:
        return web.Response(
            body=_swagger_bytes(name),
            content_type=media,
            charset="utf-8",
            headers={**HEADERS, "Cache-Control": "public, max-age=86400"},
        )

    return web.get(f"{DOCS_PAGE}/{name}", serve)


def add_routes(app: web.Application) -> None:
    start = f"{DOCS_PAGE}/docs.js"
    files = [
        _swagger_file(path.rsplit("/", 1)[1], media) for path, media in DOCS_FILES.items() if path != start
    ]
    app.router.add_routes([web.get(DOCS_PAGE, _page), web.get(start, _start), *files])
    database_free(app, DOCS_PAGE, *DOCS_FILES)
