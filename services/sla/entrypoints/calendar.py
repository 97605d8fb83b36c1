"""The calendar answers: `GET /api/v1/calendar/{pemda}/due` (N HK from an instant) and
`/working-time` (working seconds between two instants). Computed from what the process holds, so
they answer while the database is down; rate-limited per client (entrypoints/ratelimit.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from services.sla.entrypoints.edge import RULES
from shared.calendar import WorkingCalendar, years_ready
from shared.http import FieldError, ProblemError, database_free, json_response
from shared.regions import lookup

DUE = "/api/v1/calendar/{pemda}/due"
WORKING_TIME = "/api/v1/calendar/{pemda}/working-time"


def _pemda(request: web.Request) -> WorkingCalendar:
    code = request.match_info["pemda"]
    region = lookup(code)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {code!r} tidak dikenal")
    return request.app[RULES].calendar(code)


# What the calendar answers may span: a working-day calendar is walked day by day, so a range of
# 10,000 years would hold the event loop for minutes.
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


def add_routes(app: web.Application) -> None:
    app.router.add_get(DUE, due)
    app.router.add_get(WORKING_TIME, working_time)
    # The calendar is computed from what the process holds: it answers while the database is down.
    database_free(app, DUE, WORKING_TIME)
