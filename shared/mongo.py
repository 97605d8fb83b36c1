"""The database client every service uses: standard driver features only, so the same code runs
against SecantusDB's `secantusd-rs` here and a real MongoDB 8 replica set elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

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
