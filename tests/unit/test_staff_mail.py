"""Who among the staff is told of what (issue 21 item 4; services/routing/domain/staff_mail.py), the
mails' documents (idempotent keys, the daily digest), and what their texts show (no identity)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.routing.adapters.staff_mailer import StaffTemplates
from services.routing.domain import staff_mail as sm
from services.routing.domain.staff import Account
from services.routing.settings import StaffMailSettings
from shared.calendar import WIB, CalendarBook
from shared.envelope import Envelope, Payload, new_event
from shared.events import (
    ClockStarted,
    ComplaintAssigned,
    ComplaintClaimed,
    ComplaintTriaged,
    EscalationRaised,
    SlaBreached,
    SlaWarning,
)

PEMDA = "33.74"
OPD = f"{PEMDA}/dinas-pupr"
OTHER_OPD = f"{PEMDA}/dinas-perhubungan"
INSPEKTORAT = f"{PEMDA}/inspektorat"
T0 = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # Fri 16:00 WIB
COMPLAINT = {"_id": "C1", "category": "jalan-jembatan", "pemda": PEMDA, "opd_id": OPD}

ACCOUNTS = [
    Account("petugas-pupr", "Petugas PUPR", "handler", PEMDA, OPD, email="petugas@pupr.example"),
    Account("petugas-pupr-2", "Petugas PUPR 2", "handler", PEMDA, OPD, email="petugas2@pupr.example"),
    Account("petugas-tanpa-surel", "Tanpa Surel", "handler", PEMDA, OPD, email=None),
    Account("petugas-keluar", "Keluar", "handler", PEMDA, OPD, active=False, email="keluar@pupr.example"),
    Account("petugas-dishub", "Petugas Dishub", "handler", PEMDA, OTHER_OPD, email="p@dishub.example"),
    Account("kepala-pupr", "Kepala PUPR", "supervisor", PEMDA, OPD, email="kepala@pupr.example"),
    Account("kepala-dishub", "Kepala Dishub", "supervisor", PEMDA, OTHER_OPD, email="kepala@dishub.example"),
    Account("inspektur", "Inspektur", "supervisor", PEMDA, INSPEKTORAT, email="inspektur@example"),
    Account("koordinator", "Koordinator", "coordinator", PEMDA, None, email="koord@example"),
    Account("koordinator-lain", "Koordinator Lain", "coordinator", "33.72", None, email="k@lain.example"),
    Account("pengawas-pemda", "Pengawas Pemda", "supervisor", PEMDA, None, email="pengawas@example"),
    Account("admin", "Admin", "admin", None, None, email="admin@example"),
]


def event(payload: Payload, at: datetime = T0) -> Envelope:
    return new_event(payload, producer="x", complaint_id="C1", seq=3, occurred_at=at)


def clock_event(cls: type[Any], **changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "clock_id": "C1:response:1",
        "clock": "response",
        "opd_id": OPD,
        "pemda": PEMDA,
        "started_at": T0,
        "due_at": datetime(2026, 3, 21, tzinfo=WIB),
        "budget_seconds": 5 * 86400,
        "state": "running",
        "at": T0,
        "version": 2,
    }
    return event(cls(**(fields | changes)))


def told(envelope: Envelope, complaint: dict[str, Any] | None = COMPLAINT) -> list[str]:
    notice = sm.notice_for(envelope, complaint)
    return [] if notice is None else [a.id for a in sm.recipients(notice, ACCOUNTS)]


def assigned(opd: str = OPD) -> Envelope:
    return event(
        ComplaintAssigned(
            opd_id=opd, pemda=opd.split("/")[0], category="jalan-jembatan", level="kabkota", rule="r"
        )
    )


def escalated(level: int, opd: str | None = OPD) -> Envelope:
    return event(EscalationRaised(level=level, opd_id=opd, reason="r", at=T0))


def test_a_new_assignment_tells_the_opds_active_handlers_with_an_address() -> None:
    assert told(assigned()) == ["petugas-pupr", "petugas-pupr-2"]
    assert told(assigned(OTHER_OPD)) == ["petugas-dishub"]


def test_a_warning_and_a_breach_tell_the_handlers_of_the_clocks_opd() -> None:
    assert told(clock_event(SlaWarning)) == ["petugas-pupr", "petugas-pupr-2"]
    assert told(clock_event(SlaBreached, state="breached", clock="resolution")) == [
        "petugas-pupr",
        "petugas-pupr-2",
    ]


def test_the_verification_clock_tells_the_pemdas_coordinators_and_the_reporters_clock_nobody() -> None:
    assert told(clock_event(SlaBreached, clock="verification", opd_id=None, state="breached")) == [
        "koordinator"
    ]
    assert told(clock_event(SlaWarning, clock="reporter_reply", opd_id=None)) == []


def test_escalation_level_one_tells_the_kepala_opd_only() -> None:
    assert told(escalated(1)) == ["kepala-pupr"]


@pytest.mark.parametrize("level", [2, 3])
def test_escalation_level_two_and_on_tell_the_coordinator_and_the_inspektorat(level: int) -> None:
    assert told(escalated(level)) == ["inspektur", "koordinator"]


def test_an_escalation_without_an_opd_goes_by_the_complaints_record() -> None:
    assert told(escalated(1, opd=None)) == ["kepala-pupr"]  # the record's OPD
    assert told(escalated(1, opd=None), {**COMPLAINT, "opd_id": None}) == ["koordinator"]
    assert told(escalated(2, opd=None), None) == []  # nothing known of it: nobody to tell


def test_other_events_tell_nobody() -> None:
    assert sm.notice_for(event(ComplaintClaimed(opd_id=OPD, handler="h")), COMPLAINT) is None
    assert sm.notice_for(clock_event(ClockStarted), COMPLAINT) is None


def test_an_assignments_mail_names_the_response_due_and_nothing_of_the_reporter() -> None:
    notice = sm.notice_for(assigned(), COMPLAINT)
    assert notice is not None
    # 5 HK from Friday 13 March 2026 (WIB), past Nyepi and the Idul Fitri holidays and leave days
    # (the same due as sla's response clock, tests/unit/test_intake_views.py).
    assert notice.facts == {
        "opd_id": OPD,
        "category": "jalan-jembatan",
        "due": datetime(2026, 3, 28, tzinfo=WIB).isoformat(),
        "clock": "response",
    }


def test_an_assignments_due_counts_the_pemdas_own_days_off_as_sla_announced_them() -> None:
    book = CalendarBook()
    book.learn(PEMDA, 1, [date(2026, 3, 16)])  # a local day off (cuti bersama daerah), a Monday
    notice = sm.notice_for(assigned(), COMPLAINT, book.calendar_for)
    # The five working days are then Tue 17, Wed 25, Thu 26, Fri 27 and Mon 30 March.
    assert notice is not None and notice.facts["due"] == datetime(2026, 3, 31, tzinfo=WIB).isoformat()
    other = sm.notice_for(assigned("33.72/dinas-pupr"), COMPLAINT, book.calendar_for)
    assert other is not None  # another pemda's complaint: its calendar has no such day off
    assert other.facts["due"] == datetime(2026, 3, 28, tzinfo=WIB).isoformat()


def test_a_mail_is_keyed_by_event_and_person_so_a_redelivery_stages_the_same_document() -> None:
    envelope = assigned()
    notice = sm.notice_for(envelope, COMPLAINT)
    assert notice is not None
    person = ACCOUNTS[0]
    [first] = sm.mail_documents(notice, person, T0, 7)
    [again] = sm.mail_documents(notice, person, T0 + timedelta(hours=1), 7)
    assert first["_id"] == again["_id"] == f"{envelope.event_id}:petugas-pupr"
    assert "outbox_since" not in first  # due at once


def test_a_digest_reader_gets_an_item_that_waits_and_the_days_digest_due_next_morning() -> None:
    notice = sm.notice_for(assigned(), COMPLAINT)
    assert notice is not None
    reader = Account("petugas-ringkas", "R", "handler", PEMDA, OPD, email="r@example", mail_digest=True)
    late_evening = datetime(2026, 3, 13, 16, 30, tzinfo=UTC)  # 23:30 WIB, Friday
    item, digest = sm.mail_documents(notice, reader, late_evening, 7)
    assert (
        item["outbox_since"] is None
        and item["digest"] == digest["_id"] == "digest:petugas-ringkas:2026-03-13"
    )
    assert digest["not_before"] == datetime(2026, 3, 14, 7, tzinfo=WIB)
    after_midnight = late_evening + timedelta(hours=1)
    assert (
        sm.mail_documents(notice, reader, after_midnight, 7)[1]["_id"] == "digest:petugas-ringkas:2026-03-14"
    )
    assert sm.digest_due(date(2026, 12, 31), 6) == datetime(2027, 1, 1, 6, tzinfo=WIB)


def test_the_gate_reads_the_account_as_it_is_when_the_mail_goes() -> None:
    assert sm.gate(ACCOUNTS[0]) == sm.Gate(True, to="petugas@pupr.example")
    assert sm.gate(ACCOUNTS[3]).state == "cancelled"  # disabled since
    assert sm.gate(ACCOUNTS[2]).state == "no_contact"
    assert sm.gate(None).state == "cancelled"


@pytest.mark.parametrize(
    ("envelope", "subject"),
    [
        (assigned(), "Pengaduan C1 masuk ke Dinas PUPR Kota Uji"),
        (clock_event(SlaWarning), "Tenggat tanggapan pengaduan C1 segera berakhir"),
        (clock_event(SlaBreached, state="breached"), "Tenggat tanggapan pengaduan C1 terlewati"),
        (escalated(1), "Eskalasi tingkat 1: pengaduan C1"),
        (escalated(2), "Eskalasi tingkat 2: pengaduan C1"),
    ],
)
def test_each_kind_renders_its_subject_and_the_facts_a_staff_member_needs(
    envelope: Envelope, subject: str
) -> None:
    notice = sm.notice_for(envelope, COMPLAINT)
    assert notice is not None
    [mail] = sm.mail_documents(notice, ACCOUNTS[0], T0, 7)
    rendered = StaffTemplates().item(mail, {OPD: "Dinas PUPR Kota Uji"})
    assert rendered["subject"] == subject
    assert "Nomor pengaduan: C1" in rendered["facts"]
    assert "Kategori: Jalan dan Jembatan" in rendered["facts"]
    assert "OPD: Dinas PUPR Kota Uji" in rendered["facts"]
    assert rendered["line"]


def test_a_complaint_waiting_for_triage_tells_the_pemdas_coordinators() -> None:
    triaged = event(
        ComplaintTriaged(pemda=PEMDA, category="jalan-jembatan", rule="r", reason="keyakinan rendah")
    )
    assert told(triaged) == ["koordinator"]  # not the other pemda's, not the handlers
    notice = sm.notice_for(triaged, COMPLAINT)
    assert notice is not None
    [mail] = sm.mail_documents(notice, ACCOUNTS[8], T0, 7)
    rendered = StaffTemplates().item(mail, {})
    assert rendered["subject"] == "Pengaduan C1 menunggu triase"
    assert "Triase" in rendered["line"] and "OPD: -" in rendered["facts"]
    assert "Kategori: Jalan dan Jembatan" in rendered["facts"]


def test_a_settled_mails_record_outlives_every_event_that_could_stage_it_again() -> None:
    assert StaffMailSettings().keep_days * 24 > StaffMailSettings().max_age_hours
    assert StaffMailSettings(keep_days=3, max_age_hours=48).keep_days == 3
    with pytest.raises(ValidationError, match="keep_days must be longer than max_age_hours"):
        StaffMailSettings(keep_days=2, max_age_hours=48)
