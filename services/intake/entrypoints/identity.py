"""The one endpoint that shows who reported a complaint, and its audit (DESIGN §3).

`GET /api/v1/complaints/{id}/reporter` returns the identity to staff who may read it: for an
anonymous complaint only the coordinators of the complaint's pemda (and admins); otherwise staff
in scope. Every attempt — allowed or refused, even for an unknown id — is written to the
`identity_audit` collection before anything is answered (handlers.read_identity); if the audit
cannot be written, nothing is shown.
"""

from __future__ import annotations

from aiohttp import web

from services.intake import handlers
from services.intake.domain.identity import may_read_audit
from services.intake.entrypoints.edge import ADAPTERS
from shared.auth import bearer, require_staff
from shared.http import ProblemError, json_response


async def reporter_identity(request: web.Request) -> web.Response:
    # Never the sign-in cookie: a browser sends it with a cross-site link too, which would reveal
    # and audit a read the person never asked for. People use the page (identity_pages.py).
    if bearer(request) is None:
        raise ProblemError(
            401,
            "token staf diperlukan di header Authorization (peramban: halaman /staff/pelapor/{id})",
            headers={"WWW-Authenticate": "Bearer"},
        )
    staff = await require_staff(request)
    identity = await handlers.read_identity(
        request.match_info["id"], staff, store=request.app[ADAPTERS].complaints
    )
    return json_response(identity, headers={"Cache-Control": "no-store"})


async def identity_audit(request: web.Request) -> web.Response:
    """`GET …/reporter/audit`: every attempt to read this complaint's reporter identity, newest
    first (at most 200): who, their role and scope, when, allowed or not, and why."""
    staff = await require_staff(request)
    complaint_id = request.match_info["id"]
    store = request.app[ADAPTERS].complaints
    doc = await store.identity_of(complaint_id)
    if doc is None:
        raise ProblemError(404)
    if not may_read_audit(staff, doc):
        raise ProblemError(403, "Audit identitas hanya untuk admin, Admin Koordinator, dan supervisor pemda")
    fields = ("who", "who_name", "role", "pemda", "opd", "at", "allowed", "reason")
    items = [{k: r.get(k) for k in fields} for r in await store.identity_reads(complaint_id)]
    return json_response(
        {"complaint_id": complaint_id, "items": items}, headers={"Cache-Control": "no-store"}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/complaints/{id}/reporter", reporter_identity)
    app.router.add_get("/api/v1/complaints/{id}/reporter/audit", identity_audit)
