"""The misrouting and classifier counters (domain/reports.py) folded from lifecycle events: a
transfer in counts for the receiving OPD, the classifier's guess against the category a
coordinator settles on (in triage or at the disposition), and an update outside triage is no
review."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from devtools.seed_reports import Story, events_of
from services.sla.domain.reports import ComplaintRecord, fold

PEMDA = "64.72"
AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 WITA
LATER = AT + timedelta(hours=2)


def counters(*stories: Story) -> Counter[str]:
    records: dict[str, ComplaintRecord] = {}
    changes, refused = fold(events_of(stories), records, {})
    assert refused == []
    return changes.deltas


def test_a_transfer_counts_out_for_the_sender_and_in_for_the_receiver() -> None:
    story = Story("T1", PEMDA).received(AT).assigned(f"{PEMDA}/dlh", AT)
    story.transferred(f"{PEMDA}/dlh", f"{PEMDA}/dinas-pupr", AT + timedelta(days=1))
    deltas = counters(story)
    week = "2026-03-02"
    assert deltas[f"w|{PEMDA}/dlh|{week}|transfers_out"] == 1
    assert deltas[f"w|{PEMDA}/dlh|{week}|misrouted_s"] == 86400  # Monday 10:00 → Tuesday 10:00
    assert deltas[f"w|{PEMDA}/dinas-pupr|{week}|transfers_in"] == 1
    assert deltas[f"w|{PEMDA}/dlh|{week}|transfers_in"] == 0


def test_the_classifier_is_judged_by_the_coordinators_last_category() -> None:
    corrected = Story("K1", PEMDA).received(AT).triaged(AT, "air-minum", 0.4).updated("jalan-jembatan", LATER)
    corrected.assigned(f"{PEMDA}/dinas-pupr", LATER, "disposition", category="jalan-jembatan")
    confirmed = Story("K2", PEMDA).received(AT).triaged(AT, "kesehatan", 0.5).updated("air-minum", LATER)
    confirmed.assigned(f"{PEMDA}/dinas-kesehatan", LATER, "disposition", category="kesehatan")
    auto = Story("K3", PEMDA).received(AT)
    auto.assigned(
        f"{PEMDA}/dinas-pupr", AT, category="jalan-jembatan", guess="jalan-jembatan", confidence=0.9
    )
    auto.updated("jalan-jembatan", LATER)  # privacy tightened while assigned: no review
    waiting = Story("K4", PEMDA).received(AT).triaged(AT, "dlh", 0.3)  # not decided yet
    chosen = Story("K5", PEMDA).received(AT).assigned(f"{PEMDA}/dinas-pupr", AT)  # no classifier
    deltas = counters(corrected, confirmed, auto, waiting, chosen)
    scope = f"m|{PEMDA}|2026-03"  # the pemda's own monthly counters
    assert {
        name: deltas[f"{scope}|clf_{name}"] for name in ("classified", "auto", "reviewed", "corrected")
    } == {
        "classified": 4,
        "auto": 1,
        "reviewed": 2,
        "corrected": 1,
    }
