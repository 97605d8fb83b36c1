"""Routing's handlers with in-memory fakes: submissions, commands and clock events; idempotency,
the outbox, the OPD feed and what goes to the dead-letter topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from services.routing.domain.complaint import NO_DUE
from services.routing.domain.lifecycle import Merge
from services.routing.handlers import handle_clock_events, handle_routing_batch, handle_submissions, merge
from shared.envelope import Envelope, Payload, decode, new_event
from shared.events import (
    AddInformation,
    ClockStarted,
    ComplaintAssigned,
    ComplaintReceived,
    ComplaintSubmitted,
    GiveFeedback,
    WithdrawComplaint,
)
from shared.kafka import Outgoing
from shared.topics import COMPLAINTS_ASSIGNED, COMPLAINTS_EVENTS
from tests.routing_fakes import FakeCatalog, Sent, delivery_of, fake_routing
from tests.waiting import eventually

NOW = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)  # Fri 16:00 WIB


def submitted(complaint_id: str, **changes: Any) -> Envelope:
    fields: dict[str, Any] = dict(
        title="Jalan rusak parah",
        description="Jalan desa rusak parah, hubungi saya di 0812-3456-7890 untuk detail.",
        category="jalan-jembatan",
        region_code="33.74.01.1001",
        classification="pengaduan",
        channel="web",
        reporter_ref="rep_1",
    )
    fields.update(changes)
    return new_event(
        ComplaintSubmitted(**fields), producer="intake", complaint_id=complaint_id, occurred_at=NOW
    )


def published(doc: dict[str, Any]) -> bool:
    """The outbox's mark (shared/outbox.py): nothing staged left, its feed entries written."""
    return doc["outbox_since"] is None and doc["outbox"] == [] and doc["feed_outbox"] == []


def command(complaint_id: str, payload: Payload, at: datetime = NOW) -> Envelope:
    return new_event(payload, producer="intake", complaint_id=complaint_id, occurred_at=at)


async def test_routing_records_received_then_assigned_with_seq_1_and_2() -> None:
    lc, store, feed, sent = fake_routing()
    assert await handle_submissions([submitted("C1")], lc, now=lambda: NOW) == []
    events = sent.decoded(COMPLAINTS_EVENTS)
    assert [(e.type, e.seq) for e in events] == [("ComplaintReceived", 1), ("ComplaintAssigned", 2)]
    assert isinstance(events[0].payload, ComplaintReceived) and events[0].payload.submitted_at == NOW
    assert isinstance(events[1].payload, ComplaintAssigned) and events[1].payload.opd_id == "33.74/dinas-pupr"
    [notice] = [m for m in sent.messages if m.topic == COMPLAINTS_ASSIGNED]
    assert notice.key == "33.74/dinas-pupr"
    assert store.docs["C1"]["state"] == "assigned" and published(store.docs["C1"])
    assert [e["type"] for e in feed.entries.values()] == ["ComplaintAssigned"]


async def test_a_batch_of_new_submissions_reads_nothing_back_from_the_store() -> None:
    # Every read is a database round trip on the routing consumer's path: a batch without
    # commands or clock events must not load anything for them.
    lc, store, _, sent = fake_routing()
    assert await handle_routing_batch([submitted("C1"), submitted("C2")], lc) == []
    assert store.loads == []
    assert {e.complaint_id for e in sent.decoded(COMPLAINTS_EVENTS)} == {"C1", "C2"}


async def test_a_redelivered_submission_decides_nothing_new_and_sends_nothing_twice() -> None:
    lc, store, _, sent = fake_routing()
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    before = list(sent.messages)
    await handle_submissions([submitted("C1"), submitted("C1")], lc, now=lambda: NOW + timedelta(hours=1))
    assert sent.messages == before and len(store.docs) == 1


async def test_an_outbox_left_unpublished_goes_out_with_its_original_ids_on_redelivery() -> None:
    down = Sent(fail=True)
    lc, store, _, _ = fake_routing(down)
    with contextlib.suppress(TimeoutError):
        await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    assert not published(store.docs["C1"])  # stored, not yet in Kafka
    stored_values = [bytes(m["value"]) for m in store.docs["C1"]["outbox"]]
    down.fail = False
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW + timedelta(hours=1))
    assert [m.value for m in down.messages] == stored_values
    assert published(store.docs["C1"])


async def test_anonymous_text_reaches_the_opd_masked_and_without_reporter_ref() -> None:
    lc, _, feed, sent = fake_routing()
    await handle_submissions([submitted("C2", anonymous=True)], lc, now=lambda: NOW)
    [notice] = [m for m in sent.messages if m.topic == COMPLAINTS_ASSIGNED]
    assert b"0812" not in notice.value and b"rep_1" not in notice.value
    assert "rep_1" not in repr(feed.entries)


async def test_poison_submissions_are_rejected_with_a_reason_and_the_rest_is_routed() -> None:
    lc, _, _, sent = fake_routing()
    batch = [submitted("C3", region_code="99.99"), submitted("C4")]
    rejected = await handle_submissions(batch, lc, now=lambda: NOW)
    assert [r.reason for r in rejected] == ["unknown region_code '99.99'"]
    assert {e.complaint_id for e in sent.decoded(COMPLAINTS_EVENTS)} == {"C4"}


async def test_commands_become_the_next_seq_or_a_rejection_and_a_redelivery_is_a_no_op() -> None:
    lc, store, _, sent = fake_routing()
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    feedback = command("C1", GiveFeedback(rating=5))  # not resolved yet: rejected
    withdraw = command("C1", WithdrawComplaint(reason="sudah diperbaiki"))
    rejected = await handle_routing_batch([feedback, withdraw], lc)
    assert rejected == []
    events = sent.decoded(COMPLAINTS_EVENTS)[2:]
    assert [(e.type, e.seq) for e in events] == [("CommandRejected", 3), ("ComplaintClosed", 4)]
    assert events[0].payload.model_dump()["command_id"] == feedback.event_id
    assert store.docs["C1"]["state"] == "closed"
    count = len(sent.messages)
    await handle_routing_batch([feedback, withdraw], lc)  # redelivered
    assert len(sent.messages) == count and store.docs["C1"]["seq"] == 4


async def test_a_command_for_an_unknown_complaint_is_dead_lettered() -> None:
    lc, _, _, _ = fake_routing()
    [rejected] = await handle_routing_batch([command("NOPE", AddInformation(message="halo"))], lc)
    assert "does not know" in rejected.reason


async def test_clock_events_set_the_queue_due_and_an_old_version_changes_nothing() -> None:
    lc, store, _, _ = fake_routing()
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    due = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)

    def clock(version: int, due_at: datetime) -> Envelope:
        payload = ClockStarted(
            clock_id="C1/response/1",
            clock="response",
            opd_id="33.74/dinas-pupr",
            pemda="33.74",
            started_at=NOW,
            due_at=due_at,
            budget_seconds=5 * 86400,
            state="running",
            at=NOW,
            version=version,
        )
        return new_event(payload, producer="sla", complaint_id="C1", seq=2, occurred_at=NOW)

    assert store.docs["C1"]["sla_due"] == NO_DUE
    await handle_routing_batch([clock(2, due)], lc)
    assert store.docs["C1"]["sla_due"] == due
    await handle_routing_batch([clock(1, due + timedelta(days=9))], lc)
    assert store.docs["C1"]["sla_due"] == due


def started(complaint_id: str, version: int = 1) -> Envelope:
    payload = ClockStarted(
        clock_id=f"{complaint_id}/response/1",
        clock="response",
        opd_id="33.74/dinas-pupr",
        pemda="33.74",
        started_at=NOW,
        due_at=NOW + timedelta(days=7),
        budget_seconds=5 * 86400,
        state="running",
        at=NOW,
        version=version,
    )
    return new_event(payload, producer="sla", complaint_id=complaint_id, seq=2, occurred_at=NOW)


async def test_a_dues_update_between_publish_and_mark_published_leaves_the_outbox_published() -> None:
    """sla's ClockStarted can be handled (routing-dues group) while the assignment is being
    published: that write changes `rev`, not the outbox, so the outbox is still marked published
    and the relay has nothing to send again."""
    sent = Sent()
    lc, store, _, _ = fake_routing(sent)

    async def publish_then_dues(messages: Sequence[Outgoing]) -> None:
        await sent(messages)
        await handle_clock_events([started("C1")], lc)  # lands before mark_published

    delivery_of(lc)._publish = publish_then_dues
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    assert store.docs["C1"]["sla_due"] == NOW + timedelta(days=7)
    assert published(store.docs["C1"])


async def test_an_earlier_delivery_never_clears_the_outbox_of_a_later_change() -> None:
    """A withdrawal is decided while the assignment is still being published, and Kafka fails
    its own publish: the assignment's mark (guarded by its staging instant) leaves the later
    outbox staged, the assignment's events carried in it, for the relay or a redelivery."""
    sent = Sent()
    lc, store, _, _ = fake_routing(sent)
    withdraw = command("C1", WithdrawComplaint(reason="sudah diperbaiki"))

    async def publish_down(messages: Sequence[Outgoing]) -> None:
        raise TimeoutError("broker down")

    async def publish_then_withdraw(messages: Sequence[Outgoing]) -> None:
        await sent(messages)
        delivery_of(lc)._publish = publish_down  # Kafka goes down before the withdrawal's publish
        with contextlib.suppress(TimeoutError):
            await handle_routing_batch([withdraw], lc)

    delivery_of(lc)._publish = publish_then_withdraw
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    doc = store.docs["C1"]
    assert doc["state"] == "closed" and not published(doc)
    staged = [decode(m["value"]) for m in doc["outbox"] if m["topic"] == COMPLAINTS_EVENTS]
    assert [(e.type, e.seq) for e in staged] == [
        ("ComplaintReceived", 1),
        ("ComplaintAssigned", 2),
        ("ComplaintClosed", 3),
    ]


async def test_dues_are_written_again_for_the_complaints_a_lifecycle_write_overtook() -> None:
    lc, store, _, _ = fake_routing()
    await handle_submissions([submitted("C1"), submitted("C2")], lc, now=lambda: NOW)
    real_set_dues = store.set_dues
    overtaken = []

    async def set_dues_overtaken_once(updates: Sequence[tuple[str, int, dict[str, Any], datetime]]) -> int:
        if not overtaken:  # a lifecycle write of C1 lands between the read and this write
            overtaken.append(True)
            store.docs["C1"]["rev"] += 1
        return await real_set_dues(updates)

    store.set_dues = set_dues_overtaken_once  # type: ignore[method-assign]
    await handle_clock_events([started("C1"), started("C2")], lc)
    assert store.docs["C1"]["sla_due"] == store.docs["C2"]["sla_due"] == NOW + timedelta(days=7)


async def test_finishing_later_sends_first_then_writes_the_feed_and_the_marks_in_the_background() -> None:
    """The service's mode: the consumer goes on once Kafka has the events; the feed entries and
    the marks follow from the finisher task, one per batch staged at one instant."""
    lc, store, feed, sent = fake_routing()
    delivery_of(lc).finish_later = True
    await handle_submissions([submitted("C1"), submitted("C2")], lc, now=lambda: NOW)
    assert len(sent.decoded(COMPLAINTS_EVENTS)) == 4  # on Kafka before the handler returned
    assert not feed.entries and not published(store.docs["C1"])
    assert store.docs["C1"]["outbox_since"] == store.docs["C2"]["outbox_since"]
    finisher = asyncio.create_task(delivery_of(lc).finisher())
    try:

        async def finished() -> bool:
            return all(published(store.docs[c]) for c in ("C1", "C2")) and len(feed.entries) == 2

        await eventually(finished, within=5, what="feed entries and published marks")
    finally:
        finisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await finisher


async def test_a_pemda_rule_override_decides_instead_of_the_table() -> None:
    lc, _, _, sent = fake_routing(catalog=FakeCatalog({("33.74", "penerangan-jalan"): "dinas-pupr"}))
    await handle_submissions([submitted("C1", category="penerangan-jalan")], lc, now=lambda: NOW)
    assigned = sent.decoded(COMPLAINTS_EVENTS)[1].payload
    assert isinstance(assigned, ComplaintAssigned)
    assert (assigned.opd_id, assigned.rule) == ("33.74/dinas-pupr", "override:33.74:penerangan-jalan")


async def test_an_uncategorised_complaint_goes_to_triage_without_an_opd() -> None:
    lc, store, feed, sent = fake_routing()
    vague = "Mohon perhatian bapak ibu, keadaannya sudah lama seperti ini dan belum ada tindakan."
    await handle_submissions(
        [submitted("C1", category=None, description=vague, title="Keluhan")], lc, now=lambda: NOW
    )
    assert [e.type for e in sent.decoded(COMPLAINTS_EVENTS)] == ["ComplaintReceived", "ComplaintTriaged"]
    assert (store.docs["C1"]["state"], store.docs["C1"]["opd_id"]) == ("triage", None)
    assert feed.entries == {} and not [m for m in sent.messages if m.topic == COMPLAINTS_ASSIGNED]


async def test_an_uncategorised_complaint_with_clear_text_is_classified_and_assigned() -> None:
    lc, store, _, sent = fake_routing()
    await handle_submissions([submitted("C1", category=None)], lc, now=lambda: NOW)  # "Jalan rusak parah"
    assigned = sent.decoded(COMPLAINTS_EVENTS)[1].payload
    assert isinstance(assigned, ComplaintAssigned)
    assert (assigned.category, assigned.opd_id) == ("jalan-jembatan", "33.74/dinas-pupr")
    assert assigned.rule.startswith("classified:")
    assert store.docs["C1"]["category"] == "jalan-jembatan"


async def test_the_second_of_two_similar_submissions_in_one_batch_suggests_the_first() -> None:
    lc, store, _, _ = fake_routing()
    near = {"location": {"lat": -6.9835, "lon": 110.4091}}
    batch = [
        submitted(
            "D1", description="Lubang besar di Jalan Pemuda depan SD, motor sering jatuh malam hari.", **near
        ),
        submitted(
            "D2", description="Jalan Pemuda dekat SD berlubang besar, pengendara motor jatuh malam.", **near
        ),
        submitted("D3", description="Jembatan kayu penyeberangan lapuk, papannya patah dan goyang.", **near),
    ]
    assert await handle_submissions(batch, lc) == []
    assert store.docs["D1"]["duplicates"] == []
    [suggested] = store.docs["D2"]["duplicates"]
    assert suggested["id"] == "D1" and suggested["distance_m"] == 0
    assert store.docs["D3"]["duplicates"] == []  # another matter
    assert store.docs["D1"]["dup_keys"]  # open: found by its keys


async def test_a_merge_writes_both_complaints_once_and_a_repeat_changes_nothing() -> None:
    lc, _, _, sent = fake_routing()
    await handle_submissions([submitted("M1"), submitted("M2", anonymous=True)], lc)
    absorbed, survivor = await merge(lc, "M2", Merge("koor", "M1"))
    assert (absorbed["state"], absorbed["merged_into"], absorbed["dup_keys"]) == ("closed", "M1", [])
    assert (survivor["state"], survivor["anonymous"]) == ("assigned", True)
    events = [e.type for e in sent.decoded(COMPLAINTS_EVENTS)]
    again = await merge(lc, "M2", Merge("koor", "M1"))
    assert (again[0]["seq"], again[1]["seq"]) == (absorbed["seq"], survivor["seq"])
    assert [e.type for e in sent.decoded(COMPLAINTS_EVENTS)] == events
    assert events.count("ComplaintAbsorbed") == 1 and events.count("ComplaintClosed") == 1
