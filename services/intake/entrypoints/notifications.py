"""The opt-out link of every notification (issue 20): `GET` shows a page with one button, `POST`
records the opt-out at once (the button, and a mail client's one-click unsubscribe, RFC 8058).
The link's token is signed by intake for one complaint and opens nothing else. 404 when this
deployment sends no notifications, or for a wrong token."""

from __future__ import annotations

from html import escape

from aiohttp import web

from services.intake import handlers
from services.intake.domain.notifications import opt_out_valid
from services.intake.entrypoints.edge import ADAPTERS, SETTINGS
from shared.http import ProblemError

_PAGE = """<!DOCTYPE html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5">
<h1 style="font-size: 1.4rem">{title}</h1>
{body}
</body></html>
"""
_CONFIRM = """<p>Anda tidak akan lagi menerima pemberitahuan (e-mail, SMS, WhatsApp) tentang pengaduan
<strong>{complaint_id}</strong>. Statusnya tetap dapat Anda pantau dengan token akses Anda.</p>
<form method="post" action="{action}"><button type="submit">Berhenti menerima pemberitahuan</button></form>"""
_DONE = """<p>Pemberitahuan untuk pengaduan <strong>{complaint_id}</strong> telah dihentikan.</p>"""


def _checked(request: web.Request) -> tuple[str, str]:
    if ADAPTERS not in request.app or request.app[ADAPTERS].notifications is None:
        raise ProblemError(404)
    token = request.query.get("t", "")
    if not 1 <= len(token) <= 64:
        raise ProblemError(404)
    return request.match_info["id"], token


async def opt_out_page(request: web.Request) -> web.Response:
    complaint_id, token = _checked(request)
    if not opt_out_valid(request.app[SETTINGS].notify.secret, complaint_id, token):
        raise ProblemError(404)
    action = f"{request.path}?t={token}"
    body = _CONFIRM.format(complaint_id=escape(complaint_id), action=escape(action))
    return _html("Berhenti menerima pemberitahuan", body)


async def opt_out(request: web.Request) -> web.Response:
    complaint_id, token = _checked(request)
    store = request.app[ADAPTERS].notifications
    assert store is not None
    await handlers.opt_out(complaint_id, token, secret=request.app[SETTINGS].notify.secret, store=store)
    return _html("Pemberitahuan dihentikan", _DONE.format(complaint_id=escape(complaint_id)))


def _html(title: str, body: str) -> web.Response:
    return web.Response(
        text=_PAGE.format(title=escape(title), body=body),
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/complaints/{id}/notifications/opt-out", opt_out_page)
    app.router.add_post("/api/v1/complaints/{id}/notifications/opt-out", opt_out)
