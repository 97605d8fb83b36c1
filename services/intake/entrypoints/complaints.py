"""`POST /api/v1/complaints` (submit) and `GET /api/v1/complaints/{id}` (the status view)."""

from __future__ import annotations

from aiohttp import web

from services.intake import handlers
from services.intake.domain.view import render, render_survivor
from services.intake.entrypoints import pages, ratelimit
from services.intake.entrypoints.access import caller_for, complaint_for
from services.intake.entrypoints.edge import (
    ADAPTERS,
    CALENDARS,
    accept_submission,
    idempotency_key,
)
from services.intake.models import ComplaintView, SubmitComplaint
from shared import clock
from shared.http import ProblemError, json_response, read_json


async def submit(request: web.Request) -> web.Response:
    await ratelimit.check_submit(request)
    body = await read_json(request, SubmitComplaint)
    accepted = await accept_submission(request, body, idempotency_key(request))
    return json_response(accepted, status=202)


async def get_complaint(request: web.Request) -> web.Response:
    """The reporter's view with the access token, the staff view with a JWT in scope; otherwise
    the public view of DESIGN §3 (404 for a confidential complaint)."""
    doc = await complaint_for(request)
    caller = await caller_for(request, doc)
    if caller.audience == "public" and doc.get("confidential"):
        raise ProblemError(404)  # a confidential complaint does not exist without its token
    calendars = request.app[CALENDARS]
    view: ComplaintView = render(doc, clock.now(), calendars.calendar_for, caller.audience)
    notifications = request.app[ADAPTERS].notifications
    if caller.audience == "reporter" and notifications is not None:
        states = await handlers.notification_states(doc["_id"], notifications)
        view = view.model_copy(update={"notifications": states})
    if caller.audience == "reporter" and doc.get("merged_into"):
        survivor = await request.app[ADAPTERS].complaints.get(doc["merged_into"])
        if survivor is not None:
            followed = render_survivor(survivor, clock.now(), calendars.calendar_for)
            view = view.model_copy(update={"merged_into": followed})
    if pages.wants_page(request):
        return await pages.complaint_page(
            request, doc, view, caller.audience, sent=request.query.get("terkirim")
        )
    return json_response(view, headers={"Cache-Control": "private, no-store", "Vary": "Accept"})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/complaints", submit)
    app.router.add_get("/api/v1/complaints/{id}", get_complaint)
