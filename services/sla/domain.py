"""SLA clocks of one complaint (DESIGN §5, normative), driven only by lifecycle events and by time.

Pure: no I/O. `ComplaintClocks` is one complaint's clocks, escalation ladder and per-OPD
accountability. Two things move it:

- `apply(event, rules)`: one lifecycle event from `complaints.events`, at its `occurred_at`.
- `advance(until, rules)`: the time-driven transitions (warnings at 75 % of a budget, breaches
  at a due, `reporter_reply` expiry, escalation levels 2 and 3) whose instants fall at or before
  `until`. Each transition happens *at its own instant* (the warning instant, the due), never at
  the moment it is detected, so detection lag never changes a result.

Both return the payloads to announce (clock snapshots with a per-clock `version`, escalations,
and `CloseExpired` for the lifecycle owner). Before an event at t is applied, every transition
strictly before t is applied first (a clock stopped exactly at its due is on time), so the clocks
are a function of the events alone: replaying `complaints.events` into an empty store, then
advancing to now, gives the same clocks as living through them.

An event can arrive after the detector already applied a transition at or after its instant
(the detector raced the consumer). Then the complaint is rebuilt: its stored facts (a compact
copy of every lifecycle event that matters to clocks) are replayed with the late event, advanced
to where the detector was, and the difference is announced as corrections — the same machinery
a calendar change uses (`rebuild`).

Decisions (where DESIGN leaves room):
- A breached clock stays `breached` whatever stops it later (answer, resolution, transfer,
  withdrawal): "a breached clock stays breached", and the breach stays with the OPD that held it.
  `end_reason` records why it stopped.
- `reporter_reply` is the reporter's window, not anyone's obligation: it never warns, never
  breaches and never escalates. It ends `met` whichever way it ends — feedback, reopen, or expiry
  at its due (`end_reason="expired"`), when sla also sends `CloseExpired` to routing.
- Targets are resolved once, when an event is first applied, and recorded in its fact: a replay
  or a recompute reuses them, so a later change of the service standard never rewrites old clocks
  (a calendar change does — that is what recompute is for).
- A tier change recomputes the open resolution clock from its start: due = start + new target.
  If the clock was ever paused, the working time already used is kept and the new remainder runs
  from the change (an overdue remainder breaches at the change).
- Escalation level 2 is due "5 HK after level 1" as DESIGN §5 defines "N HK from t" (end of the
  5th working day after level 1's date), on the calendar of the clock that breached. Level 3 is due
  60 calendar days after submission, once level 1 is reached. A level that falls due while the
  complaint is resolved is raised if it is reopened (at the reopen instant).
- Instants are kept to the millisecond (what the database stores), so a reloaded complaint
  computes exactly what the one in memory would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Literal, Protocol, TypeVar, cast, runtime_checkable
from zoneinfo import ZoneInfo

from shared.calendar import WorkingCalendar, zone_for
from shared.envelope import Envelope, Payload
from shared.events import (
    REPORTER_REPLY_HK,
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
    ComplaintAnswered,
    ComplaintArchived,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintReceived,
    ComplaintReopened,
    ComplaintResolved,
    ComplaintTransferred,
    ComplaintTriaged,
    ComplaintUpdated,
    EscalationRaised,
    EscalationRetracted,
    InformationAdded,
    InformationRequested,
    SlaBreached,
    SlaWarning,
    Tier,
    TierChanged,
)

__all__ = [
    "DEFAULT_TARGETS",
    "RESOLUTION_BY_TIER",
    "CalendarFor",
    "Clock",
    "ClockState",
    "ComplaintClocks",
    "DefaultRules",
    "Escalation",
    "Fact",
    "Holding",
    "OpdAccount",
    "Rules",
]

# Targets in working days (HK): the DESIGN defaults until service-standard data overrides them.
DEFAULT_TARGETS: dict[str, int] = {"verification": 3, "response": 5, "reporter_reply": REPORTER_REPLY_HK}
RESOLUTION_BY_TIER: dict[str, int] = {
    "ringan": 2,
    "normatif": 5,
    "tidak-berkadar-pengawasan": 14,
    "berkadar-pengawasan": 60,
}
WARNING_SHARE = (3, 4)  # warn when 75 % of the budget is used
LEVEL_2_HK = 5
LEVEL_3_DAYS = 60
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


def _millis(span: timedelta) -> int:
    return span // timedelta(milliseconds=1)


def _span(millis: int) -> timedelta:
    return timedelta(milliseconds=millis)


# --- facts: the compact lifecycle events a complaint's clocks are rebuilt from ------------------


@dataclass(frozen=True)
class Fact:
    """One lifecycle event, reduced to what the clocks need (no text, no identity)."""

    seq: int
    at: datetime
    kind: str
    pemda: str | None = None
    opd_id: str | None = None
    category: str | None = None
    tier: Tier | None = None
    via: str | None = None
    outcome: str | None = None
    submitted_at: datetime | None = None
    targets: dict[str, int] = field(default_factory=dict)  # HK per clock, resolved when first applied

    @classmethod
    def of(cls, event: Envelope) -> Fact | None:
        """The fact of a lifecycle event, or None when the event moves no clock."""
        assert event.seq is not None
        p = event.payload
        base: dict[str, Any] = {"seq": event.seq, "at": ms(event.occurred_at), "kind": p.TYPE}
        if isinstance(p, ComplaintReceived):
            return cls(**base, pemda=p.pemda, category=p.category, submitted_at=ms(p.submitted_at))
        if isinstance(p, ComplaintAssigned):
            return cls(**base, pemda=p.pemda, opd_id=p.opd_id, category=p.category, tier=p.tier, via=p.via)
        if isinstance(p, ComplaintTriaged):
            return cls(**base, pemda=p.pemda, category=p.category, via=p.via)
        if isinstance(p, ComplaintUpdated):
            return cls(**base, pemda=p.pemda, category=p.category)
        if isinstance(p, ComplaintAnswered | InformationRequested | ComplaintResolved):
            return cls(**base, opd_id=p.opd_id)
        if isinstance(p, InformationAdded):
            return cls(**base) if p.resumed else None  # added information alone moves nothing
        if isinstance(p, TierChanged):
            return cls(**base, opd_id=p.opd_id, tier=p.tier)
        if isinstance(p, ComplaintTransferred):
            return cls(**base, opd_id=p.from_opd_id)
        if isinstance(p, ComplaintReopened):
            return cls(**base, opd_id=p.opd_id)
        if isinstance(p, ComplaintClosed):
            return cls(**base, outcome=p.outcome)
        if isinstance(p, ComplaintArchived):
            return cls(**base)
        return None  # claims, rejected commands: no clock moves


# --- state ---------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class EscalationStep:
    level: int
    at: datetime
    opd_id: str | None
    pemda: str | None  # whose calendar counts the next level's working days
    reason: str


@dataclass
class Escalation:
    level: int = 0
    steps: list[EscalationStep] = field(default_factory=list)
    level_2_at: datetime | None = None  # when level 2 falls due (set with level 1)


@dataclass(frozen=True)
class Holding:
    """One stay of the complaint at an OPD."""

    opd_id: str
    pemda: str
    since: datetime
    until: datetime | None = None
    outcome: str | None = None  # transferred, resolved, closed
    working_ms: int = 0


@dataclass(frozen=True)
class OpdAccount:
    """Per-OPD accountability of one complaint (issue 6 item 5)."""

    opd_id: str
    held_seconds: int  # working time of the finished stays
    open_since: datetime | None  # the OPD holds it now, since then
    transfers_out: int
    misrouted_seconds: int  # working time of stays that ended in a transfer away
    breaches: int  # breached clocks the OPD held


ComplaintStatus = Literal["open", "resolved", "closed"]


@dataclass(order=True, frozen=True)
class _Due:
    at: datetime
    order: int  # at the same instant: warnings, then breaches/expiries, then escalations
    key: str  # the clock's position, or the escalation level
    kind: Literal["warning", "breach", "expiry", "escalation"] = field(compare=False)


@dataclass
class ComplaintClocks:
    complaint_id: str
    pemda: str | None = None
    last_seq: int = 0
    tier: Tier = "normatif"
    category: str | None = None
    submitted_at: datetime | None = None
    status: ComplaintStatus = "open"
    unresolved_since: datetime | None = None
    clocks: list[Clock] = field(default_factory=list)
    history: list[Fact] = field(default_factory=list)
    checked_until: datetime | None = None  # the latest instant of an applied time-driven transition
    escalation: Escalation = field(default_factory=Escalation)
    holder: str | None = None
    holder_pemda: str | None = None
    holdings: list[Holding] = field(default_factory=list)
    transfers: int = 0

    # --- reading ---------------------------------------------------------------------------

    def already_applied(self, seq: int) -> bool:
        return seq <= self.last_seq

    def next_check(self) -> datetime | None:
        """The earliest instant at which time alone changes these clocks (indexed for detection)."""
        pending = self._pending()
        return min(pending).at if pending else None

    def next_due(self) -> datetime | None:
        dues = [c.due_at for c in self.clocks if c.running and c.due_at is not None]
        return min(dues) if dues else None

    def governing_pemdas(self) -> list[str]:
        """Every pemda whose calendar computes one of these clocks, with their provinces (a
        province's extra dates bind its kab/kota): what a calendar change must recompute."""
        found: set[str] = set()
        for pemda in [c.pemda for c in self.clocks] + [h.pemda for h in self.holdings]:
            found.update({pemda, pemda[:2]})
        return sorted(found)

    def accountability(self) -> list[OpdAccount]:
        accounts: dict[str, dict[str, Any]] = {}
        for h in self.holdings:
            a = accounts.setdefault(
                h.opd_id,
                {"held": 0, "open_since": None, "out": 0, "misrouted": 0},
            )
            if h.until is None:
                a["open_since"] = h.since
            else:
                a["held"] += h.working_ms
            if h.outcome == "transferred":
                a["out"] += 1
                a["misrouted"] += h.working_ms
        breaches: dict[str, int] = {}
        for c in self.clocks:
            if c.breached_at is not None and c.opd_id is not None:
                breaches[c.opd_id] = breaches.get(c.opd_id, 0) + 1
        return [
            OpdAccount(
                opd_id=opd,
                held_seconds=a["held"] // 1000,
                open_since=a["open_since"],
                transfers_out=a["out"],
                misrouted_seconds=a["misrouted"] // 1000,
                breaches=breaches.get(opd, 0),
            )
            for opd, a in accounts.items()
        ]

    # --- lifecycle events ------------------------------------------------------------------

    def apply(self, event: Envelope, rules: Rules | CalendarFor) -> list[Payload]:
        """Apply one lifecycle event (seq > last_seq); the payloads it causes, in order."""
        assert event.seq is not None and event.seq > self.last_seq
        self.last_seq = event.seq
        fact = Fact.of(event)
        if fact is None:
            return []
        return self.apply_fact(fact, as_rules(rules))

    def apply_fact(self, fact: Fact, rules: Rules) -> list[Payload]:
        fact = self._with_targets(fact, rules)
        self.last_seq = max(self.last_seq, fact.seq)
        if self.checked_until is not None and fact.at <= self.checked_until:
            # The detector already applied a transition at or after this event's instant.
            fresh = ComplaintClocks.replay(
                self.complaint_id, [*self.history, fact], rules, until=self.checked_until
            )
            fresh.last_seq = self.last_seq
            return self._adopt(fresh, fact.at, "peristiwa diterima setelah tenggat diperiksa")
        announced = self.advance(fact.at, rules, inclusive=False)
        announced += self._apply(fact, rules)
        self.history.append(fact)
        return announced

    @classmethod
    def replay(
        cls, complaint_id: str, facts: Iterable[Fact], rules: Rules, until: datetime | None = None
    ) -> ComplaintClocks:
        """Fresh clocks from the facts (with their recorded targets), advanced to `until`."""
        fresh = cls(complaint_id)
        for fact in facts:
            fresh.advance(fact.at, rules, inclusive=False)
            fresh._apply(fact, rules)
            fresh.history.append(fact)
            fresh.last_seq = max(fresh.last_seq, fact.seq)
        if until is not None:
            fresh.advance(until, rules)
        return fresh

    def rebuild(self, rules: Rules | CalendarFor, at: datetime, reason: str) -> list[Payload]:
        """Recompute from the stored facts with today's calendars (e.g. after a pemda's extra dates
        changed) and announce the corrections: moved dues, retracted or new breaches, and the
        escalations that depended on them."""
        fresh = ComplaintClocks.replay(self.complaint_id, self.history, as_rules(rules), self.checked_until)
        fresh.last_seq = self.last_seq
        return self._adopt(fresh, ms(at), reason)

    def _with_targets(self, fact: Fact, rules: Rules) -> Fact:
        if fact.targets:
            return fact
        wanted: list[tuple[ClockName, str | None, str | None, Tier]] = []
        if fact.kind == ComplaintReceived.TYPE:
            wanted.append(("verification", fact.pemda, None, "normatif"))
        elif fact.kind == ComplaintTriaged.TYPE and fact.via == "transfer":
            wanted.append(("verification", fact.pemda or self.pemda, None, self.tier))
        elif fact.kind == ComplaintAssigned.TYPE:
            tier = fact.tier or self.tier
            wanted += [(name, fact.pemda, fact.opd_id, tier) for name in OPD_CLOCKS]
        elif fact.kind == TierChanged.TYPE:
            wanted.append(("resolution", self.holder_pemda, fact.opd_id, fact.tier or self.tier))
        elif fact.kind == ComplaintResolved.TYPE:
            wanted.append(("reporter_reply", self.holder_pemda, fact.opd_id, self.tier))
        targets: dict[str, int] = {}
        for name, pemda, opd_id, tier in wanted:
            category = fact.category if fact.category is not None else self.category
            where = pemda or self.pemda or (opd_id.split("/", 1)[0] if opd_id else None)
            if where is None:
                continue
            targets[name] = rules.target_hk(name, pemda=where, opd_id=opd_id, category=category, tier=tier)
        return replace(fact, targets=targets)

    def _apply(self, f: Fact, rules: Rules) -> list[Payload]:
        out: list[Payload] = []
        kind = f.kind
        if kind == ComplaintReceived.TYPE:
            assert f.pemda is not None and f.submitted_at is not None
            self.pemda, self.category, self.submitted_at = f.pemda, f.category, f.submitted_at
            self.status, self.unresolved_since = "open", f.submitted_at
            out.append(self._start("verification", None, f.pemda, f.submitted_at, f, rules))
        elif kind == ComplaintAssigned.TYPE:
            assert f.pemda is not None and f.opd_id is not None
            out += self._stop(lambda c: c.clock == "verification", f.at, "met", "assigned")
            # Defensive: a holder's clocks always end with its transfer before a new assignment.
            out += self._stop(lambda c: c.clock in OPD_CLOCKS, f.at, "transferred", "reassigned")
            self._end_holding(f.at, "reassigned", rules)
            self.tier = f.tier or self.tier
            self.category = f.category or self.category
            self.holder, self.holder_pemda = f.opd_id, f.pemda
            self.holdings.append(Holding(f.opd_id, f.pemda, f.at))
            if self.status != "open":
                self.status, self.unresolved_since = "open", f.at
            out.append(self._start("response", f.opd_id, f.pemda, f.at, f, rules))
            out.append(self._start("resolution", f.opd_id, f.pemda, f.at, f, rules))
        elif kind == ComplaintTriaged.TYPE:
            self.category = f.category if f.category is not None else self.category
            if f.via == "transfer":  # too many transfers: the coordinator decides, verification again
                self.holder = self.holder_pemda = None
                pemda = f.pemda or self.pemda
                assert pemda is not None
                out += self._stop(lambda c: c.clock == "verification", f.at, "cancelled", "restarted")
                out.append(self._start("verification", None, pemda, f.at, f, rules))
        elif kind == ComplaintUpdated.TYPE:
            self.category, self.pemda = f.category, f.pemda or self.pemda
        elif kind == ComplaintAnswered.TYPE:
            out += self._stop(lambda c: c.clock == "response", f.at, "met", "answered")
        elif kind == InformationRequested.TYPE:
            out += self._stop(lambda c: c.clock == "response", f.at, "met", "information-requested")
            out += self._pause(f.at, rules)
        elif kind == InformationAdded.TYPE:
            out += self._resume(f.at, rules)
        elif kind == TierChanged.TYPE:
            assert f.tier is not None
            self.tier = f.tier
            out += self._retier(f, rules)
        elif kind == ComplaintTransferred.TYPE:
            out += self._stop(lambda c: c.clock in OPD_CLOCKS, f.at, "transferred", "transferred")
            self._end_holding(f.at, "transferred", rules)
            self.transfers += 1
        elif kind == ComplaintResolved.TYPE:
            out += self._stop(lambda c: c.clock in OPD_CLOCKS, f.at, "met", "resolved")
            pemda = self.holder_pemda or (f.opd_id.split("/", 1)[0] if f.opd_id else self.pemda)
            self._end_holding(f.at, "resolved", rules)
            self.status = "resolved"
            assert pemda is not None
            out.append(self._start("reporter_reply", None, pemda, f.at, f, rules))
        elif kind == ComplaintReopened.TYPE:
            out += self._stop(lambda c: c.clock == "reporter_reply", f.at, "met", "reopened")
        elif kind == ComplaintClosed.TYPE:
            if f.outcome == "withdrawn":
                out += self._stop(lambda c: True, f.at, "cancelled", "withdrawn")
            else:
                out += self._stop(lambda c: c.clock == "reporter_reply", f.at, "met", f.outcome or "closed")
                out += self._stop(lambda c: True, f.at, "cancelled", "closed")
            self._end_holding(f.at, "closed", rules)
            self.status = "closed"
        elif kind == ComplaintArchived.TYPE:
            out += self._stop(lambda c: True, f.at, "cancelled", "archived")
            self._end_holding(f.at, "closed", rules)
            self.status = "closed"
        return out

    # --- clock moves ------------------------------------------------------------------------

    def _start(
        self, name: ClockName, opd_id: str | None, pemda: str, at: datetime, f: Fact, rules: Rules
    ) -> ClockStarted:
        calendar = rules.calendar(pemda)
        target = f.targets.get(name)
        if target is None:  # a fact stored before targets were recorded: today's defaults
            target = DefaultRules(rules.calendar).target_hk(
                name, pemda=pemda, opd_id=opd_id, category=self.category, tier=self.tier
            )
        due = calendar.due(at, target)
        budget = _millis(calendar.working_time(at, due))
        number = 1 + sum(1 for c in self.clocks if c.clock == name)
        clock = Clock(
            clock_id=f"{self.complaint_id}/{name}/{number}",
            clock=name,
            opd_id=opd_id,
            pemda=pemda,
            started_at=at,
            due_at=due,
            budget_ms=budget,
            target_hk=target,
            warn_at=self._warning_instant(name, calendar, at, budget, budget),
        )
        self.clocks.append(clock)
        return _snapshot(ClockStarted, clock, at)

    @staticmethod
    def _warning_instant(
        name: ClockName, calendar: WorkingCalendar, anchor: datetime, budget_ms: int, remaining_ms: int
    ) -> datetime | None:
        """When 75 % of the budget will be used, for a clock running from `anchor` with
        `remaining_ms` left; None for the reporter's clock and for a zero budget."""
        if name == "reporter_reply" or budget_ms <= 0:
            return None
        num, den = WARNING_SHARE
        still_to_use = remaining_ms - (budget_ms - budget_ms * num // den)
        return calendar.add_working_time(anchor, _span(still_to_use)) if still_to_use > 0 else anchor

    def _stop(
        self,
        which: Callable[[Clock], bool],
        at: datetime,
        outcome: Literal["met", "transferred", "cancelled"],
        reason: str,
    ) -> list[Payload]:
        out: list[Payload] = []
        for i, clock in enumerate(self.clocks):
            if not clock.open or not which(clock):
                continue
            # A breach stays a breach; a clock stopped exactly at its due is on time (DESIGN §5):
            # a breach at the due is only applied before events strictly after it.
            final: ClockState = "breached" if clock.breached_at is not None else outcome
            stopped = replace(
                clock, state=final, stopped_at=at, warn_at=None, end_reason=reason, version=clock.version + 1
            )
            self.clocks[i] = stopped
            out.append(_snapshot(ClockStopped, stopped, at))
        return out

    def _pause(self, at: datetime, rules: Rules) -> list[Payload]:
        out: list[Payload] = []
        for i, clock in enumerate(self.clocks):
            # A breached clock does not pause (DESIGN §5); reporter_reply never pauses.
            if clock.clock not in OPD_CLOCKS or not clock.running or clock.due_at is None:
                continue
            remaining = _millis(rules.calendar(clock.pemda).working_time(at, clock.due_at))
            paused = replace(
                clock,
                state="paused",
                due_at=None,
                remaining_ms=remaining,
                warn_at=None,
                paused_ever=True,
                version=clock.version + 1,
            )
            self.clocks[i] = paused
            out.append(_snapshot(ClockPaused, paused, at))
        return out

    def _resume(self, at: datetime, rules: Rules) -> list[Payload]:
        out: list[Payload] = []
        for i, clock in enumerate(self.clocks):
            if not clock.open or clock.state != "paused" or clock.remaining_ms is None:
                continue
            calendar = rules.calendar(clock.pemda)
            remaining = clock.remaining_ms
            resumed = replace(
                clock,
                state="running",
                due_at=calendar.add_working_time(at, _span(remaining)),
                remaining_ms=None,
                warn_at=None
                if clock.warned_at
                else self._warning_instant(clock.clock, calendar, at, clock.budget_ms, remaining),
                version=clock.version + 1,
            )
            self.clocks[i] = resumed
            out.append(_snapshot(ClockResumed, resumed, at))
        return out

    def _retier(self, f: Fact, rules: Rules) -> list[Payload]:
        """Recompute the open resolution clock's due from its start with the new target."""
        out: list[Payload] = []
        at = f.at
        for i, clock in enumerate(self.clocks):
            if clock.clock != "resolution" or not clock.open:
                continue
            target = f.targets.get("resolution", RESOLUTION_BY_TIER[f.tier or "normatif"])
            calendar = rules.calendar(clock.pemda)
            full_due = calendar.due(clock.started_at, target)
            budget = _millis(calendar.working_time(clock.started_at, full_due))
            changes: dict[str, Any] = {"budget_ms": budget, "target_hk": target}
            if not clock.paused_ever:
                changes["due_at"] = full_due
                remaining_now = _millis(calendar.working_time(at, full_due))
            else:
                if clock.state == "paused" and clock.remaining_ms is not None:
                    used = clock.budget_ms - clock.remaining_ms
                else:
                    left = _millis(calendar.working_time(at, clock.due_at)) if clock.due_at else 0
                    used = clock.budget_ms - left
                remaining_now = budget - used
                if clock.state == "paused" and remaining_now > 0:
                    changes["remaining_ms"] = remaining_now
                else:
                    # Running, or paused with nothing left (a clock out of budget no longer pauses).
                    changes["state"] = "breached" if clock.breached_at else "running"
                    changes["remaining_ms"] = None
                    changes["due_at"] = (
                        calendar.add_working_time(at, _span(remaining_now)) if remaining_now > 0 else at
                    )
            if clock.breached_at is None and clock.warned_at is None:
                if not clock.paused_ever:
                    changes["warn_at"] = self._warning_instant(
                        clock.clock, calendar, clock.started_at, budget, budget
                    )
                elif changes.get("state", clock.state) == "running":
                    changes["warn_at"] = self._warning_instant(
                        clock.clock, calendar, at, budget, max(remaining_now, 0)
                    )
            moved = replace(clock, **changes)
            if moved == clock:
                continue
            moved = replace(moved, version=clock.version + 1)
            self.clocks[i] = moved
            out.append(_snapshot(ClockRescheduled, moved, at, reason=f"tingkat diubah menjadi {f.tier}"))
        return out

    def _end_holding(self, at: datetime, outcome: str, rules: Rules) -> None:
        if self.holdings and self.holdings[-1].until is None:
            h = self.holdings[-1]
            worked = _millis(rules.calendar(h.pemda).working_time(h.since, at))
            self.holdings[-1] = replace(h, until=at, outcome=outcome, working_ms=worked)
        if outcome != "reassigned":
            self.holder = self.holder_pemda = None

    # --- time -----------------------------------------------------------------------------------

    def _pending(self) -> list[_Due]:
        pending: list[_Due] = []
        for i, clock in enumerate(self.clocks):
            if not clock.running:
                continue
            key = f"{i:06d}"  # at the same instant, clocks in the order they started
            if clock.warn_at is not None and clock.warned_at is None:
                pending.append(_Due(clock.warn_at, 0, key, "warning"))
            if clock.due_at is not None:
                kind: Literal["breach", "expiry"] = "expiry" if clock.clock == "reporter_reply" else "breach"
                pending.append(_Due(clock.due_at, 1, key, kind))
        esc = self.escalation
        if self.status == "open" and 1 <= esc.level < 3 and esc.steps:
            first = esc.steps[0]
            since = self.unresolved_since or first.at
            if esc.level < 2 and esc.level_2_at is not None:
                pending.append(_Due(max(esc.level_2_at, since), 2, "2", "escalation"))
            if self.submitted_at is not None:
                level_3 = max(self.submitted_at + timedelta(days=LEVEL_3_DAYS), first.at, since)
                pending.append(_Due(level_3, 2, "3", "escalation"))
        return pending

    def advance(self, until: datetime, rules: Rules | CalendarFor, inclusive: bool = True) -> list[Payload]:
        """Apply every time-driven transition at or before `until` (strictly before, when
        `inclusive` is False), each at its own instant, in time order."""
        rules = as_rules(rules)
        out: list[Payload] = []
        while True:
            pending = self._pending()
            if not pending:
                return out
            due = min(pending)
            if due.at > until or (due.at == until and not inclusive):
                return out
            out += self._fire(due, rules)
            self.checked_until = due.at if self.checked_until is None else max(self.checked_until, due.at)

    def _fire(self, due: _Due, rules: Rules) -> list[Payload]:
        if due.kind == "escalation":
            level = int(due.key)
            reason = (
                f"belum selesai {LEVEL_2_HK} hari kerja setelah eskalasi tingkat 1"
                if level == 2
                else f"belum selesai {LEVEL_3_DAYS} hari sejak diajukan setelah eskalasi"
            )
            return [self._raise(level, due.at, self.holder, self.holder_pemda, reason, rules)]
        i = int(due.key)
        clock = self.clocks[i]
        if due.kind == "warning":
            warned = replace(clock, warn_at=None, warned_at=due.at, version=clock.version + 1)
            self.clocks[i] = warned
            return [_snapshot(SlaWarning, warned, due.at)]
        if due.kind == "expiry":
            expired = replace(
                clock, state="met", stopped_at=due.at, end_reason="expired", version=clock.version + 1
            )
            self.clocks[i] = expired
            return [_snapshot(ClockStopped, expired, due.at), CloseExpired(clock_id=clock.clock_id)]
        breached = replace(
            clock, state="breached", breached_at=due.at, warn_at=None, version=clock.version + 1
        )
        self.clocks[i] = breached
        out: list[Payload] = [_snapshot(SlaBreached, breached, due.at)]
        if clock.clock in OPD_CLOCKS and self.escalation.level < 1:
            reason = f"tenggat {clock.clock} terlewati oleh {clock.opd_id}"
            out.append(self._raise(1, due.at, clock.opd_id, clock.pemda, reason, rules))
        return out

    def _raise(
        self, level: int, at: datetime, opd_id: str | None, pemda: str | None, reason: str, rules: Rules
    ) -> Payload:
        esc = self.escalation
        esc.level = level
        esc.steps.append(EscalationStep(level, at, opd_id, pemda, reason))
        if level == 1 and pemda is not None:
            # "5 HK after level 1" on the calendar of the pemda whose clock breached.
            esc.level_2_at = rules.calendar(pemda).due(at, LEVEL_2_HK)
        return EscalationRaised(level=level, opd_id=opd_id, reason=reason, at=at)

    # --- corrections --------------------------------------------------------------------------

    def _adopt(self, fresh: ComplaintClocks, at: datetime, reason: str) -> list[Payload]:
        """Become `fresh`, announcing the differences as corrections (versions continue)."""
        out: list[Payload] = []
        before = {c.clock_id: c for c in self.clocks}
        adopted: list[Clock] = []
        for new in fresh.clocks:
            old = before.get(new.clock_id)
            if old is None:
                adopted.append(new)
                out.append(_snapshot(_kind_of_new(new), new, new.started_at))
                continue
            if _announced(old) == _announced(new):
                adopted.append(replace(new, version=old.version))
                continue
            new = replace(new, version=max(old.version, new.version) + 1)
            adopted.append(new)
            out.append(_correction(old, new, at, reason))
            if new.end_reason == "expired" and old.end_reason != "expired":
                out.append(CloseExpired(clock_id=new.clock_id))
        old_level = self.escalation.level
        if fresh.escalation.level > old_level:
            out += [
                EscalationRaised(level=s.level, opd_id=s.opd_id, reason=s.reason, at=s.at)
                for s in fresh.escalation.steps
                if s.level > old_level
            ]
        elif fresh.escalation.level < old_level:
            out.append(EscalationRetracted(level=fresh.escalation.level, reason=reason, at=at))
        checked = [t for t in (self.checked_until, fresh.checked_until) if t is not None]
        for name in (
            "pemda",
            "tier",
            "category",
            "submitted_at",
            "status",
            "unresolved_since",
            "history",
            "escalation",
            "holder",
            "holder_pemda",
            "holdings",
            "transfers",
        ):
            setattr(self, name, getattr(fresh, name))
        self.clocks = adopted
        self.checked_until = max(checked) if checked else None
        self.last_seq = max(self.last_seq, fresh.last_seq)
        return out


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
        return _snapshot(BreachRetracted, new, at, reason=reason)
    if new.breached_at is not None and old.breached_at is None:
        return _snapshot(SlaBreached, new, new.breached_at)
    if new.stopped_at is not None and (old.stopped_at != new.stopped_at or old.end_reason != new.end_reason):
        return _snapshot(ClockStopped, new, new.stopped_at)
    if old.state == "running" and new.state == "paused":
        return _snapshot(ClockPaused, new, at)
    if old.state == "paused" and new.state != "paused":
        return _snapshot(ClockResumed, new, at)
    if new.warned_at is not None and old.warned_at is None and new.open:
        return _snapshot(SlaWarning, new, new.warned_at)
    return _snapshot(ClockRescheduled, new, at, reason=reason)


E = TypeVar("E", bound=ClockEvent)


@cache
def _zone(pemda: str) -> ZoneInfo:
    return zone_for(pemda)


def _snapshot(kind: type[E], clock: Clock, at: datetime, **extra: Any) -> E:
    """The clock's whole state after a change; the due in the pemda's local offset. Built without
    re-validation: every field comes from a clock the domain itself keeps valid (a replay of a
    million complaints builds millions of these)."""
    zone = _zone(clock.pemda)
    snapshot = kind.model_construct(
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
    return cast(E, snapshot)
