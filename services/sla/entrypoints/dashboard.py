"""The supervisors' dashboard page: its own static files only (no inline script or style), talking
only to this service, never framed. The person is the one signed in at routing's staff sign-in
(issue 21): the browser sends the short-lived token it issued as an HttpOnly cookie
(shared/auth.py); without one the page links to the sign-in (`SLA_STAFF_SIGN_IN_URL`), which sends
the person back here."""

from __future__ import annotations

from html import escape
from pathlib import Path

from aiohttp import web
from pydantic_settings import SettingsConfigDict

from services.sla.entrypoints.edge import REPORTS
from shared.auth import ROLE_LABELS, require_staff
from shared.http import browser_headers, database_free, json_response
from shared.regions import lookup
from shared.settings import FileSettings


class DashboardSettings(FileSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", extra="ignore")

    # routing's staff sign-in page; the dashboard sends people there when they are not signed in.
    staff_sign_in_url: str = "http://127.0.0.1:8082/staff/masuk"


PAGE = web.AppKey("dashboard_page", str)

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


async def dashboard(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[PAGE], content_type="text/html", headers={"Cache-Control": "no-cache"}
    )


async def me(request: web.Request) -> web.Response:
    """Who the dashboard shows as signed in, with the names a person reads."""
    staff = await require_staff(request)
    pemda = staff.pemda or (staff.opd.split("/", 1)[0] if staff.opd else None)
    region = lookup(pemda) if pemda else None
    opd_name, store = None, request.app[REPORTS].store  # None until the reports are open
    if staff.opd and store is not None:
        opd_name = (await store.opd_names([staff.opd])).get(staff.opd)
    return json_response(
        {
            "sub": staff.sub,
            "name": staff.name,
            "role": staff.role,
            "role_label": ROLE_LABELS[staff.role],
            "pemda": staff.pemda,
            "pemda_name": region.name if region else None,
            "opd": staff.opd,
            "opd_name": opd_name,
        },
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application, settings: DashboardSettings | None = None) -> None:
    sign_in = escape((settings or DashboardSettings()).staff_sign_in_url, quote=True)
    app[PAGE] = (STATIC_DIR / "dashboard.html").read_text(encoding="utf-8").replace("SIGN_IN_URL", sign_in)
    app.router.add_get("/api/v1/supervisor/me", me)
    app.router.add_get("/dashboard", _to_dashboard)
    app.router.add_get("/dashboard/", dashboard)
    app.router.add_static("/dashboard/static/", STATIC_DIR, append_version=False)
    database_free(app, "/dashboard", "/dashboard/", "/dashboard/static")
    app.on_response_prepare.append(_dashboard_headers)
