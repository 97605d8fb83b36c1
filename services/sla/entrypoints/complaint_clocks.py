"""One complaint's clocks with their history, the OPDs that held it and its escalations:
`GET /api/v1/supervisor/complaints/{complaint_id}/clocks`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from services.sla.domain.reports import (
    ClockRecord,
    ComplaintRecord,
)
from services.sla.entrypoints.openapi.supervisor import API
from services.sla.entrypoints.report_params import guarded, local_iso, reader
from shared.auth import Staff, require_staff
from shared.http import ProblemError, json_response


def _clock_view(clock: ClockRecord) -> dict[str, Any]:
    pemda = clock.pemda
    return {
        "clock_id": clock.clock_id,
        "clock": clock.clock,
        "opd_id": clock.opd_id,
        "pemda": pemda,
        "started_at": local_iso(clock.started_at, pemda),
        "due_at": local_iso(clock.due_at, pemda),
        "budget_seconds": clock.budget_seconds,
        "remaining_seconds": clock.remaining_seconds,
        "state": clock.state,
        "breached": clock.breached,
        "breached_at": local_iso(clock.breached_at, pemda),
        "stopped_at": local_iso(clock.stopped_at, pemda),
        "version": clock.version,
        "history": [
            {
                "type": h["type"],
                "state": h["state"],
                "at": local_iso(h["at"], pemda),
                "due_at": local_iso(h["due_at"], pemda),
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
    record, clocks = await reader(request).complaint(complaint_id)
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
            "misrouted_seconds": sum(h.working_ms // 1000 for h in holdings if h.outcome == "transferred"),
            "holdings": [
                {
                    "opd_id": h.opd_id,
                    "from": local_iso(h.since, h.pemda),
                    "to": local_iso(h.until, h.pemda),
                    "ended_by": h.outcome,
                    "working_seconds": h.working_ms // 1000 if h.until is not None else None,
                }
                for h in holdings
            ],
            "clocks": [_clock_view(c) for c in clocks],
            "escalations": [
                {
                    "kind": e.kind,
                    "level": e.level,
                    "at": local_iso(e.at, pemda),
                    "reason": e.reason,
                    "opd_id": e.opd_id,
                }
                for e in (record.escalations if record else [])
            ],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{API}/complaints/{{complaint_id}}/clocks", guarded(complaint_clocks))
