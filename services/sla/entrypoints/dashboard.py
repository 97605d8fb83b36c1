"""The supervisors' dashboard page: its own static files only (no inline script or style), talking
only to this service, never framed; the token it sends is pasted, never taken from the address."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from shared.http import browser_headers, database_free

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"  # in the package data (pyproject.toml)

# The dashboard runs only its own files (no inline script or style), talks only to this service,
# and may not be framed.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DASHBOARD_HEADERS = browser_headers(DASHBOARD_CSP)


async def _dashboard_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/dashboard"):
        response.headers.update(DASHBOARD_HEADERS)


async def _to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard/")


async def dashboard(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "dashboard.html", headers={"Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard", _to_dashboard)
    app.router.add_get("/dashboard/", dashboard)
    app.router.add_static("/dashboard/static/", STATIC_DIR, append_version=False)
    database_free(app, "/dashboard", "/dashboard/", "/dashboard/static")
    app.on_response_prepare.append(_dashboard_headers)
