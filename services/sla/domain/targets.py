"""What the clocks are measured against: the DESIGN §5 default targets (working days, HK), the
`Rules` the clocks ask for a pemda's calendar and a clock's target, and the millisecond instants
the clocks keep (what the database stores, so a reloaded complaint computes exactly what the one
in memory would)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast, runtime_checkable

from shared.calendar import WorkingCalendar
from shared.events import REPORTER_REPLY_HK, ClockName, Tier

# Targets in working days (HK): the DESIGN defaults until service-standard data overrides them.
DEFAULT_TARGETS: dict[str, int] = {"verification": 3, "response": 5, "reporter_reply": REPORTER_REPLY_HK}
RESOLUTION_BY_TIER: dict[str, int] = {
    "ringan": 2,
    "normatif": 5,
    "tidak-berkadar-pengawasan": 14,
    "berkadar-pengawasan": 60,
}
# The clocks an OPD answers for: they pause while the reporter is asked, and their breach escalates.
OPD_CLOCKS: tuple[ClockName, ...] = ("response", "resolution")

CalendarFor = Callable[[str], WorkingCalendar]


@runtime_checkable
class Rules(Protocol):
    """What the clocks need from the outside world: calendars and service-standard targets."""

    def calendar(self, pemda: str) -> WorkingCalendar: ...

    def target_hk(
        self, clock: ClockName, *, pemda: str, opd_id: str | None, category: str | None, tier: Tier
    ) -> int: ...


@dataclass(frozen=True)
class DefaultRules:
    """The DESIGN default targets on the given calendars."""

    calendar_for: CalendarFor

    def calendar(self, pemda: str) -> WorkingCalendar:
        return self.calendar_for(pemda)

    def target_hk(
        self, clock: ClockName, *, pemda: str, opd_id: str | None, category: str | None, tier: Tier
    ) -> int:
        return RESOLUTION_BY_TIER[tier] if clock == "resolution" else DEFAULT_TARGETS[clock]


def as_rules(rules: Rules | CalendarFor) -> Rules:
    if hasattr(rules, "target_hk"):  # cheaper than isinstance on a runtime-checkable Protocol
        return cast(Rules, rules)
    return DefaultRules(rules)  # a bare calendar_for: the DESIGN targets


def ms(instant: datetime) -> datetime:
    """`instant` truncated to the millisecond (what the database keeps)."""
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def millis(span: timedelta) -> int:
    return span // timedelta(milliseconds=1)


def span(milliseconds: int) -> timedelta:
    return timedelta(milliseconds=milliseconds)
