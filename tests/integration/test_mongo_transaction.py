"""shared.mongo.transaction on the real database: a transaction its time bound stops part-way is
ended on the server, so what it wrote holds nothing. With the driver's `with_transaction` the
abort had no time left and the server kept the transaction open, holding the documents it wrote:
bench/chaos.py found a citizen whose every retry, with the same Idempotency-Key, timed out
behind such a transaction after a database restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import PyMongoError

from devtools.infra import Endpoints
from shared.faults import is_transient
from shared.mongo import mongo_client, transaction

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    await client[f"{db_prefix}txn"]["t"].insert_one({"_id": "warm"})
    yield client
    await client.drop_database(f"{db_prefix}txn")
    await client.close()


async def test_a_transaction_stopped_by_its_bound_holds_nothing_it_wrote(
    client: AsyncMongoClient[dict[str, Any]], db_prefix: str
) -> None:
    collection = client[f"{db_prefix}txn"]["t"]

    async def slow(session: AsyncClientSession) -> None:
        await collection.insert_one({"_id": "claimed"}, session=session)
        await asyncio.sleep(0.3)  # a slow server or network: the bound runs out between the writes
        await collection.insert_one({"_id": "second"}, session=session)

    with pytest.raises(PyMongoError) as stopped:
        await transaction(client, slow, timeout=0.2)
    assert is_transient(stopped.value)  # a 503 for a person, a retry for a consumer

    # Other work goes on meanwhile (the failed transaction's server session is not the one
    # reused here: a new transaction on the same session would have ended the old one itself).
    async with client.start_session() as other:
        await collection.find_one({"_id": "none"}, session=other)

        async def again(session: AsyncClientSession) -> None:
            await collection.insert_one({"_id": "claimed"}, session=session)

        await transaction(client, again, timeout=2.0)  # held by an open transaction, this conflicts
    assert await collection.find_one({"_id": "claimed"}) == {"_id": "claimed"}
    assert await collection.find_one({"_id": "second"}) is None


async def test_a_transaction_commits_what_it_wrote(
    client: AsyncMongoClient[dict[str, Any]], db_prefix: str
) -> None:
    collection = client[f"{db_prefix}txn"]["t"]

    async def both(session: AsyncClientSession) -> None:
        await collection.insert_one({"_id": "a"}, session=session)
        await collection.insert_one({"_id": "b"}, session=session)

    await transaction(client, both, timeout=2.0)
    assert await collection.count_documents({"_id": {"$in": ["a", "b"]}}) == 2
