"""Open311 API keys in intake's `api_keys`, stored only as a hash: a key carries 256 random bits,
so a plain SHA-256 is enough (nothing to brute-force). Issued and revoked by the admin command
(services/intake/apikeys.py); the local run seeds the key given in `OPEN311_API_KEY` at start-up."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared import clock

COLLECTION = "api_keys"
KEY_PREFIX = "o311_"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[COLLECTION].create_index("name")


async def issue(db: AsyncDatabase[dict[str, Any]], name: str) -> str:
    """A new active key for client `name`; only its hash is kept."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    await db[COLLECTION].insert_one(
        {"_id": key_hash(key), "name": name, "active": True, "created_at": clock.now()}
    )
    return key


async def seed(db: AsyncDatabase[dict[str, Any]], key: str, name: str = "OPEN311_API_KEY") -> None:
    """Make `key` valid (idempotent: every start-up seeds the same key)."""
    await db[COLLECTION].update_one(
        {"_id": key_hash(key)},
        {"$set": {"active": True}, "$setOnInsert": {"name": name, "created_at": clock.now()}},
        upsert=True,
    )


async def revoke(db: AsyncDatabase[dict[str, Any]], name: str) -> int:
    result = await db[COLLECTION].update_many({"name": name, "active": True}, {"$set": {"active": False}})
    return result.modified_count


async def client_of(db: AsyncDatabase[dict[str, Any]], key: str) -> str | None:
    """The client name of an active key, or None."""
    if not key:
        return None
    found = await db[COLLECTION].find_one({"_id": key_hash(key)}, {"name": 1, "active": 1})
    return str(found["name"]) if found is not None and found.get("active") else None


async def clients(db: AsyncDatabase[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """Every client's keys (name, active, created_at; never the key), by name."""
    async for doc in db[COLLECTION].find({}, {"name": 1, "active": 1, "created_at": 1}).sort("name"):
        yield doc
