"""Transfers that become rules (domain/suggestions.py and the handlers over the fake store): what
is counted, when a pair is on offer, what a decision does to the next offer; and the lifecycle
events' new fields read from messages written before they existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.routing import handlers
from services.routing.domain import lifecycle as lc
from services.routing.domain.lifecycle import Refused
from services.routing.domain.suggestions import (
    CountedTransfer,
    Decision,
    TransferPair,
    on_offer,
    pair_key,
    parse_suggestion_id,
)
from shared.envelope import Envelope, decode, new_event
from shared.events import ComplaintAssigned, ComplaintTransferred, ComplaintTriaged
from tests.routing_fakes import fake_routing

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)


def transfer(n: int, at: datetime) -> CountedTransfer:
    return CountedTransfer(f"e{n}", f"c{n}", at, "bukan wewenang")


def pair(*transfers: CountedTransfer, decided: Decision | None = None) -> TransferPair:
    return TransferPair("33.74", "penerangan-jalan", "dinas-perhubungan", "dinas-pupr", transfers, decided)


def test_only_transfers_between_two_opds_of_one_pemda_with_a_routable_category_count() -> None:
    key = pair_key("penerangan-jalan", "33.74/dinas-perhubungan", "33.74/dinas-pupr")
    assert key == ("33.74", "penerangan-jalan", "dinas-perhubungan", "dinas-pupr")
    assert pair_key(None, "33.74/dlh", "33.74/dinas-pupr") is None  # an old message: no category
    assert pair_key("lainnya", "33.74/dlh", "33.74/dinas-pupr") is None
    assert pair_key("jalan-jembatan", "33.74/dlh", None) is None  # to the coordinator
    assert pair_key("jalan-jembatan", "33.74/dlh", "33/dinas-pupr") is None  # kab/kota → province
    assert pair_key("jalan-jembatan", "33.74/dlh", "33.74/admin-koordinator") is None
    # Levels (DESIGN §4): a province decides SMA, a kab/kota its roads; not the other way round.
    assert pair_key("pendidikan-menengah", "33/dinas-pendidikan", "33/bapenda") is not None
    assert pair_key("pendidikan-menengah", "33.74/dinas-pendidikan", "33.74/bapenda") is None
    assert pair_key("jalan-jembatan", "33/dinas-pupr", "33/dinas-perhubungan") is None
    assert parse_suggestion_id("penerangan-jalan:dinas-perhubungan:dinas-pupr") == (
        "penerangan-jalan",
        "dinas-perhubungan",
        "dinas-pupr",
    )
    assert parse_suggestion_id("bukan-kategori:a:b") is None
    assert parse_suggestion_id("penerangan-jalan:a") is None


def test_offered_at_the_threshold_within_the_window() -> None:
    now = T0 + timedelta(days=40)
    old = transfer(0, T0)  # 40 days ago: outside the window
    recent = [transfer(n, T0 + timedelta(days=20 + n)) for n in (1, 2)]
    assert on_offer(pair(old, *recent), now, threshold=3, window=WINDOW, overrides={}) is None
    third = transfer(3, T0 + timedelta(days=30))
    offer = on_offer(pair(old, *recent, third), now, threshold=3, window=WINDOW, overrides={})
    assert offer is not None and [t.complaint_id for t in offer.counted] == ["c1", "c2", "c3"]
    assert offer.current_slug is None
    # The rule already says so: nothing to offer; another rule for the category is named.
    rule = {("33.74", "penerangan-jalan"): "dinas-pupr"}
    assert on_offer(pair(*recent, third), now, threshold=3, window=WINDOW, overrides=rule) is None
    other = {("33.74", "penerangan-jalan"): "dlh"}
    again = on_offer(pair(*recent, third), now, threshold=3, window=WINDOW, overrides=other)
    assert again is not None and again.current_slug == "dlh"


def test_after_a_rejection_only_as_many_new_transfers_offer_it_again() -> None:
    before = [transfer(n, T0 + timedelta(hours=n)) for n in range(3)]
    rejected = Decision("rejected", "koor", "coordinator", T0 + timedelta(days=1), "bukan pola", ("c0",))
    after = [transfer(n, T0 + timedelta(days=2, hours=n)) for n in range(3, 6)]
    now = T0 + timedelta(days=3)
    assert on_offer(pair(*before, decided=rejected), now, threshold=3, window=WINDOW, overrides={}) is None
    two = pair(*before, *after[:2], decided=rejected)
    assert on_offer(two, now, threshold=3, window=WINDOW, overrides={}) is None
    three = on_offer(pair(*before, *after, decided=rejected), now, threshold=3, window=WINDOW, overrides={})
    assert three is not None and {t.complaint_id for t in three.counted} == {"c3", "c4", "c5"}


def transferred_event(n: int, at: datetime) -> Envelope:
    return new_event(
        ComplaintTransferred(
            from_opd_id="33.74/dinas-perhubungan",
            to_opd_id="33.74/dinas-pupr",
            reason="PJU di PUPR",
            transfers=1,
            category="penerangan-jalan",
        ),
        producer="routing",
        complaint_id=f"c{n}",
        seq=3,
        occurred_at=at,
    )


async def test_counting_is_idempotent_and_a_decision_is_audited_and_taken_once() -> None:
    routing, *_ = fake_routing()
    events = [transferred_event(n, T0 + timedelta(hours=n)) for n in range(3)]
    await handlers.count_transfers(events, routing)
    await handlers.count_transfers(events[1:], routing)  # redelivered
    now = T0 + timedelta(days=1)
    [offer] = await handlers.rule_suggestions(routing, "33.74", now)
    assert len(offer.counted) == 3
    offer_id = offer.pair.id
    _, decision = await handlers.decide_suggestion(
        routing, "33.74", offer_id, "accepted", by="koor", role="coordinator", note="ya", now=now
    )
    assert set(decision.complaint_ids) == {"c0", "c1", "c2"}
    assert await routing.catalog.overrides(["33.74"]) == {("33.74", "penerangan-jalan"): "dinas-pupr"}
    assert await handlers.rule_suggestions(routing, "33.74", now) == []
    with pytest.raises(Refused):
        await handlers.decide_suggestion(
            routing, "33.74", offer_id, "rejected", by="koor", role="coordinator", note="tidak", now=now
        )
    with pytest.raises(LookupError):
        await handlers.decide_suggestion(
            routing, "33.74", "x:y:z", "rejected", by="koor", role="coordinator", note=None, now=now
        )


def test_a_transfer_carries_the_complaint_category() -> None:
    complaint = lc.Complaint(
        id="c1",
        state="assigned",
        pemda="33.74",
        region_code="33.74.01.1001",
        category="penerangan-jalan",
        opd_id="33.74/dinas-perhubungan",
    )
    moved, _ = lc.decide(complaint, lc.Transfer("tono", "33.74/dinas-pupr", "PJU di PUPR"), T0)
    assert isinstance(moved, ComplaintTransferred) and moved.category == "penerangan-jalan"


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (
            "ComplaintAssigned",
            {
                "opd_id": "33.74/dlh",
                "pemda": "33.74",
                "category": "kesehatan",
                "level": "kabkota",
                "rule": "r",
            },
        ),
        ("ComplaintTriaged", {"pemda": "33.74", "category": None, "rule": "r", "reason": "x"}),
        (
            "ComplaintTransferred",
            {"from_opd_id": "33.74/dlh", "to_opd_id": "33.74/dinas-pupr", "reason": "x", "transfers": 1},
        ),
    ],
)
def test_messages_written_before_the_new_fields_still_decode(kind: str, payload: dict[str, object]) -> None:
    message = {
        "event_id": "01J0000000000000000000000A",
        "type": kind,
        "schema_version": 1,
        "occurred_at": "2026-03-02T03:00:00Z",
        "complaint_id": "c1",
        "seq": 2,
        "producer": "routing",
        "payload": payload,
    }
    decoded = decode(message).payload
    assert isinstance(decoded, ComplaintAssigned | ComplaintTriaged | ComplaintTransferred)
    if isinstance(decoded, ComplaintTransferred):
        assert decoded.category is None
    else:
        assert (decoded.guess, decoded.confidence) == (None, None)
