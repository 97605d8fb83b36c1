"""A pemda's extra non-working dates (DESIGN §5, recompute): `PUT
/api/v1/admin/calendar/{pemda}/extra-dates` (role admin, audited) with `{"dates": ["2026-08-17",
…], "reason": "…"}` replaces them as a new revision, announces `CalendarChanged` and recomputes
the clocks the pemda's calendar governs (handlers.set_extra_dates), answering with the counts;
`GET` on the same path reads them."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.sla.entrypoints.edge import sla_of
from services.sla.handlers import set_extra_dates
from shared.auth import require_staff
from shared.calendar import HOLIDAYS_VERSION
from shared.http import ProblemError, json_response, read_json
from shared.regions import lookup

PATH = "/api/v1/admin/calendar/{pemda}/extra-dates"


class ExtraDates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dates: list[date] = Field(max_length=366)
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("dates")
    @classmethod
    def _within_calendar(cls, dates: list[date]) -> list[date]:
        # The working-day calendar is kept for 1900–2100 (the calendar API's bounds too).
        if any(not date(1900, 1, 1) <= d <= date(2100, 12, 31) for d in dates):
            raise ValueError("tanggal harus antara tahun 1900 dan 2100")
        return dates


def _pemda(request: web.Request) -> str:
    code = request.match_info["pemda"]
    region = lookup(code)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {code!r} tidak dikenal")
    return code


async def put_extra_dates(request: web.Request) -> web.Response:
    staff = await require_staff(request, "admin")
    pemda = _pemda(request)
    body = await read_json(request, ExtraDates)
    who = {"sub": staff.sub, "role": staff.role, "pemda": staff.pemda, "opd": staff.opd}
    revision, result = await set_extra_dates(sla_of(request), pemda, body.dates, who=who, reason=body.reason)
    return json_response(
        {
            "pemda": pemda,
            "extra_dates": [d.isoformat() for d in sorted(set(body.dates))],
            "revision": revision,
            "holidays_version": HOLIDAYS_VERSION,
            "recomputed": {
                "complaints": result.complaints,
                "corrected": result.corrected,
                "announced": result.announced,
            },
        }
    )


async def get_extra_dates(request: web.Request) -> web.Response:
    await require_staff(request)
    pemda = _pemda(request)
    extra = await sla_of(request).calendars.extra_dates(pemda)
    return json_response(
        {
            "pemda": pemda,
            "extra_dates": extra.dates if extra else [],
            "revision": extra.revision if extra else 0,
            "holidays_version": HOLIDAYS_VERSION,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_put(PATH, put_extra_dates)
    app.router.add_get(PATH, get_extra_dates)
