"""SLA clocks of one complaint (DESIGN §5, normative), driven only by lifecycle events and by time.

Pure: no I/O. `ComplaintClocks` is one complaint's clocks (clock.py: one clock's arithmetic), its
escalation ladder (ladder.py), its stays at OPDs (holdings.py) and the facts they are rebuilt from
(facts.py); each lifecycle fact's effect is one function in the `_STEPS` table below. Two things
move it:

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
from datetime import datetime
from typing import Literal

from services.sla.domain import clock as clocks_
from services.sla.domain.clock import Clock, Due
from services.sla.domain.facts import Fact
from services.sla.domain.holdings import Holding, OpdAccount, accountability, end_stay
from services.sla.domain.ladder import Escalation, reason_for
from services.sla.domain.targets import OPD_CLOCKS, CalendarFor, DefaultRules, Rules, as_rules, ms
from shared.envelope import Envelope, Payload
from shared.events import (
    ClockName,
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
    InformationAdded,
    InformationRequested,
    Tier,
    TierChanged,
)

ComplaintStatus = Literal["open", "resolved", "closed"]
FactStep = Callable[["ComplaintClocks", Fact, Rules], list[Payload]]
# {lifecycle payload TYPE: how its fact moves the clocks}; kinds not here move nothing.
_STEPS: dict[str, FactStep] = {}
Wanted = list[tuple[ClockName, str | None, str | None, Tier]]
# {lifecycle payload TYPE: the clocks whose targets its fact records (clock, pemda, OPD, tier)}.
_TARGETS: dict[str, Callable[[ComplaintClocks, Fact], Wanted]] = {}


def _on(kind: type[Payload]) -> Callable[[FactStep], FactStep]:
    def register(step: FactStep) -> FactStep:
        _STEPS[kind.TYPE] = step
        return step

    return register


def _targets_of(kind: type[Payload]) -> Callable[[Callable[[ComplaintClocks, Fact], Wanted]], object]:
    def register(fn: Callable[[ComplaintClocks, Fact], Wanted]) -> object:
        _TARGETS[kind.TYPE] = fn
        return fn

    return register


@dataclass
class ComplaintClocks:
    """One complaint's clocks, escalation ladder and stays, moved by its facts and by time."""

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
        return accountability(self.holdings, self.clocks)

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
        wanted_of = _TARGETS.get(fact.kind)
        targets: dict[str, int] = {}
        for name, pemda, opd_id, tier in wanted_of(self, fact) if wanted_of else []:
            category = fact.category if fact.category is not None else self.category
            where = pemda or self.pemda or (opd_id.split("/", 1)[0] if opd_id else None)
            if where is None:
                continue
            targets[name] = rules.target_hk(name, pemda=where, opd_id=opd_id, category=category, tier=tier)
        return replace(fact, targets=targets)

    def _apply(self, f: Fact, rules: Rules) -> list[Payload]:
        step = _STEPS.get(f.kind)
        return step(self, f, rules) if step is not None else []

    def _start(
        self, name: ClockName, opd_id: str | None, pemda: str, at: datetime, f: Fact, rules: Rules
    ) -> Payload:
        target = f.targets.get(name)
        if target is None:  # a fact stored before targets were recorded: today's defaults
            target = DefaultRules(rules.calendar).target_hk(
                name, pemda=pemda, opd_id=opd_id, category=self.category, tier=self.tier
            )
        return clocks_.start(
            self.clocks, self.complaint_id, name, opd_id, pemda, at, target, rules.calendar(pemda)
        )

    def _stop(
        self, which: Callable[[Clock], bool], at: datetime, outcome: clocks_.Outcome, reason: str
    ) -> list[Payload]:
        return clocks_.stop(self.clocks, which, at, outcome, reason)

    def _end_holding(self, at: datetime, outcome: str, rules: Rules) -> None:
        end_stay(self.holdings, at, outcome, rules)
        if outcome != "reassigned":
            self.holder = self.holder_pemda = None

    # --- time -----------------------------------------------------------------------------------

    def _pending(self) -> list[Due]:
        pending = clocks_.dues(self.clocks)
        if self.status == "open":
            pending += self.escalation.dues(self.unresolved_since, self.submitted_at)
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

    def _fire(self, due: Due, rules: Rules) -> list[Payload]:
        if due.kind == "escalation":
            level = int(due.key)
            return [
                self.escalation.raise_to(
                    level, due.at, self.holder, self.holder_pemda, reason_for(level), rules
                )
            ]
        out = clocks_.fire(self.clocks, due)
        clock = self.clocks[int(due.key)]
        if due.kind == "breach" and clock.clock in OPD_CLOCKS and self.escalation.level < 1:
            reason = f"tenggat {clock.clock} terlewati oleh {clock.opd_id}"
            out.append(self.escalation.raise_to(1, due.at, clock.opd_id, clock.pemda, reason, rules))
        return out

    # --- corrections --------------------------------------------------------------------------

    def _adopt(self, fresh: ComplaintClocks, at: datetime, reason: str) -> list[Payload]:
        """Become `fresh`, announcing the differences as corrections (versions continue)."""
        adopted, out = clocks_.corrections(self.clocks, fresh.clocks, at, reason)
        out += self.escalation.corrections(fresh.escalation, at, reason)
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


# --- what each lifecycle fact does --------------------------------------------------------------


@_on(ComplaintReceived)
def _received(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    assert f.pemda is not None and f.submitted_at is not None
    c.pemda, c.category, c.submitted_at = f.pemda, f.category, f.submitted_at
    c.status, c.unresolved_since = "open", f.submitted_at
    return [c._start("verification", None, f.pemda, f.submitted_at, f, rules)]


@_on(ComplaintAssigned)
def _assigned(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    assert f.pemda is not None and f.opd_id is not None
    out = c._stop(lambda k: k.clock == "verification", f.at, "met", "assigned")
    # Defensive: a holder's clocks always end with its transfer before a new assignment.
    out += c._stop(lambda k: k.clock in OPD_CLOCKS, f.at, "transferred", "reassigned")
    c._end_holding(f.at, "reassigned", rules)
    c.tier = f.tier or c.tier
    c.category = f.category or c.category
    c.holder, c.holder_pemda = f.opd_id, f.pemda
    c.holdings.append(Holding(f.opd_id, f.pemda, f.at))
    if c.status != "open":
        c.status, c.unresolved_since = "open", f.at
    out.append(c._start("response", f.opd_id, f.pemda, f.at, f, rules))
    out.append(c._start("resolution", f.opd_id, f.pemda, f.at, f, rules))
    return out


@_on(ComplaintTriaged)
def _triaged(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    c.category = f.category if f.category is not None else c.category
    if f.via != "transfer":
        return []
    # Too many transfers: the coordinator decides, and verification runs again.
    c.holder = c.holder_pemda = None
    pemda = f.pemda or c.pemda
    assert pemda is not None
    out = c._stop(lambda k: k.clock == "verification", f.at, "cancelled", "restarted")
    out.append(c._start("verification", None, pemda, f.at, f, rules))
    return out


@_on(ComplaintUpdated)
def _updated(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    c.category, c.pemda = f.category, f.pemda or c.pemda
    return []


@_on(ComplaintAnswered)
def _answered(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    return c._stop(lambda k: k.clock == "response", f.at, "met", "answered")


@_on(InformationRequested)
def _information_requested(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    out = c._stop(lambda k: k.clock == "response", f.at, "met", "information-requested")
    return out + clocks_.pause(c.clocks, f.at, rules)


@_on(InformationAdded)
def _information_added(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    return clocks_.resume(c.clocks, f.at, rules)


@_on(TierChanged)
def _tier_changed(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    assert f.tier is not None
    c.tier = f.tier
    return clocks_.retier(c.clocks, f.tier, f.targets, f.at, rules)


@_on(ComplaintTransferred)
def _transferred(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    out = c._stop(lambda k: k.clock in OPD_CLOCKS, f.at, "transferred", "transferred")
    c._end_holding(f.at, "transferred", rules)
    c.transfers += 1
    return out


@_on(ComplaintResolved)
def _resolved(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    out = c._stop(lambda k: k.clock in OPD_CLOCKS, f.at, "met", "resolved")
    pemda = c.holder_pemda or (f.opd_id.split("/", 1)[0] if f.opd_id else c.pemda)
    c._end_holding(f.at, "resolved", rules)
    c.status = "resolved"
    assert pemda is not None
    out.append(c._start("reporter_reply", None, pemda, f.at, f, rules))
    return out


@_on(ComplaintReopened)
def _reopened(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    return c._stop(lambda k: k.clock == "reporter_reply", f.at, "met", "reopened")


@_on(ComplaintClosed)
def _closed(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    if f.outcome in ("withdrawn", "merged"):  # ended early; a breach already recorded stays
        out = c._stop(lambda k: True, f.at, "cancelled", f.outcome)
    else:
        out = c._stop(lambda k: k.clock == "reporter_reply", f.at, "met", f.outcome or "closed")
        out += c._stop(lambda k: True, f.at, "cancelled", "closed")
    c._end_holding(f.at, "closed", rules)
    c.status = "closed"
    return out


@_on(ComplaintArchived)
def _archived(c: ComplaintClocks, f: Fact, rules: Rules) -> list[Payload]:
    out = c._stop(lambda k: True, f.at, "cancelled", "archived")
    c._end_holding(f.at, "closed", rules)
    c.status = "closed"
    return out


# --- which targets each fact records ------------------------------------------------------------


@_targets_of(ComplaintReceived)
def _received_targets(c: ComplaintClocks, f: Fact) -> Wanted:
    return [("verification", f.pemda, None, "normatif")]


@_targets_of(ComplaintTriaged)
def _triaged_targets(c: ComplaintClocks, f: Fact) -> Wanted:
    return [("verification", f.pemda or c.pemda, None, c.tier)] if f.via == "transfer" else []


@_targets_of(ComplaintAssigned)
def _assigned_targets(c: ComplaintClocks, f: Fact) -> Wanted:
    return [(name, f.pemda, f.opd_id, f.tier or c.tier) for name in OPD_CLOCKS]


@_targets_of(TierChanged)
def _tier_targets(c: ComplaintClocks, f: Fact) -> Wanted:
    return [("resolution", c.holder_pemda, f.opd_id, f.tier or c.tier)]


@_targets_of(ComplaintResolved)
def _resolved_targets(c: ComplaintClocks, f: Fact) -> Wanted:
    return [("reporter_reply", c.holder_pemda, f.opd_id, c.tier)]
