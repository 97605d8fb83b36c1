"""Supervisor reports (issue 6 items 5, 7, 8): the `sla-reports` consumer that keeps the counters
(services/sla/reports.py), the supervisor API and the dashboard page.

Scope (DESIGN §6 staff auth): supervisors, coordinators and admins only. A supervisor with an
`opd` claim sees that OPD only; with only `pemda`, that pemda's OPDs (an OPD belongs to the pemda
its id starts with); an admin sees everything (and without `pemda`, one row per pemda). Asking for
anything outside the token's scope is a 403, never an empty answer.

Periods are whole ISO weeks in the pemda's local time: `from`/`to` (`YYYY-MM-DD`) pick the weeks
holding them; by default the last 12 weeks up to the current one. Every list answers
`{"items", "next_cursor"}` and, with `?format=csv` or `Accept: text/csv`, a CSV export with
Indonesian column labels. The OpenAPI description of these routes is services/sla/supervisor_docs.py.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pymongo.errors import ConnectionFailure

from services.sla.report_store import BreachFilter, MongoReportStore, ensure_report_indexes
from services.sla.reports import (
    AGING,
    AGING_LABELS,
    HK,
    RT_EDGES,
    ClockRecord,
    ComplaintRecord,
    Doc,
    aging_buckets,
    handle_report_events,
    opd_pemda,
    pemda_calendar,
    percentile,
    week_label,
)
from services.sla.supervisor_docs import API
from services.sla.supervisor_docs import openapi_paths as openapi_paths  # re-exported for app.py
from shared import clock
from shared.auth import Staff, require_staff
from shared.calendar import WIB, zone_for
from shared.envelope import Envelope
from shared.http import FieldError, ProblemError, browser_headers, database_free, json_response
from shared.kafka import BatchHandler, Rejected
from shared.regions import lookup
from shared.runtime import ConsumerSpec, Infra
from shared.topics import COMPLAINTS_EVENTS, SLA_EVENTS, SLA_REPORTS_GROUP

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_WEEKS = 12
MAX_WEEKS = 106
OPD_ID = re.compile(r"^\d{2}(\.\d{2})?/[a-z0-9][a-z0-9-]*$")
CLOCKS = ("response", "resolution", "verification")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2100, 12, 31)


@dataclass
class Reports:
    """What the supervisor routes need, filled in when the consumer's infrastructure opens.
    `now` is the reading instant for aging and the lateness of open breaches (tests pin it)."""

    store: MongoReportStore | None = None
    now: Callable[[], datetime] = field(default=clock.now)


REPORTS = web.AppKey("sla_reports", Reports)


def reports_state(app: web.Application) -> Reports:
    if REPORTS not in app:
        app[REPORTS] = Reports()
    return app[REPORTS]


def consumer_specs(app: web.Application) -> list[ConsumerSpec]:
    """The consumer groups that keep the supervisor counters (group `sla-reports`)."""
    state = reports_state(app)

    async def build(infra: Infra) -> BatchHandler:
        await ensure_report_indexes(infra.db)
        store = MongoReportStore(infra.db)
        state.store = store

        async def on_events(batch: list[Envelope]) -> list[Rejected]:
            return await handle_report_events(batch, store)

        return on_events

    return [ConsumerSpec(SLA_REPORTS_GROUP, [SLA_EVENTS, COMPLAINTS_EVENTS], build)]


def add_routes(app: web.Application) -> None:
    """The supervisor API and the dashboard page."""
    reports_state(app)
    app.router.add_get(f"{API}/compliance", _guarded(compliance))
    app.router.add_get(f"{API}/trend", _guarded(trend))
    app.router.add_get(f"{API}/breaches", _guarded(breaches))
    app.router.add_get(f"{API}/escalations", _guarded(escalations))
    app.router.add_get(f"{API}/satisfaction", _guarded(satisfaction))
    app.router.add_get(f"{API}/complaints/{{complaint_id}}/clocks", _guarded(complaint_clocks))
    app.router.add_get("/dashboard", _to_dashboard)
    app.router.add_get("/dashboard/", dashboard)
    app.router.add_static("/dashboard/static/", STATIC_DIR, append_version=False)
    database_free(app, "/dashboard", "/dashboard/", "/dashboard/static")
    app.on_response_prepare.append(_dashboard_headers)


# The dashboard runs only its own files (no inline script or style), talks only to this service,
# and may not be framed; the token it sends is pasted, never taken from the address.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DASHBOARD_HEADERS = browser_headers(DASHBOARD_CSP)


async def _dashboard_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/dashboard"):
        response.headers.update(DASHBOARD_HEADERS)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _guarded(handler: Handler) -> Handler:
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


def _field(name: str, message: str) -> ProblemError:
    return ProblemError(422, errors=[FieldError(field=name, message=message)])


def _pemda_param(request: web.Request) -> str | None:
    code = request.query.get("pemda") or None
    if code is None:
        return None
    region = lookup(code)
    if region is None or region.level > 2:
        raise _field("pemda", "bukan kode pemda (provinsi atau kab/kota) yang dikenal")
    return code


def _opd_param(request: web.Request) -> str | None:
    opd = request.query.get("opd") or None
    if opd is None:
        return None
    if not OPD_ID.match(opd) or lookup(opd_pemda(opd)) is None:
        raise _field("opd", "bukan id OPD (<kode pemda>/<slug>)")
    return opd


async def _scope(request: web.Request) -> Scope:
    staff = await require_staff(request, "supervisor", "coordinator", "admin")
    pemda, opd = _pemda_param(request), _opd_param(request)
    if opd is not None and pemda is not None and opd_pemda(opd) != pemda:
        raise _field("opd", "OPD tidak berada di pemda yang diminta")
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


def _today(scope: Scope, now: datetime) -> date:
    zone = zone_for(scope.zone_pemda) if scope.zone_pemda else WIB
    return now.astimezone(zone).date()


def _date_param(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name) or None
    if raw is None:
        return None
    try:
        if not DATE.match(raw):
            raise ValueError(raw)
        value = date.fromisoformat(raw)
    except ValueError:
        raise _field(name, "tanggal harus berformat YYYY-MM-DD") from None
    if not FIRST_DATE <= value <= LAST_DATE:
        raise _field(name, "tanggal harus antara tahun 1900 dan 2100")
    return value


def _period(request: web.Request, scope: Scope, now: datetime) -> tuple[date, date]:
    """Mondays of the first and last week of the period."""
    today = _today(scope, now)
    start, end = _date_param(request, "from"), _date_param(request, "to")
    end = end or today
    start = start or end - timedelta(weeks=DEFAULT_WEEKS - 1)
    if end < start:
        raise _field("to", "tidak boleh sebelum 'from'")
    first, last = start - timedelta(days=start.weekday()), end - timedelta(days=end.weekday())
    if (last - first).days // 7 + 1 > MAX_WEEKS:
        raise _field("from", f"periode paling panjang {MAX_WEEKS} minggu")
    return first, last


def _limit(request: web.Request, csv_wanted: bool) -> int:
    default, most = (10000, 10000) if csv_wanted else (50, 200)
    raw = request.query.get("limit")
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise _field("limit", f"bilangan bulat 1–{most}")
    return value


def _clock_param(request: web.Request) -> str | None:
    clock = request.query.get("clock") or None
    if clock is not None and clock not in CLOCKS:
        raise _field("clock", "salah satu dari: " + ", ".join(CLOCKS))
    return clock


def _store(request: web.Request) -> MongoReportStore:
    store = request.app[REPORTS].store
    if store is None:
        raise ProblemError(503, "laporan belum siap", headers={"Retry-After": "5"})
    return store


def _now(request: web.Request) -> datetime:
    return request.app[REPORTS].now()


def _iso(instant: datetime | None, pemda: str | None) -> str | None:
    if instant is None:
        return None
    zone = zone_for(pemda) if pemda else UTC
    return instant.astimezone(zone).isoformat(timespec="milliseconds" if instant.microsecond else "seconds")


# --- summing counter documents ------------------------------------------------------------------


def _add(total: dict[str, Any], doc: Doc) -> None:
    for key, value in doc.items():
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value


def _sum(docs: Iterable[Doc]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for doc in docs:
        _add(total, {k: v for k, v in doc.items() if k not in ("_id", "level", "scope", "pemda", "week")})
    return total


def _pct(met: int, breached: int) -> float | None:
    return round(100 * met / (met + breached), 1) if met + breached else None


def _histogram(counts: dict[str, Any]) -> list[int]:
    rt = counts.get("rt", {})
    return [int(rt.get(str(i), 0)) for i in range(len(RT_EDGES))]


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _hk(value: float | None) -> float | None:
    return None if value is None else round(value / HK, 2)


def _clock_summary(counts: dict[str, Any], clock: str) -> dict[str, Any]:
    met, breached = int(counts.get(f"{clock}_met", 0)), int(counts.get(f"{clock}_breached", 0))
    return {"met": met, "breached": breached, "on_time_pct": _pct(met, breached)}


def summarize(
    scope: str, pemda: str, weekly: Sequence[Doc], gauge: Doc | None, today: date
) -> dict[str, Any]:
    """One compliance row from an OPD's (or a pemda's) weekly counters and current gauges."""
    counts = _sum(weekly)
    g = gauge or {}
    hist = _histogram(counts)
    median, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    response = _clock_summary(counts, "response")
    answered = int(counts.get("rt_n", 0))
    response.update(
        answered=answered,
        mean_seconds=round(counts.get("rt_sum", 0) / answered) if answered else None,
        median_seconds=_seconds(median),
        p90_seconds=_seconds(p90),
        median_hk=_hk(median),
        p90_hk=_hk(p90),
    )
    clocks = {"response": response, **{c: _clock_summary(counts, c) for c in ("resolution", "verification")}}
    met = sum(int(c["met"]) for c in clocks.values())
    breached = sum(int(c["breached"]) for c in clocks.values())
    misrouted = int(counts.get("misrouted_s", 0))
    return {
        "scope": scope,
        "pemda": pemda,
        "pemda_name": _pemda_name(pemda),
        "assigned": int(counts.get("assigned", 0)),
        "met": met,
        "breached": breached,
        "on_time_pct": _pct(met, breached),
        **clocks,
        "open": int(g.get("open", 0)),
        "breached_open": int(g.get("breached_response", 0)) + int(g.get("breached_resolution", 0)),
        "escalated": int(g.get("escalated", 0)),
        "escalation_levels": {str(n): int(g.get(f"level_{n}", 0)) for n in (1, 2, 3)},
        "aging": aging_buckets(g.get("open_days", {}), pemda, today),
        "transfers_out": int(counts.get("transfers_out", 0)),
        "misrouted_seconds": misrouted,
        "misrouted_hk": round(misrouted / HK, 2),
        "_hist": hist,
    }


def _total(rows: Sequence[dict[str, Any]], scope: str, pemda: str | None) -> dict[str, Any]:
    """The rows added up (percentiles from the merged histograms, not averaged)."""
    sums: dict[str, Any] = {}
    for row in rows:
        _add(sums, {k: v for k, v in row.items() if not k.startswith("_") and "pct" not in k})
    hist = (
        [sum(col) for col in zip(*(r["_hist"] for r in rows), strict=True)] if rows else [0] * len(RT_EDGES)
    )
    median, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    response = sums.get("response", {"met": 0, "breached": 0, "answered": 0})
    answered = int(response.get("answered", 0))
    mean = None
    if answered:
        weighted = sum((r["response"]["mean_seconds"] or 0) * r["response"]["answered"] for r in rows)
        mean = round(weighted / answered)
    response.update(
        mean_seconds=mean,
        median_seconds=_seconds(median),
        p90_seconds=_seconds(p90),
        median_hk=_hk(median),
        p90_hk=_hk(p90),
    )
    for name in CLOCKS:
        part = sums.setdefault(name, {"met": 0, "breached": 0})
        part["on_time_pct"] = _pct(int(part.get("met", 0)), int(part.get("breached", 0)))
    sums.update(
        scope=scope,
        pemda=pemda,
        pemda_name=_pemda_name(pemda) if pemda else None,
        on_time_pct=_pct(int(sums.get("met", 0)), int(sums.get("breached", 0))),
        misrouted_hk=round(int(sums.get("misrouted_seconds", 0)) / HK, 2),
    )
    for key in ("assigned", "met", "breached", "open", "breached_open", "escalated", "transfers_out"):
        sums.setdefault(key, 0)
    sums.setdefault("misrouted_seconds", 0)
    sums.setdefault("aging", {name: 0 for name, _, _ in AGING})
    sums.setdefault("escalation_levels", {"1": 0, "2": 0, "3": 0})
    return sums


def _pemda_name(code: str) -> str | None:
    region = lookup(code)
    return region.name if region else None


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


async def _rows(store: MongoReportStore, scope: Scope, weeks: tuple[date, date], now: datetime) -> list[Doc]:
    """Compliance rows of the scope: its OPD, its pemda's OPDs, or every pemda."""
    level = "pemda" if scope.pemda is None else "opd"
    weekly = await store.weekly(level=level, pemda=scope.pemda, scope=scope.opd, weeks=weeks)
    gauges = await store.gauges(level=level, pemda=scope.pemda, scope=scope.opd)
    by_scope: dict[str, list[Doc]] = {}
    for doc in weekly:
        by_scope.setdefault(doc["scope"], []).append(doc)
    gauge_of = {doc["_id"]: doc for doc in gauges}
    rows = []
    for name in sorted(set(by_scope) | set(gauge_of)):
        pemda = opd_pemda(name)
        today = now.astimezone(zone_for(pemda)).date()
        rows.append(summarize(name, pemda, by_scope.get(name, []), gauge_of.get(name), today))
    return rows


# --- CSV ----------------------------------------------------------------------------------------

Column = tuple[str, Callable[[dict[str, Any]], Any]]


def _wants_csv(request: web.Request) -> bool:
    fmt = request.query.get("format")
    if fmt is not None and fmt not in ("json", "csv"):
        raise _field("format", "json atau csv")
    return fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("Accept", ""))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs: text starting like a formula gets a `'`
    (OWASP CSV injection). Numbers stay numbers (a negative one is no formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv(
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


def _answer(
    request: web.Request,
    name: str,
    columns: Sequence[Column],
    items: list[dict[str, Any]],
    next_cursor: str | None,
    extra: dict[str, Any] | None = None,
) -> web.Response:
    if _wants_csv(request):
        return _csv(name, columns, items, next_cursor)
    return json_response({**(extra or {}), "items": items, "next_cursor": next_cursor})


def _page(
    items: list[dict[str, Any]], request: web.Request, key: str, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Paging of a small, fully computed list sorted by `key` (cursor = the last key)."""
    after = request.query.get("cursor") or None
    if after is not None:
        items = [item for item in items if str(item[key]) > after]
    page = items[:limit]
    return page, (str(page[-1][key]) if len(items) > limit else None)


COMPLIANCE_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Pemda", lambda r: r["pemda"]),
    ("Nama pemda", lambda r: r["pemda_name"]),
    ("Penugasan", lambda r: r["assigned"]),
    ("Tepat waktu (%)", lambda r: r["on_time_pct"]),
    ("Respons tepat waktu", lambda r: r["response"]["met"]),
    ("Respons terlambat", lambda r: r["response"]["breached"]),
    ("Median respons (HK)", lambda r: r["response"]["median_hk"]),
    ("P90 respons (HK)", lambda r: r["response"]["p90_hk"]),
    ("Penyelesaian tepat waktu", lambda r: r["resolution"]["met"]),
    ("Penyelesaian terlambat", lambda r: r["resolution"]["breached"]),
    ("Verifikasi tepat waktu", lambda r: r["verification"]["met"]),
    ("Verifikasi terlambat", lambda r: r["verification"]["breached"]),
    ("Terbuka", lambda r: r["open"]),
    ("Terbuka & melewati tenggat", lambda r: r["breached_open"]),
    ("Tereskalasi", lambda r: r["escalated"]),
    *[(f"Umur {AGING_LABELS[name]}", (lambda n: lambda r: r["aging"][n])(name)) for name, _, _ in AGING],
    ("Dialihkan keluar", lambda r: r["transfers_out"]),
    ("Waktu salah alamat (HK)", lambda r: r["misrouted_hk"]),
]


async def compliance(request: web.Request) -> web.Response:
    """SLA compliance per OPD (or per pemda for an admin without `pemda`) over whole weeks."""
    scope = await _scope(request)
    csv_wanted = _wants_csv(request)
    now = _now(request)
    weeks = _period(request, scope, now)
    rows = await _rows(_store(request), scope, weeks, now)
    total = _public(_total(rows, scope.opd or scope.pemda or "nasional", scope.pemda))
    items, next_cursor = _page([_public(r) for r in rows], request, "scope", _limit(request, csv_wanted))
    period = {
        "from": weeks[0].isoformat(),
        "to": (weeks[1] + timedelta(days=6)).isoformat(),
        "from_week": week_label(weeks[0]),
        "to_week": week_label(weeks[1]),
    }
    extra = {
        "pemda": scope.pemda,
        "opd": scope.opd,
        "period": period,
        "as_of": now.isoformat(),
        "total": total,
    }
    return _answer(request, "kepatuhan-sla", COMPLIANCE_COLUMNS, items, next_cursor, extra)


TREND_COLUMNS: list[Column] = [
    ("Minggu", lambda r: r["week"]),
    ("Mulai", lambda r: r["week_start"]),
    ("Penugasan", lambda r: r["assigned"]),
    ("Tepat waktu", lambda r: r["met"]),
    ("Terlambat", lambda r: r["breached"]),
    ("Tepat waktu (%)", lambda r: r["on_time_pct"]),
    ("Median respons (HK)", lambda r: r["response_median_hk"]),
    ("Dialihkan keluar", lambda r: r["transfers_out"]),
    ("Rata-rata penilaian", lambda r: r["rating_average"]),
]


async def trend(request: web.Request) -> web.Response:
    """Week by week: assignments, clocks met and breached, on-time %, median response time."""
    scope = await _scope(request)
    now = _now(request)
    weeks = _period(request, scope, now)
    if scope.opd is not None or scope.pemda is not None:
        level, name = ("opd", scope.opd) if scope.opd is not None else ("pemda", scope.pemda)
        docs = await _store(request).weekly(level=level, pemda=None, scope=name, weeks=weeks)
    else:
        docs = await _store(request).weekly(level="pemda", pemda=None, scope=None, weeks=weeks)
    by_week: dict[str, list[Doc]] = {}
    for doc in docs:
        by_week.setdefault(doc["week"], []).append(doc)
    items = []
    monday = weeks[0]
    while monday <= weeks[1]:
        counts = _sum(by_week.get(monday.isoformat(), []))
        met = sum(int(counts.get(f"{c}_met", 0)) for c in CLOCKS)
        breached = sum(int(counts.get(f"{c}_breached", 0)) for c in CLOCKS)
        median = percentile(_histogram(counts), 0.5)
        rated = int(counts.get("rating_n", 0))
        items.append(
            {
                "week": week_label(monday),
                "week_start": monday.isoformat(),
                "assigned": int(counts.get("assigned", 0)),
                "met": met,
                "breached": breached,
                "on_time_pct": _pct(met, breached),
                "response_median_seconds": _seconds(median),
                "response_median_hk": _hk(median),
                "transfers_out": int(counts.get("transfers_out", 0)),
                "rating_average": round(int(counts.get("rating_sum", 0)) / rated, 2) if rated else None,
            }
        )
        monday += timedelta(weeks=1)
    extra = {"pemda": scope.pemda, "opd": scope.opd}
    return _answer(request, "tren-mingguan", TREND_COLUMNS, items, None, extra)


BREACH_COLUMNS: list[Column] = [
    ("ID pengaduan", lambda r: r["complaint_id"]),
    ("Jam SLA", lambda r: r["clock"]),
    ("OPD", lambda r: r["opd_id"]),
    ("Pemda", lambda r: r["pemda"]),
    ("Mulai", lambda r: r["started_at"]),
    ("Tenggat", lambda r: r["due_at"]),
    ("Berhenti", lambda r: r["stopped_at"]),
    ("Status", lambda r: r["state"]),
    ("Masih terbuka", lambda r: "ya" if r["open"] else "tidak"),
    ("Keterlambatan (hari)", lambda r: r["late_days"]),
    ("Keterlambatan (HK)", lambda r: r["late_hk"]),
]


def _breach_item(doc: Doc, as_of: datetime) -> dict[str, Any]:
    pemda = doc["clock_pemda"]
    until = doc["stopped_at"] or as_of
    late_seconds = doc["late_ms"] / 1000
    working = pemda_working_seconds(pemda, doc["due_at"], until)
    return {
        "clock_id": doc["_id"],
        "complaint_id": doc["complaint_id"],
        "clock": doc["clock"],
        "opd_id": doc["opd_id"],
        "pemda": doc["pemda"],
        "started_at": _iso(doc["started_at"], pemda),
        "due_at": _iso(doc["due_at"], pemda),
        "stopped_at": _iso(doc["stopped_at"], pemda),
        "state": doc["state"],
        "open": doc["open"],
        "late_seconds": round(late_seconds),
        "late_days": round(late_seconds / 86400, 2),
        "late_working_seconds": working,
        "late_hk": round(working / HK, 2),
    }


def pemda_working_seconds(pemda: str, start: datetime, end: datetime) -> int:
    return int(pemda_calendar(pemda).working_time(start, end).total_seconds())


def _local_midnight(day: date, scope: Scope) -> datetime:
    zone = zone_for(scope.zone_pemda) if scope.zone_pemda else WIB
    return datetime(day.year, day.month, day.day, tzinfo=zone)


async def breaches(request: web.Request) -> web.Response:
    """Breached clocks, the latest first (open breaches are late until now)."""
    scope = await _scope(request)
    csv_wanted = _wants_csv(request)
    limit = _limit(request, csv_wanted)
    start, end = _date_param(request, "from"), _date_param(request, "to")
    if start and end and end < start:
        raise _field("to", "tidak boleh sebelum 'from'")
    where = BreachFilter(
        pemda=scope.pemda,
        opd_id=scope.opd,
        clock=_clock_param(request),
        due_from=_local_midnight(start, scope) if start else None,
        due_to=_local_midnight(end + timedelta(days=1), scope) if end else None,
    )
    now = _now(request)
    try:
        page = await _store(request).breaches(
            where, as_of=now, cursor=request.query.get("cursor"), limit=limit
        )
    except ValueError:
        raise _field("cursor", "cursor tidak sah") from None
    items = [_breach_item(doc, now) for doc in page.items]
    extra = {"pemda": scope.pemda, "opd": scope.opd, "as_of": now.isoformat()}
    return _answer(request, "pelanggaran-sla", BREACH_COLUMNS, items, page.next_cursor, extra)


ESCALATION_COLUMNS: list[Column] = [
    ("ID pengaduan", lambda r: r["complaint_id"]),
    ("Level", lambda r: r["level"]),
    ("Label", lambda r: r["level_label"]),
    ("OPD", lambda r: r["opd_id"]),
    ("OPD saat ini", lambda r: r["current_opd_id"]),
    ("Sejak", lambda r: r["raised_at"]),
    ("Alasan", lambda r: r["reason"]),
    ("Diajukan", lambda r: r["submitted_at"]),
    ("Jumlah pengalihan", lambda r: r["transfers"]),
]
LEVEL_LABELS = {
    1: "Kepala OPD",
    2: "Inspektorat dan Admin Koordinator",
    3: "Dapat dilaporkan ke Ombudsman",
}


async def escalations(request: web.Request) -> web.Response:
    """Unresolved escalated complaints, the highest level first, then the longest waiting."""
    scope = await _scope(request)
    limit = _limit(request, _wants_csv(request))
    try:
        page = await _store(request).escalations(
            pemda=scope.pemda, opd_id=scope.opd, cursor=request.query.get("cursor"), limit=limit
        )
    except ValueError:
        raise _field("cursor", "cursor tidak sah") from None
    items = [
        {
            "complaint_id": doc["_id"],
            "level": doc["level"],
            "level_label": LEVEL_LABELS.get(doc["level"]),
            "opd_id": doc["opd_id"],
            "pemda": doc["pemda"],
            "current_opd_id": doc["current_opd_id"],
            "raised_at": _iso(doc["raised_at"], doc["pemda"]),
            "reason": doc["reason"],
            "submitted_at": _iso(doc["submitted_at"], doc["pemda"]),
            "transfers": doc["transfers"],
        }
        for doc in page.items
    ]
    extra = {"pemda": scope.pemda, "opd": scope.opd}
    return _answer(request, "eskalasi", ESCALATION_COLUMNS, items, page.next_cursor, extra)


SATISFACTION_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Jumlah penilaian", lambda r: r["ratings"]),
    ("Rata-rata (1–5)", lambda r: r["average"]),
    *[(f"Nilai {n}", (lambda k: lambda r: r["distribution"][k])(str(n))) for n in range(1, 6)],
]


def _satisfaction(scope: str, counts: dict[str, Any]) -> dict[str, Any]:
    n = int(counts.get("rating_n", 0))
    dist = counts.get("rating", {})
    return {
        "scope": scope,
        "pemda": opd_pemda(scope),
        "ratings": n,
        "average": round(int(counts.get("rating_sum", 0)) / n, 2) if n else None,
        "distribution": {str(k): int(dist.get(str(k), 0)) for k in range(1, 6)},
    }


async def satisfaction(request: web.Request) -> web.Response:
    """Reporters' ratings (1–5) of resolved complaints, per OPD that resolved them."""
    scope = await _scope(request)
    now = _now(request)
    weeks = _period(request, scope, now)
    level = "pemda" if scope.pemda is None else "opd"
    docs = await _store(request).weekly(level=level, pemda=scope.pemda, scope=scope.opd, weeks=weeks)
    grouped: dict[str, list[Doc]] = {}
    for doc in docs:
        grouped.setdefault(doc["scope"], []).append(doc)
    rows = [_satisfaction(name, _sum(grouped[name])) for name in sorted(grouped)]
    total = _satisfaction(scope.opd or scope.pemda or "nasional", _sum(docs)) if docs else None
    items, next_cursor = _page(rows, request, "scope", _limit(request, _wants_csv(request)))
    extra = {"pemda": scope.pemda, "opd": scope.opd, "total": total}
    return _answer(request, "kepuasan-pelapor", SATISFACTION_COLUMNS, items, next_cursor, extra)


def _clock_view(clock: ClockRecord) -> dict[str, Any]:
    pemda = clock.pemda
    return {
        "clock_id": clock.clock_id,
        "clock": clock.clock,
        "opd_id": clock.opd_id,
        "pemda": pemda,
        "started_at": _iso(clock.started_at, pemda),
        "due_at": _iso(clock.due_at, pemda),
        "budget_seconds": clock.budget_seconds,
        "remaining_seconds": clock.remaining_seconds,
        "state": clock.state,
        "breached": clock.breached,
        "breached_at": _iso(clock.breached_at, pemda),
        "stopped_at": _iso(clock.stopped_at, pemda),
        "version": clock.version,
        "history": [
            {
                "type": h["type"],
                "state": h["state"],
                "at": _iso(h["at"], pemda),
                "due_at": _iso(h["due_at"], pemda),
                "remaining_seconds": h["remaining_seconds"],
                "version": h["version"],
            }
            for h in clock.history
        ],
    }


def _may_see(staff: Staff, record: ComplaintRecord | None, clocks: Sequence[ClockRecord]) -> bool:
    """Staff covering the complaint's pemda, or any OPD that held it or one of its clocks."""
    pemda = record.pemda if record else None
    opds = {c.attributed_opd for c in clocks} | {h.opd_id for h in (record.holdings if record else [])}
    pemdas = {pemda} | {c.pemda for c in clocks}
    return any(staff.covers(opd_id=o, pemda=pemda) for o in opds if o) or any(
        staff.covers(opd_id=None, pemda=p) for p in pemdas if p
    )


async def complaint_clocks(request: web.Request) -> web.Response:
    """One complaint's clocks with their history, the OPDs that held it, and its escalations."""
    staff = await require_staff(request, "supervisor", "coordinator", "admin")
    complaint_id = request.match_info["complaint_id"]
    record, clocks = await _store(request).complaint(complaint_id)
    if record is None and not clocks:
        raise ProblemError(404, f"pengaduan {complaint_id!r} tidak dikenal")
    if not _may_see(staff, record, clocks):
        raise ProblemError(403, "pengaduan ini di luar cakupan token")
    pemda = record.pemda if record else clocks[0].pemda
    holdings = record.holdings if record else []
    if staff.role == "supervisor" and staff.opd:  # an OPD's supervisor sees that OPD's part only
        clocks = [c for c in clocks if c.attributed_opd == staff.opd]
        holdings = [h for h in holdings if h.opd_id == staff.opd]
    current = record.current if record else None
    return json_response(
        {
            "complaint_id": complaint_id,
            "pemda": pemda,
            "status": record.status if record else None,
            "opd_id": current.opd_id if current else None,
            "escalation_level": record.level if record else 0,
            "transfers": record.transfers if record else 0,
            "misrouted_seconds": sum(h.seconds or 0 for h in holdings if h.ended_by == "transferred"),
            "holdings": [
                {
                    "opd_id": h.opd_id,
                    "from": _iso(h.start, h.pemda),
                    "to": _iso(h.end, h.pemda),
                    "ended_by": h.ended_by,
                    "working_seconds": h.seconds,
                }
                for h in holdings
            ],
            "clocks": [_clock_view(c) for c in clocks],
            "escalations": [
                {
                    "kind": e.kind,
                    "level": e.level,
                    "at": _iso(e.at, pemda),
                    "reason": e.reason,
                    "opd_id": e.opd_id,
                }
                for e in (record.escalations if record else [])
            ],
        }
    )


# --- dashboard ----------------------------------------------------------------------------------


async def _to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound("/dashboard/")


async def dashboard(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "dashboard.html", headers={"Cache-Control": "no-cache"})
