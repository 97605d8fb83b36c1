"""Supervisor reports (issue 6 items 5 and 7): counters kept from published events only.

Sources, consumed as group `sla-reports`: `sla.events` (every clock event carries the clock's whole
snapshot; a reader keeps the highest `version`) and `complaints.events` (the lifecycle, numbered
by `seq` per complaint). Nothing here reads the clock engine's own collections.

How the counters stay exact under redelivery:
- Each complaint and each clock has a small *record* of what we know of it. An event changes a
  record only when it is new to it: a lifecycle `seq` above the record's `last_seq`, a clock
  `version` above the stored one, an escalation `event_id` not seen yet.
- A record's *contribution* to the counters (e.g. "+1 response breached for OPD X in week W",
  "+1 open at OPD X assigned on date D") is a pure function of the record. The record stores the
  contribution it has made; after a change the counters receive the difference. So retractions,
  reschedules and transfers need no special bookkeeping: a breach retracted by a recompute simply
  drops out of the new contribution.
- The changed records, their projections (breach list, escalation list) and the counter
  increments of one batch are written in one transaction, with an optimistic `rev` check on each
  record: a crash can neither lose nor double a count, and a redelivered batch is a no-op. This
  module is the pure part (records, contributions, the fold); the store behind the `ReportStore`
  port (ports.py) is adapters/report_store.py (MongoDB).

Counters are pre-aggregated per OPD and per pemda (the OPD id's prefix) per ISO week in the
pemda's local time (`report_weekly`), and as current gauges per OPD and pemda (`report_gauges`:
open, currently breached open clocks, escalated, open complaints by local assignment date for the
aging buckets). A compliance answer reads O(OPDs × weeks) small documents, whatever the number of
complaints. The classifier figures (issue 22) are monthly (`report_monthly`, month of the
classification in the pemda's local time), counted for `<pemda>/admin-koordinator` and so for the
pemda: classified (routing's first decision came with the classifier's guess), routed without a
coordinator, reviewed (a coordinator set the category in triage or at the disposition) and
corrected (the coordinator's last category differs from the guess: a miss).

Attribution (DESIGN §5): a clock's met/breach belongs to the OPD holding the clock (`opd_id` of
its snapshot; a `verification` clock to `<pemda>/admin-koordinator`). A breach counts in the week
of its breach instant (the due) and stays with that OPD through a transfer; a met counts in the
week it stopped. Transfers and misrouted working time (the time an OPD held a complaint it then
transferred away) belong to the transferring OPD, a transfer in to the receiving OPD (the week it
arrived); a rating to the OPD that resolved it.

Response working time (working seconds from the clock's start to its stop, for response clocks
that stopped `met` or `breached`): a fixed histogram (`RT_EDGES`) per OPD and week, summed over
the period; median and p90 interpolate linearly inside the bucket the rank falls in, so their
error is below that bucket's width: ≤ 30 min up to 1 h, ≤ 2 h up to 6 h, ≤ 6 h up to 1 HK,
≤ 12 h (0.5 HK) up to 10 HK, ≤ 2 HK up to 20 HK, ≤ 10 HK up to 60 HK; beyond 60 HK the answer is
60 HK (a lower bound). The mean is exact (sum and count are kept too). The edges are part of the
stored format: changing them needs a new field name.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any, Literal, TypeVar, cast

from services.sla.domain.holdings import Holding, end_stay
from services.sla.domain.ladder import EscalationStep
from services.sla.domain.monthly import Stay, Survey, clock_months, complaint_months
from services.sla.domain.targets import DefaultRules
from shared.calendar import WorkingCalendar, calendar_for, zone_for
from shared.envelope import Envelope, Payload
from shared.events import (
    BreachRetracted,
    ClockEvent,
    ClockStopped,
    CommandRejected,
    ComplaintAnswered,
    ComplaintArchived,
    ComplaintAssigned,
    ComplaintClaimed,
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
    SurveySubmitted,
    TierChanged,
)

Doc = dict[str, Any]
HK = 86400  # working seconds in one working day (a whole local day counts, DESIGN §5)
COORDINATOR = "admin-koordinator"

# Response working time histogram: bucket i holds [RT_EDGES[i], RT_EDGES[i+1]); the last is open.
RT_EDGES: tuple[int, ...] = (
    0, 900, 1800, 3600, 2 * 3600, 4 * 3600, 6 * 3600, 12 * 3600, 18 * 3600,
    *(int(k * HK / 2) for k in range(2, 21)),  # 1 HK … 10 HK by half days
    *(k * HK for k in (12, 14, 16, 18, 20, 25, 30, 40, 50, 60)),
)  # fmt: skip

# Aging of open complaints, in working days since the assignment's local date.
AGING: tuple[tuple[str, int, int | None], ...] = (
    ("lt_3", 0, 3),
    ("3_5", 3, 5),
    ("5_10", 5, 11),
    ("gt_10", 11, None),
)
AGING_LABELS = {"lt_3": "< 3 HK", "3_5": "3–4 HK", "5_10": "5–10 HK", "gt_10": "> 10 HK"}


# --- small helpers ------------------------------------------------------------------------------


@cache
def pemda_calendar(pemda: str) -> WorkingCalendar:
    """The shared calendar of a pemda (national holidays and cuti bersama; per-pemda extra dates
    are the clock engine's data, which reports do not read: see `response_seconds`)."""
    return calendar_for(pemda)


def opd_pemda(opd_id: str) -> str:
    return opd_id.split("/", 1)[0]


def week_start(instant: datetime, pemda: str) -> date:
    """Monday of the ISO week holding `instant` in the pemda's local time."""
    local = instant.astimezone(zone_for(pemda)).date()
    return local - timedelta(days=local.weekday())


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def local_date(instant: datetime, pemda: str) -> date:
    return instant.astimezone(zone_for(pemda)).date()


def _ms(instant: datetime) -> datetime:
    """Instants at the database's precision (milliseconds, UTC), so a reloaded record computes
    exactly what the original did."""
    instant = instant.astimezone(UTC)
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def _ms_opt(instant: datetime | None) -> datetime | None:
    return None if instant is None else _ms(instant)


def rt_bucket(seconds: int) -> int:
    return max(0, bisect_right(RT_EDGES, seconds) - 1)


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The q-quantile (0–1) of a `RT_EDGES` histogram, interpolated inside its bucket."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = RT_EDGES[i]
            if i + 1 >= len(RT_EDGES):
                return float(low)  # open-ended last bucket: its lower bound
            return low + (rank - seen) / count * (RT_EDGES[i + 1] - low)
        seen += count
    return float(RT_EDGES[-1])


def aging_buckets(open_days: Mapping[str, int], pemda: str, today: date) -> dict[str, int]:
    """Open complaints by age in working days: the working days after the local assignment date up
    to and including `today` (assigned today → 0; assigned on a Friday → 1 on Monday)."""
    result = {name: 0 for name, _, _ in AGING}
    for day, count in open_days.items():
        if count <= 0:
            continue
        age = _age_hk(pemda, day, today)
        for name, low, high in AGING:
            if age >= low and (high is None or age < high):
                result[name] += count
                break
    return result


@lru_cache(maxsize=65536)
def _age_hk(pemda: str, day: str, today: date) -> int:
    """Working days after local date `day` up to and including `today` (shared by a pemda's OPDs)."""
    return pemda_calendar(pemda).working_days_between(
        date.fromisoformat(day) + timedelta(days=1), today + timedelta(1)
    )


def _key_w(opd: str, instant: datetime, name: str) -> str:
    return f"w|{opd}|{week_start(instant, opd_pemda(opd)).isoformat()}|{name}"


def month_of(instant: datetime, pemda: str) -> str:
    """`YYYY-MM` of `instant` in the pemda's local time."""
    return local_date(instant, pemda).strftime("%Y-%m")


def _key_m(opd: str, month: str, name: str) -> str:
    return f"m|{opd}|{month}|{name}"


def _key_g(opd: str, name: str) -> str:
    return f"g|{opd}|{name}"


def _key_d(opd: str, instant: datetime) -> str:
    return f"d|{opd}|{local_date(instant, opd_pemda(opd)).isoformat()}"


# --- records ------------------------------------------------------------------------------------

OPEN_STATUSES = ("unknown", "received", "triage", "assigned", "reopened")


@dataclass
class ComplaintRecord:
    complaint_id: str
    last_seq: int = 0
    pemda: str | None = None
    submitted_at: datetime | None = None
    status: str = "unknown"
    holdings: list[Holding] = field(default_factory=list)
    transfers: int = 0
    resolved_by: str | None = None
    closed_at: datetime | None = None
    close_outcome: str | None = None
    rating: int | None = None
    # The reporter's SKM answers (PermenPANRB 14/2017), once: {"opd_id", "version", "scores", "at"}.
    survey: Doc | None = None
    level: int = 0
    escalation_opd: str | None = None
    escalations: list[EscalationStep] = field(default_factory=list)
    seen_events: list[str] = field(default_factory=list)
    # The classifier's word on an uncategorised complaint (routing's first decision) and the
    # category a coordinator settled on afterwards (an update in triage, a disposition).
    guess: str | None = None
    guess_confidence: float | None = None
    classified_at: datetime | None = None
    auto_routed: bool = False  # confident enough: assigned without a coordinator
    coordinator_category: str | None = None
    contrib: dict[str, int] = field(default_factory=dict)
    rev: int = 0

    @property
    def current(self) -> Holding | None:
        return self.holdings[-1] if self.holdings and self.holdings[-1].until is None else None

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class ClockRecord:
    """The latest snapshot of one clock, plus what reports must remember across snapshots: a
    recorded breach stays (DESIGN §5) until a `BreachRetracted` says otherwise."""

    clock_id: str
    complaint_id: str
    clock: str
    opd_id: str | None
    pemda: str
    started_at: datetime
    due_at: datetime | None
    budget_seconds: int
    remaining_seconds: int | None
    state: str
    at: datetime
    version: int
    breached: bool = False
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    history: list[Doc] = field(default_factory=list)
    contrib: dict[str, int] = field(default_factory=dict)
    rev: int = 0

    @property
    def attributed_opd(self) -> str | None:
        """The OPD this clock's outcome counts for; None for clocks no OPD answers for."""
        if self.clock == "verification":
            return f"{self.pemda}/{COORDINATOR}"
        if self.clock in ("response", "resolution"):
            return self.opd_id
        return None


# --- applying events ----------------------------------------------------------------------------


_CALENDARS = DefaultRules(pemda_calendar)  # stays measured on the shared calendar
LifecycleStep = Callable[[ComplaintRecord, Any, datetime], None]
# {lifecycle payload type: how it changes the complaint's record}; the others only advance `seq`.
_LIFECYCLE: dict[type[Payload], LifecycleStep] = {}
P = TypeVar("P", bound=Payload)


def _on(*kinds: type[P]) -> Callable[[Callable[[ComplaintRecord, P, datetime], None]], LifecycleStep]:
    def register(fn: Callable[[ComplaintRecord, P, datetime], None]) -> LifecycleStep:
        for kind in kinds:
            _LIFECYCLE[kind] = fn
        return fn

    return register


def _end_holding(record: ComplaintRecord, at: datetime, ended_by: str) -> None:
    if record.current is not None:
        end_stay(record.holdings, at, ended_by, _CALENDARS)


@_on(ComplaintReceived)
def _received(record: ComplaintRecord, p: ComplaintReceived, at: datetime) -> None:
    record.pemda, record.submitted_at = p.pemda, _ms(p.submitted_at)
    record.status = "received" if record.status == "unknown" else record.status


def _classified(record: ComplaintRecord, p: ComplaintTriaged | ComplaintAssigned, at: datetime) -> None:
    """Routing's first decision, when the classifier made it (`guess` set, `via` routing)."""
    if p.via == "routing" and p.guess is not None and record.classified_at is None:
        record.guess, record.guess_confidence, record.classified_at = p.guess, p.confidence, at
        record.auto_routed = isinstance(p, ComplaintAssigned)


@_on(ComplaintTriaged)
def _triaged(record: ComplaintRecord, p: ComplaintTriaged, at: datetime) -> None:
    record.pemda, record.status = p.pemda, "triage"
    _classified(record, p, at)


@_on(ComplaintUpdated)
def _updated(record: ComplaintRecord, p: ComplaintUpdated, at: datetime) -> None:
    # A coordinator's correction (or confirmation) of the category, in triage; outside it an update
    # only tightens the privacy flags and repeats the category it had.
    if p.category is not None and record.status == "triage":
        record.coordinator_category = p.category
    record.pemda = p.pemda


@_on(ComplaintAssigned)
def _assigned(record: ComplaintRecord, p: ComplaintAssigned, at: datetime) -> None:
    _end_holding(record, at, "reassigned")
    record.holdings.append(Holding(opd_id=p.opd_id, pemda=p.pemda, since=at, via=p.via))
    record.status = "assigned"
    _classified(record, p, at)
    if p.via == "disposition":
        record.coordinator_category = p.category


@_on(ComplaintTransferred)
def _transferred(record: ComplaintRecord, p: ComplaintTransferred, at: datetime) -> None:
    _end_holding(record, at, "transferred")
    record.transfers = max(record.transfers, p.transfers)
    record.status = "triage" if p.to_opd_id is None else record.status


@_on(ComplaintResolved)
def _resolved(record: ComplaintRecord, p: ComplaintResolved, at: datetime) -> None:
    _end_holding(record, at, "resolved")
    record.resolved_by, record.status = p.opd_id, "resolved"


@_on(ComplaintReopened)
def _reopened(record: ComplaintRecord, p: ComplaintReopened, at: datetime) -> None:
    record.status = "reopened"


@_on(ComplaintClosed)
def _closed(record: ComplaintRecord, p: ComplaintClosed, at: datetime) -> None:
    _end_holding(record, at, "withdrawn")
    record.status, record.closed_at, record.close_outcome = "closed", at, p.outcome
    record.rating = p.rating if p.outcome == "feedback" else None


@_on(SurveySubmitted)
def _surveyed(record: ComplaintRecord, p: SurveySubmitted, at: datetime) -> None:
    if record.survey is None:  # routing accepts one per complaint; the first one stands
        record.survey = {"opd_id": p.opd_id, "version": p.version, "scores": dict(p.scores), "at": at}


@_on(ComplaintArchived)
def _archived(record: ComplaintRecord, p: ComplaintArchived, at: datetime) -> None:
    _end_holding(record, at, "withdrawn")
    record.status = "archived"


def apply_lifecycle(record: ComplaintRecord, event: Envelope) -> bool:
    """Apply one `complaints.events` event; False when it was already applied (seq)."""
    assert event.seq is not None
    if event.seq <= record.last_seq:
        return False
    record.last_seq = event.seq
    step = _LIFECYCLE.get(type(event.payload))
    if step is not None:
        step(record, event.payload, _ms(event.occurred_at))
    return True


def _raised(record: ComplaintRecord, p: EscalationRaised) -> None:
    current = record.current
    if p.level >= record.level:
        record.escalation_opd = p.opd_id or (current.opd_id if current else record.escalation_opd)
    record.level = max(record.level, p.level)
    record.escalations.append(EscalationStep(p.level, _ms(p.at), p.opd_id, None, p.reason, "raised"))


def _retracted(record: ComplaintRecord, p: EscalationRetracted) -> None:
    record.level = p.level
    record.escalations.append(EscalationStep(p.level, _ms(p.at), None, None, p.reason, "retracted"))


_ESCALATION: dict[type[Payload], Callable[[ComplaintRecord, Any], None]] = {
    EscalationRaised: _raised,
    EscalationRetracted: _retracted,
}


def apply_escalation(record: ComplaintRecord, event: Envelope) -> bool:
    """Apply an `EscalationRaised`/`EscalationRetracted`; False when its event id was seen."""
    if event.event_id in record.seen_events:
        return False
    record.seen_events = [*record.seen_events, event.event_id][-32:]
    _ESCALATION[type(event.payload)](record, event.payload)
    return True


def apply_clock(record: ClockRecord | None, event: Envelope, complaint_id: str) -> ClockRecord | None:
    """The clock's record after this snapshot, or None when the snapshot is not newer (version)."""
    p = event.payload
    assert isinstance(p, ClockEvent)
    if record is not None and p.version <= record.version:
        return None
    if record is None:
        record = ClockRecord(
            clock_id=p.clock_id,
            complaint_id=complaint_id,
            clock=p.clock,
            opd_id=p.opd_id,
            pemda=p.pemda,
            started_at=_ms(p.started_at),
            due_at=_ms_opt(p.due_at),
            budget_seconds=p.budget_seconds,
            remaining_seconds=p.remaining_seconds,
            state=p.state,
            at=_ms(p.at),
            version=p.version,
        )
    record.opd_id, record.pemda, record.started_at = p.opd_id, p.pemda, _ms(p.started_at)
    record.due_at, record.budget_seconds = _ms_opt(p.due_at), p.budget_seconds
    record.remaining_seconds, record.state, record.at, record.version = (
        p.remaining_seconds,
        p.state,
        _ms(p.at),
        p.version,
    )
    if isinstance(p, ClockStopped):
        record.stopped_at = _ms(p.at)
    elif p.state in ("running", "paused"):
        record.stopped_at = None
    if isinstance(p, BreachRetracted):
        record.breached, record.breached_at = False, None
    elif isinstance(p, SlaBreached) or p.state == "breached":
        record.breached = True
        record.breached_at = record.due_at or record.breached_at or record.at
    record.history.append(
        {
            "type": event.type,
            "state": p.state,
            "at": record.at,
            "due_at": record.due_at,
            "remaining_seconds": p.remaining_seconds,
            "version": p.version,
        }
    )
    return record


# --- contributions ------------------------------------------------------------------------------


def complaint_contribution(record: ComplaintRecord) -> Counter[str]:
    c: Counter[str] = Counter()
    for h in record.holdings:
        c[_key_w(h.opd_id, h.since, "assigned")] += 1
        if h.via == "transfer":
            c[_key_w(h.opd_id, h.since, "transfers_in")] += 1
        if h.outcome == "transferred" and h.until is not None:
            c[_key_w(h.opd_id, h.until, "transfers_out")] += 1
            c[_key_w(h.opd_id, h.until, "misrouted_s")] += h.working_ms // 1000
        if h.until is None:
            c[_key_g(h.opd_id, "open")] += 1
            c[_key_d(h.opd_id, h.since)] += 1
    if record.rating is not None and record.resolved_by and record.closed_at is not None:
        c[_key_w(record.resolved_by, record.closed_at, f"rating.{record.rating}")] += 1
        c[_key_w(record.resolved_by, record.closed_at, "rating_n")] += 1
        c[_key_w(record.resolved_by, record.closed_at, "rating_sum")] += record.rating
    c.update(classifier_contribution(record))
    current = record.current
    escalated_at = record.escalation_opd or (current.opd_id if current else None)
    if record.level >= 1 and record.open and escalated_at:
        c[_key_g(escalated_at, "escalated")] += 1
        c[_key_g(escalated_at, f"level_{record.level}")] += 1
    survey = record.survey
    c += complaint_months(
        record.pemda,
        record.submitted_at,
        record.open,
        [Stay(h.opd_id, h.since, h.until is None) for h in record.holdings],
        Survey(survey["opd_id"], survey["version"], survey["scores"], survey["at"]) if survey else None,
    )
    return +c


def corrected(record: ComplaintRecord) -> bool:
    """A coordinator settled on another category than the classifier's guess: a miss."""
    return record.coordinator_category is not None and record.coordinator_category != record.guess


def classifier_contribution(record: ComplaintRecord) -> Counter[str]:
    """Classifier figures of the complaint's pemda (its monthly counters at the pemda's level), in
    the month of the classification: classified, routed without a coordinator, reviewed by one,
    corrected."""
    c: Counter[str] = Counter()
    if record.guess is None or record.classified_at is None or record.pemda is None:
        return c
    scope, month = record.pemda, month_of(record.classified_at, record.pemda)
    c[_key_m(scope, month, "clf_classified")] += 1
    if record.auto_routed:
        c[_key_m(scope, month, "clf_auto")] += 1
    if record.coordinator_category is not None:
        c[_key_m(scope, month, "clf_reviewed")] += 1
    if corrected(record):
        c[_key_m(scope, month, "clf_corrected")] += 1
    return c


def response_seconds(record: ClockRecord) -> int:
    """Working time a stopped response clock ran: the engine's own figure (budget − remaining,
    on the pemda's full calendar) when the snapshot gives it, else measured from start to stop on
    the shared calendar (response clocks never pause: a request for information stops them)."""
    assert record.stopped_at is not None
    remaining = record.remaining_seconds
    if remaining is not None and 0 <= remaining <= record.budget_seconds and record.state == "met":
        return record.budget_seconds - remaining
    return int(
        pemda_calendar(record.pemda).working_time(record.started_at, record.stopped_at).total_seconds()
    )


def clock_contribution(record: ClockRecord) -> Counter[str]:
    c: Counter[str] = Counter()
    opd = record.attributed_opd
    if opd is None:
        return c
    name = record.clock
    stopped = record.stopped_at
    if record.breached and record.breached_at is not None:
        c[_key_w(opd, record.breached_at, f"{name}_breached")] += 1
        if stopped is None:
            c[_key_g(opd, f"breached_{name}")] += 1
    elif stopped is not None and record.state == "met":
        c[_key_w(opd, stopped, f"{name}_met")] += 1
    used: int | None = None
    if name == "response" and stopped is not None and record.state in ("met", "breached"):
        used = response_seconds(record)
        c[_key_w(opd, stopped, f"rt.{rt_bucket(used)}")] += 1
        c[_key_w(opd, stopped, "rt_n")] += 1
        c[_key_w(opd, stopped, "rt_sum")] += used
    c += clock_months(opd, name, record.started_at, stopped, record.state, record.breached, used)
    return +c


def _rebase(contrib: dict[str, int], new: Counter[str], deltas: Counter[str]) -> dict[str, int]:
    for key in set(contrib) | set(new):
        diff = new.get(key, 0) - contrib.get(key, 0)
        if diff:
            deltas[key] += diff
    return dict(new)


# --- a batch ------------------------------------------------------------------------------------


@dataclass
class ReportChanges:
    complaints: list[ComplaintRecord] = field(default_factory=list)
    clocks: list[ClockRecord] = field(default_factory=list)
    deltas: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.complaints or self.clocks)


# Every payload routing publishes on `complaints.events`: each advances the complaint's `seq`,
# whether or not it moves a counter. Anything else (e.g. `CalendarChanged`) counts for nothing.
LIFECYCLE_TYPES: tuple[type[Payload], ...] = (
    ComplaintReceived,
    ComplaintTriaged,
    ComplaintUpdated,
    ComplaintClaimed,
    ComplaintAnswered,
    InformationRequested,
    InformationAdded,
    TierChanged,
    ComplaintAssigned,
    ComplaintTransferred,
    ComplaintResolved,
    ComplaintReopened,
    ComplaintClosed,
    ComplaintArchived,
    CommandRejected,
    SurveySubmitted,
)
ESCALATION_TYPES: tuple[type[Payload], ...] = (EscalationRaised, EscalationRetracted)


def _malformed(event: Envelope) -> str | None:
    """Why keys or calendars could not be computed from this event's pemda/OPD codes, if so."""
    for name in ("pemda", "opd_id", "from_opd_id"):
        code = getattr(event.payload, name, None)
        if not isinstance(code, str):
            continue
        pemda, slash, slug = code.partition("/")
        try:
            zone_for(pemda)
        except ValueError:
            return f"{name}: kode pemda tidak dikenal: {code!r}"
        if slash and not slug:
            return f"{name}: id OPD tanpa slug: {code!r}"
    return None


RecordKind = Literal["clock", "complaint"]
Refusal = tuple[Envelope, str]  # an event and why it cannot be counted


def _record_kind(payload: Payload) -> RecordKind | None:
    """Which record an event changes: a clock's (every clock snapshot), the complaint's (its
    lifecycle and escalations), or none (e.g. `CalendarChanged`)."""
    for cls in type(payload).__mro__:
        kind = _RECORD_OF.get(cls)
        if kind is not None:
            return kind
    return None


_RECORD_OF: dict[type, RecordKind] = {
    ClockEvent: "clock",
    **{t: "complaint" for t in (*LIFECYCLE_TYPES, *ESCALATION_TYPES)},
}


def wanted_ids(batch: Iterable[Envelope]) -> tuple[set[str], set[str]]:
    """The complaint and clock records a batch needs loaded."""
    complaints: set[str] = set()
    clocks: set[str] = set()
    for event in batch:
        kind = _record_kind(event.payload)
        if kind == "clock":
            clocks.add(cast(ClockEvent, event.payload).clock_id)
        elif kind == "complaint" and event.complaint_id:
            complaints.add(event.complaint_id)
    return complaints, clocks


def fold(
    batch: Sequence[Envelope],
    complaints: Mapping[str, ComplaintRecord],
    clocks: Mapping[str, ClockRecord],
) -> tuple[ReportChanges, list[Refusal]]:
    """Apply a batch to the loaded records: the changed records and the counter increments, and
    the events refused with the reason (the consumer dead-letters them)."""
    rejected: list[Refusal] = []
    records = dict(complaints)
    clock_records = dict(clocks)
    touched: dict[str, ComplaintRecord] = {}
    touched_clocks: dict[str, ClockRecord] = {}
    for event in batch:
        p = event.payload
        kind = _record_kind(p)
        if kind is None:
            continue
        lifecycle = type(p) in LIFECYCLE_TYPES
        problem = _malformed(event)
        if not event.complaint_id:
            problem = "peristiwa tanpa complaint_id"
        elif lifecycle and event.seq is None:
            problem = "peristiwa siklus hidup tanpa seq"
        if problem:
            rejected.append((event, problem))
            continue
        cid = event.complaint_id
        assert cid is not None
        if kind == "clock":
            clock_id = cast(ClockEvent, p).clock_id
            changed = apply_clock(clock_records.get(clock_id), event, cid)
            if changed is not None:
                clock_records[clock_id] = touched_clocks[clock_id] = changed
            continue
        record = records.setdefault(cid, ComplaintRecord(cid))
        if apply_lifecycle(record, event) if lifecycle else apply_escalation(record, event):
            touched[cid] = record
    changes = ReportChanges()
    for record in touched.values():
        record.contrib = _rebase(record.contrib, complaint_contribution(record), changes.deltas)
        changes.complaints.append(record)
    for clock in touched_clocks.values():
        clock.contrib = _rebase(clock.contrib, clock_contribution(clock), changes.deltas)
        changes.clocks.append(clock)
    changes.deltas = Counter({k: v for k, v in changes.deltas.items() if v})
    return changes, rejected
