"""Who is asking about a complaint (DESIGN §3).

A bearer credential is either the reporter's access token (random, stored hashed) or a staff
JWT; they are told apart by shape (`looks_like_jwt`: a citizen token is URL-safe base64, no dots).

- Reporter: the token matches the complaint's hash.
- Staff in scope (`Staff.covers` of the complaint's current OPD and pemda): the staff view.
- Staff out of scope see no more than the public (the public view, or 404 when confidential).
- Anyone else: the public view; a wrong citizen token is a 401 (a 404 when confidential, so a
  confidential complaint's existence is not confirmed).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.intake.domain.identity import complaint_pemda, token_hash
from services.intake.domain.view import Audience
from services.intake.entrypoints.edge import ADAPTERS
from services.intake.entrypoints.tracking import reporter_session
from shared.auth import STAFF_AUTH, Staff, bearer, looks_like_jwt
from shared.http import ProblemError


async def complaint_for(request: web.Request) -> dict[str, Any]:
    """The complaint of the route's `{id}` (without identity), or 404."""
    doc = await request.app[ADAPTERS].complaints.get(request.match_info["id"])
    if doc is None:
        raise ProblemError(404)
    return doc


@dataclass(frozen=True)
class Caller:
    audience: Audience
    staff: Staff | None = None


async def caller_for(request: web.Request, doc: dict[str, Any]) -> Caller:
    """The audience a request gets for this complaint (401 for a bad credential). Without a bearer,
    a tracking session cookie for this complaint is the reporter (entrypoints/tracking.py)."""
    token = bearer(request)
    if token is None:
        if await reporter_session(request, doc["_id"]):
            return Caller("reporter")
        return Caller("public")
    if looks_like_jwt(token):
        staff = await request.app[STAFF_AUTH].verify(token)
        in_scope = staff.covers(opd_id=doc.get("opd_id"), pemda=complaint_pemda(doc))
        return Caller("staff" if in_scope else "public", staff)
    if hmac.compare_digest(token_hash(token), doc["token_hash"]):
        return Caller("reporter")
    if doc.get("confidential"):
        raise ProblemError(404)  # a confidential complaint does not exist without its token
    raise ProblemError(401, "Token akses tidak sah", headers={"WWW-Authenticate": "Bearer"})


async def require_reporter(request: web.Request, doc: dict[str, Any], action: str) -> None:
    """Only the reporter (access token) may `action`: 401 without it, 403 for staff."""
    caller = await caller_for(request, doc)
    if caller.audience == "reporter":
        return
    if caller.staff is not None:
        raise ProblemError(403, f"Hanya pelapor (dengan token akses) yang dapat {action}")
    if doc.get("confidential"):
        raise ProblemError(404)
    raise ProblemError(
        401, f"Token akses pelapor diperlukan untuk {action}", headers={"WWW-Authenticate": "Bearer"}
    )
