"""What every service process holds for its lifetime: its database, a durable producer, and
background consumer tasks — opened in the app's cleanup context, never at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import uvloop
from aiohttp import web
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared import clock, logs, regions, tracing
from shared.calendar import years_ready
from shared.http import DATABASE_DOWN, ReadyCheck
from shared.kafka import (
    BatchConsumer,
    BatchHandler,
    CommittingConsumer,
    Outgoing,
    Producer,
    durable_producer,
    kafka_reachable,
    publish,
    topic_problems,
)
from shared.mongo import database_down, mongo_client, mongo_reachable
from shared.settings import ServeSettings

log = logging.getLogger(__name__)


@dataclass
class Infra:
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    producer: Producer
    bootstrap: str

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        await publish(self.producer, messages)

    def database_down(self) -> bool:
        """Known down right now (no waiting): shared/http.py answers 503 at once while it is."""
        return database_down(self.mongo)

    async def ready(self) -> dict[str, bool]:
        if self.database_down():  # known already: no waiting out a server selection
            return {"kafka": await kafka_reachable(self.producer), "database": False}
        kafka, database = await asyncio.gather(kafka_reachable(self.producer), mongo_reachable(self.mongo))
        return {"kafka": kafka, "database": database}


@contextlib.asynccontextmanager
async def open_infra(*, kafka_bootstrap: str, mongo_uri: str, db_name: str) -> AsyncIterator[Infra]:
    mongo = mongo_client(mongo_uri)
    producer = Producer(lambda: durable_producer(kafka_bootstrap))
    await producer.start()
    try:
        yield Infra(mongo=mongo, db=mongo[db_name], producer=producer, bootstrap=kafka_bootstrap)
    finally:
        await producer.stop()
        await mongo.close()


# A consumer waiting this long on an infrastructure fault turns /readyz to 503.
STALL_GRACE_S = 10.0


@dataclass
class Health:
    """What a process's /readyz adds to its connections: its consumers' stalls and its dead tasks.

    A consumer or background task that dies is not hidden: /readyz turns 503 at once and
    `on_dead` is called (`serve` makes it stop the process, so that the supervisor or an
    orchestrator starts a fresh one; the process then exits non-zero)."""

    consumers: list[CommittingConsumer] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    on_dead: Callable[[str], None] | None = None
    topic_problems: list[str] = field(default_factory=list)  # found at start-up

    def checks(self) -> dict[str, bool]:
        now = time.monotonic()
        stalled = [c for c in self.consumers if c.stalled and now - c.stalled[0] >= STALL_GRACE_S]
        return {"consumers": not stalled, "tasks": not self.dead, "topics": not self.topic_problems}

    def task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or (error := task.exception()) is None:
            return
        log.error("task %s stopped; the process must be restarted", task.get_name(), exc_info=error)
        self.dead.append(task.get_name())
        if self.on_dead is not None:
            self.on_dead(task.get_name())


HEALTH = web.AppKey("health", Health)
CONSUMER_SPECS: web.AppKey[list[ConsumerSpec]] = web.AppKey("consumer_specs", list)
# Set on an app whose handlers are built for a dead-letter replay (shared/deadletters.py), not for
# its running consumers: no background task will finish deferred work.
REPLAYING = web.AppKey("replaying", bool)


@contextlib.asynccontextmanager
async def running(
    consumer: CommittingConsumer, name: str, health: Health | None = None
) -> AsyncIterator[asyncio.Task[None]]:
    """Run a consumer as a background task; cancel and await it on shutdown."""
    task = asyncio.create_task(consumer.run(), name=name)
    task.add_done_callback(health.task_done if health else _report_crash)
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.wait([task])  # a task that died was reported already: no second raise


class InfraSettings(Protocol):
    kafka_bootstrap: str
    mongo_uri: str
    mongo_db: str


INFRA = web.AppKey("infra", Infra)


def attach_infra(app: web.Application, infra: Infra) -> None:
    """Give `app`'s handlers `infra`, and its HTTP edge the state of the database (503 at once
    while it is down, shared/http.py)."""
    app[INFRA] = infra
    app[DATABASE_DOWN] = infra.database_down


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group of a service: `build` runs once the database and producer are open
    (create indexes, wire stores) and returns the batch handler."""

    group: str
    topics: Sequence[str]
    build: Callable[[Infra], Awaitable[BatchHandler]]


Background = Callable[[Infra], Awaitable[None]]


def with_consumers(
    app: web.Application,
    settings: InfraSettings,
    consumers: Sequence[ConsumerSpec],
    background: Sequence[tuple[str, Background]] = (),
) -> ReadyCheck:
    """Give `app` its infrastructure, its consumer groups and background loops (e.g. a deadline
    watcher) for its lifetime. The returned check is the service's /readyz."""
    health = app[HEALTH] = Health()
    app[CONSUMER_SPECS] = list(consumers)  # also what `pengaduan dlq replay` hands dead letters to

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with open_infra(
            kafka_bootstrap=settings.kafka_bootstrap, mongo_uri=settings.mongo_uri, db_name=settings.mongo_db
        ) as infra:
            attach_infra(app, infra)
            await _check_topics(settings.kafka_bootstrap, health)
            await warm_reference_data()
            async with contextlib.AsyncExitStack() as stack:
                for spec in consumers:
                    handler = await spec.build(infra)
                    consumer = BatchConsumer(
                        bootstrap=settings.kafka_bootstrap,
                        group=spec.group,
                        topics=spec.topics,
                        handler=handler,
                        producer=infra.producer,
                    )
                    health.consumers.append(consumer)
                    await stack.enter_async_context(running(consumer, f"{spec.group}-consumer", health))
                for name, loop in background:
                    await stack.enter_async_context(_background(loop(infra), name, health))
                yield

    async def ready() -> dict[str, bool]:
        return {**await app[INFRA].ready(), **health.checks()}

    app.cleanup_ctx.append(lifecycle)
    return ready


def with_consumer(
    app: web.Application,
    settings: InfraSettings,
    *,
    group: str,
    topics: Sequence[str],
    build: Callable[[Infra], Awaitable[BatchHandler]],
) -> ReadyCheck:
    """`with_consumers` for a service with one consumer group."""
    return with_consumers(app, settings, [ConsumerSpec(group, topics, build)])


async def warm_reference_data() -> None:
    """Load, off the event loop, what the first batch or request would otherwise load on it: the
    Kemendagri region data (~130 ms of JSON) and the holiday sets of the years around now (~100 ms
    each). On the loop, each was a stall of every request and heartbeat of the service."""
    await asyncio.to_thread(regions.lookup, "33.74.01.1001")  # a desa: every level's data
    year = clock.now().year
    await years_ready(year - 1, year + 2)


async def _check_topics(bootstrap: str, health: Health) -> None:
    """The project's topics exist with the configs it needs (event topics keep everything): a
    replay from the beginning must be complete; and with the partition counts and replication
    factor it needs (complaint-keyed topics co-partitioned). What is wrong is logged and fails
    /readyz; `python -m devtools.prepare` (make run, compose's init job) corrects a config, and
    refuses a topic with another partition count or replication factor (never altered)."""
    try:
        health.topic_problems = await topic_problems(bootstrap)
    except KafkaError as exc:  # the consumers will wait for the broker; readiness shows it too
        log.warning("topics not checked at start-up: %r", exc)
        return
    for problem in health.topic_problems:
        if " has " in problem:  # another partition count or replication factor: never altered
            log.error("%s", problem)
        else:
            log.error("%s: run `python -m devtools.prepare` or fix the broker's topic", problem)


@contextlib.asynccontextmanager
async def _background(coro: Awaitable[None], name: str, health: Health) -> AsyncIterator[None]:
    task: asyncio.Task[None] = asyncio.ensure_future(coro)
    task.set_name(name)
    task.add_done_callback(
        lambda t: None if not t.cancelled() and t.exception() is None else health.task_done(t)
    )
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait([task])  # a task that died was reported already: no second raise


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("consumer task %s stopped", task.get_name(), exc_info=task.exception())


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The services' event loop: uvloop's (bench/intake.py runs its reference servers on it too,
    so its ratios compare like with like; the benchmarks' load generators use it as well)."""
    return uvloop.new_event_loop()


# The collector's first threshold once a service has started (CPython's default is 700). Most
# objects here (events, documents, requests) die by reference count before a young collection
# would see them, so a larger threshold mostly saves walks.
GC_YOUNG_THRESHOLD = 20_000


def serve(app: web.Application, host: str, port: int, log_level: str, service: str = "pengaduan") -> None:
    log_settings = logs.configure(service, log_level)
    tracing.configure(service)  # off unless OTEL_EXPORTER_OTLP_ENDPOINT is set
    app.on_startup.append(settle_gc)  # the last start-up step: after the stores and data are loaded
    health = app.get(HEALTH)
    if health is not None:
        # A dead consumer or loop: stop gracefully (SIGTERM is run_app's own shutdown path), then
        # exit non-zero so that whatever supervises the process starts it again.
        health.on_dead = lambda name: signal.raise_signal(signal.SIGTERM)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log=logs.ACCESS if log_settings.access_log else None,
        access_log_class=logs.AccessLogger,
        reuse_port=ServeSettings().reuse_port,
        loop=new_event_loop(),
    )
    tracing.shutdown()
    if health is not None and health.dead:
        log.error("stopped because these tasks died: %s", ", ".join(health.dead))
        sys.exit(70)  # EX_SOFTWARE


async def settle_gc(app: web.Application) -> None:
    """Freeze what start-up loaded (region data, OPD catalog, lexicons, modules: about 75k objects
    per service), so that full collections stop walking it (they paused the event loop for a
    tenth of a second and more under load: docs/performance.md), and raise the young threshold.
    Objects created later are collected as usual."""
    freeze_loaded_objects()


def freeze_loaded_objects() -> None:
    """`settle_gc` for any long-running process (the benchmarks' load generators use it too)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
