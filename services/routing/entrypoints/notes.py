"""Internal notes on a complaint: staff only; never on Kafka, never to the reporter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from services.routing.entrypoints.complaints import BASE
from services.routing.entrypoints.edge import complaint_for, routing_of
from services.routing.entrypoints.models import NoteBody
from shared import clock
from shared.auth import Role, Staff, require_staff
from shared.http import json_response, read_json

# Who may write a note (the workbench's form too).
NOTE_ROLES: tuple[Role, ...] = ("handler", "coordinator", "admin")


async def add_note(request: web.Request) -> web.Response:
    staff = await require_staff(request, *NOTE_ROLES)
    doc = await complaint_for(request, staff)
    body = await read_json(request, NoteBody)
    note = await write_note(request, staff, doc, body)
    return json_response(_note(note), status=201)


async def write_note(
    request: web.Request, staff: Staff, doc: dict[str, Any], body: NoteBody
) -> dict[str, Any]:
    note = {
        "complaint_id": doc["_id"],
        "opd_id": doc.get("opd_id"),
        "by": staff.sub,
        "role": staff.role,
        "text": body.text,
        "at": clock.now(),
    }
    await routing_of(request).notes.add(note)
    return note


async def list_notes(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    doc = await complaint_for(request, staff)
    found = await routing_of(request).notes.of(doc["_id"])
    return json_response({"items": [_note(n) for n in found], "next_cursor": None})


def _note(note: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in note.items() if k != "_id"}


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{BASE}/notes", add_note)
    app.router.add_get(f"{BASE}/notes", list_notes)
