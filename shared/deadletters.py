"""Dead letters come back (DESIGN §6, Delivery): read `<group>.dlq`, and replay what an operator
chose into that group's handler only.

A replay never goes back onto the original topic: that would reorder the complaint's events and
reach every other group, which handled them already. It hands the envelopes to the same handler
the group's consumer uses, and records each replayed dead letter in the service's database
(`dlq_replays`, keyed by group and dead-letter offset), so a second replay of the same letter is
a no-op. Handlers are idempotent, so a crash between the handler and the record changes nothing
either. A letter the handler still refuses stays dead (not recorded) and its new reason is shown.

Another service may follow a group's dead letters (`LetterConsumer`, its own consumer group):
intake reads routing's, so that a reporter's command routing dead-lettered shows as rejected
instead of pending for ever (services/intake/handlers.py, reject_dead_commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.envelope import DecodeError, Envelope, decode
from shared.faults import is_transient
from shared.kafka import BatchHandler, CommittingConsumer
from shared.runtime import CONSUMER_SPECS, REPLAYING, InfraSettings, open_infra
from shared.topics import dlq

log = logging.getLogger(__name__)

REPLAYS = "dlq_replays"


@dataclass(frozen=True)
class Letter:
    group: str
    offset: int  # in `<group>.dlq`
    at: datetime  # when it was dead-lettered
    headers: dict[str, str]
    value: bytes

    @property
    def key(self) -> str:
        return f"{self.group}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("dlq.reason", "")

    @property
    def origin(self) -> str:
        topic, partition, offset = (
            self.headers.get(f"dlq.{k}", "?") for k in ("topic", "partition", "offset")
        )
        return f"{topic}/{partition}@{offset}"

    def envelope(self) -> Envelope | None:
        try:
            return decode(self.value)
        except DecodeError:
            return None


def letter_of(group: str, message: ConsumerRecord[bytes, bytes]) -> Letter:
    """A record read from `<group>.dlq` as a Letter."""
    headers = {k: v.decode(errors="replace") for k, v in message.headers}
    at = datetime.fromtimestamp(message.timestamp / 1000, UTC)
    return Letter(group, message.offset, at, headers, message.value or b"")


async def read_letters(bootstrap: str, group: str, offsets: Sequence[int] | None = None) -> list[Letter]:
    """The dead letters of `group` (all, or those at `offsets`), oldest first."""
    partition = TopicPartition(dlq(group), 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        wanted = set(offsets) if offsets is not None else None
        letters: list[Letter] = []
        seen = -1
        async with asyncio.timeout(60):  # a broker that stops answering midway: give up, loudly
            while seen < end - 1:
                batch = await consumer.getmany(partition, timeout_ms=1000, max_records=500)
                for message in batch.get(partition, []):
                    seen = message.offset
                    if message.offset < end and (wanted is None or message.offset in wanted):
                        letters.append(letter_of(group, message))
        return letters
    finally:
        await consumer.stop()


@dataclass
class ReplayResult:
    replayed: list[str] = field(default_factory=list)  # letter keys handled now
    skipped: list[str] = field(default_factory=list)  # replayed before
    refused: list[tuple[str, str]] = field(default_factory=list)  # (key, reason): still dead
    unreadable: list[str] = field(default_factory=list)  # not an envelope: nothing to hand over


async def replay(
    letters: Sequence[Letter], handler: BatchHandler, db: AsyncDatabase[dict[str, Any]]
) -> ReplayResult:
    """Hand the letters' envelopes to the group's `handler`, one letter at a time, each at most
    once. A fault of the infrastructure stops the replay (run it again: what was recorded is
    skipped); a letter the handler refuses or fails on stays dead with the reason."""
    result = ReplayResult()
    done = {d["_id"] async for d in db[REPLAYS].find({"_id": {"$in": [letter.key for letter in letters]}})}
    for letter in letters:
        if letter.key in done:
            result.skipped.append(letter.key)
            continue
        envelope = letter.envelope()
        if envelope is None:
            result.unreadable.append(letter.key)
            continue
        try:
            rejected = await handler([envelope])
        except Exception as exc:
            if is_transient(exc):
                raise
            result.refused.append((letter.key, f"handler failed: {exc!r}"[:500]))
            continue
        if rejected:
            result.refused.append((letter.key, rejected[0].reason))
            continue
        with contextlib.suppress(DuplicateKeyError):  # a concurrent replay recorded it first
            await db[REPLAYS].insert_one(
                {"_id": letter.key, "event_id": envelope.event_id, "at": clock.wall()}
            )
        done.add(letter.key)
        result.replayed.append(letter.key)
    return result


async def replay_group(
    app: web.Application, settings: InfraSettings, group: str, offsets: Sequence[int] | None = None
) -> ReplayResult:
    """Replay `group`'s dead letters (all, or those at `offsets`) into the handler its consumer
    uses in `app` (a service app as `create_app` builds it; its consumers are not started)."""
    specs = {spec.group: spec for spec in app[CONSUMER_SPECS]}
    if group not in specs:
        raise LookupError(f"no consumer group {group!r} in this service (it has: {', '.join(specs)})")
    letters = await read_letters(settings.kafka_bootstrap, group, offsets)
    if not app.frozen:  # an app that ran already has its handlers' state; a fresh one is told
        app[REPLAYING] = True
    async with open_infra(
        kafka_bootstrap=settings.kafka_bootstrap, mongo_uri=settings.mongo_uri, db_name=settings.mongo_db
    ) as infra:
        handler = await specs[group].build(infra)
        return await replay(letters, handler, infra.db)


LetterHandler = Callable[[list[Letter]], Awaitable[None]]


class LetterConsumer(CommittingConsumer):
    """Follow `source`'s dead letters (`<source>.dlq`) as consumer group `group`: hand each batch
    to `handler` as Letters (headers and raw value; the handler decodes what it needs, and skips
    what it cannot read), commit after.

    A fault of the infrastructure retries the batch with capped backoff, forever, visibly
    (`stalled`, the service's /readyz); any other exception is a bug and ends the task (the
    process is restarted). This group has no dead-letter topic of its own: a letter it cannot use
    is the handler's to skip, with a log line."""

    def __init__(self, *, bootstrap: str, group: str, source: str, handler: LetterHandler) -> None:
        super().__init__(bootstrap=bootstrap, group=group, topics=[dlq(source)])
        self._source = source
        self._letters = handler

    async def _process(self, records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        letters = [letter_of(self._source, m) for messages in records.values() for m in messages]
        backoff = 0.2
        while True:
            try:
                await self._letters(letters)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.stalled = (self.stalled[0] if self.stalled else time.monotonic(), repr(exc)[:300])
                log.warning(
                    "%s: %d dead letter(s): %r; retrying in %.1fs", self._group, len(letters), exc, backoff
                )
                await asyncio.sleep(backoff)  # backoff before retrying the same batch
                backoff = min(backoff * 2, 10.0)
        self.stalled = None
        self._uncommitted.update({tp: messages[-1].offset + 1 for tp, messages in records.items()})
        self.processed += len(letters)
