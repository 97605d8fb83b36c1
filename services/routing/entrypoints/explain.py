"""`POST /api/v1/routing/explain`: to which OPD a complaint would go, and by which rule — the
classifier off the event loop, within a CPU budget (services/routing/deciding.py), with the
pemda's overrides."""

from __future__ import annotations

from aiohttp import web

from services.routing.deciding import decide_off_loop
from services.routing.domain.classify import TooCostly
from services.routing.domain.table import UnknownCategory, with_overrides
from services.routing.entrypoints.edge import routing_of
from services.routing.entrypoints.models import ExplainRequest
from shared.calendar import pemda_of, province_of
from shared.http import FieldError, ProblemError, json_response, read_json
from shared.regions import lookup


async def explain(request: web.Request) -> web.Response:
    body = await read_json(request, ExplainRequest)
    if lookup(body.region_code) is None:
        raise ProblemError(
            422, errors=[FieldError(field="region_code", message="kode wilayah tidak dikenal")]
        )
    try:
        decision = await decide_off_loop((body.category, body.region_code, body.title, body.description))
        overrides = await routing_of(request).catalog.overrides(
            [decision.pemda, pemda_of(body.region_code), province_of(body.region_code)]
        )
        decision = with_overrides(decision, overrides)
    except UnknownCategory:
        raise ProblemError(
            422, errors=[FieldError(field="category", message="kategori tidak dikenal")]
        ) from None
    except TooCostly:
        raise ProblemError(
            422, errors=[FieldError(field="description", message="teks terlalu berat untuk diklasifikasi")]
        ) from None
    return json_response(
        {
            "category": decision.category,
            "confidence": round(decision.confidence, 3),
            "level": decision.level,
            "pemda": decision.pemda,
            "opd_id": decision.opd_id,
            "rule": decision.rule,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/routing/explain", explain)
