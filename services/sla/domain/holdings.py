"""Who held the complaint and for how long (DESIGN §5, transfers): each stay at an OPD with the
working time it lasted, and per OPD the accountability that misrouting metrics read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.sla.domain.clock import Clock
from services.sla.domain.targets import Rules, millis


@dataclass(frozen=True)
class Holding:
    """One stay of the complaint at an OPD."""

    opd_id: str
    pemda: str
    since: datetime
    until: datetime | None = None
    outcome: str | None = None  # transferred, resolved, closed
    working_ms: int = 0
    via: str | None = None  # how it came: routing, disposition, transfer, reopen (None: before it was kept)


@dataclass(frozen=True)
class OpdAccount:
    """Per-OPD accountability of one complaint (issue 6 item 5)."""

    opd_id: str
    held_seconds: int  # working time of the finished stays
    open_since: datetime | None  # the OPD holds it now, since then
    transfers_out: int
    misrouted_seconds: int  # working time of stays that ended in a transfer away
    breaches: int  # breached clocks the OPD held


def end_stay(holdings: list[Holding], at: datetime, outcome: str, rules: Rules) -> None:
    """The current stay (if any) ends at `at`, with its working time on the holder's calendar."""
    if holdings and holdings[-1].until is None:
        h = holdings[-1]
        worked = millis(rules.calendar(h.pemda).working_time(h.since, at))
        holdings[-1] = replace(h, until=at, outcome=outcome, working_ms=worked)


def accountability(holdings: Sequence[Holding], clocks: Sequence[Clock]) -> list[OpdAccount]:
    held: dict[str, int] = {}
    open_since: dict[str, datetime | None] = {}
    out: dict[str, int] = {}
    misrouted: dict[str, int] = {}
    for h in holdings:
        held.setdefault(h.opd_id, 0)
        open_since.setdefault(h.opd_id, None)
        if h.until is None:
            open_since[h.opd_id] = h.since
        else:
            held[h.opd_id] += h.working_ms
        if h.outcome == "transferred":
            out[h.opd_id] = out.get(h.opd_id, 0) + 1
            misrouted[h.opd_id] = misrouted.get(h.opd_id, 0) + h.working_ms
    breaches: dict[str, int] = {}
    for c in clocks:
        if c.breached_at is not None and c.opd_id is not None:
            breaches[c.opd_id] = breaches.get(c.opd_id, 0) + 1
    return [
        OpdAccount(
            opd_id=opd,
            held_seconds=held[opd] // 1000,
            open_since=open_since[opd],
            transfers_out=out.get(opd, 0),
            misrouted_seconds=misrouted.get(opd, 0) // 1000,
            breaches=breaches.get(opd, 0),
        )
        for opd in held
    ]
