"""Following a complaint without an `Authorization` header (issue 20 item 2; domain/tracking.py).

- `GET /api/v1/complaints/{id}/track?t=<token>`: the link in a notification. A right token opens
  a session and answers 303 to the clean URL (`/api/v1/complaints/{id}`) with the session cookie,
  so the token leaves the address bar at once; `Referrer-Policy: no-referrer` keeps it out of the
  next request's Referer; the access log never logs a query (shared/logs.py). A wrong one is 404.
- `POST /api/v1/tracking` with `{"code", "pin"}` (JSON, or a plain HTML form): the same session
  and 303 for the right PIN; a wrong code or PIN is one 401 (which of the two is not said). Each
  code slows down after wrong PINs (429 with Retry-After while it waits; the right PIN works
  again afterwards), and each client address has its own limit (INTAKE_RATE_TRACK_PER_MINUTE).
  A browser that has proven the code (the right PIN or the link) holds a device cookie and waits
  only for its own wrong PINs, so a stranger's guesses never hold the citizen's phone back.

The cookie: HttpOnly, Secure (unless INTAKE_TRACKING_INSECURE_COOKIE, for plain http on a
development machine), SameSite=Lax (a cross-site POST carries no cookie, so a reporter's commands
cannot be forged from another site; they also need a JSON body, which a cross-site form cannot
send), scoped to that complaint's path and expiring (INTAKE_TRACKING_SESSION_HOURS). The
complaint view and the reporter's commands accept it as they accept the access token
(entrypoints/access.py). Redirects go to INTAKE_PUBLIC_BASE_URL's path when set, else a path on
the same origin: never a URL made from the request's Host header.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta

from aiohttp import web
from pydantic import ValidationError

from services.intake.domain import tracking as rules
from services.intake.entrypoints.edge import ADAPTERS, SETTINGS
from services.intake.models import TrackingLogin
from services.intake.ports import TrackingStore
from shared import clock
from shared.http import FieldError, ProblemError, read_json

COOKIE = "pengaduan_lacak"
DEVICE_COOKIE = "pengaduan_perangkat"
_MAX_FORM_BYTES = 4096


def complaint_path(complaint_id: str) -> str:
    return f"/api/v1/complaints/{complaint_id}"


def _store(request: web.Request) -> TrackingStore:
    store = request.app[ADAPTERS].tracking if ADAPTERS in request.app else None
    if store is None:
        raise ProblemError(404)
    return store


async def _signed_in(request: web.Request, complaint_id: str, code: str | None) -> web.Response:
    """A new session for `complaint_id`: 303 to its clean URL with the cookie; the browser is
    trusted with the complaint's `code` from now on (its device cookie)."""
    settings = request.app[SETTINGS]
    session = secrets.token_urlsafe(32)
    ttl = timedelta(hours=settings.tracking.session_hours)
    await _store(request).open_session(session, complaint_id, ttl)
    path = complaint_path(complaint_id)
    base = settings.public_base_url.rstrip("/")
    response = web.Response(
        status=303,
        headers={
            "Location": f"{base}{path}" if base else path,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
    response.set_cookie(
        COOKIE,
        session,
        path=path,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        secure=not settings.tracking.insecure_cookie,
        samesite="Lax",
    )
    if code is not None:
        await _trust(request, response, code)
    return response


async def _trust(request: web.Request, response: web.Response, code: str) -> None:
    """The browser's device id (kept, or a new one) is trusted with `code`."""
    tracking = request.app[SETTINGS].tracking
    device = request.cookies.get(DEVICE_COOKIE, "")
    key = rules.device_key(code, device)
    if key is None:
        device = rules.new_device()
        key = rules.device_key(code, device)
    assert key is not None
    ttl = timedelta(days=tracking.device_days)
    await _store(request).trust_device(key, ttl)
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        path="/",  # both forms post it: /lacak and /api/v1/tracking
        max_age=int(ttl.total_seconds()),
        httponly=True,
        secure=not tracking.insecure_cookie,
        samesite="Lax",
    )


async def open_link(request: web.Request) -> web.Response:
    complaint_id = request.match_info["id"]
    token = request.query.get("t", "")
    key = request.app[SETTINGS].tracking_key()
    if not 1 <= len(token) <= 64 or not rules.link_valid(key, complaint_id, token):
        raise ProblemError(404)
    found = await request.app[ADAPTERS].complaints.get(complaint_id)
    if found is None:
        raise ProblemError(404)
    return await _signed_in(request, complaint_id, found.get("tracking_code"))


async def _login(request: web.Request) -> TrackingLogin:
    if request.content_type != "application/x-www-form-urlencoded":
        return await read_json(request, TrackingLogin)
    if request.content_length is None or request.content_length > _MAX_FORM_BYTES:
        raise ProblemError(413 if request.content_length else 411)
    form = await request.post()
    try:
        return TrackingLogin.model_validate({k: form.get(k) for k in ("code", "pin") if k in form})
    except ValidationError as exc:
        errors = [FieldError(field=".".join(map(str, e["loc"])), message=e["msg"]) for e in exc.errors()]
        raise ProblemError(422, errors=errors) from None


WRONG = "Kode pelacakan atau PIN salah"


async def sign_in(request: web.Request) -> web.Response:
    """Code + PIN → the session (module docstring)."""
    login = await _login(request)
    store = _store(request)
    settings = request.app[SETTINGS]
    tracking = settings.tracking
    backoff = rules.Backoff(tracking.free_tries, tracking.first_delay_seconds, tracking.max_delay_seconds)
    code = rules.normal_code(login.code)
    found = await store.code(code) if code is not None else None
    if code is None or found is None:
        raise ProblemError(401, WRONG, errors=[FieldError(field="pin", message=WRONG)])
    now = clock.now()
    # A browser trusted with this code counts on its own; any other try on the code's shared count.
    key = rules.device_key(code, request.cookies.get(DEVICE_COOKIE, ""))
    trusted = await store.device(key) if key is not None else None
    counter, counted = (key, trusted) if key is not None and trusted is not None else (code, found)
    device = trusted is not None
    taken = await store.take_try(counter, int(counted.get("failures", 0)), now, backoff, device=device)
    if taken is None:  # waiting out earlier wrong PINs, or another try on this count came first
        latest = (await store.device(counter) if device else await store.code(code)) or counted
        retry_at = latest.get("retry_at")
        wait = (retry_at - now).total_seconds() if retry_at is not None else 1.0
        raise ProblemError(
            429,
            "Terlalu banyak PIN salah untuk kode ini; coba lagi setelah jeda",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    if not rules.pin_matches(settings.tracking_key(), code, login.pin, str(found["pin_hash"])):
        raise ProblemError(401, WRONG, errors=[FieldError(field="pin", message=WRONG)])
    await store.right_pin(counter, device=device)
    complaint_id = str(found["complaint_id"])
    if await request.app[ADAPTERS].complaints.get(complaint_id) is None:
        raise ProblemError(401, WRONG, errors=[FieldError(field="pin", message=WRONG)])
    return await _signed_in(request, complaint_id, code)


async def reporter_session(request: web.Request, complaint_id: str) -> bool:
    """True when the request carries a live session cookie for this complaint."""
    session = request.cookies.get(COOKIE)
    if not session or len(session) > 64 or ADAPTERS not in request.app:
        return False
    store = request.app[ADAPTERS].tracking
    if store is None:
        return False
    return await store.session_complaint(session) == complaint_id


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/complaints/{id}/track", open_link)
    app.router.add_post("/api/v1/tracking", sign_in)
