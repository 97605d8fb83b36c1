"""A reporter's identity for a person signed in at routing (issue 21 item 3; DESIGN §3): the page
the coordinator pages link to. Identity lives only here, so the page is intake's.

- `GET /staff/pelapor/{id}`: reads nothing of the reporter and writes no audit entry: it shows
  the complaint's audit trail (to those `may_read_audit` admits) and a form to reveal; a
  complaint outside the person's scope is "not found" (not even whether it is anonymous).
- `POST /staff/pelapor/{id}`: the reveal, through the same use case as the API
  (`handlers.read_identity`: every attempt audited with the person's username and name, before
  anything is shown), then the identity and the trail, or the refusal's reason.

Why a cross-site request can neither reveal nor write an audit entry: the GET has no effect; the
POST needs the staff token cookie (SameSite=Lax, so a cross-site form post does not carry it),
a `Sec-Fetch-Site`/`Origin`, when the browser sends them, of this service, and a CSRF token that is an HMAC of
that very cookie under intake's secret (a page elsewhere cannot read the cookie, so cannot
compute it). The JSON endpoint `GET …/reporter` takes only the `Authorization` header (identity.py),
never the cookie a browser would send with a cross-site link.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from services.intake import handlers
from services.intake.domain.errors import Forbidden, NotFound
from services.intake.domain.identity import complaint_pemda, may_read_audit
from services.intake.entrypoints.edge import ADAPTERS, SETTINGS, base_url
from services.intake.entrypoints.pages import render_page
from shared.auth import ROLE_LABELS, STAFF_AUTH, Staff, looks_like_jwt
from shared.calendar import local_text
from shared.http import ProblemError

MAX_FORM_BYTES = 4096
AUDIT_FIELDS = ("who", "who_name", "role", "pemda", "opd", "at", "allowed", "reason")


def _token(request: web.Request) -> str | None:
    value = request.cookies.get(request.app[STAFF_AUTH].settings.cookie_name, "")
    return value if looks_like_jwt(value) else None


def _csrf(request: web.Request, complaint_id: str, token: str) -> str:
    key = request.app[SETTINGS].staff_form_key()
    message = f"pelapor:{complaint_id}:{token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def _to_sign_in(request: web.Request) -> web.HTTPFound:
    back = f"{base_url(request)}/staff/pelapor/{quote(request.match_info['id'], safe='')}"
    sign_in = request.app[SETTINGS].staff_sign_in_url
    return web.HTTPFound(f"{sign_in}?next={quote(back, safe='')}")


async def _staff(request: web.Request, token: str | None) -> Staff:
    if token is None:
        raise _to_sign_in(request)
    try:
        return await request.app[STAFF_AUTH].verify(token)
    except ProblemError:  # expired or not ours: signing in again renews it
        raise _to_sign_in(request) from None


async def _page(
    request: web.Request, staff: Staff, token: str, status: int = 200, **extra: Any
) -> web.Response:
    complaint_id = request.match_info["id"]
    store = request.app[ADAPTERS].complaints
    doc = await store.identity_of(complaint_id)
    if doc is not None and not staff.covers(opd_id=doc.get("opd_id"), pemda=complaint_pemda(doc)):
        doc = None  # another OPD's or pemda's: not even whether it exists or is anonymous
    trail = None
    if doc is not None and may_read_audit(staff, doc):
        region = doc.get("region_code") or JAKARTA  # an erased complaint's trail: in WIB
        trail = [_entry(r, region) for r in await store.identity_reads(complaint_id)]
    context = {
        "complaint_id": complaint_id,
        "known": doc is not None,
        "anonymous": bool(doc and doc.get("anonymous")),
        "staff": staff,
        "csrf": _csrf(request, complaint_id, token),
        "trail": trail,
        "identity": None,
        "galat": None,
        **extra,
    }
    return render_page("pelapor.html", 404 if doc is None and status == 200 else status, **context)


JAKARTA = "31"


def _entry(record: dict[str, Any], region_code: str) -> dict[str, Any]:
    """One audit record as people read it: local time, the role's label."""
    entry = {k: record.get(k) for k in AUDIT_FIELDS}
    if isinstance(entry["at"], datetime):
        entry["at"] = local_text(entry["at"], region_code, seconds=True)
    entry["role"] = ROLE_LABELS.get(str(entry["role"]), entry["role"])
    return entry


async def identity_page(request: web.Request) -> web.Response:
    token = _token(request)
    staff = await _staff(request, token)
    assert token is not None
    return await _page(request, staff, token)


def _same_origin(request: web.Request) -> bool:
    """What the browser says of where the form came from, when it says: `Sec-Fetch-Site` (sent
    whatever the referrer policy), and `Origin` unless it is the opaque `null` (which the pages'
    `Referrer-Policy: no-referrer` makes Chromium send for its own forms). Without either (an
    older browser, a non-browser client) the CSRF token alone decides."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" == base_url(request).rstrip("/") or parts.netloc == request.host


async def reveal(request: web.Request) -> web.Response:
    token = _token(request)
    if token is None or not _same_origin(request):
        return _refused()
    if (request.content_length or 0) > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length or 0)
    form = await request.post()
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(
        given, _csrf(request, request.match_info["id"], token)
    ):
        return _refused()
    staff = await _staff(request, token)
    store = request.app[ADAPTERS].complaints
    try:
        identity = await handlers.read_identity(request.match_info["id"], staff, store=store)
    except NotFound:
        return await _page(request, staff, token, 404, galat="Pengaduan ini tidak ada.")
    except Forbidden as refused:
        reason = str(refused) or "di luar kewenangan Anda"
        return await _page(request, staff, token, 403, galat=f"Identitas tidak ditampilkan: {reason}.")
    return await _page(request, staff, token, identity=identity.model_dump())


def _refused() -> web.Response:
    """A post without this page's token: nothing read, nothing audited."""
    return render_page(
        "pelapor_ditolak.html",
        403,
        galat="Formulir ini kedaluwarsa atau tidak berasal dari halaman ini. Buka halaman identitas lagi.",
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/staff/pelapor/{id}", identity_page)
    app.router.add_post("/staff/pelapor/{id}", reveal)
