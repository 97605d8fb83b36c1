"""SLA clocks of one complaint (DESIGN §5, normative), driven only by lifecycle events.

Pure: no I/O. Every computation uses the event's `occurred_at`, never the time of processing, so
replaying `complaints.events` gives the same clocks. `ComplaintClocks.apply` returns the clock
events to announce on `sla.events`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from shared.calendar import WorkingCalendar
from shared.envelope import Envelope, Payload
from shared.events import (
    ClockName,
    ClockStarted,
    ClockStopped,
    ComplaintAssigned,
    ComplaintReceived,
    ComplaintTriaged,
    Tier,
)

ClockState = Literal["running", "paused", "met", "breached", "transferred", "cancelled"]

# Targets in working days (HK): the DESIGN defaults until service-standard data overrides them.
DEFAULT_TARGETS: dict[str, int] = {"verification": 3, "response": 5, "reporter_reply": 10}
RESOLUTION_BY_TIER: dict[str, int] = {
    "ringan": 2,
    "normatif": 5,
    "tidak-berkadar-pengawasan": 14,
    "berkadar-pengawasan": 60,
}

CalendarFor = Callable[[str], WorkingCalendar]


@dataclass(frozen=True)
class Clock:
    clock_id: str
    clock: ClockName
    opd_id: str | None
    pemda: str
    started_at: datetime
    due_at: datetime
    budget_seconds: int
    state: ClockState = "running"
    stopped_at: datetime | None = None
    version: int = 1

    @property
    def open(self) -> bool:
        return self.state in ("running", "paused")


@dataclass
class ComplaintClocks:
    complaint_id: str
    pemda: str | None = None
    last_seq: int = 0
    tier: Tier = "normatif"
    clocks: list[Clock] = field(default_factory=list)

    def already_applied(self, seq: int) -> bool:
        return seq <= self.last_seq

    def apply(self, event: Envelope, calendar_for: CalendarFor) -> list[Payload]:
        """Apply one lifecycle event (seq > last_seq); the clock events it causes, in order."""
        assert event.seq is not None and event.seq > self.last_seq
        self.last_seq = event.seq
        at = event.occurred_at
        payload = event.payload
        if isinstance(payload, ComplaintReceived):
            self.pemda = payload.pemda
            return [self._start("verification", None, payload.pemda, payload.submitted_at, calendar_for)]
        if isinstance(payload, ComplaintAssigned):
            announced: list[Payload] = self._stop(("verification",), at, None)
            self.tier = payload.tier
            announced.append(self._start("response", payload.opd_id, payload.pemda, at, calendar_for))
            announced.append(self._start("resolution", payload.opd_id, payload.pemda, at, calendar_for))
            return announced
        if isinstance(payload, ComplaintTriaged):
            return []  # verification keeps running until a coordinator disposes (DESIGN §4)
        return []  # lifecycle events that move no clock (yet)

    def _start(
        self, name: ClockName, opd_id: str | None, pemda: str, at: datetime, calendar_for: CalendarFor
    ) -> ClockStarted:
        calendar = calendar_for(pemda)
        target = RESOLUTION_BY_TIER[self.tier] if name == "resolution" else DEFAULT_TARGETS[name]
        due = calendar.due(at, target)
        number = 1 + sum(1 for c in self.clocks if c.clock == name)
        clock = Clock(
            clock_id=f"{self.complaint_id}/{name}/{number}",
            clock=name,
            opd_id=opd_id,
            pemda=pemda,
            started_at=at,
            due_at=due,
            budget_seconds=int(calendar.working_time(at, due).total_seconds()),
        )
        self.clocks.append(clock)
        return ClockStarted(
            clock_id=clock.clock_id,
            clock=name,
            opd_id=opd_id,
            pemda=pemda,
            started_at=at,
            due_at=due,
            budget_seconds=clock.budget_seconds,
            state="running",
            at=at,
            version=clock.version,
        )

    def _stop(
        self, names: tuple[ClockName, ...], at: datetime, outcome: Literal["transferred", "cancelled"] | None
    ) -> list[Payload]:
        announced: list[Payload] = []
        for i, clock in enumerate(self.clocks):
            if clock.clock not in names or not clock.open:
                continue
            # A clock stopped exactly at its due is on time (DESIGN §5).
            final: ClockState = outcome or ("met" if at <= clock.due_at else "breached")
            stopped = replace(clock, state=final, stopped_at=at, version=clock.version + 1)
            self.clocks[i] = stopped
            announced.append(
                ClockStopped(
                    clock_id=clock.clock_id,
                    clock=clock.clock,
                    opd_id=clock.opd_id,
                    pemda=clock.pemda,
                    started_at=clock.started_at,
                    due_at=clock.due_at,
                    budget_seconds=clock.budget_seconds,
                    state=final,
                    at=at,
                    version=stopped.version,
                )
            )
        return announced
