"""SLA's process — the one place that wires it: the lifecycle-events consumer, the detector and
recompute background loops, and the HTTP API (calendar answers, the admin calendar, supervisors).

Every calendar in this process comes from one `SlaRules` (app key `RULES`): the shared working-day
calendar with the pemda's extra dates, cached and invalidated when they change."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.sla import ratelimit, recompute, supervisor
from services.sla.adapters import MongoClockStore, ensure_indexes
from services.sla.detector import DetectorSettings, run_detector
from services.sla.handlers import handle_lifecycle
from services.sla.settings import SlaSettings
from services.sla.standards import RULES, SlaRules
from shared.auth import STAFF_AUTH, StaffAuth
from shared.calendar import WorkingCalendar, years_ready
from shared.envelope import Envelope
from shared.faults import is_transient
from shared.http import (
    FieldError,
    ProblemError,
    add_standard_routes,
    database_free,
    json_response,
    openapi_document,
    problem_middleware,
)
from shared.kafka import BatchHandler, Rejected
from shared.regions import lookup
from shared.runtime import ConsumerSpec, Infra, with_consumers
from shared.topics import COMPLAINTS_EVENTS

log = logging.getLogger(__name__)


def _pemda(request: web.Request) -> WorkingCalendar:
    code = request.match_info["pemda"]
    region = lookup(code)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {code!r} tidak dikenal")
    return request.app[RULES].calendar(code)


# What the calendar answers may span: a working-day calendar is walked day by day, so a range of
# 10,000 years would hold the event loop for minutes (issue 15 item 8).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, tzinfo=UTC)
MAX_SPAN = timedelta(days=5 * 366)
MAX_HK = 365


def _instant(request: web.Request, name: str) -> datetime:
    values = request.query.getall(name, [])
    if not values:
        raise ProblemError(422, errors=[FieldError(field=name, message="wajib diisi")])
    if len(values) > 1:
        raise ProblemError(422, errors=[FieldError(field=name, message="hanya boleh satu nilai")])
    try:
        value = datetime.fromisoformat(values[0])
    except ValueError:
        raise ProblemError(422, errors=[FieldError(field=name, message="bukan waktu RFC 3339")]) from None
    if value.tzinfo is None:
        raise ProblemError(422, errors=[FieldError(field=name, message="waktu harus memuat offset zona")])
    try:
        inside = EARLIEST <= value <= LATEST
    except OverflowError:  # an offset that pushes the instant past year 1 or 9999
        inside = False
    if not inside:
        message = "waktu harus antara tahun 1900 dan 2100"
        raise ProblemError(422, errors=[FieldError(field=name, message=message)])
    return value


async def due(request: web.Request) -> web.Response:
    calendar = _pemda(request)
    start = _instant(request, "from")
    try:
        raw = request.query.getall("hk", [])
        hk = int(raw[0]) if len(raw) == 1 and len(raw[0]) <= 4 else -1
    except ValueError:
        hk = -1
    if not 0 <= hk <= MAX_HK:
        raise ProblemError(422, errors=[FieldError(field="hk", message=f"bilangan bulat 0–{MAX_HK}")])
    await years_ready(start.year - 1, start.year + 2)  # 365 HK end within two years
    return json_response({"due": calendar.due(start, hk).isoformat()})


async def working_time(request: web.Request) -> web.Response:
    calendar = _pemda(request)
    start, end = _instant(request, "from"), _instant(request, "to")
    if end < start:
        raise ProblemError(422, errors=[FieldError(field="to", message="tidak boleh sebelum 'from'")])
    if end - start > MAX_SPAN:
        raise ProblemError(422, errors=[FieldError(field="to", message="paling lama 5 tahun setelah 'from'")])
    await years_ready(start.year - 1, end.year + 1)
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
        **recompute.OPENAPI_PATHS,
    },
)


def create_app(settings: SlaSettings, *, reports: bool = True) -> web.Application:
    """The sla service. `reports=False` leaves out the supervisor counters and API (tests of the
    clocks alone)."""
    app = web.Application(middlewares=[problem_middleware])
    rules = SlaRules()
    app[RULES] = rules

    async def build(infra: Infra) -> BatchHandler:
        await ensure_indexes(infra.db)
        await rules.refresh(infra.db)
        store = MongoClockStore(infra.db)

        async def on_lifecycle(batch: list[Envelope]) -> list[Rejected]:
            return await handle_lifecycle(batch, store, infra.publish, rules)

        return on_lifecycle

    async def detector(infra: Infra) -> None:
        await run_detector(
            infra.db,
            infra.publish,
            rules,
            DetectorSettings(
                batch=settings.detector_batch,
                max_sleep=settings.detector_max_sleep,
                relay_after=settings.relay_after,
                refresh_every=settings.refresh_every,
            ),
        )

    async def catch_up(infra: Infra) -> None:
        backoff = 1.0
        while True:  # a database or broker not yet reachable at start: try again
            try:
                await recompute.catch_up(infra.db, infra.publish, rules)
                return
            except Exception as exc:
                if not is_transient(exc):
                    # A bug in a one-off catch-up must not take the clocks down with it (a restart
                    # would meet it again): said loudly, and left for the recompute command.
                    log.exception("recompute catch-up failed; after a fix: python -m services.sla.recompute")
                    return
                log.warning("recompute catch-up: %r; retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    app[STAFF_AUTH] = StaffAuth()
    consumers = [ConsumerSpec(settings.consumer_group, [COMPLAINTS_EVENTS], build)]
    if reports:
        consumers += supervisor.consumer_specs(app)
    ready = with_consumers(
        app, settings, consumers, background=[("sla-detector", detector), ("sla-recompute", catch_up)]
    )
    OPENAPI["paths"].update(supervisor.openapi_paths())
    add_standard_routes(app, ready_check=ready, openapi=OPENAPI)
    if reports:
        supervisor.add_routes(app)
    recompute.add_routes(app)
    app.router.add_get("/api/v1/calendar/{pemda}/due", due)
    app.router.add_get("/api/v1/calendar/{pemda}/working-time", working_time)
    # The calendar is computed from what the process holds: it answers while the database is down.
    database_free(app, "/api/v1/calendar/{pemda}/due", "/api/v1/calendar/{pemda}/working-time")
    ratelimit.install(app)
    return app
