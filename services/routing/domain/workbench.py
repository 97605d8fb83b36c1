"""What the handler workbench (entrypoints/workbench_pages.py) shows of a complaint's clocks and
history, as pure functions: how close a clock is to its breach, the countdown's words, the
timeline's labels, and which of the handler's actions the complaint's state admits (the
lifecycle's own `ALLOWED` table, so the page never offers what `decide` would refuse by state).

How close: routing knows each clock's due and, from its snapshots, when it started (sla's
`ClockEvent.started_at`). The share used is measured in wall time between the two, which is not
sla's working time: the colour turns at WARNING_SHARE of that span, near enough to sla's own
warning at 75 % of the working budget for a colour, and never claimed to be the same instant.
A clock whose start routing has not seen yet turns at `NEAR` before its due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from services.routing.domain import lifecycle as lc

Urgency = Literal["aman", "dekat", "lewat", "jeda", "berhenti"]
WARNING_SHARE = 0.75
NEAR = timedelta(days=1)

URGENCY_LABELS: dict[str, str] = {
    "aman": "Masih aman",
    "dekat": "Mendekati batas waktu",
    "lewat": "Melewati batas waktu",
    "jeda": "Dijeda",
    "berhenti": "Berhenti",
}
CLOCK_LABELS: dict[str, str] = {
    "verification": "Verifikasi (Admin Koordinator)",
    "response": "Tanggapan awal OPD",
    "resolution": "Penyelesaian OPD",
    "reporter_reply": "Tanggapan pelapor",
}
CLOCK_STATE_LABELS: dict[str, str] = {
    "running": "berjalan",
    "paused": "dijeda",
    "met": "terpenuhi",
    "breached": "terlambat (masih berjalan)",
    "transferred": "berpindah OPD",
    "cancelled": "dibatalkan",
}
EVENT_LABELS: dict[str, str] = {
    "ComplaintAssigned": "Didisposisikan ke OPD",
    "ComplaintClaimed": "Diambil petugas",
    "ComplaintAnswered": "Dijawab kepada pelapor",
    "InformationRequested": "Informasi diminta dari pelapor",
    "InformationAdded": "Pelapor menambah informasi",
    "TierChanged": "Tingkat diubah",
    "ComplaintTransferred": "Dialihkan (bukan wewenang)",
    "ComplaintResolved": "Diselesaikan",
    "ComplaintReopened": "Dibuka kembali oleh pelapor",
    "ComplaintClosed": "Ditutup",
    "ComplaintUpdated": "Data pengaduan diubah",
    "ComplaintAbsorbed": "Digabungkan",
    "ComplaintArchived": "Diarsipkan",
    "OpdAssignmentNotice": "Pemberitahuan disposisi",
}


def event_label(kind: str, data: dict[str, Any]) -> str:
    """A timeline entry's words: an assignment that came by transfer says so (the receiving OPD's
    feed holds the assignment; the transfer itself is in the sending OPD's)."""
    if kind == "ComplaintAssigned" and data.get("via") == "transfer":
        return "Diterima dari pengalihan OPD lain (bukan wewenang OPD tersebut)"
    return EVENT_LABELS.get(kind, kind)


# The texts of a timeline entry a person reads, in the order shown (feed entries hold them masked
# already when the complaint is anonymous: domain/complaint.py `feed_entry`).
EVENT_TEXTS: dict[str, str] = {
    "message": "Pesan",
    "answer": "Jawaban",
    "reason": "Alasan",
    "comment": "Komentar",
    "tier": "Tingkat",
    "from_opd_id": "Dari OPD",
    "to_opd_id": "Ke OPD",
    "handler": "Petugas",
}

# The workbench's action names (the path's last part) → the lifecycle action they are.
ACTIONS: dict[str, type] = {
    "ambil": lc.Claim,
    "jawab": lc.Answer,
    "minta-info": lc.RequestInfo,
    "tingkat": lc.SetTier,
    "selesaikan": lc.Resolve,
    "alihkan": lc.Transfer,
}


@dataclass(frozen=True)
class ClockView:
    name: str
    label: str
    state: str
    state_label: str
    due: datetime | None
    started: datetime | None
    urgency: Urgency
    urgency_label: str
    countdown: str


def urgency(due: datetime | None, started: datetime | None, now: datetime, state: str = "running") -> Urgency:
    if state in ("met", "transferred", "cancelled"):
        return "berhenti"
    if state == "paused" or due is None:
        return "jeda"
    if state == "breached" or now >= due:
        return "lewat"
    if started is not None and due > started:
        share = (now - started) / (due - started)
        return "dekat" if share >= WARNING_SHARE else "aman"
    return "dekat" if due - now <= NEAR else "aman"


def countdown(due: datetime | None, now: datetime) -> str:
    """'sisa 2 hari 3 jam' / 'lewat 5 jam' / '' (no due)."""
    if due is None:
        return ""
    left = due - now
    late = left < timedelta(0)
    minutes = int(abs(left).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        words = f"{days} hari {hours} jam"
    elif hours:
        words = f"{hours} jam {mins} menit"
    else:
        words = f"{mins} menit"
    return f"lewat {words}" if late else f"sisa {words}"


def clocks(dues: dict[str, Any] | None, now: datetime) -> list[ClockView]:
    """The complaint's clocks as routing last heard of them (its `dues`), nearest due first."""
    views = []
    for snap in (dues or {}).values():
        due, started, state = snap.get("due"), snap.get("started"), snap.get("state", "running")
        level = urgency(due, started, now, state)
        views.append(
            ClockView(
                name=snap["clock"],
                label=CLOCK_LABELS.get(snap["clock"], snap["clock"]),
                state=state,
                state_label=CLOCK_STATE_LABELS.get(state, state),
                due=due,
                started=started,
                urgency=level,
                urgency_label=URGENCY_LABELS[level],
                countdown=countdown(due, now) if level in ("aman", "dekat", "lewat") else "",
            )
        )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(views, key=lambda v: (v.urgency == "berhenti", v.due or far))


def nearest(dues: dict[str, Any] | None, now: datetime) -> ClockView | None:
    """The clock the queue's countdown shows: the nearest running one the OPD answers for (the
    reporter's reply window is the reporter's, not the handler's)."""
    running = [
        c for c in clocks(dues, now) if c.urgency in ("aman", "dekat", "lewat") and c.name != "reporter_reply"
    ]
    return running[0] if running else None


def offered(state: str) -> list[str]:
    """The workbench actions the complaint's state admits (`lc.ALLOWED`); the rest of `decide`'s
    rules (the lease, texts, the transfer limits) still answer when the form is sent."""
    return [name for name, kind in ACTIONS.items() if state in lc.ALLOWED[kind]]
