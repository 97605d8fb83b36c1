"""The breach and escalation lists: `GET /api/v1/supervisor/breaches` (breached clocks, the latest
first; open breaches are late until now) and `/escalations` (unresolved escalated complaints)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from services.sla.domain.reports import (
    HK,
    Doc,
    pemda_calendar,
)
from services.sla.entrypoints.openapi.supervisor import API
from services.sla.entrypoints.report_params import (
    Column,
    Scope,
    answer,
    clock_param,
    date_param,
    field_error,
    guarded,
    limit_param,
    local_iso,
    read_scope,
    reader,
    reading_instant,
    wants_csv,
    with_opd_names,
)
from services.sla.ports import BreachFilter
from shared.calendar import WIB, zone_for

BREACH_COLUMNS: list[Column] = [
    ("ID pengaduan", lambda r: r["complaint_id"]),
    ("Jam SLA", lambda r: r["clock"]),
    ("OPD", lambda r: r["opd_id"]),
    ("Nama OPD", lambda r: r["opd_name"]),
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
        "started_at": local_iso(doc["started_at"], pemda),
        "due_at": local_iso(doc["due_at"], pemda),
        "stopped_at": local_iso(doc["stopped_at"], pemda),
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
    scope = await read_scope(request)
    csv_wanted = wants_csv(request)
    limit = limit_param(request, csv_wanted)
    start, end = date_param(request, "from"), date_param(request, "to")
    if start and end and end < start:
        raise field_error("to", "tidak boleh sebelum 'from'")
    where = BreachFilter(
        pemda=scope.pemda,
        opd_id=scope.opd,
        clock=clock_param(request),
        due_from=_local_midnight(start, scope) if start else None,
        due_to=_local_midnight(end + timedelta(days=1), scope) if end else None,
    )
    now = reading_instant(request)
    try:
        page = await reader(request).breaches(
            where, as_of=now, cursor=request.query.get("cursor"), limit=limit
        )
    except ValueError:
        raise field_error("cursor", "cursor tidak sah") from None
    items = [_breach_item(doc, now) for doc in page.items]
    await with_opd_names(request, items, "opd_id")
    extra = {"pemda": scope.pemda, "opd": scope.opd, "as_of": now.isoformat()}
    return answer(request, "pelanggaran-sla", BREACH_COLUMNS, items, page.next_cursor, extra)


ESCALATION_COLUMNS: list[Column] = [
    ("ID pengaduan", lambda r: r["complaint_id"]),
    ("Level", lambda r: r["level"]),
    ("Label", lambda r: r["level_label"]),
    ("OPD", lambda r: r["opd_id"]),
    ("Nama OPD", lambda r: r["opd_name"]),
    ("OPD saat ini", lambda r: r["current_opd_id"]),
    ("Nama OPD saat ini", lambda r: r["current_opd_name"]),
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
    scope = await read_scope(request)
    limit = limit_param(request, wants_csv(request))
    try:
        page = await reader(request).escalations(
            pemda=scope.pemda, opd_id=scope.opd, cursor=request.query.get("cursor"), limit=limit
        )
    except ValueError:
        raise field_error("cursor", "cursor tidak sah") from None
    items = [
        {
            "complaint_id": doc["_id"],
            "level": doc["level"],
            "level_label": LEVEL_LABELS.get(doc["level"]),
            "opd_id": doc["opd_id"],
            "pemda": doc["pemda"],
            "current_opd_id": doc["current_opd_id"],
            "raised_at": local_iso(doc["raised_at"], doc["pemda"]),
            "reason": doc["reason"],
            "submitted_at": local_iso(doc["submitted_at"], doc["pemda"]),
            "transfers": doc["transfers"],
        }
        for doc in page.items
    ]
    await with_opd_names(request, items, "opd_id", "current_opd_id")
    extra = {"pemda": scope.pemda, "opd": scope.opd}
    return answer(request, "eskalasi", ESCALATION_COLUMNS, items, page.next_cursor, extra)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{API}/breaches", guarded(breaches))
    app.router.add_get(f"{API}/escalations", guarded(escalations))
