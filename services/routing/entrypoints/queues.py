"""The queues: an OPD's complaints and a pemda's triage list, nearest SLA due first, keyset
paged (`cursor`); `status` picks states (repeated and/or comma-separated); an OPD's queue also
by `category` (one code of the catalog, as the workbench's filter)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from aiohttp import web

from services.routing.entrypoints.edge import routing_of, staff_view
from shared.auth import Staff, require_staff
from shared.categories import CATEGORIES
from shared.http import FieldError, ProblemError, json_response
from shared.states import STATES

HANDLER_STATES = ("assigned", "in_progress", "waiting_reporter")
MAX_CURSOR = 200  # characters of a queue cursor: an ISO instant and a complaint id, base64
MAX_STATUS_VALUES = 20  # raw values of `status` (repeated and/or comma-separated) before de-duplication


def one_value(request: web.Request, name: str) -> str | None:
    """The single value of query parameter `name`, or a 422 when it is repeated."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise ProblemError(422, errors=[FieldError(field=name, message="hanya boleh satu nilai")])
    return values[0] if values else None


def page_limit(request: web.Request) -> int:
    raw = one_value(request, "limit") or "50"
    if not raw.isdigit() or len(raw) > 3 or not 1 <= int(raw) <= 200:
        raise ProblemError(422, errors=[FieldError(field="limit", message="bilangan 1–200")])
    return int(raw)


def _cursor(request: web.Request) -> tuple[datetime, str] | None:
    raw = one_value(request, "cursor")
    if not raw:
        return None
    bad = ProblemError(422, errors=[FieldError(field="cursor", message="kursor tidak valid")])
    if len(raw) > MAX_CURSOR:
        raise bad
    try:
        due, _, last = base64.urlsafe_b64decode(raw.encode()).decode().partition("|")
        instant = datetime.fromisoformat(due)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if instant.tzinfo is None or not last:
        raise bad
    return instant, last


def next_cursor(items: list[dict[str, Any]], limit: int) -> str | None:
    """The cursor of the page after `items` (None when this page is the last)."""
    if len(items) < limit:
        return None
    last = items[-1]
    return base64.urlsafe_b64encode(f"{last['sla_due'].isoformat()}|{last['_id']}".encode()).decode()


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    return {"items": [staff_view(d) for d in items], "next_cursor": next_cursor(items, limit)}


def _states(request: web.Request, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The wanted states: `status` repeated and/or comma-separated, de-duplicated, at most
    MAX_STATUS_VALUES values in all (each state is one database range read)."""
    raw = [s.strip() for value in request.query.getall("status", []) for s in value.split(",") if s.strip()]
    if not raw:
        return allowed
    if len(raw) > MAX_STATUS_VALUES:
        message = f"paling banyak {MAX_STATUS_VALUES} nilai"
        raise ProblemError(422, errors=[FieldError(field="status", message=message)])
    wanted = tuple(dict.fromkeys(raw))
    bad = [s for s in wanted if s not in STATES]
    if bad:
        message = f"status tidak dikenal: {', '.join(b[:40] for b in bad[:5])}"
        raise ProblemError(422, errors=[FieldError(field="status", message=message)])
    return wanted


def _category(request: web.Request) -> str | None:
    """The one category wanted (None: every category; an empty value too, as a form sends it)."""
    raw = (one_value(request, "category") or "").strip()
    if not raw:
        return None
    if raw not in CATEGORIES:
        message = f"kategori tidak dikenal: {raw[:40]}"
        raise ProblemError(422, errors=[FieldError(field="category", message=message)])
    return raw


async def opd_queue(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    opd_id = request.match_info["pemda"] + "/" + request.match_info["slug"]
    if not staff.covers(opd_id=opd_id, pemda=None):
        raise ProblemError(403, "antrean OPD ini di luar kewenangan Anda")
    limit = page_limit(request)
    items = await routing_of(request).complaints.queue(
        field="opd_id",
        value=opd_id,
        states=_states(request, HANDLER_STATES),
        limit=limit,
        after=_cursor(request),
        category=_category(request),
    )
    return json_response(_page(items, limit))


async def triage_queue(request: web.Request) -> web.Response:
    staff = await require_staff(request, "coordinator", "supervisor", "admin")
    pemda = request.match_info["pemda"]
    _may_triage(staff, pemda)
    limit = page_limit(request)
    return json_response(_page(await triage_docs(request, staff, pemda, limit), limit))


def _may_triage(staff: Staff, pemda: str) -> None:
    if staff.role == "supervisor" and staff.opd:
        raise ProblemError(403, "antrean triage pemda bukan untuk supervisor satu OPD")
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")


async def triage_docs(request: web.Request, staff: Staff, pemda: str, limit: int) -> list[dict[str, Any]]:
    """A page of the pemda's triage list (the API's and the coordinator pages'): `status` and
    `cursor` from the query, nearest due first."""
    _may_triage(staff, pemda)
    return await routing_of(request).complaints.queue(
        field="pemda", value=pemda, states=_states(request, ("triage",)), limit=limit, after=_cursor(request)
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/opd/{pemda}/{slug}/queue", opd_queue)
    app.router.add_get("/api/v1/pemda/{pemda}/triage", triage_queue)
