"""Misrouting figures for supervisors (issue 22 item 4), from the report counters (pre-aggregated
from `complaints.events`, domain/reports.py):

- `GET /api/v1/supervisor/misrouting`: per OPD over whole weeks, the transfers *bukan wewenang*
  out of it and into it, and the time lost at it — the working time (the holding pemda's
  calendar) from each assignment to the transfer away, counted in the week of the transfer.
- `GET /api/v1/supervisor/classifier/{pemda}`: per calendar month of the classification, how many
  uncategorised complaints the classifier decided, how many went straight to an OPD, how many a
  coordinator reviewed and how many a coordinator corrected (settled on another category than the
  classifier's, in triage or at the disposition): accuracy = 1 − corrected / classified. A pemda
  figure (its coordinator's work): not for a supervisor scoped to one OPD.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from services.sla.domain.figures import sum_counts
from services.sla.domain.reports import HK, Doc, week_label
from services.sla.entrypoints.compliance import weekly_report
from services.sla.entrypoints.openapi.supervisor import API
from services.sla.entrypoints.report_params import (
    Column,
    Scope,
    answer,
    date_param,
    field_error,
    guarded,
    reader,
    reading_instant,
    today_in,
)
from shared.auth import require_staff
from shared.http import ProblemError
from shared.regions import lookup

DEFAULT_MONTHS = 12
MAX_MONTHS = 60


def _per_transfer_hk(seconds: int, transfers: int) -> float | None:
    return round(seconds / HK / transfers, 2) if transfers else None


def misrouting_row(row: dict[str, Any]) -> dict[str, Any]:
    out, seconds = int(row.get("transfers_out", 0)), int(row.get("misrouted_seconds", 0))
    assigned = int(row.get("assigned", 0))
    return {
        "scope": row["scope"],
        "pemda": row["pemda"],
        "pemda_name": row["pemda_name"],
        "assigned": assigned,
        "transfers_out": out,
        "transfers_in": int(row.get("transfers_in", 0)),
        "transferred_out_pct": round(100 * out / assigned, 1) if assigned else None,
        "lost_seconds": seconds,
        "lost_hk": round(seconds / HK, 2),
        "lost_hk_per_transfer": _per_transfer_hk(seconds, out),
    }


MISROUTING_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Pemda", lambda r: r["pemda"]),
    ("Nama pemda", lambda r: r["pemda_name"]),
    ("Penugasan", lambda r: r["assigned"]),
    ("Dialihkan keluar", lambda r: r["transfers_out"]),
    ("Dialihkan masuk", lambda r: r["transfers_in"]),
    ("Dialihkan keluar (%)", lambda r: r["transferred_out_pct"]),
    ("Waktu hilang (HK)", lambda r: r["lost_hk"]),
    ("Waktu hilang per pengalihan (HK)", lambda r: r["lost_hk_per_transfer"]),
]


async def misrouting(request: web.Request) -> web.Response:
    report = await weekly_report(request, misrouting_row)
    extra = {
        "pemda": report.scope.pemda,
        "opd": report.scope.opd,
        "period": {"from_week": week_label(report.weeks[0]), "to_week": week_label(report.weeks[1])},
        "as_of": report.now.isoformat(),
        "total": report.total,
    }
    return answer(request, "salah-alamat", MISROUTING_COLUMNS, report.items, report.next_cursor, extra)


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _months(first: date, last: date) -> list[str]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def months_param(request: web.Request, today: date) -> list[str]:
    end = date_param(request, "to") or today
    start = date_param(request, "from")
    if start is None:
        back = end.year * 12 + end.month - 1 - (DEFAULT_MONTHS - 1)
        start = date(back // 12, back % 12 + 1, 1)
    if end < start:
        raise field_error("to", "tidak boleh sebelum 'from'")
    months = _months(start, end)
    if len(months) > MAX_MONTHS:
        raise field_error("from", f"periode paling panjang {MAX_MONTHS} bulan")
    return months


def classifier_month(month: str, counts: dict[str, Any]) -> dict[str, Any]:
    classified, corrected = int(counts.get("clf_classified", 0)), int(counts.get("clf_corrected", 0))
    reviewed = int(counts.get("clf_reviewed", 0))
    return {
        "month": month,
        "classified": classified,
        "auto_routed": int(counts.get("clf_auto", 0)),
        "reviewed": reviewed,
        "corrected": corrected,
        "accuracy_pct": round(100 * (classified - corrected) / classified, 1) if classified else None,
        "reviewed_accuracy_pct": round(100 * (reviewed - corrected) / reviewed, 1) if reviewed else None,
    }


CLASSIFIER_COLUMNS: list[Column] = [
    ("Bulan", lambda r: r["month"]),
    ("Diklasifikasi otomatis", lambda r: r["classified"]),
    ("Langsung ke OPD", lambda r: r["auto_routed"]),
    ("Ditinjau koordinator", lambda r: r["reviewed"]),
    ("Dikoreksi koordinator", lambda r: r["corrected"]),
    ("Akurasi (%)", lambda r: r["accuracy_pct"]),
    ("Akurasi yang ditinjau (%)", lambda r: r["reviewed_accuracy_pct"]),
]


async def _pemda_scope(request: web.Request) -> Scope:
    """The path's pemda, if the token covers it whole: its coordinators and supervisors, admins."""
    staff = await require_staff(request, "supervisor", "coordinator", "admin")
    pemda = request.match_info["pemda"]
    region = lookup(pemda)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {pemda[:20]!r} tidak dikenal")
    if staff.role != "admin" and (staff.opd or staff.pemda != pemda):
        raise ProblemError(403, "akurasi klasifikasi adalah angka pemda: token ini tidak mencakup pemda itu")
    return Scope(pemda, None)


async def classifier(request: web.Request) -> web.Response:
    scope = await _pemda_scope(request)
    now: datetime = reading_instant(request)
    months = months_param(request, today_in(scope, now))
    docs = await reader(request).monthly(
        level="pemda", pemda=None, scope=scope.pemda, months=(months[0], months[-1])
    )
    by_month: dict[str, list[Doc]] = {}
    for doc in docs:
        by_month.setdefault(doc["month"], []).append(doc)
    items = [classifier_month(m, sum_counts(by_month.get(m, []))) for m in months]
    total = classifier_month("total", sum_counts(docs))
    extra = {"pemda": scope.pemda, "as_of": now.isoformat(), "total": total}
    return answer(request, "akurasi-klasifikasi", CLASSIFIER_COLUMNS, items, None, extra)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{API}/misrouting", guarded(misrouting))
    app.router.add_get(f"{API}/classifier/{{pemda}}", guarded(classifier))
