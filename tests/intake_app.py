"""Intake as an in-process app on the test servers, with a database and a consumer group (and its
dead-letter topic) of its own; the database is dropped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.intake.bootstrap import create_app
from services.intake.settings import IntakeSettings
from shared.kafka import ensure_topics
from shared.logs import ACCESS, AccessLogger
from shared.mongo import mongo_client
from shared.topics import TopicSpec, dlq

Client = TestClient[aiohttp.web.Request, aiohttp.web.Application]


@asynccontextmanager
async def running_intake(
    endpoints: Endpoints, *, access_log: bool = False, **settings: Any
) -> AsyncIterator[tuple[Client, AsyncDatabase[dict[str, Any]]]]:
    """The intake app served in this process (its HTTP client) and its database; `settings`
    override IntakeSettings fields (environment-driven ones are read as usual). `access_log`
    serves it with the access log as ACCESS_LOG=true does (shared/logs.py)."""
    prefix = f"t{str(ULID()).lower()[-10:]}_"
    group = f"{prefix}intake"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    config = IntakeSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{prefix}intake",
        consumer_group=group,
        **{"dead_commands_group": f"{prefix}intake-dead-commands", **settings},
    )
    server = TestServer(create_app(config))
    # The access log as services run it (shared/runtime.py): ours, or none (aiohttp's own would
    # log query strings).
    await server.start_server(access_log_class=AccessLogger, access_log=ACCESS if access_log else None)
    client = TestClient(server)
    await client.start_server()
    mongo = mongo_client(endpoints.mongo_uri)
    try:
        yield client, mongo[config.mongo_db]
    finally:
        await client.close()
        await mongo.drop_database(config.mongo_db)
        await mongo.close()
