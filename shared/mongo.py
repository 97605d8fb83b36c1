"""The database client every service uses: standard driver features only, so the same code runs
against SecantusDB's `secantusd-rs` here and a real MongoDB 8 replica set elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

Doc = dict[str, Any]
Write = InsertOne[Doc] | UpdateOne


def mongo_client(uri: str) -> AsyncMongoClient[Doc]:
    # Journaled acknowledgement: a write we answered for survives a crash of the server.
    return AsyncMongoClient(uri, tz_aware=True, w=1, journal=True, serverSelectionTimeoutMS=5000)


async def mongo_reachable(client: AsyncMongoClient[Doc], timeout: float = 2.0) -> bool:
    try:
        async with asyncio.timeout(timeout):
            await client.admin.command("ping")
        return True
    except (PyMongoError, TimeoutError):
        return False


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

    async def insert(self, doc: Doc) -> None:
        await self.write(InsertOne(doc))

    async def update_one(self, filter: Doc, update: Doc) -> None:
        await self.write(UpdateOne(filter, update))

    async def write(self, operation: Write) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
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
