"""What every service process holds for its lifetime: its database, a durable producer, and
background consumer tasks — opened in the app's cleanup context, never at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.kafka import BatchConsumer, durable_producer, kafka_reachable
from shared.mongo import mongo_client, mongo_reachable

log = logging.getLogger(__name__)


@dataclass
class Infra:
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    producer: AIOKafkaProducer
    bootstrap: str

    async def ready(self) -> dict[str, bool]:
        kafka, database = await asyncio.gather(kafka_reachable(self.producer), mongo_reachable(self.mongo))
        return {"kafka": kafka, "database": database}


@contextlib.asynccontextmanager
async def open_infra(*, kafka_bootstrap: str, mongo_uri: str, db_name: str) -> AsyncIterator[Infra]:
    mongo = mongo_client(mongo_uri)
    producer = durable_producer(kafka_bootstrap)
    await producer.start()
    try:
        yield Infra(mongo=mongo, db=mongo[db_name], producer=producer, bootstrap=kafka_bootstrap)
    finally:
        await producer.stop()
        await mongo.close()


@contextlib.asynccontextmanager
async def running(consumer: BatchConsumer, name: str) -> AsyncIterator[asyncio.Task[None]]:
    """Run a consumer as a background task; cancel and await it on shutdown."""
    task = asyncio.create_task(consumer.run(), name=name)
    task.add_done_callback(_report_crash)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("consumer task %s stopped", task.get_name(), exc_info=task.exception())


def serve(app: web.Application, host: str, port: int, log_level: str) -> None:
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    web.run_app(app, host=host, port=port, print=None, access_log=None)
