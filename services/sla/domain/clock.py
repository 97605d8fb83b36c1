"""One clock's arithmetic (DESIGN §5): start it with its target's budget, stop, pause and resume it
on working time, recompute it for a new tier, say when it next warns or falls due, and describe
it as the snapshot `sla.events` carries. The functions work on a complaint's list of clocks; the
complaint (complaint.py) decides when each is called."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

from services.sla.domain.targets import OPD_CLOCKS, RESOLUTION_BY_TIER, Rules, millis, span
from shared.calendar import WorkingCalendar, zone_for
from shared.envelope import Payload
from shared.events import (
    BreachRetracted,
    ClockEvent,
    ClockName,
    ClockPaused,
    ClockRescheduled,
    ClockResumed,
    ClockStarted,
    ClockState,
    ClockStopped,
    CloseExpired,
    SlaBreached,
    SlaWarning,
    Tier,
)

WARNING_SHARE = (3, 4)  # warn when 75 % of the budget is used
Outcome = Literal["met", "transferred", "cancelled"]


@dataclass(frozen=True)
class Clock:
    clock_id: str
    clock: ClockName
    opd_id: str | None
    pemda: str
    started_at: datetime
    due_at: datetime | None  # None while paused
    budget_ms: int
    state: ClockState = "running"
    stopped_at: datetime | None = None
    version: int = 1
    target_hk: int = 0
    remaining_ms: int | None = None  # set while paused (and kept if it stops paused)
    warn_at: datetime | None = None  # the pending warning instant
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    paused_ever: bool = False
    end_reason: str | None = None  # answered, info-requested, resolved, transferred, assigned, …

    @property
    def open(self) -> bool:
        return self.stopped_at is None

    @property
    def running(self) -> bool:
        """Open, not paused, not breached: its due and warning are still ahead of it."""
        return self.open and self.state == "running"

    @property
    def budget_seconds(self) -> int:
        return self.budget_ms // 1000


@dataclass(order=True, frozen=True)
class Due:
    """A time-driven transition: a clock's warning, breach or expiry, or an escalation level."""

    at: datetime
    order: int  # at the same instant: warnings, then breaches/expiries, then escalations
    key: str  # the clock's position, or the escalation level
    kind: Literal["warning", "breach", "expiry", "escalation"] = field(compare=False)


def warning_instant(
    name: ClockName, calendar: WorkingCalendar, anchor: datetime, budget_ms: int, remaining_ms: int
) -> datetime | None:
    """When 75 % of the budget will be used, for a clock running from `anchor` with
    `remaining_ms` left; None for the reporter's clock (a window, not an obligation) and for a
    zero budget."""
    if name == "reporter_reply" or budget_ms <= 0:
        return None
    num, den = WARNING_SHARE
    still_to_use = remaining_ms - (budget_ms - budget_ms * num // den)
    return calendar.add_working_time(anchor, span(still_to_use)) if still_to_use > 0 else anchor


def start(
    clocks: list[Clock],
    complaint_id: str,
    name: ClockName,
    opd_id: str | None,
    pemda: str,
    at: datetime,
    target: int,
    calendar: WorkingCalendar,
) -> ClockStarted:
    due = calendar.due(at, target)
    budget = millis(calendar.working_time(at, due))
    number = 1 + sum(1 for c in clocks if c.clock == name)
    clock = Clock(
        clock_id=f"{complaint_id}/{name}/{number}",
        clock=name,
        opd_id=opd_id,
        pemda=pemda,
        started_at=at,
        due_at=due,
        budget_ms=budget,
        target_hk=target,
        warn_at=warning_instant(name, calendar, at, budget, budget),
    )
    clocks.append(clock)
    return snapshot(ClockStarted, clock, at)


def stop(
    clocks: list[Clock], which: Callable[[Clock], bool], at: datetime, outcome: Outcome, reason: str
) -> list[Payload]:
    out: list[Payload] = []
    for i, clock in enumerate(clocks):
        if not clock.open or not which(clock):
            continue
        # A breach stays a breach; a clock stopped exactly at its due is on time (DESIGN §5):
        # a breach at the due is only applied before events strictly after it.
        final: ClockState = "breached" if clock.breached_at is not None else outcome
        stopped = replace(
            clock, state=final, stopped_at=at, warn_at=None, end_reason=reason, version=clock.version + 1
        )
        clocks[i] = stopped
        out.append(snapshot(ClockStopped, stopped, at))
    return out


def pause(clocks: list[Clock], at: datetime, rules: Rules) -> list[Payload]:
    out: list[Payload] = []
    for i, clock in enumerate(clocks):
        # A breached clock does not pause (DESIGN §5); reporter_reply never pauses.
        if clock.clock not in OPD_CLOCKS or not clock.running or clock.due_at is None:
            continue
        remaining = millis(rules.calendar(clock.pemda).working_time(at, clock.due_at))
        paused = replace(
            clock,
            state="paused",
            due_at=None,
            remaining_ms=remaining,
            warn_at=None,
            paused_ever=True,
            version=clock.version + 1,
        )
        clocks[i] = paused
        out.append(snapshot(ClockPaused, paused, at))
    return out


def resume(clocks: list[Clock], at: datetime, rules: Rules) -> list[Payload]:
    out: list[Payload] = []
    for i, clock in enumerate(clocks):
        if not clock.open or clock.state != "paused" or clock.remaining_ms is None:
            continue
        calendar = rules.calendar(clock.pemda)
        remaining = clock.remaining_ms
        resumed = replace(
            clock,
            state="running",
            due_at=calendar.add_working_time(at, span(remaining)),
            remaining_ms=None,
            warn_at=None
            if clock.warned_at
            else warning_instant(clock.clock, calendar, at, clock.budget_ms, remaining),
            version=clock.version + 1,
        )
        clocks[i] = resumed
        out.append(snapshot(ClockResumed, resumed, at))
    return out


def retier(
    clocks: list[Clock], tier: Tier | None, targets: dict[str, int], at: datetime, rules: Rules
) -> list[Payload]:
    """Recompute the open resolution clock's due from its start with the new tier's target. If it
    was ever paused, the working time already used is kept and the new remainder runs from the
    change (an overdue remainder breaches at the change)."""
    out: list[Payload] = []
    for i, clock in enumerate(clocks):
        if clock.clock != "resolution" or not clock.open:
            continue
        target = targets.get("resolution", RESOLUTION_BY_TIER[tier or "normatif"])
        calendar = rules.calendar(clock.pemda)
        full_due = calendar.due(clock.started_at, target)
        budget = millis(calendar.working_time(clock.started_at, full_due))
        changes: dict[str, Any] = {"budget_ms": budget, "target_hk": target}
        if not clock.paused_ever:
            changes["due_at"] = full_due
            remaining_now = millis(calendar.working_time(at, full_due))
        else:
            if clock.state == "paused" and clock.remaining_ms is not None:
                used = clock.budget_ms - clock.remaining_ms
            else:
                left = millis(calendar.working_time(at, clock.due_at)) if clock.due_at else 0
                used = clock.budget_ms - left
            remaining_now = budget - used
            if clock.state == "paused" and remaining_now > 0:
                changes["remaining_ms"] = remaining_now
            else:
                # Running, or paused with nothing left (a clock out of budget no longer pauses).
                changes["state"] = "breached" if clock.breached_at else "running"
                changes["remaining_ms"] = None
                changes["due_at"] = (
                    calendar.add_working_time(at, span(remaining_now)) if remaining_now > 0 else at
                )
        if clock.breached_at is None and clock.warned_at is None:
            if not clock.paused_ever:
                changes["warn_at"] = warning_instant(clock.clock, calendar, clock.started_at, budget, budget)
            elif changes.get("state", clock.state) == "running":
                changes["warn_at"] = warning_instant(clock.clock, calendar, at, budget, max(remaining_now, 0))
        moved = replace(clock, **changes)
        if moved == clock:
            continue
        moved = replace(moved, version=clock.version + 1)
        clocks[i] = moved
        out.append(snapshot(ClockRescheduled, moved, at, reason=f"tingkat diubah menjadi {tier}"))
    return out


# --- time -----------------------------------------------------------------------------------------


def dues(clocks: Sequence[Clock]) -> list[Due]:
    """The running clocks' pending warnings and dues (the reporter's clock expires, the others
    breach)."""
    pending: list[Due] = []
    for i, clock in enumerate(clocks):
        if not clock.running:
            continue
        key = f"{i:06d}"  # at the same instant, clocks in the order they started
        if clock.warn_at is not None and clock.warned_at is None:
            pending.append(Due(clock.warn_at, 0, key, "warning"))
        if clock.due_at is not None:
            kind: Literal["breach", "expiry"] = "expiry" if clock.clock == "reporter_reply" else "breach"
            pending.append(Due(clock.due_at, 1, key, kind))
    return pending


def fire(clocks: list[Clock], due: Due) -> list[Payload]:
    """Apply a clock's warning, expiry or breach at its own instant."""
    i = int(due.key)
    clock = clocks[i]
    if due.kind == "warning":
        warned = replace(clock, warn_at=None, warned_at=due.at, version=clock.version + 1)
        clocks[i] = warned
        return [snapshot(SlaWarning, warned, due.at)]
    if due.kind == "expiry":
        expired = replace(
            clock, state="met", stopped_at=due.at, end_reason="expired", version=clock.version + 1
        )
        clocks[i] = expired
        return [snapshot(ClockStopped, expired, due.at), CloseExpired(clock_id=clock.clock_id)]
    breached = replace(clock, state="breached", breached_at=due.at, warn_at=None, version=clock.version + 1)
    clocks[i] = breached
    return [snapshot(SlaBreached, breached, due.at)]


# --- corrections ----------------------------------------------------------------------------------


def corrections(
    old_clocks: Sequence[Clock], fresh: Sequence[Clock], at: datetime, reason: str
) -> tuple[list[Clock], list[Payload]]:
    """The clocks to keep after a rebuild (`fresh`, versions continuing the announced ones) and
    the differences to announce as corrections."""
    out: list[Payload] = []
    before = {c.clock_id: c for c in old_clocks}
    adopted: list[Clock] = []
    for new in fresh:
        old = before.get(new.clock_id)
        if old is None:
            adopted.append(new)
            out.append(snapshot(_kind_of_new(new), new, new.started_at))
            continue
        if _announced(old) == _announced(new):
            adopted.append(replace(new, version=old.version))
            continue
        new = replace(new, version=max(old.version, new.version) + 1)
        adopted.append(new)
        out.append(_correction(old, new, at, reason))
        if new.end_reason == "expired" and old.end_reason != "expired":
            out.append(CloseExpired(clock_id=new.clock_id))
    return adopted, out


def _announced(clock: Clock) -> tuple[Any, ...]:
    """What a clock event shows (and what a correction must announce when it changes)."""
    return (
        clock.state,
        clock.due_at,
        clock.remaining_ms,
        clock.budget_ms,
        clock.stopped_at,
        clock.breached_at,
        clock.warned_at,
        clock.end_reason,
        clock.pemda,
        clock.opd_id,
        clock.started_at,
    )


def _kind_of_new(clock: Clock) -> type[ClockEvent]:
    if clock.stopped_at is not None:
        return ClockStopped
    if clock.breached_at is not None:
        return SlaBreached
    if clock.state == "paused":
        return ClockPaused
    return ClockStarted


def _correction(old: Clock, new: Clock, at: datetime, reason: str) -> ClockEvent:
    if old.breached_at is not None and new.breached_at is None:
        return snapshot(BreachRetracted, new, at, reason=reason)
    if new.breached_at is not None and old.breached_at is None:
        return snapshot(SlaBreached, new, new.breached_at)
    if new.stopped_at is not None and (old.stopped_at != new.stopped_at or old.end_reason != new.end_reason):
        return snapshot(ClockStopped, new, new.stopped_at)
    if old.state == "running" and new.state == "paused":
        return snapshot(ClockPaused, new, at)
    if old.state == "paused" and new.state != "paused":
        return snapshot(ClockResumed, new, at)
    if new.warned_at is not None and old.warned_at is None and new.open:
        return snapshot(SlaWarning, new, new.warned_at)
    return snapshot(ClockRescheduled, new, at, reason=reason)


E = TypeVar("E", bound=ClockEvent)


@cache
def _zone(pemda: str) -> ZoneInfo:
    return zone_for(pemda)


def snapshot(kind: type[E], clock: Clock, at: datetime, **extra: Any) -> E:
    """The clock's whole state after a change; the due in the pemda's local offset. Built without
    re-validation: every field comes from a clock the domain itself keeps valid (a replay of a
    million complaints builds millions of these)."""
    zone = _zone(clock.pemda)
    made = kind.model_construct(
        clock_id=clock.clock_id,
        clock=clock.clock,
        opd_id=clock.opd_id,
        pemda=clock.pemda,
        started_at=clock.started_at.astimezone(zone),
        due_at=clock.due_at.astimezone(zone) if clock.due_at is not None else None,
        budget_seconds=clock.budget_seconds,
        remaining_seconds=clock.remaining_ms // 1000 if clock.remaining_ms is not None else None,
        state=clock.state,
        at=at,
        version=clock.version,
        **extra,
    )
    return cast(E, made)
