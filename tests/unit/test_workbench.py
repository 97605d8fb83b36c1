"""The workbench's reading of a complaint's clocks (services/routing/domain/workbench.py): how
close a breach is, the countdown's words, the queue's nearest clock, the actions a state admits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.routing.domain import workbench as wb

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def snap(
    clock: str, due: datetime | None, started: datetime | None, state: str = "running"
) -> dict[str, object]:
    return {
        "clock": clock,
        "opd_id": "33.74/dinas-pupr",
        "due": due,
        "started": started,
        "state": state,
        "v": 1,
    }


def test_the_colour_turns_at_three_quarters_of_the_span_and_at_the_due() -> None:
    start = NOW - timedelta(days=3)
    assert wb.urgency(NOW + timedelta(days=1, minutes=1), start, NOW) == "aman"  # just under 75 %
    assert wb.urgency(NOW + timedelta(days=1), start, NOW) == "dekat"  # 3 of 4 days used
    assert wb.urgency(NOW, start, NOW) == "lewat"
    assert wb.urgency(NOW + timedelta(days=9), start, NOW, "breached") == "lewat"  # sla said so
    assert wb.urgency(None, start, NOW, "paused") == "jeda"
    assert wb.urgency(NOW - timedelta(days=1), start, NOW, "met") == "berhenti"


def test_without_a_known_start_the_colour_turns_a_day_before_the_due() -> None:
    assert wb.urgency(NOW + timedelta(hours=25), None, NOW) == "aman"
    assert wb.urgency(NOW + timedelta(hours=23), None, NOW) == "dekat"


def test_the_countdown_says_what_is_left_or_how_late() -> None:
    assert wb.countdown(NOW + timedelta(days=2, hours=3, minutes=10), NOW) == "sisa 2 hari 3 jam"
    assert wb.countdown(NOW + timedelta(hours=5, minutes=7), NOW) == "sisa 5 jam 7 menit"
    assert wb.countdown(NOW - timedelta(minutes=42), NOW) == "lewat 42 menit"
    assert wb.countdown(None, NOW) == ""


def test_the_queue_shows_the_nearest_running_clock_the_opd_answers_for() -> None:
    start = NOW - timedelta(days=1)
    dues = {
        "c1_response": snap("response", NOW + timedelta(days=1), start, "met"),
        "c1_resolution": snap("resolution", NOW + timedelta(days=10), start),
        "c1_reporter_reply": snap("reporter_reply", NOW + timedelta(hours=2), start),
    }
    near = wb.nearest(dues, NOW)
    assert near is not None and (near.name, near.urgency) == ("resolution", "aman")
    listed = wb.clocks(dues, NOW)
    assert [c.name for c in listed] == ["reporter_reply", "resolution", "response"]  # stopped ones last
    assert listed[-1].countdown == "" and listed[-1].state_label == "terpenuhi"
    assert wb.nearest({}, NOW) is None and wb.nearest(None, NOW) is None


def test_the_forms_offered_follow_the_lifecycles_states() -> None:
    assert wb.offered("assigned") == ["ambil", "jawab", "minta-info", "tingkat", "selesaikan", "alihkan"]
    assert wb.offered("waiting_reporter") == ["ambil", "tingkat", "selesaikan", "alihkan"]
    assert wb.offered("resolved") == [] and wb.offered("triage") == []


def test_an_assignment_by_transfer_says_so_in_the_timeline() -> None:
    assert wb.event_label("ComplaintAssigned", {"via": "transfer"}).startswith("Diterima dari pengalihan")
    assert wb.event_label("ComplaintAssigned", {"via": "routing"}) == "Didisposisikan ke OPD"
    assert wb.event_label("Unheard", {}) == "Unheard"
