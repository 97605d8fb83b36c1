"""Duplicates (issue 22, item 2): a complaint's suggested duplicates, for its handler and its
pemda's coordinator, and the coordinator's merge of a duplicate into its survivor (DESIGN §2).

A suggestion names the other complaint's id, status, category, OPD, submission instant, the
similarity of the texts and the distance: never its reporter, text or attachments, which the
viewer may not be entitled to (the other complaint may sit with another OPD)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.routing import handlers
from services.routing.domain import duplicates as dup
from services.routing.domain.lifecycle import Merge, Refused
from services.routing.entrypoints.edge import complaint_for, routing_of, staff_view
from services.routing.entrypoints.models import DuplicateItem, DuplicatesPage, MergeBody, MergeResult
from shared.auth import require_staff
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.states import OPEN_STATES

BASE = "/api/v1/staff/complaints/{id}"
MAX_LATER = 50  # later complaints naming this one, read at most


def _item(other: dict[str, Any], suggestion: dict[str, Any], direction: str) -> DuplicateItem:
    return DuplicateItem(
        id=other["_id"],
        status=other["state"],
        category=other.get("category"),
        opd_id=other.get("opd_id"),
        submitted_at=other["submitted_at"].isoformat(),
        similarity=suggestion["similarity"],
        distance_m=suggestion["distance_m"],
        direction=direction,
    )


async def duplicates(request: web.Request) -> web.Response:
    """The open complaints this one may repeat (found at its submission) and the later ones that
    may repeat it; merged or closed ones drop out."""
    staff = await require_staff(request, "handler", "coordinator", "admin")
    doc = await complaint_for(request, staff)
    store = routing_of(request).complaints
    earlier = doc.get("duplicates") or []
    found = await store.load(
        [s["id"] for s in earlier], fields=("state", "category", "opd_id", "submitted_at")
    )
    items = [_item(found[s["id"]], s, "earlier") for s in earlier if s["id"] in found]
    for later in await store.suggested_with(doc["_id"], MAX_LATER):
        mine = next(s for s in later.get("duplicates") or () if s["id"] == doc["_id"])
        items.append(_item(later, mine, "later"))
    items = [i for i in items if i.status in OPEN_STATES]
    items.sort(key=lambda i: (-i.similarity, i.id))
    return json_response(DuplicatesPage(items=items[: dup.MAX_SUGGESTIONS * 2]).model_dump(mode="json"))


async def merge(request: web.Request) -> web.Response:
    """Merge this complaint (the duplicate) into `into` (the survivor). The same merge again
    answers as the first did and changes nothing."""
    staff = await require_staff(request, "coordinator", "admin")
    doc = await complaint_for(request, staff)
    body = await read_json(request, MergeBody)
    if body.into == doc["_id"]:
        raise ProblemError(
            422, errors=[FieldError(field="into", message="tidak boleh pengaduan itu sendiri")]
        )
    survivor = await routing_of(request).complaints.get(body.into)
    if survivor is None:
        raise ProblemError(422, errors=[FieldError(field="into", message="pengaduan tujuan tidak dikenal")])
    if survivor["pemda"] != doc["pemda"]:
        message = (
            f"pengaduan tujuan milik pemda lain ({survivor['pemda']}); penggabungan hanya dalam satu pemda"
        )
        raise ProblemError(422, errors=[FieldError(field="into", message=message)])
    action = Merge(staff.sub, body.into, body.reason)
    try:
        absorbed, kept = await handlers.merge(routing_of(request), doc["_id"], action)
    except Refused as refused:
        raise ProblemError(409, refused.reason) from None
    except LookupError:
        raise ProblemError(404) from None
    result = MergeResult(merged=staff_view(absorbed), into=staff_view(kept))
    return json_response(result.model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{BASE}/duplicates", duplicates)
    app.router.add_post(f"{BASE}/merge", merge)
