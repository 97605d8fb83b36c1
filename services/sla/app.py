"""SLA's process: the lifecycle-events consumer and the HTTP API (calendar answers)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from aiohttp import web

from services.sla.adapters import MongoClockStore, ensure_indexes
from services.sla.handlers import handle_lifecycle
from services.sla.settings import SlaSettings
from shared.calendar import WorkingCalendar, calendar_for
from shared.envelope import Envelope
from shared.http import (
    FieldError,
    ProblemError,
    add_standard_routes,
    json_response,
    openapi_document,
    problem_middleware,
)
from shared.kafka import BatchHandler, Rejected
from shared.regions import lookup
from shared.runtime import Infra, with_consumer
from shared.topics import COMPLAINTS_EVENTS, SLA_GROUP


@lru_cache(maxsize=1024)
def pemda_calendar(pemda: str) -> WorkingCalendar:
    # Per-pemda extra dates come from service-standard data (issue 6); none are configured yet.
    return calendar_for(pemda)


def _pemda(request: web.Request) -> WorkingCalendar:
    code = request.match_info["pemda"]
    region = lookup(code)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {code!r} tidak dikenal")
    return pemda_calendar(code)


def _instant(request: web.Request, name: str) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        raise ProblemError(422, errors=[FieldError(field=name, message="wajib diisi")])
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ProblemError(422, errors=[FieldError(field=name, message="bukan waktu RFC 3339")]) from None
    if value.tzinfo is None:
        raise ProblemError(422, errors=[FieldError(field=name, message="waktu harus memuat offset zona")])
    return value


async def due(request: web.Request) -> web.Response:
    calendar = _pemda(request)
    start = _instant(request, "from")
    try:
        hk = int(request.query.get("hk", ""))
    except ValueError:
        hk = -1
    if not 0 <= hk <= 365:
        raise ProblemError(422, errors=[FieldError(field="hk", message="bilangan bulat 0–365")])
    return json_response({"due": calendar.due(start, hk).isoformat()})


async def working_time(request: web.Request) -> web.Response:
    calendar = _pemda(request)
    start, end = _instant(request, "from"), _instant(request, "to")
    if end < start:
        raise ProblemError(422, errors=[FieldError(field="to", message="tidak boleh sebelum 'from'")])
    return json_response({"seconds": int(calendar.working_time(start, end).total_seconds())})


def _calendar_op(summary: str, params: list[str], example: dict[str, object]) -> dict[str, object]:
    return {
        "get": {
            "summary": summary,
            "parameters": [{"name": "pemda", "in": "path", "required": True, "schema": {"type": "string"}}]
            + [{"name": p, "in": "query", "required": True, "schema": {"type": "string"}} for p in params],
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"example": example}}},
                "404": {"$ref": "#/components/responses/Problem"},
                "422": {"$ref": "#/components/responses/Problem"},
            },
        }
    }


OPENAPI = openapi_document(
    "Pengaduan — SLA",
    "0.1.0",
    "Jam SLA berdasarkan hari kerja (HK) pemda: tenggat, pelanggaran, eskalasi.",
    {
        "/api/v1/calendar/{pemda}/due": _calendar_op(
            "Tenggat N hari kerja sejak suatu waktu",
            ["from", "hk"],
            {"due": "2026-03-28T00:00:00+07:00"},
        ),
        "/api/v1/calendar/{pemda}/working-time": _calendar_op(
            "Waktu kerja (detik) di antara dua waktu", ["from", "to"], {"seconds": 86400}
        ),
    },
)


def create_app(settings: SlaSettings) -> web.Application:
    app = web.Application(middlewares=[problem_middleware])

    async def build(infra: Infra) -> BatchHandler:
        await ensure_indexes(infra.db)
        store = MongoClockStore(infra.db)

        async def on_lifecycle(batch: list[Envelope]) -> list[Rejected]:
            return await handle_lifecycle(batch, store, infra.publish, pemda_calendar)

        return on_lifecycle

    ready = with_consumer(app, settings, group=SLA_GROUP, topics=[COMPLAINTS_EVENTS], build=build)
    add_standard_routes(app, ready_check=ready, openapi=OPENAPI)
    app.router.add_get("/api/v1/calendar/{pemda}/due", due)
    app.router.add_get("/api/v1/calendar/{pemda}/working-time", working_time)
    return app
