"""Intake's citizen view: every lifecycle event, escalations, clock snapshots with a live
countdown, and what each audience (reporter, staff, public) is shown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from services.intake.domain import notifications
from services.intake.domain.view import (
    apply,
    countdown,
    render,
    render_survivor,
    reopen_window_end,
)
from shared.calendar import CalendarBook, calendar_for
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    ClockPaused,
    ClockStarted,
    ClockStopped,
    CommandRejected,
    ComplaintAbsorbed,
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
    TierChanged,
)

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # Fri 16:00 WIB
OPD = "33.74/dinas-pupr"
SECRET_PHONE = "0812-3456-7890"
SECRET_NIK = "3374012345678901"


def doc(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_id": "C1",
        "token_hash": "h",
        "anonymous": False,
        "confidential": False,
        "category": "jalan-jembatan",
        "region_code": "33.74.01.1001",
        "pemda": "33.74",
        "title": "Jalan berlubang",
        "description": f"Lubang besar; hubungi {SECRET_PHONE}, NIK {SECRET_NIK}.",
        "status": "received",
        "opd_id": None,
        "escalation_level": 0,
        "last_seq": 0,
        "deadlines": {},
        "timeline": [],
        "rev": 0,
    }
    base.update(changes)
    return base


def lifecycle(seq: int, payload: Payload, minutes: int = 0, correlation: str | None = None) -> Envelope:
    return new_event(
        payload,
        producer="routing",
        complaint_id="C1",
        seq=seq,
        occurred_at=T0 + timedelta(minutes=minutes),
        correlation_id=correlation,
    )


def received() -> ComplaintReceived:
    return ComplaintReceived(
        submitted_at=T0,
        title="Jalan berlubang",
        description="d",
        category=None,
        region_code="33.74.01.1001",
        pemda="33.74",
        classification="pengaduan",
        channel="web",
        anonymous=False,
        confidential=False,
    )


def assigned(opd: str = OPD, via: str = "routing") -> ComplaintAssigned:
    return ComplaintAssigned(
        opd_id=opd, pemda=opd.split("/")[0], category="jalan-jembatan", level="kabkota", rule="r", via=via
    )  # type: ignore[arg-type]


FULL_STORY: list[tuple[Payload, str]] = [
    (received(), "received"),
    (ComplaintTriaged(pemda="33.74", category=None, rule="lainnya", reason="r"), "triage"),
    (
        ComplaintUpdated(
            category="jalan-jembatan",
            region_code="33.74.02",
            pemda="33.74",
            anonymous=False,
            confidential=True,
        ),
        "triage",
    ),
    (assigned(via="disposition"), "assigned"),
    (ComplaintClaimed(opd_id=OPD, handler="h1"), "in_progress"),
    (ComplaintAnswered(opd_id=OPD, handler="h1", message="Sedang kami survei."), "in_progress"),
    (InformationRequested(opd_id=OPD, handler="h1", message="Mohon kirim foto."), "waiting_reporter"),
    (InformationAdded(message="Foto terlampir.", resumed=True), "in_progress"),
    (TierChanged(opd_id=OPD, tier="ringan"), "in_progress"),
    (
        ComplaintTransferred(from_opd_id=OPD, to_opd_id="33.74/dlh", reason="bukan jalan", transfers=1),
        "in_progress",
    ),
    (assigned("33.74/dlh", via="transfer"), "assigned"),
    (ComplaintResolved(opd_id="33.74/dlh", handler="h2", answer="Sudah dibersihkan."), "resolved"),
    (ComplaintReopened(opd_id="33.74/dlh", reason="Kotor lagi."), "resolved"),
    (assigned("33.74/dlh", via="reopen"), "assigned"),
    (ComplaintResolved(opd_id="33.74/dlh", handler="h2", answer="Dibersihkan ulang."), "resolved"),
    (ComplaintClosed(outcome="feedback", rating=4, comment="Terima kasih"), "closed"),
]


def test_every_lifecycle_event_moves_the_status_and_adds_one_timeline_entry() -> None:
    view = doc()
    for seq, (payload, status) in enumerate(FULL_STORY, start=1):
        assert apply(view, lifecycle(seq, payload, minutes=seq))
        assert view["status"] == status, payload.TYPE
        assert view["last_seq"] == seq
    assert [t["type"] for t in view["timeline"]] == [p.TYPE for p, _ in FULL_STORY]
    assert view["opd_id"] == "33.74/dlh"
    assert view["region_code"] == "33.74.02" and view["confidential"] is True
    assert view["reopened"] is True and view["closed_outcome"] == "feedback"
    assert view["resolved_at"] == T0 + timedelta(minutes=15)

    shown = render(view, T0, calendar_for, "reporter")
    summaries = [t.summary for t in shown.timeline]
    assert "Tanggapan dari 33.74/dinas-pupr: Sedang kami survei." in summaries
    assert "33.74/dinas-pupr meminta informasi tambahan dari pelapor: Mohon kirim foto." in summaries
    assert "Diselesaikan oleh 33.74/dlh: Sudah dibersihkan." in summaries
    assert "Dikembalikan ke 33.74/dlh untuk ditangani ulang" in summaries
    assert summaries[-1] == "Selesai setelah pelapor memberi penilaian (4/5): Terima kasih"
    assert shown.status_label == "Selesai"


def test_an_archive_and_a_withdrawal_end_the_complaint() -> None:
    archived = doc()
    apply(archived, lifecycle(1, received()))
    apply(archived, lifecycle(2, ComplaintArchived(reason="spam", forwarded_to=None)))
    assert archived["status"] == "archived"
    withdrawn = doc()
    apply(withdrawn, lifecycle(1, received()))
    apply(withdrawn, lifecycle(2, ComplaintClosed(outcome="withdrawn", comment="sudah beres")))
    assert withdrawn["status"] == "closed" and withdrawn["closed_outcome"] == "withdrawn"


def test_a_redelivered_or_stale_lifecycle_event_changes_nothing() -> None:
    view = doc()
    first = lifecycle(1, received())
    second = lifecycle(2, assigned())
    assert apply(view, first) and apply(view, second)
    before = repr(view)
    assert not apply(view, first)
    assert not apply(view, second)
    assert repr(view) == before


def test_the_public_sees_status_changes_and_opd_answers_but_no_reporter_text() -> None:
    view = doc()
    for seq, payload in enumerate(
        [
            received(),
            assigned(),
            InformationRequested(opd_id=OPD, handler="h", message="Kirim foto KTP Anda"),
            InformationAdded(message="Saya Budi di RT 3", resumed=True),
            ComplaintResolved(opd_id=OPD, handler="h", answer="Jalan sudah ditambal"),
        ],
        start=1,
    ):
        apply(view, lifecycle(seq, payload, minutes=seq))
    public = render(view, T0, calendar_for, "public")
    text = public.model_dump_json()
    assert "Jalan sudah ditambal" in text
    assert "Budi" not in text and "KTP" not in text
    assert public.region_code == "33.74" and public.title is None and public.description is None
    reporter = render(view, T0, calendar_for, "reporter")
    assert reporter.region_code == "33.74.01.1001"
    assert "Budi" in reporter.model_dump_json() and "KTP" in reporter.model_dump_json()


def test_an_answer_stored_before_texts_were_redacted_is_shown_to_the_reporter_only() -> None:
    view = doc()
    answer = ComplaintResolved(
        opd_id=OPD, handler="h", answer="Bu Sari (0812-3456-7890), jalan sudah ditambal"
    )
    for seq, payload in enumerate([received(), assigned(), answer], start=1):
        apply(view, lifecycle(seq, payload, minutes=seq))
    for entry in view["timeline"]:
        entry.pop("shown")  # as documents written before the redacted copy existed
    for audience in ("public", "staff"):
        assert "Sari" not in render(view, T0, calendar_for, audience).model_dump_json()  # type: ignore[arg-type]
    assert "Sari" in render(view, T0, calendar_for, "reporter").model_dump_json()


@pytest.mark.parametrize("audience", ["reporter", "staff", "public"])
def test_an_anonymous_complaints_text_is_masked_for_every_audience(audience: str) -> None:
    view = doc(anonymous=True)
    apply(view, lifecycle(1, received()))
    apply(view, lifecycle(2, assigned()))
    apply(
        view, lifecycle(3, ComplaintAnswered(opd_id=OPD, handler="h", message=f"Kami telepon {SECRET_PHONE}"))
    )
    apply(view, lifecycle(4, InformationAdded(message=f"NIK saya {SECRET_NIK}", resumed=False)))
    text = render(view, T0, calendar_for, audience).model_dump_json()  # type: ignore[arg-type]
    for secret in (SECRET_PHONE, SECRET_NIK, "3456", "5678901"):
        assert secret not in text, (audience, secret)
    assert "Kami telepon [nomor disamarkan]" in text


def test_a_rejected_command_is_told_to_the_reporter_only() -> None:
    view = doc()
    apply(view, lifecycle(1, received()))
    apply(
        view,
        lifecycle(
            2,
            CommandRejected(
                command_id="K1", command="ReopenComplaint", state="received", reason="belum diselesaikan"
            ),
        ),
    )
    apply(view, lifecycle(3, CommandRejected(command_id="K2", command="CloseExpired", state="x", reason="y")))
    assert view["last_seq"] == 3
    reporter = [t.summary for t in render(view, T0, calendar_for, "reporter").timeline]
    assert reporter[-1] == "Permintaan membuka kembali ditolak: belum diselesaikan"
    assert len(reporter) == 2  # sla's own rejected command is nobody's news
    for audience in ("staff", "public"):
        assert len(render(view, T0, calendar_for, audience).timeline) == 1  # type: ignore[arg-type]


def test_a_coordinator_can_tighten_the_privacy_flags_but_an_event_cannot_loosen_them() -> None:
    view = doc(anonymous=True)
    apply(
        view,
        lifecycle(
            1,
            ComplaintUpdated(
                category=None, region_code="33.74", pemda="33.74", anonymous=False, confidential=True
            ),
        ),
    )
    assert view["anonymous"] is True and view["confidential"] is True


def _escalation(level: int, at_minutes: int) -> Envelope:
    return new_event(
        EscalationRaised(level=level, opd_id=OPD, reason="breach", at=T0 + timedelta(minutes=at_minutes)),
        producer="sla",
        complaint_id="C1",
        seq=2,
    )


def test_escalations_raise_the_level_once_and_level_three_tells_about_the_ombudsman() -> None:
    view = doc(last_seq=5)
    one = _escalation(1, 1)
    assert apply(view, one)
    assert not apply(view, one)  # redelivered
    assert view["last_seq"] == 5  # an sla event never moves the lifecycle seq
    assert render(view, T0, calendar_for).escalation_note is None
    apply(view, _escalation(3, 2))
    shown = render(view, T0, calendar_for, "reporter")
    assert shown.escalation_level == 3
    assert shown.escalation_note is not None and "Ombudsman" in shown.escalation_note
    retract = new_event(
        EscalationRetracted(level=1, reason="kalender", at=T0 + timedelta(minutes=3)),
        producer="sla",
        complaint_id="C1",
        seq=2,
    )
    apply(view, retract)
    assert render(view, T0, calendar_for).escalation_level == 1


def _clock(cls: type[Any], version: int, **changes: Any) -> Envelope:
    fields: dict[str, Any] = dict(
        clock_id="C1:response:1",
        clock="response",
        opd_id=OPD,
        pemda="33.74",
        started_at=T0,
        due_at=datetime(2026, 3, 28, tzinfo=WIB),  # 5 HK from Fri 13 Mar 16:00 WIB (DESIGN §5)
        budget_seconds=5 * 86400 + 8 * 3600,
        state="running",
        at=T0,
        version=version,
    )
    fields.update(changes)
    return new_event(cls(**fields), producer="sla", complaint_id="C1", seq=2)


def test_a_running_clock_counts_down_in_working_days_in_the_pemdas_local_time() -> None:
    view = doc()
    apply(view, _clock(ClockStarted, 1))
    now = datetime(2026, 3, 25, 10, tzinfo=WIB)  # Wed: the rest of Wed, Thu and Fri are left
    [deadline] = render(view, now, calendar_for).deadlines
    assert deadline.state == "running"
    assert deadline.due_at is not None and deadline.due_at.isoformat() == "2026-03-28T00:00:00+07:00"
    assert deadline.remaining_seconds == 2 * 86400 + 14 * 3600
    assert deadline.remaining_text == "sisa 2 hari kerja"
    assert deadline.started_at.utcoffset() == timedelta(hours=7)


def test_a_paused_clock_shows_no_due_and_the_working_time_it_keeps() -> None:
    view = doc()
    apply(view, _clock(ClockStarted, 1))
    apply(view, _clock(ClockPaused, 2, state="paused", due_at=None, remaining_seconds=4 * 3600))
    assert not apply(view, _clock(ClockStarted, 1))  # an older snapshot never wins
    [deadline] = render(view, datetime(2026, 4, 20, tzinfo=UTC), calendar_for).deadlines
    assert (deadline.state, deadline.due_at, deadline.remaining_seconds) == ("paused", None, 4 * 3600)
    assert deadline.remaining_text == "dijeda, sisa 4 jam"


def test_a_breached_clock_counts_how_late_it_is_and_a_stopped_one_stops_counting() -> None:
    view = doc()
    apply(view, _clock(SlaBreached, 2, state="breached", at=datetime(2026, 3, 28, tzinfo=WIB)))
    now = datetime(2026, 3, 31, 10, tzinfo=WIB)  # Mon 30 Mar whole + 10 h of Tue; the weekend is free
    [late] = render(view, now, calendar_for).deadlines
    assert late.state == "breached" and late.remaining_seconds == -(86400 + 10 * 3600)
    assert late.remaining_text == "lewat 1 hari kerja"
    stopped_at = datetime(2026, 3, 30, 12, tzinfo=WIB)
    apply(view, _clock(ClockStopped, 3, state="breached", at=stopped_at))
    [done] = render(view, now, calendar_for).deadlines
    assert done.remaining_seconds is None and done.remaining_text == "terlambat, lewat 12 jam"
    apply(view, _clock(ClockStopped, 4, state="met", at=stopped_at))
    assert render(view, now, calendar_for).deadlines[0].remaining_text == "terpenuhi tepat waktu"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2 * 86400 + 5, "sisa 2 hari kerja"),
        (86400, "sisa 1 hari kerja"),
        (5 * 3600 + 59, "sisa 5 jam"),
        (120, "sisa 2 menit"),
        (0, "jatuh tempo sekarang"),
        (-30, "lewat 1 menit"),
        (-3 * 86400, "lewat 3 hari kerja"),
    ],
)
def test_countdown_words(seconds: int, text: str) -> None:
    assert countdown(seconds) == text


def test_the_calendar_book_applies_announced_extra_dates_and_keeps_the_newest_revision() -> None:
    book = CalendarBook()
    wed = date(2026, 3, 25)
    assert book.calendar_for("33.74.01").is_working_day(wed)
    assert book.learn("33", 2, [wed])  # a provincial decree binds its kab/kota
    assert not book.calendar_for("33.74").is_working_day(wed)
    assert not book.learn("33", 1, [])  # older revision ignored
    assert not book.calendar_for("33.74").is_working_day(wed)
    assert book.learn("33", 3, [])
    assert book.calendar_for("33.74").is_working_day(wed)


def test_the_reopen_window_comes_from_the_reporter_reply_clock_or_else_from_the_resolution() -> None:
    view = doc(status="resolved", resolved_at=T0, resolved_by=OPD, opd_id=OPD)
    computed = reopen_window_end(view, calendar_for)
    assert computed == calendar_for("33.74").due(T0, 10)
    due = datetime(2026, 4, 10, tzinfo=WIB)
    apply(
        view,
        _clock(
            ClockStarted, 1, clock_id="C1:reporter_reply:1", clock="reporter_reply", opd_id=None, due_at=due
        ),
    )
    assert reopen_window_end(view, calendar_for) == due


def test_a_merged_complaint_points_at_its_survivor_and_the_survivor_takes_the_flags() -> None:
    merged = doc()
    apply(merged, lifecycle(1, received()))
    apply(merged, lifecycle(2, ComplaintClosed(outcome="merged", comment="sama", merged_into="C9")))
    assert (merged["status"], merged["closed_outcome"], merged["merged_into"]) == ("closed", "merged", "C9")
    assert "C9" in merged["timeline"][-1]["summary"]

    survivor = doc(_id="C9", reporter={"name": "Sari Wulandari"}, title="Lubang", description="Sari di sini")
    apply(survivor, lifecycle(1, received()))
    apply(survivor, lifecycle(2, ComplaintAnswered(opd_id=OPD, handler="h", message="Kami tambal.")))
    absorbing = lifecycle(3, ComplaintAbsorbed(absorbed_id="C1", anonymous=True, confidential=False))
    apply(survivor, absorbing)
    apply(survivor, absorbing)  # redelivered: nothing new
    assert survivor["anonymous"] is True and survivor["followers"] == ["C1"]
    assert "C1" not in survivor["timeline"][-1]["summary"]  # the other reporter's complaint is not named
    # What the merged complaint's reporter sees of the survivor: status and OPD answers, not its text.
    followed = render_survivor(survivor, T0 + timedelta(hours=1), calendar_for)
    assert followed.id == "C9" and any("Kami tambal." in e.summary for e in followed.timeline)
    assert "Sari" not in followed.model_dump_json()
    # The survivor's reporter is told of the merge; its followers of its news, once per follower.
    assert [n.kind for n in notifications.notices_for(absorbing, survivor, calendar_for)] == ["merged"]
    answered = lifecycle(4, ComplaintAnswered(opd_id=OPD, handler="h", message="x"))
    notices = notifications.notices_for(answered, survivor, calendar_for)
    [told] = notifications.follower_notices(notices, "C9", "C1")
    assert (told.kind, told.key, told.facts["what"], told.facts["survivor"]) == (
        "followed",
        f"{answered.event_id}:C1",
        "answered",
        "C9",
    )
