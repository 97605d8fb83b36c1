"""Compliance per OPD (or per pemda for an admin without `pemda`) over whole weeks, and the
week-by-week trend: `GET /api/v1/supervisor/compliance` and `/trend`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aiohttp import web

from services.sla.domain.figures import (
    CLOCKS,
    histogram,
    in_hk,
    on_time_pct,
    public_row,
    rounded_seconds,
    sum_counts,
    summarize,
    total_row,
)
from services.sla.domain.reports import (
    AGING,
    AGING_LABELS,
    Doc,
    opd_pemda,
    percentile,
    week_label,
)
from services.sla.entrypoints.openapi.supervisor import API
from services.sla.entrypoints.report_params import (
    Column,
    Scope,
    answer,
    guarded,
    limit_param,
    page_of,
    read_scope,
    reader,
    reading_instant,
    wants_csv,
    weeks_param,
    with_opd_names,
)
from services.sla.ports import ReportReader
from shared.calendar import zone_for


async def compliance_rows(
    store: ReportReader, scope: Scope, weeks: tuple[date, date], now: datetime
) -> list[Doc]:
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


COMPLIANCE_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Nama OPD", lambda r: r["opd_name"]),
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


@dataclass(frozen=True)
class WeeklyReport:
    """One page of a per-OPD report over whole weeks, and its total over every row."""

    scope: Scope
    now: datetime
    weeks: tuple[date, date]
    items: list[Doc]
    next_cursor: str | None
    total: Doc


async def weekly_report(request: web.Request, row_of: Callable[[Doc], Doc]) -> WeeklyReport:
    """The compliance rows of the caller's scope and the weeks asked, each shown as `row_of` makes
    it; the total is summed over every row (not only this page)."""
    scope = await read_scope(request)
    csv_wanted = wants_csv(request)
    now = reading_instant(request)
    weeks = weeks_param(request, scope, now)
    rows = await compliance_rows(reader(request), scope, weeks, now)
    total = row_of(public_row(total_row(rows, scope.opd or scope.pemda or "nasional", scope.pemda)))
    shown = [row_of(public_row(r)) for r in rows]
    items, next_cursor = page_of(shown, request, "scope", limit_param(request, csv_wanted))
    return WeeklyReport(scope, now, weeks, items, next_cursor, total)


async def compliance(request: web.Request) -> web.Response:
    """SLA compliance per OPD (or per pemda for an admin without `pemda`) over whole weeks."""
    report = await weekly_report(request, lambda row: row)
    await with_opd_names(request, report.items, "scope")
    weeks = report.weeks
    period = {
        "from": weeks[0].isoformat(),
        "to": (weeks[1] + timedelta(days=6)).isoformat(),
        "from_week": week_label(weeks[0]),
        "to_week": week_label(weeks[1]),
    }
    extra = {
        "pemda": report.scope.pemda,
        "opd": report.scope.opd,
        "period": period,
        "as_of": report.now.isoformat(),
        "total": report.total,
    }
    return answer(request, "kepatuhan-sla", COMPLIANCE_COLUMNS, report.items, report.next_cursor, extra)


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
    scope = await read_scope(request)
    now = reading_instant(request)
    weeks = weeks_param(request, scope, now)
    if scope.opd is not None or scope.pemda is not None:
        level, name = ("opd", scope.opd) if scope.opd is not None else ("pemda", scope.pemda)
        docs = await reader(request).weekly(level=level, pemda=None, scope=name, weeks=weeks)
    else:
        docs = await reader(request).weekly(level="pemda", pemda=None, scope=None, weeks=weeks)
    by_week: dict[str, list[Doc]] = {}
    for doc in docs:
        by_week.setdefault(doc["week"], []).append(doc)
    items = []
    monday = weeks[0]
    while monday <= weeks[1]:
        counts = sum_counts(by_week.get(monday.isoformat(), []))
        met = sum(int(counts.get(f"{c}_met", 0)) for c in CLOCKS)
        breached = sum(int(counts.get(f"{c}_breached", 0)) for c in CLOCKS)
        median = percentile(histogram(counts), 0.5)
        rated = int(counts.get("rating_n", 0))
        items.append(
            {
                "week": week_label(monday),
                "week_start": monday.isoformat(),
                "assigned": int(counts.get("assigned", 0)),
                "met": met,
                "breached": breached,
                "on_time_pct": on_time_pct(met, breached),
                "response_median_seconds": rounded_seconds(median),
                "response_median_hk": in_hk(median),
                "transfers_out": int(counts.get("transfers_out", 0)),
                "rating_average": round(int(counts.get("rating_sum", 0)) / rated, 2) if rated else None,
            }
        )
        monday += timedelta(weeks=1)
    extra = {"pemda": scope.pemda, "opd": scope.opd}
    return answer(request, "tren-mingguan", TREND_COLUMNS, items, None, extra)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{API}/compliance", guarded(compliance))
    app.router.add_get(f"{API}/trend", guarded(trend))
