"""Staff on one complaint: read it, and the lifecycle actions — the OPD's handler (claim,
answer, request info, tier, resolve, transfer) and the pemda's coordinator (dispose, archive,
update). Each action is the `act` use case (handlers.py); a transfer or a disposition reaches
only the OPDs of the complaint's own pemdas."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.routing.domain import lifecycle as lc
from services.routing.entrypoints.edge import act, acted, complaint_for, routing_of, staff_view
from services.routing.entrypoints.models import (
    ArchiveBody,
    DisposeBody,
    MessageBody,
    ResolveBody,
    TierBody,
    TransferBody,
    UpdateBody,
)
from shared.auth import Staff, require_staff
from shared.categories import CATEGORIES
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.regions import lookup

BASE = "/api/v1/staff/complaints/{id}"


def reachable_pemdas(region_code: str) -> frozenset[str]:
    """The pemdas whose OPDs may take a complaint of `region_code` (DESIGN §4 levels): its
    kab/kota and its province, in either direction; never another pemda's."""
    province = region_code[:2]
    return frozenset({province, region_code[:5]} if len(region_code) >= 5 else {province})


def _within_reach(doc: dict[str, Any], opd_id: str, field: str) -> None:
    pemda = opd_id.split("/", 1)[0]
    allowed = reachable_pemdas(doc["region_code"])
    if pemda not in allowed:
        places = " atau ".join(sorted(allowed))
        raise ProblemError(
            422,
            errors=[
                FieldError(
                    field=field,
                    message=f"OPD harus milik pemda wilayah pengaduan ({places}), bukan pemda {pemda}",
                )
            ],
        )


async def _known_opd(request: web.Request, opd_id: str) -> frozenset[str]:
    found = await routing_of(request).catalog.opd_exists(opd_id)
    return frozenset({opd_id}) if found else frozenset()


async def get_complaint(request: web.Request) -> web.Response:
    staff = await require_staff(request)
    return json_response(staff_view(await complaint_for(request, staff)))


async def _handler_doc(request: web.Request) -> tuple[Staff, dict[str, Any]]:
    staff = await require_staff(request, "handler")
    doc = await complaint_for(request, staff)
    return staff, doc


async def claim(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    return await act(request, doc, lc.Claim(staff.sub))


async def answer(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, MessageBody)
    return await act(request, doc, lc.Answer(staff.sub, body.message))


async def request_info(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, MessageBody)
    return await act(request, doc, lc.RequestInfo(staff.sub, body.message))


async def set_tier(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, TierBody)
    return await act(request, doc, lc.SetTier(staff.sub, body.tier))


async def resolve(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, ResolveBody)
    return await act(request, doc, lc.Resolve(staff.sub, body.answer))


async def transfer(request: web.Request) -> web.Response:
    staff, doc = await _handler_doc(request)
    body = await read_json(request, TransferBody)
    _within_reach(doc, body.to_opd_id, "to_opd_id")
    known = await _known_opd(request, body.to_opd_id)
    return await act(request, doc, lc.Transfer(staff.sub, body.to_opd_id, body.reason), known_opd=known)


async def _coordinator_doc(request: web.Request) -> tuple[Staff, dict[str, Any]]:
    staff = await require_staff(request, "coordinator", "admin")
    doc = await complaint_for(request, staff)
    return staff, doc


async def dispose(request: web.Request) -> web.Response:
    staff, doc = await _coordinator_doc(request)
    body = await read_json(request, DisposeBody)
    return json_response(staff_view(await disposed(request, staff, doc, body)))


async def disposed(
    request: web.Request, staff: Staff, doc: dict[str, Any], body: DisposeBody
) -> dict[str, Any]:
    """A coordinator's disposition (the API's and the coordinator pages'): the new document."""
    _within_reach(doc, body.opd_id, "opd_id")
    known = await _known_opd(request, body.opd_id)
    return await acted(request, doc, lc.Dispose(staff.sub, body.opd_id, body.category), known_opd=known)


async def archive(request: web.Request) -> web.Response:
    staff, doc = await _coordinator_doc(request)
    body = await read_json(request, ArchiveBody)
    return json_response(staff_view(await archived(request, staff, doc, body)))


async def archived(
    request: web.Request, staff: Staff, doc: dict[str, Any], body: ArchiveBody
) -> dict[str, Any]:
    return await acted(request, doc, lc.Archive(staff.sub, body.reason, body.forwarded_to))


async def update(request: web.Request) -> web.Response:
    staff, doc = await _coordinator_doc(request)
    body = await read_json(request, UpdateBody)
    return json_response(staff_view(await updated(request, staff, doc, body)))


async def updated(
    request: web.Request, staff: Staff, doc: dict[str, Any], body: UpdateBody
) -> dict[str, Any]:
    """A coordinator's correction: category/region in triage, tightened privacy flags."""
    errors = []
    if body.category is not None and body.category not in CATEGORIES:
        errors.append(FieldError(field="category", message="kategori tidak dikenal"))
    if body.region_code is not None and lookup(body.region_code) is None:
        errors.append(FieldError(field="region_code", message="kode wilayah tidak dikenal"))
    if errors:
        raise ProblemError(422, errors=errors)
    action = lc.Update(staff.sub, body.category, body.region_code, body.anonymous, body.confidential)
    return await acted(request, doc, action)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(BASE, get_complaint)
    for name, view in (
        ("claim", claim),
        ("answer", answer),
        ("request-info", request_info),
        ("tier", set_tier),
        ("resolve", resolve),
        ("transfer", transfer),
        ("dispose", dispose),
        ("archive", archive),
    ):
        r.add_post(f"{BASE}/{name}", view)
    r.add_patch(BASE, update)
