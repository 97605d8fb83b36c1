"""The SLA clock engine (services/sla/domain/) against every rule of DESIGN §5, driven the way
the service drives it: lifecycle events in seq order, and time (`advance`) in between."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.sla.domain.clock import Clock
from services.sla.domain.complaint import ComplaintClocks
from services.sla.domain.facts import Fact
from services.sla.domain.standards import Calendars, ServiceStandard, SlaRules, Standards
from services.sla.domain.targets import Rules
from shared.calendar import WIB, calendar_for
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    BreachRetracted,
    ClockEvent,
    ClockPaused,
    ClockRescheduled,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    CloseExpired,
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
    EscalationRaised,
    EscalationRetracted,
    InformationAdded,
    InformationRequested,
    SlaBreached,
    SlaWarning,
    Tier,
    TierChanged,
)

PUPR = "33.74/dinas-pupr"
DINKES = "33.74/dinas-kesehatan"
PROV_PUPR = "33/dinas-pupr"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SEMARANG = calendar_for("33.74")


def wib(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=WIB)


@dataclass
class Story:
    """One complaint's lifecycle, applied as routing would emit it (seq 1, 2, …)."""

    complaint_id: str = "C1"
    pemda: str = "33.74"
    rules: Rules = field(default_factory=SlaRules)
    clocks: ComplaintClocks = field(init=False)
    events: list[Envelope] = field(default_factory=list)
    announced: list[Payload] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clocks = ComplaintClocks(self.complaint_id)

    def emit(self, payload: Payload, at: datetime) -> list[Payload]:
        event = new_event(
            payload,
            producer="routing",
            complaint_id=self.complaint_id,
            seq=len(self.events) + 1,
            occurred_at=at,
        )
        self.events.append(event)
        out = self.clocks.apply(event, self.rules)
        self.announced += out
        return out

    def time(self, until: datetime) -> list[Payload]:
        out = self.clocks.advance(until, self.rules)
        self.announced += out
        return out

    # --- the lifecycle events --------------------------------------------------------------------

    def received(self, at: datetime, category: str | None = "jalan-jembatan") -> list[Payload]:
        return self.emit(
            ComplaintReceived(
                submitted_at=at,
                title="Jalan berlubang",
                description="Lubang besar di depan SD",
                category=category,
                region_code=f"{self.pemda}.01.1001",
                pemda=self.pemda,
                classification="pengaduan",
                channel="web",
                anonymous=False,
                confidential=False,
            ),
            at,
        )

    def assigned(
        self, at: datetime, opd: str = PUPR, via: str = "routing", tier: Tier = "normatif"
    ) -> list[Payload]:
        return self.emit(
            ComplaintAssigned(
                opd_id=opd,
                pemda=opd.split("/")[0],
                category="jalan-jembatan",
                level="kabkota" if "." in opd.split("/")[0] else "provinsi",
                rule="test",
                tier=tier,
                via=via,  # type: ignore[arg-type]
            ),
            at,
        )

    def triaged(self, at: datetime, via: str = "routing") -> list[Payload]:
        return self.emit(
            ComplaintTriaged(pemda=self.pemda, category=None, rule="t", reason="r", via=via),  # type: ignore[arg-type]
            at,
        )

    def claimed(self, at: datetime, opd: str = PUPR) -> list[Payload]:
        return self.emit(ComplaintClaimed(opd_id=opd, handler="h1"), at)

    def answered(self, at: datetime, opd: str = PUPR) -> list[Payload]:
        return self.emit(ComplaintAnswered(opd_id=opd, handler="h1", message="Sedang kami tangani"), at)

    def info_requested(self, at: datetime, opd: str = PUPR) -> list[Payload]:
        return self.emit(InformationRequested(opd_id=opd, handler="h1", message="Mohon foto lokasi"), at)

    def info_added(self, at: datetime, resumed: bool = True) -> list[Payload]:
        return self.emit(InformationAdded(message="Foto terlampir", resumed=resumed), at)

    def tier(self, at: datetime, tier: Tier, opd: str = PUPR) -> list[Payload]:
        return self.emit(TierChanged(opd_id=opd, tier=tier), at)

    def transferred(self, at: datetime, to: str | None, frm: str = PUPR, n: int = 1) -> list[Payload]:
        out = self.emit(
            ComplaintTransferred(from_opd_id=frm, to_opd_id=to, reason="bukan wewenang", transfers=n), at
        )
        if to is None:
            return out + self.triaged(at, via="transfer")
        return out + self.assigned(at, to, via="transfer")

    def resolved(self, at: datetime, opd: str = PUPR) -> list[Payload]:
        return self.emit(ComplaintResolved(opd_id=opd, handler="h1", answer="Sudah diperbaiki"), at)

    def reopened(self, at: datetime, opd: str = PUPR) -> list[Payload]:
        return self.emit(ComplaintReopened(opd_id=opd, reason="Belum diperbaiki"), at) + self.assigned(
            at, opd, via="reopen"
        )

    def closed(self, at: datetime, outcome: str) -> list[Payload]:
        return self.emit(ComplaintClosed(outcome=outcome, rating=4 if outcome == "feedback" else None), at)  # type: ignore[arg-type]

    def archived(self, at: datetime) -> list[Payload]:
        return self.emit(ComplaintArchived(reason="spam"), at)

    # --- reading ---------------------------------------------------------------------------------

    def clock(self, name: str, number: int = 1) -> Clock:
        return next(c for c in self.clocks.clocks if c.clock_id == f"{self.complaint_id}/{name}/{number}")


def of(kind: type[Any], payloads: Sequence[Payload]) -> list[Any]:
    return [p for p in payloads if type(p) is kind]


def states(payloads: Sequence[Payload]) -> list[tuple[str, str, str]]:
    return [(type(p).__name__, p.clock, p.state) for p in payloads if isinstance(p, ClockEvent)]


# --- start, stop, the DESIGN §5 examples ---------------------------------------------------------


def test_design_example_clocks_start_on_the_pemda_calendar_from_event_instants() -> None:
    s = Story()
    friday = wib(2026, 3, 13, 16)  # + 5 HK skips cuti bersama 18, 20, 23, 24 Mar and the holidays
    started = of(ClockStarted, s.received(friday) + s.assigned(friday + HOUR))
    dues = {p.clock: p.due_at.isoformat() for p in started}
    assert dues == {
        "verification": "2026-03-26T00:00:00+07:00",
        "response": "2026-03-28T00:00:00+07:00",
        "resolution": "2026-03-28T00:00:00+07:00",
    }
    assert s.clock("verification").state == "met" and s.clock("verification").stopped_at == friday + HOUR
    assert s.clock("response").opd_id == PUPR and s.clock("resolution").pemda == "33.74"
    assert started[0].budget_seconds == 8 * 3600 + 3 * 86400  # the rest of Friday and 3 whole HK


def test_dues_are_announced_in_the_local_offset_of_the_pemda_that_holds_the_clock() -> None:
    s = Story(pemda="64.01")  # Paser, East Kalimantan: WITA
    at = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)  # Mon 10:00 WITA
    [started] = of(ClockStarted, s.received(at))
    assert started.due_at.isoformat() == "2026-02-06T00:00:00+08:00"  # Mon 10:00 + 3 HK = end of Thu


def test_verification_breaches_at_its_due_and_stops_breached_at_the_late_disposition() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.triaged(wib(2026, 2, 2, 10))
    assert of(SlaWarning, s.time(wib(2026, 2, 5, 12))), "75 % of 3 HK + 14 h is used by Thu noon"
    [breach] = of(SlaBreached, s.time(wib(2026, 2, 9, 9)))
    assert breach.clock == "verification" and breach.at == wib(2026, 2, 6)  # the due, not the detection
    stopped = of(ClockStopped, s.assigned(wib(2026, 2, 9, 9)))
    assert [(p.clock, p.state) for p in stopped] == [("verification", "breached")]
    assert s.clocks.escalation.level == 0  # only response/resolution breaches escalate


def test_a_clock_stopped_exactly_at_its_due_is_on_time() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    due = s.clock("response").due_at
    assert due == wib(2026, 2, 10)
    s.time(due - timedelta(milliseconds=1))
    assert states(s.answered(due)) == [("ClockStopped", "response", "met")]
    assert not of(SlaBreached, s.announced)


def test_a_claim_is_not_an_answer_and_only_the_first_answer_stops_response() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    assert s.claimed(wib(2026, 2, 2, 11)) == []
    assert states(s.answered(wib(2026, 2, 3, 9))) == [("ClockStopped", "response", "met")]
    assert s.answered(wib(2026, 2, 4, 9)) == []
    assert s.clock("resolution").state == "running"


def test_resolution_stops_both_opd_clocks_and_starts_the_reporters_window() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    out = s.resolved(wib(2026, 2, 3, 10))
    assert states(out) == [
        ("ClockStopped", "response", "met"),
        ("ClockStopped", "resolution", "met"),
        ("ClockStarted", "reporter_reply", "running"),
    ]
    reply = s.clock("reporter_reply")
    assert reply.opd_id is None and reply.due_at == wib(2026, 2, 20)  # 10 HK, Lunar New Year skipped
    assert reply.warn_at is None  # the reporter's window never warns


# --- pause and resume ---------------------------------------------------------------------------


def test_pause_keeps_the_remaining_working_time_and_resume_gives_a_mid_day_due() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))  # Monday
    s.assigned(wib(2026, 2, 2, 10))
    out = s.info_requested(wib(2026, 2, 4, 12))  # Wednesday noon
    assert states(out) == [("ClockStopped", "response", "met"), ("ClockPaused", "resolution", "paused")]
    [paused] = of(ClockPaused, out)
    assert paused.due_at is None and paused.remaining_seconds == (3 * 24 + 12) * 3600
    assert s.time(wib(2026, 2, 12, 14)) == []  # nothing runs while the reporter is asked
    [resumed] = of(ClockResumed, s.info_added(wib(2026, 2, 12, 15)))  # Thursday 15:00
    # 9 h of Thursday, Friday, (16–17 Feb holidays) Wed, Thu, and the last 3 h on Friday 20 Feb.
    assert resumed.due_at.isoformat() == "2026-02-20T03:00:00+07:00"
    assert resumed.remaining_seconds is None and resumed.version == 3
    [breach] = of(SlaBreached, s.time(wib(2026, 2, 20, 9)))
    assert breach.at == wib(2026, 2, 20, 3)


def test_information_added_without_waiting_moves_no_clock() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    assert s.info_added(wib(2026, 2, 3, 10), resumed=False) == []
    assert s.clock("resolution").due_at == wib(2026, 2, 10)


def test_a_breached_clock_does_not_pause() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10), tier="ringan")  # resolution 2 HK: end of Wed 4 Feb
    s.answered(wib(2026, 2, 3, 10))
    out = s.info_requested(wib(2026, 2, 5, 10))
    assert of(SlaBreached, out) and not of(ClockPaused, out)
    assert s.clock("resolution").state == "breached" and s.clock("resolution").open
    assert s.info_added(wib(2026, 2, 6, 10)) == []


def test_warning_falls_when_three_quarters_of_the_budget_are_used_even_across_a_pause() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 0))
    s.assigned(wib(2026, 2, 2, 0))  # Monday 00:00: the budget of 5 HK is 6 whole days (Mon counts)
    budget = s.clock("resolution").budget_ms
    assert budget == 6 * 86_400_000
    assert s.clock("resolution").warn_at == SEMARANG.add_working_time(wib(2026, 2, 2), timedelta(days=4.5))
    s.info_requested(wib(2026, 2, 4, 0))  # 2 days used, 4 left
    s.info_added(wib(2026, 2, 11, 0))  # 2.5 more days to the warning: Fri 13 Feb 12:00
    [warning] = of(SlaWarning, s.time(wib(2026, 2, 14)))
    assert warning.clock == "resolution" and warning.at == wib(2026, 2, 13, 12)


# --- transfers, triage again, reopen, tier ----------------------------------------------------------


def test_transfer_ends_the_old_opds_clocks_and_starts_fresh_ones_with_accountability() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    out = s.transferred(wib(2026, 2, 3, 16), to=PROV_PUPR)  # to the province (cross-pemda)
    assert states(out) == [
        ("ClockStopped", "response", "transferred"),
        ("ClockStopped", "resolution", "transferred"),
        ("ClockStarted", "response", "running"),
        ("ClockStarted", "resolution", "running"),
    ]
    new = s.clock("response", 2)
    assert (new.opd_id, new.pemda, new.started_at) == (PROV_PUPR, "33", wib(2026, 2, 3, 16))
    assert new.due_at == wib(2026, 2, 11)
    s.answered(wib(2026, 2, 4, 9), opd=PROV_PUPR)
    accounts = {a.opd_id: a for a in s.clocks.accountability()}
    assert accounts[PUPR].held_seconds == 14 * 3600 + 16 * 3600  # Mon 10:00 → Tue 16:00
    assert accounts[PUPR].transfers_out == 1 and accounts[PUPR].misrouted_seconds == 30 * 3600
    assert accounts[PROV_PUPR].open_since == wib(2026, 2, 3, 16) and accounts[PROV_PUPR].transfers_out == 0
    assert s.clocks.transfers == 1
    assert s.clocks.governing_pemdas() == ["33", "33.74"]


def test_a_breach_stays_with_the_opd_that_held_the_clock_and_transfer_does_not_reset_the_ladder() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.transferred(wib(2026, 2, 11, 10), to=DINKES)  # after the due of 10 Feb 00:00
    assert [(p.clock, p.opd_id) for p in of(SlaBreached, s.announced)] == [
        ("response", PUPR),
        ("resolution", PUPR),
    ]
    assert s.clock("response").state == "breached" and s.clock("response").end_reason == "transferred"
    assert s.clocks.escalation.level == 1
    s.time(wib(2026, 2, 21, 12))  # DINKES' own due: end of Fri 20 Feb (16–17 Feb are holidays)
    # Level 2 on the ladder's own schedule (5 HK from level 1's date: end of Thu 19 Feb); no
    # second level 1 for the new OPD's breach.
    assert s.clocks.escalation.level == 2
    assert [a.breaches for a in s.clocks.accountability()] == [2, 2]
    assert [e.level for e in of(EscalationRaised, s.announced)] == [1, 2]


def test_the_nth_transfer_goes_to_triage_and_verification_starts_again() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    out = s.transferred(wib(2026, 2, 3, 10), to=None, n=3)
    assert states(out)[-1] == ("ClockStarted", "verification", "running")
    assert s.clock("verification", 2).due_at == wib(2026, 2, 7)
    assert s.clocks.holder is None
    s.assigned(wib(2026, 2, 4, 10), opd=DINKES, via="disposition")
    assert s.clock("verification", 2).state == "met"


def test_reopen_stops_the_reporters_window_and_gives_the_last_opd_fresh_clocks() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.resolved(wib(2026, 2, 3, 10))
    out = s.reopened(wib(2026, 2, 5, 10))
    assert states(out) == [
        ("ClockStopped", "reporter_reply", "met"),
        ("ClockStarted", "response", "running"),
        ("ClockStarted", "resolution", "running"),
    ]
    assert s.clock("resolution", 2).started_at == wib(2026, 2, 5, 10)
    assert s.clocks.status == "open"
    holdings = [(h.opd_id, h.outcome) for h in s.clocks.holdings]
    assert holdings == [(PUPR, "resolved"), (PUPR, None)]


def test_tier_change_recomputes_the_resolution_due_from_its_start() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    [moved] = of(ClockRescheduled, s.tier(wib(2026, 2, 3, 10), "tidak-berkadar-pengawasan"))
    assert moved.clock == "resolution" and moved.due_at == SEMARANG.due(wib(2026, 2, 2, 10), 14)
    assert moved.budget_seconds == (14 * 24 + 14) * 3600
    assert s.clock("response").due_at == wib(2026, 2, 10)  # the response target does not depend on tier


def test_tier_change_after_a_breach_keeps_the_breach() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10), tier="ringan")
    s.answered(wib(2026, 2, 2, 11))
    s.time(wib(2026, 2, 5, 12))
    assert s.clock("resolution").breached_at == wib(2026, 2, 5)
    [moved] = of(ClockRescheduled, s.tier(wib(2026, 2, 5, 12), "berkadar-pengawasan"))
    assert moved.state == "breached" and s.clock("resolution").breached_at == wib(2026, 2, 5)
    assert s.clocks.escalation.level == 1


def test_tier_change_while_paused_keeps_the_used_time() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 0))
    s.assigned(wib(2026, 2, 2, 0))  # 6 whole working days of budget
    s.info_requested(wib(2026, 2, 4, 0))  # 2 used
    [moved] = of(ClockRescheduled, s.tier(wib(2026, 2, 5, 0), "ringan"))  # budget 3 days: 1 left
    assert moved.state == "paused" and moved.remaining_seconds == 86400
    [resumed] = of(ClockResumed, s.info_added(wib(2026, 2, 9, 6)))
    assert resumed.due_at == wib(2026, 2, 10, 6)


# --- withdraw, archive, close ----------------------------------------------------------------------


def test_withdrawal_cancels_every_running_clock() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.info_requested(wib(2026, 2, 3, 10))
    out = s.closed(wib(2026, 2, 4, 10), "withdrawn")
    assert states(out) == [("ClockStopped", "resolution", "cancelled")]
    assert all(not c.open for c in s.clocks.clocks) and s.clocks.next_check() is None


def test_archive_cancels_verification() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.triaged(wib(2026, 2, 2, 10))
    assert states(s.archived(wib(2026, 2, 3, 10))) == [("ClockStopped", "verification", "cancelled")]


def test_feedback_stops_the_reporters_window_as_met() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.resolved(wib(2026, 2, 3, 10))
    assert states(s.closed(wib(2026, 2, 4, 10), "feedback")) == [("ClockStopped", "reporter_reply", "met")]


def test_the_reporters_window_expires_into_a_close_command_never_a_breach() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.resolved(wib(2026, 2, 3, 10))
    out = s.time(wib(2026, 3, 1))
    assert states(out) == [("ClockStopped", "reporter_reply", "met")]
    [stopped] = of(ClockStopped, out)
    assert stopped.at == wib(2026, 2, 20) and s.clock("reporter_reply").end_reason == "expired"
    assert of(CloseExpired, out) == [CloseExpired(clock_id="C1/reporter_reply/1")]
    assert not of(SlaBreached, out) and not of(EscalationRaised, out)
    assert s.closed(wib(2026, 3, 1, 1), "expired") == []  # routing's close moves nothing more
    assert s.time(wib(2026, 6, 1)) == []


# --- escalation ---------------------------------------------------------------------------------------


def test_escalation_ladder_levels_one_two_three() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.time(wib(2026, 4, 30))
    raised = [(e.level, e.at) for e in of(EscalationRaised, s.announced)]
    assert raised == [
        (1, wib(2026, 2, 10)),  # the response breach
        (2, SEMARANG.due(wib(2026, 2, 10), 5)),  # 5 HK after level 1
        (3, wib(2026, 2, 2, 10) + timedelta(days=60)),  # 60 calendar days after submission
    ]
    assert raised[1][1] == wib(2026, 2, 20)  # Tue 10 Feb's date + 5 HK (16–17 Feb holidays)
    assert s.clocks.next_check() is None


def test_escalation_stops_when_resolved_and_resumes_if_reopened_past_its_instant() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.time(wib(2026, 2, 11))
    assert s.clocks.escalation.level == 1
    s.resolved(wib(2026, 2, 12, 10))
    s.time(wib(2026, 2, 25))
    assert s.clocks.escalation.level == 1  # level 2 was due on 19 Feb while it was resolved
    s.reopened(wib(2026, 2, 25, 10))
    out = s.time(wib(2026, 2, 25, 11))
    assert [(e.level, e.at) for e in of(EscalationRaised, out)] == [(2, wib(2026, 2, 25, 10))]


# --- determinism, late events, recompute ---------------------------------------------------------------


def _busy_story() -> Story:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.triaged(wib(2026, 2, 2, 10))
    s.time(wib(2026, 2, 9, 8))
    s.assigned(wib(2026, 2, 9, 9), via="disposition")
    s.claimed(wib(2026, 2, 9, 10))
    s.info_requested(wib(2026, 2, 10, 11))
    s.time(wib(2026, 2, 12))
    s.info_added(wib(2026, 2, 19, 9, 30))
    s.tier(wib(2026, 2, 19, 10), "ringan")
    s.time(wib(2026, 2, 24))
    s.transferred(wib(2026, 2, 24, 10), to=DINKES)
    s.time(wib(2026, 3, 6))
    s.resolved(wib(2026, 3, 6, 10), opd=DINKES)
    s.time(wib(2026, 3, 9))
    return s


def test_replaying_the_same_events_then_advancing_gives_the_same_clocks() -> None:
    live = _busy_story()
    now = wib(2026, 5, 1)
    live.time(now)
    replayed = Story()
    for event in live.events:
        replayed.clocks.apply(event, replayed.rules)
    replayed.time(now)
    assert replayed.clocks.clocks == live.clocks.clocks
    assert replayed.clocks.escalation == live.clocks.escalation
    assert replayed.clocks.accountability() == live.clocks.accountability()
    facts = ComplaintClocks.replay("C1", live.clocks.history, live.rules, until=now)
    assert facts.clocks == live.clocks.clocks
    assert not of(SlaBreached, live.clocks.rebuild(live.rules, now, "no change"))  # idempotent
    assert live.clocks.rebuild(live.rules, now, "no change") == []


def test_an_event_older_than_an_applied_breach_corrects_it() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.time(wib(2026, 2, 10, 0, 5))  # the detector already breached both at 10 Feb 00:00
    assert s.clocks.escalation.level == 1
    out = s.answered(wib(2026, 2, 10))  # routing recorded the answer exactly at the due
    [retracted] = of(BreachRetracted, out)
    assert (retracted.clock, retracted.state, retracted.version) == ("response", "met", 4)
    assert s.clock("resolution").state == "breached"  # still late: level 1 stays
    assert s.clocks.escalation.level == 1 and not of(EscalationRetracted, out)
    replayed = Story()
    for event in s.events:
        replayed.clocks.apply(event, replayed.rules)
    replayed.time(wib(2026, 2, 10, 0, 5))
    assert [(c.clock_id, c.state, c.breached_at) for c in replayed.clocks.clocks] == [
        (c.clock_id, c.state, c.breached_at) for c in s.clocks.clocks
    ]


def test_recompute_with_an_extra_date_moves_dues_and_retracts_breaches_and_escalations() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.time(wib(2026, 2, 10, 9))
    assert s.clocks.escalation.level == 1
    rules = SlaRules(Calendars({"33": {date(2026, 2, 9)}}))  # a provincial day off binds Semarang
    out = s.clocks.rebuild(rules, wib(2026, 2, 10, 9), "kalender diubah")
    assert states(out) == [
        ("BreachRetracted", "response", "running"),
        ("BreachRetracted", "resolution", "running"),
    ]
    assert {p.due_at for p in out if isinstance(p, ClockEvent)} == {wib(2026, 2, 11)}
    assert [type(p).__name__ for p in out if not isinstance(p, ClockEvent)] == ["EscalationRetracted"]
    assert s.clocks.escalation.level == 0 and s.clocks.next_check() == wib(2026, 2, 11)
    # Removing the date again brings the breaches back, at their original instants.
    back = s.clocks.rebuild(SlaRules(), wib(2026, 2, 10, 10), "kalender diubah")
    assert [(type(p).__name__, p.at) for p in back if isinstance(p, SlaBreached)] == [
        ("SlaBreached", wib(2026, 2, 10)),
        ("SlaBreached", wib(2026, 2, 10)),
    ]
    assert [e.level for e in of(EscalationRaised, back)] == [1]


def test_recompute_reschedules_an_open_clock_without_a_breach() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    out = s.clocks.rebuild(SlaRules(Calendars({"33.74": {date(2026, 2, 5)}})), wib(2026, 2, 3), "kalender")
    assert states(out) == [
        ("ClockRescheduled", "verification", "met"),  # closed clocks are recomputed too
        ("ClockRescheduled", "response", "running"),
        ("ClockRescheduled", "resolution", "running"),
    ]
    assert s.clock("verification").due_at == wib(2026, 2, 7) and s.clock("verification").state == "met"
    assert s.clock("response").due_at == wib(2026, 2, 11) and s.clock("response").version == 2


# --- targets from the service standard -----------------------------------------------------------------


def test_targets_come_from_the_most_specific_service_standard() -> None:
    standards = Standards(
        [
            ServiceStandard("resolution", 7, pemda="33.74"),
            ServiceStandard("resolution", 3, opd_id=PUPR, category="jalan-jembatan"),
            ServiceStandard("response", 1, category="jalan-jembatan"),
            ServiceStandard("verification", 1, pemda="33.74"),
        ]
    )
    target = standards.target_hk
    assert target("resolution", pemda="33.74", opd_id=PUPR, category="jalan-jembatan", tier="normatif") == 3
    assert target("resolution", pemda="33.74", opd_id=DINKES, category="kesehatan", tier="ringan") == 7
    assert target("resolution", pemda="33.71", opd_id=None, category=None, tier="ringan") == 2
    assert target("response", pemda="31.71", opd_id=None, category="jalan-jembatan", tier="normatif") == 1
    s = Story(rules=SlaRules(standards=standards))
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    assert s.clock("verification").due_at == wib(2026, 2, 4)
    assert (s.clock("response").due_at, s.clock("resolution").due_at) == (wib(2026, 2, 4), wib(2026, 2, 6))


def test_recorded_targets_survive_a_change_of_the_service_standard() -> None:
    strict = SlaRules(standards=Standards([ServiceStandard("response", 1)]))
    s = Story(rules=strict)
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    assert [f.targets for f in s.clocks.history] == [{"verification": 3}, {"response": 1, "resolution": 5}]
    assert s.clocks.rebuild(SlaRules(), wib(2026, 2, 2, 12), "standar berubah") == []
    assert s.clock("response").due_at == wib(2026, 2, 4)


def test_facts_keep_no_text_and_only_clock_moving_events() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.claimed(wib(2026, 2, 2, 11))
    s.info_added(wib(2026, 2, 2, 12), resumed=False)
    assert [f.kind for f in s.clocks.history] == ["ComplaintReceived", "ComplaintAssigned"]
    assert s.clocks.last_seq == 4
    assert "Lubang" not in repr(s.clocks.history)
    assert all(isinstance(f, Fact) for f in s.clocks.history)


def test_next_check_is_the_earliest_pending_transition() -> None:
    s = Story()
    s.received(wib(2026, 2, 2, 10))
    assert s.clocks.next_check() == s.clock("verification").warn_at
    s.assigned(wib(2026, 2, 2, 11))
    assert s.clocks.next_check() == min(s.clock("response").warn_at, s.clock("resolution").warn_at)  # type: ignore[type-var]
    s.resolved(wib(2026, 2, 3, 10))
    assert s.clocks.next_check() == s.clock("reporter_reply").due_at


def test_kab_kota_calendar_observes_its_provinces_extra_dates_and_invalidates_on_change() -> None:
    calendars = Calendars()
    assert calendars.calendar("33.74").is_working_day(date(2026, 2, 9))
    assert calendars.set("33", [date(2026, 2, 9)], revision=1)
    assert not calendars.calendar("33.74").is_working_day(date(2026, 2, 9))
    assert calendars.calendar("31.71").is_working_day(date(2026, 2, 9))
    assert not calendars.set("33", [date(2026, 2, 10)], revision=1)  # not a newer revision
    assert calendars.set("33.74", [date(2026, 2, 10)], revision=1)
    assert not calendars.calendar("33.74").is_working_day(date(2026, 2, 10))
    assert calendars.calendar("33.71").is_working_day(date(2026, 2, 10))
