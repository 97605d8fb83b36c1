"""The reporter's commands checked against intake's own view, the outcome read back from the
lifecycle events, who may read a reporter's identity, and the identity kept out of their text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from services.intake.domain.commands import check, command_outcomes
from services.intake.domain.errors import NotAllowed, NotYet
from services.intake.domain.identity import REDACTED, may_read_identity, outgoing_text
from services.intake.handlers import DEAD_LETTER_REASON, command_id_of, dead_commands
from shared.auth import Staff
from shared.calendar import calendar_for
from shared.deadletters import Letter
from shared.envelope import Payload, new_event
from shared.events import (
    AddInformation,
    CommandRejected,
    ComplaintClosed,
    EscalationRaised,
    GiveFeedback,
    InformationAdded,
    ReopenComplaint,
    SubmitSurvey,
    WithdrawComplaint,
)
from shared.states import STATE_LABELS

WIB = timezone(timedelta(hours=7))
RESOLVED_AT = datetime(2026, 4, 6, 3, 0, tzinfo=UTC)  # Mon 10:00 WIB
OPD = "33.74/dinas-pupr"

ALLOWED: dict[str, set[str]] = {
    "AddInformation": {"assigned", "in_progress", "waiting_reporter"},
    "GiveFeedback": {"resolved"},
    "SubmitSurvey": {"resolved", "closed"},
    "ReopenComplaint": {"resolved"},
    "WithdrawComplaint": {"received", "triage", "assigned", "in_progress", "waiting_reporter"},
}
COMMANDS: list[Payload] = [
    AddInformation(message="foto terbaru"),
    GiveFeedback(rating=5),
    SubmitSurvey(version="skm-2017-1", scores={f"u{n}": 4 for n in range(1, 10)}),
    ReopenComplaint(reason="rusak lagi"),
    WithdrawComplaint(reason=None),
]


def view(status: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "_id": "C1",
        "status": status,
        "region_code": "33.74.01.1001",
        "pemda": "33.74",
        "opd_id": OPD,
        "resolved_at": RESOLVED_AT if status in ("resolved", "closed") else None,
        "resolved_by": OPD if status in ("resolved", "closed") else None,
        "reopened": False,
        "deadlines": {},
        "last_seq": 2,  # routing has recorded it (ComplaintReceived and a next event seen)
    }
    base.update(changes)
    return base


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.TYPE)
def test_no_command_goes_out_before_the_view_has_seen_routing_record_the_complaint(command: Payload) -> None:
    """Sent earlier, it would reach routing before the submission and be dead-lettered there."""
    with pytest.raises(NotYet, match="belum tercatat"):
        check(view("received", last_seq=0), command, RESOLVED_AT, calendar_for)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.TYPE)
@pytest.mark.parametrize("status", list(STATE_LABELS))
def test_each_command_is_allowed_exactly_in_its_states(command: Payload, status: str) -> None:
    now = RESOLVED_AT + timedelta(hours=1)
    if status in ALLOWED[command.TYPE]:
        check(view(status), command, now, calendar_for)
    else:
        with pytest.raises(NotAllowed) as refused:
            check(view(status), command, now, calendar_for)
        assert STATE_LABELS[status] in refused.value.reason  # the reporter is told the state


def test_the_skm_survey_is_once_and_only_where_an_opd_resolved_the_complaint() -> None:
    survey = COMMANDS[2]
    now = RESOLVED_AT + timedelta(days=30)
    with pytest.raises(NotAllowed, match="sudah diisi"):
        check(view("closed", surveyed=True), survey, now, calendar_for)
    with pytest.raises(NotAllowed, match="diselesaikan OPD"):  # withdrawn before any resolution
        check(view("closed", resolved_by=None), survey, now, calendar_for)


def _reply_clock(due: datetime, state: str = "running") -> dict[str, Any]:
    return {
        "C1:reporter_reply:1": {
            "clock": "reporter_reply",
            "pemda": "33.74",
            "started_at": RESOLVED_AT,
            "due_at": due,
            "state": state,
            "version": 1,
            "stopped": False,
        }
    }


def test_reopen_is_refused_after_the_reporter_reply_due_from_sla() -> None:
    due = datetime(2026, 4, 21, tzinfo=WIB)
    resolved = view("resolved", deadlines=_reply_clock(due))
    check(resolved, ReopenComplaint(reason="rusak lagi"), due - timedelta(seconds=1), calendar_for)
    with pytest.raises(NotAllowed, match="sudah lewat pada 2026-04-21T00:00\\+07:00"):
        check(resolved, ReopenComplaint(reason="rusak lagi"), due + timedelta(seconds=1), calendar_for)


def test_reopen_without_a_clock_yet_uses_ten_working_days_from_the_resolution() -> None:
    end = calendar_for("33.74").due(RESOLVED_AT, 10)
    check(view("resolved"), ReopenComplaint(reason="x"), end, calendar_for)  # stopped exactly at due: in time
    with pytest.raises(NotAllowed):
        check(view("resolved"), ReopenComplaint(reason="x"), end + timedelta(minutes=1), calendar_for)


def test_reopen_only_once() -> None:
    with pytest.raises(NotAllowed, match="sekali"):
        check(view("resolved", reopened=True), ReopenComplaint(reason="x"), RESOLVED_AT, calendar_for)


def test_outcomes_come_from_rejections_and_from_correlated_lifecycle_events() -> None:
    rejected = new_event(
        CommandRejected(command_id="K1", command="GiveFeedback", state="closed", reason="sudah selesai"),
        producer="routing",
        complaint_id="C1",
        seq=7,
        correlation_id="K1",
    )
    added = new_event(
        InformationAdded(message="m", resumed=True),
        producer="routing",
        complaint_id="C1",
        seq=8,
        correlation_id="K2",
    )
    closed = new_event(
        ComplaintClosed(outcome="withdrawn"),
        producer="routing",
        complaint_id="C1",
        seq=9,
        correlation_id="K3",
    )
    command_itself = new_event(
        WithdrawComplaint(reason=None), producer="intake", complaint_id="C1", correlation_id="K3"
    )
    derived = new_event(
        EscalationRaised(level=1, opd_id=OPD, reason="r", at=RESOLVED_AT),
        producer="sla",
        complaint_id="C1",
        seq=9,
        correlation_id="K4",
    )
    assert command_outcomes([rejected, added, command_itself, closed, derived]) == {
        "K1": ("rejected", "sudah selesai"),
        "K2": ("accepted", None),
        "K3": ("accepted", None),
    }


def _staff(role: str, pemda: str | None = None, opd: str | None = None) -> Staff:
    return Staff(sub=f"{role}-1", role=role, pemda=pemda, opd=opd)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("staff", "anonymous", "allowed"),
    [
        (_staff("admin"), True, True),
        (_staff("coordinator", "33.74"), True, True),
        (_staff("coordinator", "33"), True, False),  # the province's coordinator is not this pemda's
        (_staff("handler", "33.74", OPD), True, False),
        (_staff("supervisor", "33.74"), True, False),
        (_staff("handler", "33.74", OPD), False, True),
        (_staff("handler", "33.74", "33.74/dlh"), False, False),  # not the current OPD
        (_staff("coordinator", "33.74"), False, True),
        (_staff("coordinator", "64.01"), False, False),
        (_staff("supervisor", "33.74", OPD), False, True),
        (_staff("supervisor", "33.74", "33.74/dlh"), False, False),
        (_staff("supervisor", "33.74"), False, True),
    ],
)
def test_who_may_read_a_reporters_identity(staff: Staff, anonymous: bool, allowed: bool) -> None:
    doc = {"_id": "C1", "anonymous": anonymous, "opd_id": OPD, "pemda": "33.74", "region_code": "33.74.01"}
    ok, reason = may_read_identity(staff, doc)
    assert ok is allowed and reason


def test_an_unknown_complaint_is_refused_with_a_reason_for_the_audit() -> None:
    assert may_read_identity(_staff("admin"), None) == (False, "pengaduan tidak ditemukan")


REPORTER = {"name": "Sari Wulandari", "phone": "+6281234567890", "email": "sari@example.id"}


@pytest.mark.parametrize(
    "written",
    [
        "Saya Sari Wulandari",
        "bu sari dari RT 3",
        "hubungi 0812-3456-7890",
        "hubungi +62 812 3456 7890",
        "hubungi 6281234567890",
        "hubungi 0812 34567890",
        "surel SARI@example.id",
    ],
)
def test_the_reporters_own_identity_written_in_their_text_never_leaves_intake(written: str) -> None:
    for anonymous in (False, True):
        out = outgoing_text(f"Jalan rusak. {written}.", REPORTER, anonymous)
        assert REDACTED in out
        for value in ("Sari", "sari", "3456", "7890", "example.id"):
            assert value not in out, (written, out)


def test_other_numbers_in_the_text_are_masked_only_for_anonymous_complaints() -> None:
    text = "Pak RT di 0813-1111-2222 atau (0813) 9876543, NIK 3374 0112 0390 0004"
    # A NIK is identity (DESIGN §3) whoever wrote it: never shown; other people's phones are.
    expected = "Pak RT di 0813-1111-2222 atau (0813) 9876543, NIK [NIK disamarkan]"
    assert outgoing_text(text, REPORTER, anonymous=False) == expected
    masked = outgoing_text(text, REPORTER, anonymous=True)
    assert "1111" not in masked and "9876" not in masked and "0390" not in masked


# --- routing's dead letters: which commands they are ------------------------------------------------


def _letter(value: bytes, topic: str = "complaints.commands", offset: int = 7) -> Letter:
    headers = {"dlq.topic": topic, "dlq.reason": "command for a complaint routing does not know"}
    return Letter("routing", offset, datetime(2026, 4, 6, 3, 0, tzinfo=UTC), headers, value)


def test_a_dead_letters_command_id_is_read_even_when_the_rest_does_not_decode() -> None:
    command = new_event(WithdrawComplaint(reason=None), producer="intake", complaint_id="C-1")
    assert command_id_of(command.to_bytes()) == command.event_id
    # Routing could not decode it (a payload it does not know), but the id is there.
    assert command_id_of(b'{"event_id": "01JQ6Z8Y7X3V5T4R2P1N0M9K8J", "type": "Nope"}') == (
        "01JQ6Z8Y7X3V5T4R2P1N0M9K8J"
    )


@pytest.mark.parametrize(
    "value",
    [b"", b"\xff\xfe{", b"{broken", b"[]", b'"text"', b"{}", b'{"event_id": 7}', b'{"event_id": ""}',
     b'{"event_id": "' + b"x" * 65 + b'"}', b"[" * 100_000 + b"]" * 100_000],
)  # fmt: skip
def test_a_dead_letter_without_a_readable_id_names_no_command(value: bytes) -> None:
    assert command_id_of(value) is None


def test_only_commands_dead_letters_are_taken_and_an_unreadable_one_is_skipped_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    command = new_event(AddInformation(message="foto"), producer="intake", complaint_id="C-1")
    submission_like = new_event(WithdrawComplaint(reason=None), producer="intake", complaint_id="C-2")
    letters = [
        _letter(b"{broken", offset=1),
        _letter(submission_like.to_bytes(), topic="complaints.submitted", offset=2),
        _letter(command.to_bytes(), offset=3),
    ]
    with caplog.at_level("WARNING"):
        found = dead_commands(letters)
    assert found == {
        command.event_id: {"group": "routing", "offset": 3, "at": datetime(2026, 4, 6, 3, 0, tzinfo=UTC)}
    }
    assert "routing.dlq@1" in caplog.text and "skipped" in caplog.text


def test_the_reason_a_reporter_reads_names_nothing_internal() -> None:
    text = DEAD_LETTER_REASON.lower()
    assert "petugas" in text and "diperbarui" in text
    assert not any(word in text for word in ("routing", "kafka", "dlq", "dead", "handler", "error"))
