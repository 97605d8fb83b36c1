"""`pengaduan backup DIR` / `pengaduan restore DIR`: each service's database, the project's topics
and the consumer groups' positions, to and from a directory.

What a backup holds (`manifest.json` lists it with counts):
- `db/<service>/<collection>.bson`: every document, as concatenated BSON (types kept exactly:
  dates, binary attachments, ids), and `<collection>.indexes.json`;
- `kafka/<topic>.jsonl`: every committed message of every partition, in order (partition,
  original offset, timestamp, key, value and headers, base64);
- `kafka/groups.json`: each consumer group's committed offsets.

A restore writes the documents (refusing a collection that has documents, unless `--replace`
drops it first), then — unless `--skip-topics` — produces each partition's messages into the
same partition of an empty topic, in order, with their timestamps and headers, and commits each
group's position at the same message it had reached (offsets are translated: the new broker's
offsets need not equal the old ones, where aborted transactions or compaction left gaps). The
services must be stopped meanwhile; started after, they answer as before and carry on where
their groups were.

A backup taken while the services run is consistent per document, not across collections or
with Kafka: events published after a collection was read are replayed (every consumer is
idempotent), and the relays publish outboxes the backup holds; stop the services for an exact
copy.
"""

# A one-shot command: nothing else shares its event loop, so its file work may block it.
# ruff: noqa: ASYNC240

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from pymongo import AsyncMongoClient
from tqdm import tqdm

from shared.kafka import ensure_topics
from shared.topics import GROUP_TOPICS, TOPICS, TopicSpec

FORMAT = 1
BATCH = 1000
PROJECT_TOPICS = tuple(spec.name for spec in TOPICS)
PROJECT_GROUPS = tuple(GROUP_TOPICS)


class BackupError(RuntimeError):
    """What the operator must fix before a backup or restore can go on (printed, exit 1)."""


@dataclass(frozen=True)
class Database:
    service: str
    uri: str
    name: str


def service_databases() -> list[Database]:
    """The three services' databases, from their settings (the environment, as they read it)."""
    from services.intake.settings import IntakeSettings
    from services.routing.settings import RoutingSettings
    from services.sla.settings import SlaSettings

    return [
        Database(service, settings.mongo_uri, settings.mongo_db)
        for service, settings in (
            ("intake", IntakeSettings()),
            ("routing", RoutingSettings()),
            ("sla", SlaSettings()),
        )
    ]


def _bar(total: int | None, what: str) -> tqdm[Any]:
    # Only on a terminal: a log file or a test gets the printed summary alone.
    return tqdm(total=total, desc=what, unit="doc", disable=None, leave=False)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


async def backup(
    directory: Path,
    databases: Sequence[Database],
    bootstrap: str,
    *,
    topics: Sequence[str] | None = PROJECT_TOPICS,
    groups: Sequence[str] = PROJECT_GROUPS,
) -> dict[str, Any]:
    """Write the backup into `directory` (which must not exist or be empty); returns the manifest.
    `topics` None: the databases only."""
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: back up into a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    # It holds reporter identity (intake's database): readable by its owner only.
    directory.chmod(0o700)
    manifest: dict[str, Any] = {"format": FORMAT, "databases": {}, "topics": {}, "groups": {}}
    for database in databases:
        manifest["databases"][database.service] = await _dump_database(
            directory / "db" / database.service, database
        )
    if topics is not None:
        manifest["topics"] = await _dump_topics(directory / "kafka", bootstrap, topics)
        manifest["groups"] = await _dump_groups(directory / "kafka", bootstrap, groups)
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


async def _dump_database(target: Path, database: Database) -> dict[str, int]:
    target.mkdir(parents=True, exist_ok=True)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database.uri, tz_aware=True)
    counts: dict[str, int] = {}
    try:
        db = client[database.name]
        for name in sorted(await db.list_collection_names()):
            collection = db[name]
            total = await collection.estimated_document_count()
            written = 0
            with (
                (target / f"{name}.bson").open("wb") as out,
                _bar(total, f"{database.service}.{name}") as bar,
            ):
                async for doc in collection.find({}, batch_size=BATCH):
                    out.write(bson.encode(doc))
                    written += 1
                    bar.update()
            indexes = await collection.index_information()
            (target / f"{name}.indexes.json").write_text(json.dumps(indexes, default=_plain, sort_keys=True))
            counts[name] = written
    finally:
        await client.close()
    return counts


def _plain(value: Any) -> Any:
    """An index option as JSON (partial filter expressions may hold BSON types)."""
    return json.loads(bson.json_util.dumps(value))


async def partition_counts(bootstrap: str, topics: Sequence[str]) -> dict[str, int]:
    """How many partitions each of `topics` the cluster has (a topic it lacks is left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t in existing]
        described = await admin.describe_topics(wanted) if wanted else []
    finally:
        await admin.close()
    return {t["topic"]: len(t["partitions"]) for t in described}


async def _dump_topics(target: Path, bootstrap: str, topics: Sequence[str]) -> dict[str, dict[str, int]]:
    target.mkdir(parents=True, exist_ok=True)
    counts = await partition_counts(bootstrap, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    found: dict[str, dict[str, int]] = {}
    try:
        for topic, partitions in counts.items():
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            written = await _dump_topic(consumer, tps, target / f"{topic}.jsonl")
            found[topic] = {"partitions": partitions, "messages": written}
    finally:
        await consumer.stop()
    return found


async def _dump_topic(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], path: Path) -> int:
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.beginning_offsets(partitions)
    remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
    written = 0
    total = sum(ends[tp] - starts[tp] for tp in partitions)
    with path.open("w") as out, _bar(total, path.stem) as bar:
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batches.items():
                for m in messages:
                    if m.offset >= ends[tp]:
                        continue
                    record = {
                        "p": tp.partition,
                        "o": m.offset,
                        "ts": m.timestamp,
                        "k": _b64(m.key),
                        "v": _b64(m.value),
                        "h": [[k, _b64(v)] for k, v in m.headers],
                    }
                    out.write(json.dumps(record) + "\n")
                    written += 1
                bar.update(len(messages))
            for tp in list(remaining):
                # The position passes the end also over a transaction's markers and aborted records.
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    return written


async def _dump_groups(target: Path, bootstrap: str, groups: Sequence[str]) -> dict[str, dict[str, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    found: dict[str, dict[str, int]] = {}
    try:
        for group in groups:
            committed = await group_offsets(admin, group)
            offsets = {
                f"{tp.topic}:{tp.partition}": offset for tp, offset in committed.items() if offset >= 0
            }
            if offsets:
                found[group] = offsets
    finally:
        await admin.close()
    (target / "groups.json").write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
    return found


async def group_offsets(
    admin: AIOKafkaAdminClient, group: str, within: float = 30.0
) -> dict[TopicPartition, int]:
    """A group's committed offsets; waits out a coordinator still loading (a broker just started)."""
    deadline = time.monotonic() + within
    while True:
        try:
            committed = await admin.list_consumer_group_offsets(group)
            return {tp: meta.offset for tp, meta in committed.items()}
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)  # the broker is electing the group's coordinator


async def restore(
    directory: Path,
    databases: Sequence[Database],
    bootstrap: str,
    *,
    replace: bool = False,
    topics: bool = True,
) -> dict[str, Any]:
    """Restore the backup in `directory` (see the module's docstring); returns its manifest.
    `topics` False: the databases only."""
    try:
        manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory} holds no backup (no manifest.json)") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{directory}: backup format {manifest.get('format')!r}, this version reads {FORMAT}"
        )
    targets = {d.service: d for d in databases}
    missing = set(manifest["databases"]) - set(targets)
    if missing:
        raise BackupError(f"no database configured for {', '.join(sorted(missing))}")
    if topics and manifest["topics"]:
        await _check_topics_empty(bootstrap, manifest["topics"])
    for service, collections in manifest["databases"].items():
        await _load_database(directory / "db" / service, targets[service], collections, replace)
    if topics and manifest["topics"]:
        translated = await _load_topics(directory / "kafka", bootstrap, manifest["topics"])
        await _load_groups(bootstrap, manifest["groups"], translated)
    return manifest


async def _load_database(
    source: Path, database: Database, collections: dict[str, int], replace: bool
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database.uri, tz_aware=True)
    try:
        db = client[database.name]
        full = [name for name in collections if await db[name].estimated_document_count() > 0]
        if full and not replace:
            raise BackupError(
                f"{database.service}: {database.name} already has documents in {', '.join(full)}; "
                "restore into an empty database, or add --replace to drop those collections first"
            )
        for name, count in collections.items():
            if replace:
                await db.drop_collection(name)
            collection = db[name]
            await _create_indexes(collection, json.loads((source / f"{name}.indexes.json").read_text()))
            with (
                (source / f"{name}.bson").open("rb") as raw,
                _bar(count, f"{database.service}.{name}") as bar,
            ):
                batch: list[dict[str, Any]] = []
                for doc in bson.decode_file_iter(raw):
                    batch.append(doc)
                    if len(batch) >= BATCH:
                        await collection.insert_many(batch)
                        bar.update(len(batch))
                        batch = []
                if batch:
                    await collection.insert_many(batch)
                    bar.update(len(batch))
    finally:
        await client.close()


async def _create_indexes(collection: Any, indexes: dict[str, Any]) -> None:
    for name, spec in indexes.items():
        if name == "_id_":
            continue
        options = bson.json_util.loads(
            json.dumps({k: v for k, v in spec.items() if k not in ("key", "v", "ns")})
        )
        await collection.create_index(
            [(field, direction) for field, direction in spec["key"]], name=name, **options
        )


async def _check_topics_empty(bootstrap: str, topics: dict[str, dict[str, int]]) -> None:
    """Every topic of the backup exists (created as the project creates it, with the backup's
    partition count) and is empty."""
    known = {spec.name: spec for spec in TOPICS}
    await ensure_topics(
        bootstrap, [known.get(name, TopicSpec(name, meta["partitions"])) for name, meta in topics.items()]
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    counts = await partition_counts(bootstrap, list(topics))
    await consumer.start()
    try:
        full = []
        for topic, partitions in counts.items():
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
            if any(ends.values()):
                full.append(topic)
        if full:
            raise BackupError(
                f"these topics already hold messages: {', '.join(sorted(full))}; restore the topics into "
                "a new Kafka cluster, or add --skip-topics to restore the databases only"
            )
    finally:
        await consumer.stop()


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as lines:
        for line in lines:
            yield json.loads(line)


async def _load_topics(
    source: Path, bootstrap: str, topics: dict[str, dict[str, int]]
) -> dict[str, list[tuple[int, int]]]:
    """Produce every message again, partition by partition in order; returns, per `topic:partition`,
    the (old offset, new offset) pairs, for translating the groups' positions."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    translated: dict[str, list[tuple[int, int]]] = {}
    try:
        for topic, meta in topics.items():
            if not meta["messages"]:
                continue
            with _bar(meta["messages"], topic) as bar:
                chunk: list[dict[str, Any]] = []
                for record in _records(source / f"{topic}.jsonl"):
                    chunk.append(record)
                    if len(chunk) >= BATCH:
                        await _produce(producer, topic, chunk, translated)
                        bar.update(len(chunk))
                        chunk = []
                if chunk:
                    await _produce(producer, topic, chunk, translated)
                    bar.update(len(chunk))
    finally:
        await producer.stop()
    return translated


async def _produce(
    producer: AIOKafkaProducer,
    topic: str,
    records: list[dict[str, Any]],
    translated: dict[str, list[tuple[int, int]]],
) -> None:
    """Send a chunk (the idempotent producer keeps each partition's order) and wait for all."""
    pending = [
        await producer.send(
            topic,
            value=_unb64(r["v"]),
            key=_unb64(r["k"]),
            partition=r["p"],
            timestamp_ms=r["ts"],
            headers=[(k, _unb64(v) or b"") for k, v in r["h"]],
        )
        for r in records
    ]
    for record, sent in zip(records, await asyncio.gather(*pending), strict=True):
        translated.setdefault(f"{topic}:{record['p']}", []).append((record["o"], sent.offset))


def new_position(committed: int, pairs: list[tuple[int, int]]) -> int:
    """The new offset a group must resume from: the new offset of the first message it had not
    read (old offset >= committed), or past the last one restored."""
    for old, new in pairs:
        if old >= committed:
            return new
    return pairs[-1][1] + 1 if pairs else 0


async def _load_groups(
    bootstrap: str, groups: dict[str, dict[str, int]], translated: dict[str, list[tuple[int, int]]]
) -> None:
    for group, offsets in groups.items():
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            positions = {}
            for where, committed in offsets.items():
                topic, partition = where.rsplit(":", 1)
                positions[TopicPartition(topic, int(partition))] = new_position(
                    committed, translated.get(where, [])
                )
            consumer.assign(list(positions))
            await consumer.commit(positions)
        finally:
            await consumer.stop()
