"""Routing's handlers with in-memory fakes: submissions, commands and clock events; idempotency,
the outbox, the OPD feed and what goes to the dead-letter topic."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.routing.adapters import NO_DUE, ConcurrentUpdate
from services.routing.handlers import handle_routing_batch, handle_submissions
from services.routing.service import Lifecycle
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


def command(complaint_id: str, payload: Payload, at: datetime = NOW) -> Envelope:
    return new_event(payload, producer="intake", complaint_id=complaint_id, occurred_at=at)


class FakeStore:
    """The subset of MongoComplaintStore the handlers use, with the same rev guard."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.rules: dict[tuple[str, str], str] = {}
        self.loads: list[list[str]] = []  # the ids of every load, in order

    async def insert_new(self, docs: Sequence[dict[str, Any]]) -> set[str]:
        existing = {d["_id"] for d in docs if d["_id"] in self.docs}
        self.docs.update({d["_id"]: copy.deepcopy(d) for d in docs if d["_id"] not in existing})
        return existing

    async def overrides(self, pemdas: Sequence[str]) -> dict[tuple[str, str], str]:
        return {k: v for k, v in self.rules.items() if k[0] in pemdas}

    async def get(self, complaint_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(complaint_id)
        return copy.deepcopy(doc) if doc else None

    async def load(self, ids: Sequence[str], fields: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
        self.loads.append(list(ids))
        docs = {i: copy.deepcopy(self.docs[i]) for i in ids if i in self.docs}
        if fields:  # as the database projects: `_id` and the fields asked for
            return {i: {k: v for k, v in d.items() if k == "_id" or k in fields} for i, d in docs.items()}
        return docs

    async def replace(self, docs: Sequence[dict[str, Any]]) -> None:
        for doc in docs:
            if self.docs[doc["_id"]]["rev"] != doc["rev"]:
                raise ConcurrentUpdate(doc["_id"])
        for doc in docs:
            doc["rev"] += 1
            self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def mark_published(self, seqs: dict[str, int]) -> None:
        for cid, seq in seqs.items():
            if self.docs[cid]["seq"] == seq:
                self.docs[cid]["published"] = True

    async def set_dues(self, updates: Sequence[tuple[str, int, dict[str, Any], datetime]]) -> int:
        missed = 0
        for cid, rev, dues, sla_due in updates:
            if self.docs[cid]["rev"] != rev:
                missed += 1
                continue
            self.docs[cid].update(dues=dues, sla_due=sla_due, rev=rev + 1)
        return missed


class FakeFeed:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    async def add(self, entries: Sequence[dict[str, Any]]) -> None:
        for e in entries:
            self.entries.setdefault(e["_id"], e)


@dataclass
class Sent:
    messages: list[Outgoing] = field(default_factory=list)
    fail: bool = False

    async def __call__(self, messages: Sequence[Outgoing]) -> None:
        if self.fail:
            raise TimeoutError("broker down")
        self.messages.extend(messages)

    def decoded(self, topic: str) -> list[Envelope]:
        return [decode(m.value) for m in self.messages if m.topic == topic]


def lifecycle(sent: Sent | None = None) -> tuple[Lifecycle, FakeStore, FakeFeed, Sent]:
    store, feed, sent = FakeStore(), FakeFeed(), sent or Sent()
    return Lifecycle(store, feed, sent), store, feed, sent  # type: ignore[arg-type]


async def test_routing_records_received_then_assigned_with_seq_1_and_2() -> None:
    lc, store, feed, sent = lifecycle()
    assert await handle_submissions([submitted("C1")], lc, now=lambda: NOW) == []
    events = sent.decoded(COMPLAINTS_EVENTS)
    assert [(e.type, e.seq) for e in events] == [("ComplaintReceived", 1), ("ComplaintAssigned", 2)]
    assert isinstance(events[0].payload, ComplaintReceived) and events[0].payload.submitted_at == NOW
    assert isinstance(events[1].payload, ComplaintAssigned) and events[1].payload.opd_id == "33.74/dinas-pupr"
    [notice] = [m for m in sent.messages if m.topic == COMPLAINTS_ASSIGNED]
    assert notice.key == "33.74/dinas-pupr"
    assert store.docs["C1"]["state"] == "assigned" and store.docs["C1"]["published"] is True
    assert [e["type"] for e in feed.entries.values()] == ["ComplaintAssigned"]


async def test_a_batch_of_new_submissions_reads_nothing_back_from_the_store() -> None:
    # Every read is a database round trip on the routing consumer's path: a batch without
    # commands or clock events must not load anything for them.
    lc, store, _, sent = lifecycle()
    assert await handle_routing_batch([submitted("C1"), submitted("C2")], lc) == []
    assert store.loads == []
    assert {e.complaint_id for e in sent.decoded(COMPLAINTS_EVENTS)} == {"C1", "C2"}


async def test_a_redelivered_submission_decides_nothing_new_and_sends_nothing_twice() -> None:
    lc, store, _, sent = lifecycle()
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    before = list(sent.messages)
    await handle_submissions([submitted("C1"), submitted("C1")], lc, now=lambda: NOW + timedelta(hours=1))
    assert sent.messages == before and len(store.docs) == 1


async def test_an_outbox_left_unpublished_goes_out_with_its_original_ids_on_redelivery() -> None:
    down = Sent(fail=True)
    lc, store, _, _ = lifecycle(down)
    with contextlib.suppress(TimeoutError):
        await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    assert store.docs["C1"]["published"] is False  # stored, not yet in Kafka
    stored_values = [bytes(m["value"]) for m in store.docs["C1"]["outbox"]]
    down.fail = False
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW + timedelta(hours=1))
    assert [m.value for m in down.messages] == stored_values
    assert store.docs["C1"]["published"] is True


async def test_anonymous_text_reaches_the_opd_masked_and_without_reporter_ref() -> None:
    lc, _, feed, sent = lifecycle()
    await handle_submissions([submitted("C2", anonymous=True)], lc, now=lambda: NOW)
    [notice] = [m for m in sent.messages if m.topic == COMPLAINTS_ASSIGNED]
    assert b"0812" not in notice.value and b"rep_1" not in notice.value
    assert "rep_1" not in repr(feed.entries)


async def test_poison_submissions_are_rejected_with_a_reason_and_the_rest_is_routed() -> None:
    lc, _, _, sent = lifecycle()
    batch = [submitted("C3", region_code="99.99"), submitted("C4")]
    rejected = await handle_submissions(batch, lc, now=lambda: NOW)
    assert [r.reason for r in rejected] == ["unknown region_code '99.99'"]
    assert {e.complaint_id for e in sent.decoded(COMPLAINTS_EVENTS)} == {"C4"}


async def test_commands_become_the_next_seq_or_a_rejection_and_a_redelivery_is_a_no_op() -> None:
    lc, store, _, sent = lifecycle()
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
    lc, _, _, _ = lifecycle()
    [rejected] = await handle_routing_batch([command("NOPE", AddInformation(message="halo"))], lc)
    assert "does not know" in rejected.reason


async def test_clock_events_set_the_queue_due_and_an_old_version_changes_nothing() -> None:
    lc, store, _, _ = lifecycle()
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
    lc, store, _, _ = lifecycle(sent)

    async def publish_then_dues(messages: Sequence[Outgoing]) -> None:
        await sent(messages)
        await lc.handle_clock_events([started("C1")])  # lands before mark_published

    lc._publish = publish_then_dues  # type: ignore[method-assign]
    await handle_submissions([submitted("C1")], lc, now=lambda: NOW)
    assert store.docs["C1"]["sla_due"] == NOW + timedelta(days=7)
    assert store.docs["C1"]["published"] is True


async def test_dues_are_written_again_for_the_complaints_a_lifecycle_write_overtook() -> None:
    lc, store, _, _ = lifecycle()
    await handle_submissions([submitted("C1"), submitted("C2")], lc, now=lambda: NOW)
    real_set_dues = store.set_dues
    overtaken = []

    async def set_dues_overtaken_once(updates: Sequence[tuple[str, int, dict[str, Any], datetime]]) -> int:
        if not overtaken:  # a lifecycle write of C1 lands between the read and this write
            overtaken.append(True)
            store.docs["C1"]["rev"] += 1
        return await real_set_dues(updates)

    store.set_dues = set_dues_overtaken_once  # type: ignore[method-assign]
    await lc.handle_clock_events([started("C1"), started("C2")])
    assert store.docs["C1"]["sla_due"] == store.docs["C2"]["sla_due"] == NOW + timedelta(days=7)


async def test_finishing_later_sends_first_then_writes_the_feed_and_the_marks_in_the_background() -> None:
    """The service's mode: the consumer goes on once Kafka has the events; the feed entries and
    the published marks follow from the finisher task."""
    lc, store, feed, sent = lifecycle()
    lc.finish_later = True
    await handle_submissions([submitted("C1"), submitted("C2")], lc, now=lambda: NOW)
    assert len(sent.decoded(COMPLAINTS_EVENTS)) == 4  # on Kafka before the handler returned
    assert not feed.entries and store.docs["C1"]["published"] is False
    finisher = asyncio.create_task(lc.finisher())
    try:

        async def finished() -> bool:
            return all(store.docs[c]["published"] for c in ("C1", "C2")) and len(feed.entries) == 2

        await eventually(finished, within=5, what="feed entries and published marks")
    finally:
        finisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await finisher


async def test_a_pemda_rule_override_decides_instead_of_the_table() -> None:
    lc, store, _, sent = lifecycle()
    store.rules[("33.74", "penerangan-jalan")] = "dinas-pupr"
    await handle_submissions([submitted("C1", category="penerangan-jalan")], lc, now=lambda: NOW)
    assigned = sent.decoded(COMPLAINTS_EVENTS)[1].payload
    assert isinstance(assigned, ComplaintAssigned)
    assert (assigned.opd_id, assigned.rule) == ("33.74/dinas-pupr", "override:33.74:penerangan-jalan")


async def test_an_uncategorised_complaint_goes_to_triage_without_an_opd() -> None:
    lc, store, feed, sent = lifecycle()
    vague = "Mohon perhatian bapak ibu, keadaannya sudah lama seperti ini dan belum ada tindakan."
    await handle_submissions(
        [submitted("C1", category=None, description=vague, title="Keluhan")], lc, now=lambda: NOW
    )
    assert [e.type for e in sent.decoded(COMPLAINTS_EVENTS)] == ["ComplaintReceived", "ComplaintTriaged"]
    assert (store.docs["C1"]["state"], store.docs["C1"]["opd_id"]) == ("triage", None)
    assert feed.entries == {} and not [m for m in sent.messages if m.topic == COMPLAINTS_ASSIGNED]


async def test_an_uncategorised_complaint_with_clear_text_is_classified_and_assigned() -> None:
    lc, store, _, sent = lifecycle()
    await handle_submissions([submitted("C1", category=None)], lc, now=lambda: NOW)  # "Jalan rusak parah"
    assigned = sent.decoded(COMPLAINTS_EVENTS)[1].payload
    assert isinstance(assigned, ComplaintAssigned)
    assert (assigned.category, assigned.opd_id) == ("jalan-jembatan", "33.74/dinas-pupr")
    assert assigned.rule.startswith("classified:")
    assert store.docs["C1"]["category"] == "jalan-jembatan"
