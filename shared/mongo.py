"""The database client every service uses: standard driver features only, so the same code runs
against SecantusDB's `secantusd-rs` here and a real MongoDB 8 replica set elsewhere.

A database that is down is known at once (`database_down`, from the driver's own view of the
servers), so the HTTP edge answers 503 without trying it (shared/http.py), and what does try it
fails within SERVER_SELECTION_TIMEOUT_MS: a consumer or relay just retries sooner.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pymongo
from pymongo import AsyncMongoClient, InsertOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from shared import metrics
from shared.settings import MongoConcernSettings, mongo_concerns

Doc = dict[str, Any]
Write = InsertOne[Doc] | UpdateOne
# How long ending a failed transaction may take (it has a time of its own, see `transaction`).
END_TIMEOUT_S = 2.0

log = logging.getLogger(__name__)

# How long an operation waits for a server it can use before it fails (then a 503, or a
# consumer's retry): under a second, so that a lost database is a prompt answer, not a hang.
SERVER_SELECTION_TIMEOUT_MS = 800
# How often the driver checks a server it is not streaming from (a server it lost, above all): a
# restarted database is seen within about this long even when no request tries it.
HEARTBEAT_FREQUENCY_MS = 1000


def mongo_client(uri: str, concerns: MongoConcernSettings | None = None) -> AsyncMongoClient[Doc]:
    # Durable acknowledgement by default: journaled, and on a replica set by a majority of its
    # members, so a write we answered for survives a crash of the server and a failover; reads see
    # only what a majority has (nothing a failover could roll back). (secantusd-rs is a one-member
    # replica set: majority is itself; a standalone MongoDB treats it as w:1.) Settings:
    # MONGO_WRITE_CONCERN, MONGO_JOURNAL, MONGO_READ_CONCERN (shared/settings.py).
    concerns = concerns or mongo_concerns()
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        w=concerns.w,
        journal=concerns.journal,
        readConcernLevel=concerns.read_concern,
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        heartbeatFrequencyMS=HEARTBEAT_FREQUENCY_MS,
        # Per-command latency on /metrics only when asked (METRICS_DB_COMMANDS): pymongo's command
        # monitoring cost a third of intake's submit throughput (docs/performance.md); the
        # database's ping time is always there.
        event_listeners=[metrics.CommandLatency()] if metrics.MetricsSettings().metrics_db_commands else [],
    )


class DatabaseDown(ConnectionFailure):
    """The database is known to be down (`database_down`): not worth trying now.

    A ConnectionFailure, so it is transient everywhere (shared/faults.py) and a 503 at the HTTP
    edge; raised by us, it carries no retry label, so a transaction is not retried on it."""


def database_down(client: AsyncMongoClient[Doc]) -> bool:
    """Whether the driver has tried the database and knows no server it can write to.

    Read from the client's topology description, which the driver updates the moment a check
    or an operation fails (a killed server is seen within milliseconds: its monitor streams) and
    within HEARTBEAT_FREQUENCY_MS of it coming back. Not from SDAM event listeners: PyMongo
    delivers those from a queue drained once a second. Before any check has finished the answer
    is "not down" (the first requests try the database and learn). A few microseconds.
    """
    description = client.topology_description
    if description.has_writable_server():
        return False
    return any(server.error is not None for server in description.server_descriptions().values())


def raise_if_down(client: AsyncMongoClient[Doc]) -> None:
    if database_down(client):
        raise DatabaseDown("the database is down (no writable server known)")


async def mongo_reachable(client: AsyncMongoClient[Doc], timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            await client.admin.command("ping")
        return True
    except (PyMongoError, TimeoutError):
        return False


async def transaction(
    client: AsyncMongoClient[Doc], work: Callable[[AsyncClientSession], Awaitable[None]], *, timeout: float
) -> None:
    """Run `work` in one transaction bounded by `timeout` seconds, and never leave it open.

    Not the driver's `with_transaction`: it retries a lost server for up to 120 s, and when a
    bound stops it part-way its abort has no time left either, so the server keeps the transaction
    open, holding every document it wrote. Seen in bench/chaos.py: after a database restart one
    citizen's Idempotency-Key record stayed locked by such a transaction, and every retry of that
    citizen timed out behind it for minutes. Here a transaction that fails is aborted (or, when its
    commit's fate is unknown, its session killed) with a time budget of its own. A failure is
    raised as it came: a write conflict or a lost server is transient, the caller retries. While
    the database is known down it fails at once (`DatabaseDown`), not after its whole bound."""
    raise_if_down(client)
    async with client.start_session() as session:
        await session.start_transaction()
        committing = False
        try:
            with pymongo.timeout(timeout):
                await work(session)
                committing = True
                await session.commit_transaction()
        except BaseException:
            await _end(client, session, committing)
            raise


async def _end(client: AsyncMongoClient[Doc], session: AsyncClientSession, committing: bool) -> None:
    try:
        with pymongo.timeout(END_TIMEOUT_S):
            if session.in_transaction:
                await session.abort_transaction()
            elif committing:  # the commit may or may not have happened: end it server-side
                await client.admin.command("killSessions", [session.session_id])
    except PyMongoError as exc:  # the server is gone: so is its transaction
        log.info("ending a failed transaction: %r", exc)


class GroupWriter:
    """Group commit: concurrent callers' writes to one collection share one `bulk_write`.

    Each caller awaits its own write's outcome. While one batch is being written, new writes
    queue up and go in the next, so under load the batches grow by themselves and under no load
    a lone write goes at once (no timer, no added latency). Single writes on the database we run
    here top out near 1.5k/s; batches reach tens of thousands (DESIGN §7). Writes are unordered:
    a caller waits for its own write before issuing the next one that depends on it. A failed
    write (e.g. a duplicate `_id`, DuplicateKeyError) fails only its own caller.
    """

    def __init__(self, collection: AsyncCollection[Doc], max_batch: int = 500) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._queue: list[tuple[Write, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        # The writer task runs in (a copy of) the context the writer was made in, never in the
        # caller's that started it: one caller's `pymongo.timeout` (a contextvar, which a task
        # inherits) would otherwise bound the batch of every caller that shares it.
        self._context = contextvars.copy_context()

    async def insert(self, doc: Doc) -> None:
        await self.write(InsertOne(doc))

    async def update_one(self, filter: Doc, update: Doc) -> None:
        await self.write(UpdateOne(filter, update))

    async def write(self, operation: Write) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain(), context=self._context.copy())
        await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            failed: dict[int, Exception] = {}
            try:
                await self._collection.bulk_write([op for op, _ in batch], ordered=False)
            except BulkWriteError as exc:
                for error in exc.details.get("writeErrors", []):
                    cls = DuplicateKeyError if error.get("code") == 11000 else OperationFailure
                    failed[error["index"]] = cls(error.get("errmsg", "write error"), error.get("code"))
                if exc.details.get("writeConcernErrors"):
                    failed.update({i: exc for i in range(len(batch))})
            except PyMongoError as exc:
                failed.update({i: exc for i in range(len(batch))})
            for i, (_, future) in enumerate(batch):
                if future.done():  # the caller was cancelled; nothing to tell it
                    continue
                if i in failed:
                    future.set_exception(failed[i])
                else:
                    future.set_result(None)
