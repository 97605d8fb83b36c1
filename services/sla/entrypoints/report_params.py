"""What every supervisor view reads from a request: the token's scope (supervisors, coordinators
and admins only; asking outside the scope is a 403, never an empty answer), the period in whole
ISO weeks, paging, and the answer as JSON or as a CSV export with Indonesian column labels."""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from pymongo.errors import ConnectionFailure

from services.sla.domain.figures import CLOCKS
from services.sla.domain.reports import opd_pemda
from services.sla.entrypoints.edge import REPORTS
from services.sla.ports import ReportReader
from shared.auth import require_staff
from shared.calendar import WIB, zone_for
from shared.http import FieldError, ProblemError, json_response
from shared.regions import lookup

DEFAULT_WEEKS = 12
MAX_WEEKS = 106
OPD_ID = re.compile(r"^\d{2}(\.\d{2})?/[a-z0-9][a-z0-9-]*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DEFAULT_MONTHS = 12
MAX_MONTHS = 60
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2100, 12, 31)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def guarded(handler: Handler) -> Handler:
    """The database being unreachable is a 503 with Retry-After (DESIGN §6), not a 500."""

    @functools.wraps(handler)
    async def guarded(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ConnectionFailure:
            raise ProblemError(
                503, "basis data laporan tidak terjangkau", headers={"Retry-After": "5"}
            ) from None

    return guarded


# --- scope and parameters -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What a request reads: one OPD, one pemda's OPDs, or (admin, no pemda) every pemda."""

    pemda: str | None
    opd: str | None

    @property
    def zone_pemda(self) -> str | None:
        return self.pemda or (opd_pemda(self.opd) if self.opd else None)


def field_error(name: str, message: str) -> ProblemError:
    return ProblemError(422, errors=[FieldError(field=name, message=message)])


def pemda_param(request: web.Request) -> str | None:
    code = request.query.get("pemda") or None
    if code is None:
        return None
    region = lookup(code)
    if region is None or region.level > 2:
        raise field_error("pemda", "bukan kode pemda (provinsi atau kab/kota) yang dikenal")
    return code


def opd_param(request: web.Request) -> str | None:
    opd = request.query.get("opd") or None
    if opd is None:
        return None
    if not OPD_ID.match(opd) or lookup(opd_pemda(opd)) is None:
        raise field_error("opd", "bukan id OPD (<kode pemda>/<slug>)")
    return opd


async def read_scope(request: web.Request) -> Scope:
    staff = await require_staff(request, "supervisor", "coordinator", "admin")
    pemda, opd = pemda_param(request), opd_param(request)
    if opd is not None and pemda is not None and opd_pemda(opd) != pemda:
        raise field_error("opd", "OPD tidak berada di pemda yang diminta")
    if staff.role == "admin":
        return Scope(pemda or (opd_pemda(opd) if opd else None), opd)
    if staff.role == "supervisor" and staff.opd:
        if (opd is not None and opd != staff.opd) or (pemda is not None and pemda != opd_pemda(staff.opd)):
            raise ProblemError(403, f"token ini hanya mencakup OPD {staff.opd}")
        return Scope(opd_pemda(staff.opd), staff.opd)
    target = pemda or (opd_pemda(opd) if opd else staff.pemda)
    if target is None or not staff.covers(opd_id=opd, pemda=target) or target != staff.pemda:
        raise ProblemError(403, f"token ini hanya mencakup pemda {staff.pemda}")
    return Scope(target, opd)


def today_in(scope: Scope, now: datetime) -> date:
    zone = zone_for(scope.zone_pemda) if scope.zone_pemda else WIB
    return now.astimezone(zone).date()


def date_param(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name) or None
    if raw is None:
        return None
    try:
        if not DATE.match(raw):
            raise ValueError(raw)
        value = date.fromisoformat(raw)
    except ValueError:
        raise field_error(name, "tanggal harus berformat YYYY-MM-DD") from None
    if not FIRST_DATE <= value <= LAST_DATE:
        raise field_error(name, "tanggal harus antara tahun 1900 dan 2100")
    return value


def weeks_param(request: web.Request, scope: Scope, now: datetime) -> tuple[date, date]:
    """Mondays of the first and last week of the period."""
    today = today_in(scope, now)
    start, end = date_param(request, "from"), date_param(request, "to")
    end = end or today
    start = start or end - timedelta(weeks=DEFAULT_WEEKS - 1)
    if end < start:
        raise field_error("to", "tidak boleh sebelum 'from'")
    first, last = start - timedelta(days=start.weekday()), end - timedelta(days=end.weekday())
    if (last - first).days // 7 + 1 > MAX_WEEKS:
        raise field_error("from", f"periode paling panjang {MAX_WEEKS} minggu")
    return first, last


def _month(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name) or None
    if raw is None:
        return None
    if not MONTH.match(raw):
        raise field_error(name, "bulan harus berformat YYYY-MM")
    value = date.fromisoformat(raw + "-01")
    if not FIRST_DATE <= value <= LAST_DATE:
        raise field_error(name, "bulan harus antara tahun 1900 dan 2100")
    return value


def months_param(request: web.Request, zone_pemda: str | None, now: datetime) -> tuple[str, str]:
    """The period as months `YYYY-MM` (`from`, `to`, both included; default the last
    `DEFAULT_MONTHS` up to this month in the pemda's local time), at most `MAX_MONTHS`."""
    today = now.astimezone(zone_for(zone_pemda) if zone_pemda else WIB).date()
    end = _month(request, "to") or today.replace(day=1)
    start = _month(request, "from")
    if start is None:
        back = end.year * 12 + end.month - 1 - (DEFAULT_MONTHS - 1)
        start = date(back // 12, back % 12 + 1, 1)
    if end < start:
        raise field_error("to", "tidak boleh sebelum 'from'")
    if (end.year - start.year) * 12 + end.month - start.month + 1 > MAX_MONTHS:
        raise field_error("from", f"periode paling panjang {MAX_MONTHS} bulan")
    return start.strftime("%Y-%m"), end.strftime("%Y-%m")


def limit_param(request: web.Request, csv_wanted: bool) -> int:
    default, most = (10000, 10000) if csv_wanted else (50, 200)
    raw = request.query.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise field_error("limit", f"bilangan bulat 1–{most}")
    return value


def clock_param(request: web.Request) -> str | None:
    clock = request.query.get("clock") or None
    if clock is not None and clock not in CLOCKS:
        raise field_error("clock", "salah satu dari: " + ", ".join(CLOCKS))
    return clock


def reader(request: web.Request) -> ReportReader:
    store = request.app[REPORTS].store
    if store is None:
        raise ProblemError(503, "laporan belum siap", headers={"Retry-After": "5"})
    return store


def reading_instant(request: web.Request) -> datetime:
    return request.app[REPORTS].now()


def local_iso(instant: datetime | None, pemda: str | None) -> str | None:
    if instant is None:
        return None
    zone = zone_for(pemda) if pemda else UTC
    return instant.astimezone(zone).isoformat(timespec="milliseconds" if instant.microsecond else "seconds")


# --- CSV ----------------------------------------------------------------------------------------

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format")
    if fmt is not None and fmt not in ("json", "csv"):
        raise field_error("format", "json atau csv")
    return fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("Accept", ""))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs: text starting like a formula gets a `'`
    (OWASP CSV injection). Numbers stay numbers (a negative one is no formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(
    name: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]], next_cursor: str | None
) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([label for label, _ in columns])
    for row in rows:
        writer.writerow(["" if (v := get(row)) is None else csv_cell(v) for _, get in columns])
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    # A byte-order mark so spreadsheet programs read the UTF-8 labels (e.g. "–") correctly.
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(), content_type="text/csv", charset="utf-8", headers=headers
    )


def answer(
    request: web.Request,
    name: str,
    columns: Sequence[Column],
    items: list[dict[str, Any]],
    next_cursor: str | None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    if wants_csv(request):
        return csv_response(name, columns, items, next_cursor)
    return json_response({**(extra or {}), "items": items, "next_cursor": next_cursor})


def page_of(
    items: list[dict[str, Any]], request: web.Request, key: str, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Paging of a small, fully computed list sorted by `key` (cursor = the last key)."""
    after = request.query.get("cursor") or None
    if after is not None:
        items = [item for item in items if str(item[key]) > after]
    page = items[:limit]
    return page, (str(page[-1][key]) if len(items) > limit else None)


async def with_opd_names(request: web.Request, items: list[dict[str, Any]], *fields: str) -> None:
    """Give each item's OPD fields (`opd_id` → `opd_name`, `scope` → `opd_name`, …) their current
    names, from the names routing announces on `catalog.changes` (issue 21 item 5); None while
    a name is not known."""
    ids = {item[f] for item in items for f in fields if isinstance(item.get(f), str) and "/" in item[f]}
    names = await reader(request).opd_names(ids) if ids else {}
    for item in items:
        for f in fields:
            named = "opd_name" if f in ("opd_id", "scope") else f.removesuffix("_id") + "_name"
            item[named] = names.get(item.get(f) or "")
