"""Kafka adapters shared by the services: the durable producer, topic creation and the
batch consumer loop that commits only what it has processed (DESIGN §6, Delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)
from aiokafka.partitioner import murmur2

from shared import metrics
from shared.envelope import DecodeError, Envelope, decode
from shared.faults import is_transient
from shared.settings import KafkaLayoutSettings, kafka_layout
from shared.topics import TOPICS, TopicSpec, dlq

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=65536)
def _murmur2_index(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def key_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """The Java client's (and aiokafka's default) partition for a key, murmur2 — with the hash
    memoised: a complaint's events share its key, and aiokafka's murmur2 is pure Python (a few
    per cent of each service's CPU under load)."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[_murmur2_index(key) % len(all_partitions)]


def durable_producer(
    bootstrap: str, *, linger_ms: int = 0, request_timeout_ms: int = 10000
) -> AIOKafkaProducer:
    """Idempotent, acks=all: a completed send means the broker has the message durably.

    No linger: a batch's messages are queued together anyway (`publish` queues them all before
    the sender runs), and while a request to a partition is in flight the next messages gather
    behind it, so batches still grow under load; a linger only adds its wait to every hop
    (docs/performance.md has the measurement)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        max_batch_size=256 * 1024,
        partitioner=key_partitioner,
    )


# Refusals after which an idempotent producer's every later send fails the same way until it is
# replaced: its producer id and sequence numbers are out of step with the broker's (seen after a
# broker outage: aio-libs/aiokafka#1017, open; "producing stops until we restart pods").
STUCK_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


class Producer:
    """A service's durable producer (`durable_producer`) that replaces itself when it is stuck.

    `publish` tells it when a send failed with one of STUCK_PRODUCER_ERRORS: the aiokafka producer
    is stopped and a new one started (a new producer id, sequences from zero), and the failure
    goes back to the caller as the transient fault it is, so the batch is sent again — by the new
    producer — under the outbox's and the consumers' usual rules (a message twice is recognised
    by its event id). Every other failure (the broker away, a timeout) is left to aiokafka, which
    recovers from those by itself (tests/integration/test_broker_restart.py)."""

    def __init__(self, make: Callable[[], AIOKafkaProducer]) -> None:
        self._make = make
        self._current = make()
        self._lock = asyncio.Lock()
        self.renewals = 0

    @property
    def client(self) -> Any:
        return self._current.client

    async def start(self) -> None:
        await self._current.start()

    async def stop(self) -> None:
        await self._current.stop()

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[Any]:
        sent: asyncio.Future[Any] = await self._current.send(topic, value=value, key=key, headers=headers)
        return sent

    async def renew(self, failed: BaseException) -> None:
        """Replace the aiokafka producer (once for the sends that failed together)."""
        stuck = self._current
        async with self._lock:
            if self._current is not stuck:
                return  # another caller has replaced it already
            log.warning("producer stuck (%r): replacing it with a new one", failed)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(stuck.stop(), timeout=10)
            fresh = self._make()
            await fresh.start()
            self._current = fresh
            self.renewals += 1


Sender: TypeAlias = AIOKafkaProducer | Producer


class TopicLayoutError(RuntimeError):
    """A topic exists with another partition count or replication factor than the project needs;
    it is never changed automatically (the message names each topic, what it has and what it needs)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _required_configs(spec: TopicSpec, layout: KafkaLayoutSettings) -> dict[str, str]:
    return {"min.insync.replicas": str(layout.min_insync_replicas), **dict(spec.config)}


async def ensure_topics(
    bootstrap: str, specs: Iterable[TopicSpec] = TOPICS, layout: KafkaLayoutSettings | None = None
) -> list[str]:
    """Create the project's topics with their partition counts, replication factor and configs
    (`layout`: KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS); an existing topic whose
    required configs differ (e.g. a broker's default 7-day retention on an event topic) is
    corrected. An existing topic with another partition count or replication factor is refused
    (`TopicLayoutError`) before anything is created or changed: the complaint-keyed topics must
    stay co-partitioned, and a partition count is never altered automatically. Returns the names
    of the topics created."""
    specs = list(specs)
    layout = layout or kafka_layout()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        refused = await _layout_problems(admin, [s for s in specs if s.name in existing], layout)
        if refused:
            raise TopicLayoutError(refused)
        missing = [
            NewTopic(
                s.name, s.partitions, layout.replication_factor, topic_configs=_required_configs(s, layout)
            )
            for s in specs
            if s.name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        wrong = await _config_differences(admin, [s for s in specs if s.name in existing], layout)
        if wrong:
            resources = [
                ConfigResource(ConfigResourceType.TOPIC, name, configs=configs)
                for name, configs in wrong.items()
            ]
            await admin.alter_configs(resources)
            for name, configs in wrong.items():
                log.warning("topic %s: configs corrected, now %s", name, configs)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def topic_problems(
    bootstrap: str, specs: Iterable[TopicSpec] = TOPICS, layout: KafkaLayoutSettings | None = None
) -> list[str]:
    """What is wrong with the project's topics on this broker (missing, another partition count or
    replication factor, or a required config differs): a service checks this at start-up and says
    so loudly (and is not ready)."""
    specs = list(specs)
    layout = layout or kafka_layout()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        problems = [f"topic {s.name} is missing" for s in specs if s.name not in existing]
        problems += await _layout_problems(admin, [s for s in specs if s.name in existing], layout)
        wrong = await _config_differences(admin, [s for s in specs if s.name in existing], layout)
        required = {s.name: _required_configs(s, layout) for s in specs}
        problems += [f"topic {name} needs {required[name]}" for name in wrong]
        return problems
    finally:
        await admin.close()


async def _layout_problems(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], layout: KafkaLayoutSettings
) -> list[str]:
    """One message per existing topic whose partition count or replication factor is not the one
    the project needs."""
    if not specs:
        return []
    found = {t["topic"]: t for t in await admin.describe_topics([s.name for s in specs])}
    problems = []
    for spec in specs:
        partitions = found.get(spec.name, {}).get("partitions") or []
        if not partitions:
            continue  # listed a moment ago, no metadata yet: nothing to say about it
        count = len(partitions)
        replicas = min(len(p["replicas"]) for p in partitions)
        if (count, replicas) != (spec.partitions, layout.replication_factor):
            problems.append(
                f"topic {spec.name} has {count} partitions and replication factor {replicas}; the "
                f"project needs {spec.partitions} partitions and replication factor "
                f"{layout.replication_factor}. Not changed automatically (complaint-keyed topics "
                "must stay co-partitioned): recreate the topic or migrate its data, or correct "
                "KAFKA_REPLICATION_FACTOR"
            )
    return problems


async def _config_differences(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], layout: KafkaLayoutSettings
) -> dict[str, dict[str, str]]:
    """Per topic whose required configs differ: the whole set to write — the configs set on the
    topic now, with the required ones over them. (The broker's AlterConfigs replaces a topic's
    configs: what is not sent goes back to the broker's default, e.g. an operator's
    `min.insync.replicas`.)"""
    if not specs:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
    current: dict[str, dict[str, str]] = {}
    own: dict[str, dict[str, str]] = {}  # set on the topic itself (not a broker default)
    for response in await admin.describe_configs(resources):
        version = response.API_VERSION
        for _code, _message, _type, name, entries in response.resources:
            current[name] = {entry[0]: entry[1] for entry in entries}
            own[name] = {
                entry[0]: entry[1]
                for entry in entries
                if not entry[2] and ((not entry[3]) if version == 0 else entry[3] == 1)  # DYNAMIC_TOPIC
            }
    required = {s.name: _required_configs(s, layout) for s in specs}
    return {
        s.name: {**own.get(s.name, {}), **required[s.name]}
        for s in specs
        if any(current.get(s.name, {}).get(key) != value for key, value in required[s.name].items())
    }


async def kafka_reachable(producer: Sender, timeout: float = 2.0) -> bool:
    """A real metadata round trip, for /readyz."""
    try:
        async with asyncio.timeout(timeout):
            await producer.client.fetch_all_metadata()
        return True
    except (KafkaError, TimeoutError, OSError):
        return False


@dataclass(frozen=True)
class Outgoing:
    """One message to send: kept as plain data so a service can store it in its outbox."""

    topic: str
    key: str
    value: bytes

    @classmethod
    def of(cls, topic: str, key: str, envelope: Envelope) -> Outgoing:
        return cls(topic, key, envelope.to_bytes())


async def publish(producer: Sender, messages: Iterable[Outgoing]) -> None:
    """Send the messages and return once every one is acknowledged (acks=all). A producer found
    stuck is replaced before the failure is raised (`Producer`)."""
    try:
        sent = list(messages)
        pending = [await producer.send(m.topic, value=m.value, key=m.key.encode()) for m in sent]
        await asyncio.gather(*pending)
        for m in sent:
            metrics.PRODUCED.labels(m.topic).inc()
    except STUCK_PRODUCER_ERRORS as exc:
        if isinstance(producer, Producer):
            await producer.renew(exc)
        raise


@dataclass(frozen=True)
class Rejected:
    """An event the handler refuses for good (not a transient failure): it goes to the DLQ."""

    envelope: Envelope
    reason: str


MAX_HANDLER_FAILURES = 3

BatchHandler = Callable[[list[Envelope]], Awaitable[list[Rejected]]]


# How long the broker may hold a fetch that finds no new data. aiokafka keeps one fetch in flight
# per broker: a fetch sent while the partitions with traffic still had records waiting to be
# handled asks only for the idle ones (an idle topic, a quiet partition) and sits on the broker for
# this long, and the busy partitions cannot be fetched again until it returns: at the default
# (500 ms) a message under load waited up to that long in every consumer on its way. An idle
# consumer pays with up to 20 empty fetches a second (docs/performance.md has the figures).
FETCH_MAX_WAIT_MS = 50
# A consumer shares its service's event loop with the HTTP API: a batch of 500 messages took up to
# 60 ms to decode under load, so decoding hands the loop back every this many messages.
YIELD_EVERY = 100
# Offsets of handled batches are committed at most this often while messages keep coming, and at
# once when the consumer goes idle, before its partitions are revoked and when it stops. A commit
# per batch was one more broker request per batch for every group (at 300 complaints/s, dozens a
# second each) and a round trip in the way of the next batch. A crash loses at most this long a
# stretch of commits: those messages are delivered again, and every handler is idempotent.
COMMIT_EVERY_S = 1.0
# How a group's partitions are shared among its processes. The range assignor gives each member
# the same partition numbers of every topic it reads (all complaint-keyed topics have the same
# count, shared/topics.py), so one complaint's submission and its commands reach the same routing
# process, in order; aiokafka's default (round robin over all topic-partitions) can split them
# across two processes once the member count does not divide the partition count.
# Range alone: aiokafka 0.14.0 sends one JoinGroup per configured assignor at every (re)join (its
# KIP-394 retry loop sits inside the loop over assignors), the first with range only, the second
# with both; the second changes the member's protocols and starts a new generation, which fails
# the other members' SyncGroup, whose own double join then fails this one's: with two processes a
# group went on rebalancing for minutes, consuming nothing (tests/e2e/test_scale.py caught it;
# tests/unit/test_kafka.py pins the behaviour). The price: a rolling upgrade from a version whose
# members offer round robin only cannot mix old and new members in one group (they share no
# protocol; the new ones stop with InconsistentGroupProtocolError and are restarted); stop the old
# processes first.
ASSIGNORS = (RangePartitionAssignor,)


class CommittingConsumer:
    """Consume `topics` as `group` in batches and commit what `_process` has handled (at most every
    `COMMIT_EVERY_S` while busy, at once when idle, on revocation and on stop). Subclasses say
    what handling a batch is: `BatchConsumer` (envelopes, with a dead-letter topic) and
    `shared.deadletters.LetterConsumer` (another group's dead letters)."""

    def __init__(self, *, bootstrap: str, group: str, topics: Sequence[str], max_records: int = 500) -> None:
        self._group = group
        self._topics = topics
        self._max_records = max_records
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            partition_assignment_strategy=ASSIGNORS,
        )
        self._consumer.subscribe(list(topics), listener=_CommitBeforeRevoke(self))
        metrics.watch_consumer(self)
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = time.monotonic()
        self.processed = 0
        # (monotonic instant, error) of the infrastructure fault the current batch waits on.
        self.stalled: tuple[float, str] | None = None

    @property
    def group(self) -> str:
        return self._group

    async def lag(self) -> dict[tuple[str, int], int]:
        """Messages past this consumer's position on each partition it holds, as of its last
        fetch ((topic, partition) → count); a partition whose position is not known yet is left out."""
        lags: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await asyncio.wait_for(self._consumer.position(tp), 0.5)
            except (KafkaError, TimeoutError):  # being reassigned: next scrape
                continue
            lags[(tp.topic, tp.partition)] = max(0, highwater - position)
        return lags

    async def run(self) -> None:
        try:
            await self._consumer.start()  # inside the try: a shutdown during start still stops it
            while True:
                records = await self._consumer.getmany(timeout_ms=500, max_records=self._max_records)
                if records:
                    await self._process(records)
                if self._uncommitted and (
                    not records or time.monotonic() - self._committed_at >= COMMIT_EVERY_S
                ):
                    await self.commit()
        finally:
            try:
                await self.commit()  # what was handled before the stop is not delivered again
            except KafkaError as exc:  # the broker went first: those messages come again
                log.warning("%s: no commit on stop: %r", self._group, exc)
            finally:
                await self._consumer.stop()

    async def commit(self) -> None:
        """Commit the offsets of the batches handled so far, for the partitions still assigned."""
        offsets = {tp: o for tp, o in self._uncommitted.items() if tp in self._consumer.assignment()}
        self._uncommitted = {}
        self._committed_at = time.monotonic()
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced meanwhile: another member will see these again; idempotent.
            log.warning("%s: commit failed after a rebalance; those messages come again", self._group)

    async def _process(self, records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        """Handle one batch; record the offsets to commit in `_uncommitted` once it is handled."""
        raise NotImplementedError


class BatchConsumer(CommittingConsumer):
    """Consume `topics` in batches as `group`; hand decoded envelopes to `handler`; commit after
    (at most every `COMMIT_EVERY_S` while busy, at once when idle, on revocation and on stop).

    - A message that does not decode goes to `<group>.dlq` with the reason; the loop carries on.
    - A `Rejected` result goes to the DLQ the same way.
    - A fault of the infrastructure (`shared.faults.is_transient`: database or broker unreachable,
      a timeout, an unmet write concern, a full disk, a concurrent update) retries the batch with
      capped backoff, forever: nothing is committed or dead-lettered meanwhile, and `stalled`
      says since when and why (the service's /readyz shows it). Handlers are idempotent, so a
      redelivered event changes nothing.
    - Any other exception three times in a row: the batch is retried one message at a time and
      the message that still fails is dead-lettered with the error, so one bad message never
      stalls the group.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        topics: Sequence[str],
        handler: BatchHandler,
        producer: Sender,
        max_records: int = 500,
    ) -> None:
        super().__init__(bootstrap=bootstrap, group=group, topics=topics, max_records=max_records)
        self._handler = handler
        self._producer = producer
        self._origins: dict[str, Origin] = {}

    async def _process(self, records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        good: list[Envelope] = []
        dead: list[DeadLetter] = []
        self._origins = {}  # event id → where it was read (the dead-letter headers)
        for tp, messages in records.items():
            metrics.CONSUMED.labels(self._group, tp.topic).inc(len(messages))
            for msg in messages:
                origin = Origin(tp.topic, tp.partition, msg.offset)
                try:
                    envelope = decode(msg.value or b"")
                    good.append(envelope)
                    self._origins[envelope.event_id] = origin
                except DecodeError as exc:
                    dead.append(DeadLetter(msg.value or b"", str(exc), origin, 1))
                if (len(good) + len(dead)) % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the service's HTTP handlers in between
        await self._handle(good, dead)
        self._uncommitted.update({tp: messages[-1].offset + 1 for tp, messages in records.items()})
        self.processed += len(good)

    def _dead(self, envelope: Envelope, reason: str, attempts: int) -> DeadLetter:
        origin = self._origins.get(envelope.event_id, Origin("", -1, -1))
        return DeadLetter(envelope.to_bytes(), reason, origin, attempts, envelope.event_id)

    async def _handle(self, good: list[Envelope], dead: list[DeadLetter]) -> None:
        """Run the handler until it succeeds. Transient faults retry forever with backoff; a batch
        that keeps failing otherwise (a bug, a message the handler cannot cope with) is retried one
        message at a time, and the message that still fails goes to the dead-letter topic."""
        backoff, failures, error = 0.2, 0, ""
        while True:
            try:
                rejected = await self._handler(good) if good else []
                refused = [self._dead(r.envelope, r.reason, 1) for r in rejected]
                await self._dead_letter(dead + refused)  # a retry recomputes, never doubles, these
                if self.stalled is not None:
                    log.warning("%s: recovered after %.1fs", self._group, time.monotonic() - self.stalled[0])
                    self.stalled = None
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                transient, error = is_transient(exc), repr(exc)
                failures += 0 if transient else 1
                metrics.FAILED.labels(self._group, "transient" if transient else "error").inc()
                if transient:
                    self.stalled = (self.stalled[0] if self.stalled else time.monotonic(), error[:300])
                if failures >= MAX_HANDLER_FAILURES:
                    break
                what = (self._group, len(good), backoff)
                if transient:  # a conflict or an outage: expected now and then, no stack trace
                    log.warning("%s: batch of %d: %s; retrying in %.1fs", *what[:2], error, backoff)
                else:
                    log.exception("%s: batch of %d failed; retrying in %.1fs", *what)
                await asyncio.sleep(backoff)  # backoff before retrying the same batch
                backoff = min(backoff * 2, 10.0)
        if len(good) == 1:
            [envelope] = good
            reason = f"handler failed {failures} times: {error}"[:500]
            await self._dead_letter_durably([*dead, self._dead(envelope, reason, failures)])
            self.stalled = None  # the message that kept failing is set aside: not waiting any more
            return
        await self._dead_letter_durably(dead)
        for envelope in good:  # isolate the message that fails
            await self._handle([envelope], [])

    async def _dead_letter_durably(self, dead: list[DeadLetter]) -> None:
        """Dead-letter, retrying (with backoff, visibly) while the broker does not take them: the
        offsets are committed only after, so a dead letter is never lost."""
        backoff = 0.2
        while True:
            try:
                await self._dead_letter(dead)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.stalled = (self.stalled[0] if self.stalled else time.monotonic(), repr(exc)[:300])
                log.warning("%s: dead letters not sent: %r; retrying in %.1fs", self._group, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _dead_letter(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return
        topic = dlq(self._group)
        pending = []
        for letter in dead:
            log.warning(
                "%s: dead-lettering %s: %s",
                self._group,
                letter.where,
                letter.reason,
                extra={"event_id": letter.event_id} if letter.event_id else None,
            )
            pending.append(
                await self._producer.send(topic, value=letter.value, headers=letter.headers(self._group))
            )
        await asyncio.gather(*pending)
        for letter in dead:
            metrics.DEAD_LETTERED.labels(self._group, letter.origin.topic or "(unknown)").inc()


@dataclass(frozen=True)
class Origin:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class DeadLetter:
    """A message on its way to `<group>.dlq`, with what an operator needs to judge and replay it:
    the reason, where it was read (topic, partition, offset), how many attempts failed, the group."""

    value: bytes
    reason: str
    origin: Origin
    attempts: int
    event_id: str | None = None

    @property
    def where(self) -> str:
        return f"{self.origin.topic}/{self.origin.partition}@{self.origin.offset}"

    def headers(self, group: str) -> list[tuple[str, bytes]]:
        fields = {
            "dlq.reason": self.reason,
            "dlq.origin": self.event_id or self.where,
            "dlq.topic": self.origin.topic,
            "dlq.partition": str(self.origin.partition),
            "dlq.offset": str(self.origin.offset),
            "dlq.attempts": str(self.attempts),
            "dlq.group": group,
        }
        return [(name, value.encode()) for name, value in fields.items()]


class _CommitBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commit what the consumer has handled before its partitions go to another member."""

    def __init__(self, consumer: CommittingConsumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._consumer.commit()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None
