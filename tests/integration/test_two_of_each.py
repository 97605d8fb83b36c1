"""What each background loop is when a service runs two processes (issue 19), on the real database:

- consumer groups: two members of a group settle on one generation, sharing the partitions, and
  every JoinGroup a member sends offers all the services' assignors (shared/kafka.py ASSIGNORS);
- leased (shared/lease.py): one holder at a time, renewed by it, taken over after its expiry or
  at once after a release, the token growing at each change of holder; sla's detector passes only
  in the holder; intake's retention sweep likewise (one erasure, audited once);
- harmless when doubled: two outbox relays at once publish a message twice at worst, never lose
  one, and mark every document (the consumers recognise the second copy by its event id and
  `seq`: tests/integration/test_sla_clocks.py and test_routing_relay.py redeliver); two detector
  passes at once announce each transition once (the revision guard skips the second save).

The webhook pushers' per-webhook lease is tested in test_webhooks.py
(`test_two_routing_processes_never_push_one_webhook_at_once`), the notifier's per-notification
claim in test_intake_notification_store_contract.py."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.group_coordinator import GroupCoordinator
from aiokafka.protocol.group import JoinGroupRequest
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from services.intake.entrypoints.consumers import retention
from services.intake.ports import Adapters
from services.sla.adapters.clock_store import ensure_indexes
from services.sla.bootstrap import mongo_sla
from services.sla.entrypoints.workers import DetectorSettings, run_detector
from services.sla.handlers import detect_once, handle_lifecycle
from shared import clock, outbox
from shared.kafka import ASSIGNORS, Outgoing
from shared.lease import COLLECTION, Lease
from shared.mongo import mongo_client
from shared.topics import COMPLAINTS_EVENTS, GROUP_TOPICS, ROUTING_GROUP, SLA_EVENTS, TOPICS
from tests.intake_fakes import FakeComplaintStore
from tests.sla_fakes import Sent, fake_sla
from tests.unit.test_sla_domain import Story, wib
from tests.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}pairs"]
    await client.drop_database(f"{db_prefix}pairs")
    await client.close()


class Wall:
    """A wall clock the test moves by hand (the lease's expiry is wall time)."""

    def __init__(self) -> None:
        self.now = clock.wall()

    def __call__(self) -> Any:
        return self.now


# --- the lease -----------------------------------------------------------------------------------


async def test_one_holder_at_a_time_renewed_by_it_taken_over_after_expiry_or_release(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    wall = Wall()
    ttl = timedelta(seconds=10)
    one, other = (Lease(db, "detector", ttl, holder, wall) for holder in ("p1", "p2"))

    # Both try at the same instant: exactly one gets it.
    first = await asyncio.gather(one.acquire(), other.acquire())
    assert sorted(first) == [False, True]
    holder, waiting = (one, other) if first[0] else (other, one)
    token = holder.token
    assert token is not None and waiting.token is None

    wall.now += timedelta(seconds=9)  # renewed before it runs out: still the holder's, same token
    assert await holder.acquire() and holder.token == token
    wall.now += timedelta(seconds=9)
    assert not await waiting.acquire()

    wall.now += timedelta(seconds=11)  # the holder stopped renewing (it died): the other takes it
    assert await waiting.acquire() and waiting.token == token + 1
    assert not await holder.acquire() and holder.token is None  # the old holder learns it lost it

    await waiting.release()  # a clean stop: the other may take it at once, no expiry to wait
    assert await holder.acquire() and holder.token == token + 2
    stored = await db[COLLECTION].find_one({"_id": "detector"})
    assert stored is not None and stored["holder"] == holder.holder


async def test_only_the_lease_holder_s_detector_detects(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Two detector loops (two sla processes) on one database: the holder's announces the breach,
    the other's passes do nothing; once the holder stops (releasing), the other takes over."""
    await ensure_indexes(db)
    story = _assigned()
    sent_one, sent_other = Sent(), Sent()
    one, other = mongo_sla(db, sent_one), mongo_sla(db, sent_other)
    ttl = timedelta(seconds=30)
    lease_one = Lease(db, "sla-detector", ttl, "p1")
    lease_other = Lease(db, "sla-detector", ttl, "p2")
    assert await lease_one.acquire()  # p1 is the holder when both loops start
    settings = DetectorSettings(max_sleep=0.05, relay_after=3600)
    late = wib(2026, 2, 10, 9)  # past both dues

    await handle_lifecycle(story.events, one.clock_store(), sent_one, one.rules)
    sent_one.messages.clear()
    loops = [
        asyncio.create_task(run_detector(one, settings, lambda: late, lease_one)),
        asyncio.create_task(run_detector(other, settings, lambda: late, lease_other)),
    ]
    try:
        await eventually(
            _announced(sent_one, 2), within=20, what="the holder's detector announcing the breaches"
        )
        assert _breaches(sent_other) == 0
        assert lease_other.token is None  # it tried, and was refused, at every pass

        # The holder stops cleanly (its lease released, as bootstrap does): the other detects
        # the next complaint.
        loops[0].cancel()
        await asyncio.wait([loops[0]])
        await lease_one.release()
        second = _assigned("C2")
        await handle_lifecycle(second.events, other.clock_store(), sent_other, other.rules)
        await eventually(_announced(sent_other, 2), within=20, what="the other detector taking over")
        assert lease_other.token is not None
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.wait(loops)


class CountingLease(Lease):
    """A lease counting its refusals (a process's passes that found another holder)."""

    refused: int = 0

    async def acquire(self) -> bool:
        got = await super().acquire()
        self.refused += not got
        return got


class ProcessStore:
    """One process's view of intake's shared complaint store, counting its retention queries."""

    def __init__(self, shared: FakeComplaintStore) -> None:
        self.shared, self.queries = shared, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shared, name)

    async def ended_before(self, cutoff: Any, limit: int) -> list[str]:
        self.queries += 1
        return await self.shared.ended_before(cutoff, limit)


async def test_only_the_lease_holder_s_retention_sweep_erases_and_audits_once(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    shared = FakeComplaintStore()
    shared.complaints["OLD"] = {
        "_id": "OLD",
        "closed_at": clock.now() - timedelta(days=3660),
        "reporter": {"name": "Warga", "email": "warga@example.id"},
    }
    stores = [ProcessStore(shared), ProcessStore(shared)]
    leases = [CountingLease(db, "intake-retention", timedelta(seconds=60), f"p{n}") for n in (1, 2)]
    assert await leases[0].acquire()  # p1 holds it when both start
    loops = [
        asyncio.create_task(retention(cast(Adapters, _adapters(store)), 5, 0.05, lease))
        for store, lease in zip(stores, leases, strict=True)
    ]
    try:

        async def both_passed_thrice() -> bool:
            return stores[0].queries >= 3 and leases[1].refused >= 3

        await eventually(both_passed_thrice, what="three passes of each process")
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.wait(loops)
    assert stores[1].queries == 0  # the other process never swept
    assert shared.complaints["OLD"]["reporter"] is None  # erased
    assert [a["action"] for a in shared.audit] == ["erase"]  # one erasure, audited once


def _adapters(store: ProcessStore) -> Any:
    return type("OneProcess", (), {"complaints": store})()


# --- consumer groups ------------------------------------------------------------------------------


async def test_two_processes_of_a_group_settle_on_one_generation_sharing_the_partitions(
    endpoints: Endpoints, db_prefix: str
) -> None:
    """Two members of one group with the services' assignors (shared/kafka.py ASSIGNORS) both hold
    partitions of one generation: the group settles. With aiokafka's double JoinGroup for two
    assignors it went on rebalancing, each member's join failing the other's sync."""
    group = f"{db_prefix}pair"
    topics = list(GROUP_TOPICS[ROUTING_GROUP])
    members = [
        AIOKafkaConsumer(
            *topics,
            bootstrap_servers=endpoints.kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            partition_assignment_strategy=ASSIGNORS,
        )
        for _ in range(2)
    ]
    polling = []
    try:
        for member in members:
            await member.start()
            polling.append(asyncio.create_task(_poll(member)))

        async def shared() -> bool:
            # Mid-rebalance the first member may still hold the whole of its old assignment while
            # the second already holds its share: settled means both non-empty, disjoint, complete.
            held = [member.assignment() for member in members]
            union = set().union(*held)
            return all(held) and union == _all_partitions(topics) and sum(map(len, held)) == len(union)

        await eventually(shared, within=60, what="both members holding partitions of one generation")
        first, second = (m.assignment() for m in members)
        assert not first & second
        # One complaint's partitions of both topics in one member (the range assignor).
        for held in (first, second):
            numbers = {t: {tp.partition for tp in held if tp.topic == t} for t in topics}
            assert len({frozenset(n) for n in numbers.values()}) == 1
    finally:
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
        for member in members:
            await member.stop()


async def test_every_join_request_offers_all_the_services_assignors(
    endpoints: Endpoints, db_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka 0.14.0 sends one JoinGroup per configured assignor at each (re)join, the first
    offering the first assignor only: each round changed the member's protocols and started a new
    generation, and with two members the group kept rebalancing for minutes (shared/kafka.py
    ASSIGNORS). Every JoinGroup a member sends with the services' assignors offers all of them."""
    offered: list[tuple[str, ...]] = []
    original = GroupCoordinator._send_req

    async def recording(self: GroupCoordinator, request: Any) -> Any:
        if isinstance(request, JoinGroupRequest):
            # As sent: aiokafka appends to this very list for its next assignor.
            offered.append(tuple(name for name, _ in request._group_protocols))
        return await original(self, request)

    monkeypatch.setattr(GroupCoordinator, "_send_req", recording)
    member = AIOKafkaConsumer(
        COMPLAINTS_EVENTS,
        bootstrap_servers=endpoints.kafka_bootstrap,
        group_id=f"{db_prefix}one",
        enable_auto_commit=False,
        partition_assignment_strategy=ASSIGNORS,
    )
    await member.start()
    polling = asyncio.create_task(_poll(member))
    try:

        async def assigned() -> bool:
            return bool(member.assignment())

        await eventually(assigned, within=30, what="the member's partitions")
        assert offered
        assert set(offered) == {tuple(assignor.name for assignor in ASSIGNORS)}
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await member.stop()


async def _poll(member: AIOKafkaConsumer) -> None:
    while True:  # as a consumer's loop does: the group's joins are driven while it polls
        await member.getmany(timeout_ms=200)


def _all_partitions(topics: Sequence[str]) -> set[TopicPartition]:
    counts = {spec.name: spec.partitions for spec in TOPICS}
    return {TopicPartition(t, p) for t in topics for p in range(counts[t])}


# --- harmless when doubled ----------------------------------------------------------------------


async def test_two_relays_at_once_lose_nothing_publish_at_most_twice_and_mark_every_document(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    staged_at = clock.wall() - timedelta(minutes=1)  # unconfirmed long enough for the relay
    docs = []
    for n in range(300):
        doc: dict[str, Any] = {"_id": f"c{n:03}"}
        outbox.stage(doc, [Outgoing("complaints.events", doc["_id"], f"event-{n}".encode())], staged_at)
        docs.append(doc)
    await db["complaints"].insert_many(docs)
    published: collections.Counter[bytes] = collections.Counter()
    feed: collections.Counter[str] = collections.Counter()

    async def publish(messages: Sequence[Outgoing]) -> None:
        await asyncio.sleep(0)  # the other relay runs in between, as over a network
        published.update(m.value for m in messages)

    async def write_feed(batch: Sequence[dict[str, Any]]) -> None:
        # As routing's feed: an entry per document, written by id (upsert), so twice is once.
        for d in batch:
            await db["feed"].update_one({"_id": d["_id"]}, {"$set": {"at": staged_at}}, upsert=True)
            feed[d["_id"]] += 1

    after = outbox.AfterPublish((), write_feed)
    relays = [
        outbox.relay_once(db["complaints"], publish, timedelta(seconds=10), 100, after) for _ in range(2)
    ]
    while sum(await asyncio.gather(*relays)):  # both, pass after pass, until nothing is left
        relays = [
            outbox.relay_once(db["complaints"], publish, timedelta(seconds=10), 100, after) for _ in range(2)
        ]

    assert set(published) == {f"event-{n}".encode() for n in range(300)}  # none lost
    assert max(published.values()) <= 2  # a duplicate at worst, which consumers recognise
    assert await db["complaints"].count_documents({"outbox_since": {"$ne": None}}) == 0
    assert await db["feed"].count_documents({}) == 300


async def test_two_detector_passes_at_once_announce_each_transition_once(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    # What one pass announces, on the fakes.
    alone, sent_alone = fake_sla()[0], Sent()
    story = _assigned()
    await handle_lifecycle(story.events, alone.clock_store(), sent_alone, alone.rules)
    sent_alone.messages.clear()
    late = wib(2026, 2, 10, 9)
    await detect_once(alone.clock_store(), sent_alone, alone.rules, late, 10)
    expected = collections.Counter(e.type for e in sent_alone.decoded(SLA_EVENTS))
    assert expected["SlaBreached"] == 2

    # Two processes' passes at once on the database.
    await ensure_indexes(db)
    sent = Sent()
    one, other = mongo_sla(db, sent), mongo_sla(db, sent)
    await handle_lifecycle(story.events, one.clock_store(), sent, one.rules)
    sent.messages.clear()
    await asyncio.gather(
        detect_once(one.clock_store(), sent, one.rules, late, 10),
        detect_once(other.clock_store(), sent, other.rules, late, 10),
    )
    # Any pass skipped for the conflict takes the complaint again later: nothing is left due.
    await detect_once(other.clock_store(), sent, other.rules, late, 10)
    announced = sent.decoded(SLA_EVENTS)
    assert collections.Counter(e.type for e in announced) == expected
    assert len({e.event_id for e in announced}) == len(announced)


def _assigned(complaint_id: str = "C1") -> Story:
    """A complaint assigned on Mon 2 Feb 2026 in Semarang: both clocks fall due at the end of
    Mon 9 Feb (tests/unit/test_sla_use_cases.py)."""
    story = Story(complaint_id=complaint_id)
    story.received(wib(2026, 2, 2, 10))
    story.assigned(wib(2026, 2, 2, 10))
    return story


def _breaches(sent: Sent) -> int:
    return sum(1 for e in sent.decoded(SLA_EVENTS) if e.type == "SlaBreached")


def _announced(sent: Sent, breaches: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return _breaches(sent) == breaches

    return probe
