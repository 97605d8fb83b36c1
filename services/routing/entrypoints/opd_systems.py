"""The OPD's own systems: its feed (assignments and later changes of its complaints, in the order
they were written) and its webhook (registration, delivery log); the pushing itself is
adapters/webhooks.py."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from services.routing.adapters.webhooks import TargetRefused
from services.routing.entrypoints.edge import DEFAULT_GUARD, GUARD, routing_of
from services.routing.entrypoints.models import WebhookBody
from services.routing.entrypoints.queues import MAX_CURSOR, one_value, page_limit
from shared.auth import Staff, require_staff
from shared.http import FieldError, ProblemError, json_response, read_json

OPD = "/api/v1/opd/{pemda}/{slug}"


def _opd_scope(staff: Staff, request: web.Request) -> str:
    opd_id = request.match_info["pemda"] + "/" + request.match_info["slug"]
    if not staff.covers(opd_id=opd_id, pemda=None):
        raise ProblemError(403, "OPD ini di luar kewenangan Anda")
    return opd_id


async def feed(request: web.Request) -> web.Response:
    """Assignments and later lifecycle changes of this OPD's complaints in the order they were
    written, from about two seconds ago back (adapters/feed.py); `next_cursor` continues after
    the last one. An entry may, rarely, come twice: its `id` tells."""
    staff = await require_staff(request)
    opd_id = _opd_scope(staff, request)
    limit = page_limit(request)
    cursor = one_value(request, "cursor")
    if cursor is not None and len(cursor) > MAX_CURSOR:
        raise ProblemError(422, errors=[FieldError(field="cursor", message="kursor tidak valid")])
    entries = await routing_of(request).feed.after(opd_id, cursor, limit)
    items = [{**{k: v for k, v in e.items() if k not in ("_id", "pos")}, "id": e["_id"]} for e in entries]
    return json_response({"items": items, "next_cursor": entries[-1]["pos"] if entries else None})


async def put_webhook(request: web.Request) -> web.Response:
    staff = await require_staff(request, "handler", "coordinator", "admin")
    opd_id = _opd_scope(staff, request)
    body = await read_json(request, WebhookBody)
    try:
        await request.app.get(GUARD, DEFAULT_GUARD).check_url(str(body.url))
    except TargetRefused as exc:
        refused = [FieldError(field="url", message=str(exc))]
        raise ProblemError(422, "URL webhook ditolak", errors=refused) from None
    await routing_of(request).webhooks.register(opd_id, str(body.url), body.secret, staff.sub)
    return json_response({"opd_id": opd_id, "url": str(body.url)})


async def webhook_deliveries(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    opd_id = _opd_scope(staff, request)
    found = await routing_of(request).webhooks.deliveries(opd_id, page_limit(request))
    items = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items() if k != "_id"}
        for d in found
    ]
    return json_response({"items": items, "next_cursor": None})


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{OPD}/feed", feed)
    app.router.add_put(f"{OPD}/webhook", put_webhook)
    app.router.add_get(f"{OPD}/webhook/deliveries", webhook_deliveries)
