"""Rule overrides and OPD names of a pemda (data, audited, effective at once): its coordinator or
an admin."""

from __future__ import annotations

from aiohttp import web

from services.routing.entrypoints.edge import routing_of
from services.routing.entrypoints.models import OpdBody, RuleBody
from shared.auth import Staff, require_staff
from shared.categories import CATEGORIES
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.regions import lookup


def _pemda_admin(staff: Staff, pemda: str) -> None:
    if staff.role != "admin" and staff.pemda != pemda:
        raise ProblemError(403, "pemda ini di luar kewenangan Anda")


async def put_rule(request: web.Request) -> web.Response:
    staff = await require_staff(request, "coordinator", "admin")
    pemda, category = request.match_info["pemda"], request.match_info["category"]
    _pemda_admin(staff, pemda)
    _known_category(category)
    body = await read_json(request, RuleBody)
    return json_response(await set_rule(request, staff, pemda, category, body))


def _known_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ProblemError(404, f"kategori {category!r} tidak dikenal")


async def set_rule(
    request: web.Request, staff: Staff, pemda: str, category: str, body: RuleBody
) -> dict[str, str]:
    """A pemda's rule override (the API's and the coordinator pages'), audited."""
    _pemda_admin(staff, pemda)
    _known_category(category)
    catalog = routing_of(request).catalog
    opd_id = f"{pemda}/{body.opd_slug}"
    if not await catalog.opd_exists(opd_id):
        raise ProblemError(422, errors=[FieldError(field="opd_slug", message=f"OPD {opd_id} tidak ada")])
    await catalog.put_rule(pemda, category, body.opd_slug, body.note, staff.sub)
    audited = {"pemda": pemda, "category": category, "opd_slug": body.opd_slug}
    await catalog.audit("rule.put", staff.sub, staff.role, audited)
    return {"pemda": pemda, "category": category, "opd_id": opd_id, "rule": f"override:{pemda}:{category}"}


async def delete_rule(request: web.Request) -> web.Response:
    staff = await require_staff(request, "coordinator", "admin")
    await remove_rule(request, staff, request.match_info["pemda"], request.match_info["category"])
    return web.Response(status=204)


async def remove_rule(request: web.Request, staff: Staff, pemda: str, category: str) -> None:
    _pemda_admin(staff, pemda)
    catalog = routing_of(request).catalog
    if not await catalog.delete_rule(pemda, category):
        raise ProblemError(404)
    await catalog.audit("rule.delete", staff.sub, staff.role, {"pemda": pemda, "category": category})


async def put_opd(request: web.Request) -> web.Response:
    """Rename a standard OPD or add a pemda's own (the catalog loader never overwrites these)."""
    staff = await require_staff(request, "coordinator", "admin")
    pemda, slug = request.match_info["pemda"], request.match_info["slug"]
    _pemda_admin(staff, pemda)
    _known_pemda(pemda)
    body = await read_json(request, OpdBody)
    return json_response(await name_opd(request, staff, pemda, slug, body))


def _known_pemda(pemda: str) -> None:
    region = lookup(pemda)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {pemda!r} tidak dikenal")


async def name_opd(
    request: web.Request, staff: Staff, pemda: str, slug: str, body: OpdBody
) -> dict[str, str]:
    """An OPD's name (the API's and the coordinator pages'), audited."""
    _pemda_admin(staff, pemda)
    _known_pemda(pemda)
    if not good_slug(slug):
        raise ProblemError(422, errors=[FieldError(field="slug", message=SLUG_RULE)])
    opd_id = f"{pemda}/{slug}"
    await routing_of(request).catalog.put_opd(pemda, slug, body.name)
    await routing_of(request).catalog.audit(
        "opd.put", staff.sub, staff.role, {"opd_id": opd_id, "name": body.name}
    )
    return {"opd_id": opd_id, "name": body.name}


SLUG_RULE = "huruf kecil, angka dan tanda hubung, 2–60 karakter"
SLUG_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def good_slug(slug: str) -> bool:
    """An OPD's slug as the catalog writes them (`dinas-pupr`): what a new OPD's id may hold."""
    return 2 <= len(slug) <= 60 and all(
        c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in slug
    )


def add_routes(app: web.Application) -> None:
    app.router.add_put("/api/v1/admin/opds/{pemda}/{slug}", put_opd)
    app.router.add_put("/api/v1/admin/rules/{pemda}/{category}", put_rule)
    app.router.add_delete("/api/v1/admin/rules/{pemda}/{category}", delete_rule)
