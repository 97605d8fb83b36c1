"""The citizen's view of a complaint, built from `complaints.events` and `sla.events` (intake
reads no other service's database, DESIGN §6). Pure: the store loads and saves the documents.

Idempotent by record: lifecycle events apply only above the view's `last_seq`; a clock event
only above the stored clock's `version`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.intake.models import ComplaintView, Deadline, TimelineEntry
from shared.calendar import WorkingCalendar
from shared.envelope import Envelope
from shared.events import ClockEvent, ComplaintAssigned, ComplaintReceived, ComplaintTriaged

CalendarFor = Callable[[str], WorkingCalendar]


def _lifecycle(event: Envelope) -> tuple[str, str | None, str] | None:
    """(status, opd_id change or None, Indonesian summary) of a lifecycle event."""
    payload = event.payload
    if isinstance(payload, ComplaintReceived):
        return "received", None, "Pengaduan diterima dan menunggu verifikasi"
    if isinstance(payload, ComplaintAssigned):
        return "assigned", payload.opd_id, f"Didisposisikan ke {payload.opd_id}"
    if isinstance(payload, ComplaintTriaged):
        return "triage", None, "Diteruskan ke Admin Koordinator untuk verifikasi"
    return None


def apply(doc: dict[str, Any], event: Envelope) -> bool:
    """Apply one event to a view document in place; False when it changes nothing."""
    payload = event.payload
    if isinstance(payload, ClockEvent):
        deadlines: dict[str, Any] = doc.setdefault("deadlines", {})
        current = deadlines.get(payload.clock_id)
        if current is not None and current["version"] >= payload.version:
            return False
        deadlines[payload.clock_id] = payload.model_dump(exclude={"clock_id"})
        return True
    if event.seq is None or event.seq <= doc.get("last_seq", 0):
        return False
    doc["last_seq"] = event.seq
    change = _lifecycle(event)
    if change is None:
        return True
    status, opd_id, summary = change
    doc["status"] = status
    if opd_id is not None:
        doc["opd_id"] = opd_id
    doc.setdefault("timeline", []).append({"at": event.occurred_at, "type": event.type, "summary": summary})
    return True


def render(doc: dict[str, Any], now: datetime, calendar_for: CalendarFor) -> ComplaintView:
    deadlines = []
    for entry in sorted(doc.get("deadlines", {}).values(), key=lambda d: d["started_at"]):
        calendar = calendar_for(entry["pemda"])
        due = calendar.local(entry["due_at"]) if entry.get("due_at") else None
        remaining = None
        if entry["state"] == "running" and due is not None:
            remaining = int(calendar.working_time(now, due).total_seconds())
        elif entry["state"] == "paused":
            remaining = entry.get("remaining_seconds")
        deadlines.append(
            Deadline(
                clock=entry["clock"],
                opd_id=entry.get("opd_id"),
                started_at=calendar.local(entry["started_at"]),
                due_at=due if entry["state"] != "paused" else None,
                remaining_seconds=remaining,
                state=entry["state"],
            )
        )
    return ComplaintView(
        id=doc["_id"],
        status=doc.get("status", "received"),
        category=doc.get("category"),
        region_code=doc["region_code"],
        opd_id=doc.get("opd_id"),
        escalation_level=doc.get("escalation_level", 0),
        deadlines=deadlines,
        timeline=[TimelineEntry(**t) for t in doc.get("timeline", [])],
    )
