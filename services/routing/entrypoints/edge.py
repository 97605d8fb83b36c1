"""Where HTTP meets routing: the app's keys (its ports, the webhook target guard), the staff's
complaint as a view sees it, and the use cases' errors as problems (`Refused` → 409, an unknown
complaint → 404)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.routing import handlers
from services.routing.adapters.webhooks import TargetGuard
from services.routing.domain.complaint import NO_DUE, shown_text
from services.routing.domain.lifecycle import Action, Refused
from services.routing.ports import Routing
from shared.auth import Staff
from shared.http import ProblemError, json_response
from shared.states import STATE_LABELS

ROUTING = web.AppKey("routing", Routing)
GUARD = web.AppKey("webhook_guard", TargetGuard)
DEFAULT_GUARD = TargetGuard()  # no allow-listed networks: an app built without bootstrap


def routing_of(request: web.Request) -> Routing:
    return request.app[ROUTING]


def staff_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What staff see of a complaint: never identity (that lives in intake), masked text when
    anonymous (DESIGN §3)."""
    anonymous = bool(doc.get("anonymous"))
    due = doc.get("sla_due")
    return {
        "id": doc["_id"],
        "status": doc["state"],
        "status_label": STATE_LABELS[doc["state"]],
        "seq": doc["seq"],
        "title": shown_text(doc["title"], anonymous),
        "description": shown_text(doc["description"], anonymous),
        "category": doc.get("category"),
        "region_code": doc["region_code"],
        "pemda": doc["pemda"],
        "opd_id": doc.get("opd_id"),
        "classification": doc.get("classification"),
        "anonymous": anonymous,
        "confidential": bool(doc.get("confidential")),
        "tier": doc.get("tier", "normatif"),
        "transfers": doc.get("transfers", 0),
        "sla_due": due.isoformat() if due and due != NO_DUE else None,
        "claimed_by": doc.get("claimed_by"),
        "lease_until": doc["lease_until"].isoformat() if doc.get("lease_until") else None,
        "submitted_at": doc["submitted_at"].isoformat(),
        "updated_at": doc["updated_at"].isoformat() if doc.get("updated_at") else None,
        "merged_into": doc.get("merged_into"),
    }


async def complaint_for(request: web.Request, staff: Staff) -> dict[str, Any]:
    """The complaint of the path's `{id}`, if it is within the staff member's reach."""
    doc = await routing_of(request).complaints.get(request.match_info["id"])
    if doc is None:
        raise ProblemError(404)
    if not staff.covers(opd_id=doc.get("opd_id"), pemda=doc.get("pemda")):
        raise ProblemError(403, "pengaduan ini di luar kewenangan Anda")
    return doc


async def acted(request: web.Request, doc: dict[str, Any], action: Action, **kw: Any) -> dict[str, Any]:
    """The `act` use case: the complaint's new document (a refusal is a 409 problem)."""
    try:
        return await handlers.act(routing_of(request), doc["_id"], action, **kw)
    except Refused as refused:
        raise ProblemError(409, refused.reason) from None
    except LookupError:
        raise ProblemError(404) from None


async def act(request: web.Request, doc: dict[str, Any], action: Action, **kw: Any) -> web.Response:
    """The `act` use case, its answer the complaint as staff now see it."""
    return json_response(staff_view(await acted(request, doc, action, **kw)))
