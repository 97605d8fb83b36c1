"""The lifecycle states of a complaint (DESIGN §2) and their Indonesian labels: one vocabulary for
routing, which decides the transitions, and intake, which shows them to citizens."""

from __future__ import annotations

from typing import Literal, get_args

State = Literal[
    "received", "triage", "assigned", "in_progress", "waiting_reporter", "resolved", "closed", "archived"
]
STATES: tuple[State, ...] = get_args(State)  # in the order above
OPEN_STATES = frozenset({"received", "triage", "assigned", "in_progress", "waiting_reporter"})
WITH_OPD = frozenset({"assigned", "in_progress", "waiting_reporter"})
STATE_LABELS: dict[str, str] = {
    "received": "Belum Terverifikasi",
    "triage": "di Admin Koordinator",
    "assigned": "Terdisposisi, belum ditindaklanjuti",
    "in_progress": "Sedang diproses",
    "waiting_reporter": "Menunggu tanggapan pelapor",
    "resolved": "Terdisposisi selesai",
    "closed": "Selesai",
    "archived": "Arsip",
}
