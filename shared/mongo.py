"""The database client every service uses: standard driver features only, so the same code runs
against SecantusDB's `secantusd-rs` here and a real MongoDB 8 replica set elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

Doc = dict[str, Any]


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


class GroupInserter:
    """Group commit for inserts: concurrent callers share one `insert_many`.

    Each caller awaits its own document's outcome. While one batch is being written, new
    documents queue up and go in the next, so under load the batches grow by themselves and
    under no load a lone insert goes at once (no timer, no added latency). Single inserts on
    the database we run here top out near 1.5k/s; batches reach tens of thousands (DESIGN §7).
    A duplicate `_id` fails only its own caller, with DuplicateKeyError.
    """

    def __init__(self, collection: AsyncCollection[Doc], max_batch: int = 500) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._queue: list[tuple[Doc, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def insert(self, doc: Doc) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((doc, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            failed: dict[int, Exception] = {}
            try:
                await self._collection.insert_many([doc for doc, _ in batch], ordered=False)
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
