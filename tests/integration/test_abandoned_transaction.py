"""A transaction whose process was SIGKILLed part-way does not hold what it wrote for long: the
local database ends it after its lifetime (devtools.infra.SERVER_PARAMETERS, set each time the
server is started), so a citizen retrying with the same Idempotency-Key gets through. Before, the
server's default (60 s) kept such a key locked for a minute after intake was killed; bench/chaos.py
counted those citizens among the ones that gave up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from devtools import infra
from shared.mongo import mongo_client, transaction
from tests.waiting import eventually

pytestmark = pytest.mark.integration

# A process that opens a transaction, writes the key inside it, says so and waits to be killed.
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from pymongo import AsyncMongoClient

    async def main():
        client = AsyncMongoClient(sys.argv[1])
        async with client.start_session() as session:
            await session.start_transaction()
            await client[sys.argv[2]]["keys"].insert_one({"_id": "held"}, session=session)
            print("holding", flush=True)
            await asyncio.Event().wait()

    asyncio.run(main())
    """
)


@pytest.fixture
async def client(
    endpoints: infra.Endpoints, db_prefix: str
) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    await client[f"{db_prefix}abandoned"]["keys"].insert_one({"_id": "warm"})
    yield client
    await client.drop_database(f"{db_prefix}abandoned")
    await client.close()


async def test_a_killed_process_s_transaction_stops_holding_its_key(
    client: AsyncMongoClient[dict[str, Any]], endpoints: infra.Endpoints, db_prefix: str
) -> None:
    keys = client[f"{db_prefix}abandoned"]["keys"]
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, endpoints.mongo_uri, f"{db_prefix}abandoned", stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 30)).strip() == b"holding"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        await holder.wait()

    async def claim(session: AsyncClientSession) -> None:
        await keys.insert_one({"_id": "held", "by": "retry"}, session=session)

    async def claimed() -> bool:
        try:
            await transaction(client, claim, timeout=1.0)
            return True
        except Exception:  # a write conflict with the dead process's transaction: not yet
            return False

    # The server's lifetime is 10 s; its default (60 s) would fail this wait.
    await eventually(claimed, within=30, what="the dead process's transaction ended by the server")
    assert await keys.find_one({"_id": "held"}) == {"_id": "held", "by": "retry"}
