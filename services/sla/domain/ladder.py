"""The escalation ladder of one complaint (DESIGN §5): level 1 at a `response`/`resolution` breach,
level 2 when still unresolved 5 HK after level 1, level 3 when level 1 was reached and the
complaint is still unresolved 60 calendar days after submission. The level never goes down in
life (a transfer does not reset it); only a recompute that retracts the breach behind it does.

Level 2 is due "5 HK after level 1" as DESIGN §5 defines "N HK from t" (end of the 5th working
day after level 1's date), on the calendar of the clock that breached. A level that falls due
while the complaint is resolved is raised if it is reopened (at the reopen instant)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from services.sla.domain.clock import Due
from services.sla.domain.targets import Rules
from shared.envelope import Payload
from shared.events import EscalationRaised, EscalationRetracted

LEVEL_2_HK = 5
LEVEL_3_DAYS = 60


@dataclass(frozen=True)
class EscalationStep:
    level: int
    at: datetime
    opd_id: str | None
    pemda: str | None  # whose calendar counts the next level's working days
    reason: str
    kind: Literal["raised", "retracted"] = "raised"  # the reports record retractions too


@dataclass
class Escalation:
    level: int = 0
    steps: list[EscalationStep] = field(default_factory=list)
    level_2_at: datetime | None = None  # when level 2 falls due (set with level 1)

    def dues(self, unresolved_since: datetime | None, submitted_at: datetime | None) -> list[Due]:
        """The next levels' instants while the complaint is open (never before it was last
        unresolved: a level due while it was resolved is raised at its reopening)."""
        if not 1 <= self.level < 3 or not self.steps:
            return []
        first = self.steps[0]
        since = unresolved_since or first.at
        pending: list[Due] = []
        if self.level < 2 and self.level_2_at is not None:
            pending.append(Due(max(self.level_2_at, since), 2, "2", "escalation"))
        if submitted_at is not None:
            level_3 = max(submitted_at + timedelta(days=LEVEL_3_DAYS), first.at, since)
            pending.append(Due(level_3, 2, "3", "escalation"))
        return pending

    def raise_to(
        self, level: int, at: datetime, opd_id: str | None, pemda: str | None, reason: str, rules: Rules
    ) -> EscalationRaised:
        self.level = level
        self.steps.append(EscalationStep(level, at, opd_id, pemda, reason))
        if level == 1 and pemda is not None:
            # "5 HK after level 1" on the calendar of the pemda whose clock breached.
            self.level_2_at = rules.calendar(pemda).due(at, LEVEL_2_HK)
        return EscalationRaised(level=level, opd_id=opd_id, reason=reason, at=at)

    def corrections(self, fresh: Escalation, at: datetime, reason: str) -> list[Payload]:
        """What to announce when a rebuild's ladder (`fresh`) replaces this one."""
        if fresh.level > self.level:
            return [
                EscalationRaised(level=s.level, opd_id=s.opd_id, reason=s.reason, at=s.at)
                for s in fresh.steps
                if s.level > self.level
            ]
        if fresh.level < self.level:
            return [EscalationRetracted(level=fresh.level, reason=reason, at=at)]
        return []


def reason_for(level: int) -> str:
    """Why a time-driven level (2 or 3) is raised, as supervisors read it."""
    if level == 2:
        return f"belum selesai {LEVEL_2_HK} hari kerja setelah eskalasi tingkat 1"
    return f"belum selesai {LEVEL_3_DAYS} hari sejak diajukan setelah eskalasi"
