"""The reporter's commands as intake's own view allows them (DESIGN §2, §6).

Routing owns the lifecycle, so intake only *asks*: these rules let the reporter hear at once (409,
with the reason in Indonesian) when the state does not allow a command; routing checks again
against the true state and answers with the lifecycle event or `CommandRejected`, which
`command_outcomes` reads back. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.intake.domain.errors import NotAllowed, NotYet
from services.intake.domain.view import CalendarFor, is_lifecycle, reopen_window_end
from shared.envelope import Envelope, Payload
from shared.events import (
    AddInformation,
    CommandRejected,
    GiveFeedback,
    ReopenComplaint,
    SubmitSurvey,
    WithdrawComplaint,
)
from shared.states import OPEN_STATES, STATE_LABELS, WITH_OPD

CommandOutcome = tuple[str, str | None]  # ("accepted" | "rejected", reason)


def check(doc: dict[str, Any], command: Payload, now: datetime, calendar_for: CalendarFor) -> None:
    """Raise NotAllowed when `command` cannot apply to the complaint as intake sees it now."""
    if doc.get("last_seq", 0) < 1:
        # Routing has not recorded the complaint yet (its first lifecycle event is not in the view):
        # a command now would reach routing before the submission and could only be refused.
        raise NotYet("Pengaduan baru saja diterima dan belum tercatat untuk ditangani; coba lagi sebentar")
    status = doc.get("status", "received")
    label = f"status pengaduan sekarang: {STATE_LABELS.get(status, status)}"
    if isinstance(command, AddInformation):
        if status not in WITH_OPD:
            raise NotAllowed(
                f"Informasi tambahan hanya dapat dikirim selama pengaduan ditangani OPD; {label}"
            )
    elif isinstance(command, GiveFeedback):
        if status != "resolved":
            raise NotAllowed(f"Penilaian hanya dapat diberikan setelah pengaduan diselesaikan OPD; {label}")
    elif isinstance(command, SubmitSurvey):
        if status not in ("resolved", "closed") or not doc.get("resolved_by"):
            raise NotAllowed(
                "Survei kepuasan masyarakat dapat diisi setelah pengaduan diselesaikan OPD; " + label
            )
        if doc.get("surveyed"):
            raise NotAllowed("Survei kepuasan masyarakat untuk pengaduan ini sudah diisi")
    elif isinstance(command, ReopenComplaint):
        if status != "resolved":
            raise NotAllowed(
                f"Hanya pengaduan yang sudah diselesaikan OPD yang dapat dibuka kembali; {label}"
            )
        if doc.get("reopened"):
            raise NotAllowed("Pengaduan ini sudah pernah dibuka kembali; pembukaan kembali hanya sekali")
        end = reopen_window_end(doc, calendar_for)
        if end is not None and now > end:
            local = calendar_for(doc.get("pemda") or doc["region_code"]).local(end)
            raise NotAllowed(
                "Batas waktu membuka kembali (10 hari kerja sejak diselesaikan) sudah lewat pada "
                f"{local.isoformat(timespec='minutes')}"
            )
    elif isinstance(command, WithdrawComplaint):
        if status not in OPEN_STATES:
            raise NotAllowed(f"Pengaduan yang sudah selesai atau diarsipkan tidak dapat dicabut; {label}")
    else:
        raise AssertionError(f"not a reporter command: {command!r}")


def command_outcomes(batch: Sequence[Envelope]) -> dict[str, CommandOutcome]:
    """What lifecycle events say about commands: `CommandRejected` names its command; any other
    lifecycle event caused by a command carries the command id as its correlation id."""
    outcomes: dict[str, CommandOutcome] = {}
    for event in batch:
        if event.seq is None or not is_lifecycle(event.payload):
            continue  # clock and escalation events are derived from lifecycle events, not answers
        if isinstance(event.payload, CommandRejected):
            outcomes[event.payload.command_id] = ("rejected", event.payload.reason)
        elif event.correlation_id:
            outcomes.setdefault(event.correlation_id, ("accepted", None))
    return outcomes
