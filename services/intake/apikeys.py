"""Open311 API keys: issued by an admin command, stored only as a hash in intake's `api_keys`.

    python -m services.intake.apikeys issue --name <client>    # prints the new key, once
    python -m services.intake.apikeys revoke --name <client>
    python -m services.intake.apikeys list

The database is intake's (`INTAKE_MONGO_URI`, `INTAKE_MONGO_DB`, as the service reads them). A key
carries 256 random bits, so a plain SHA-256 is enough to store it (nothing to brute-force). The
local run seeds the key given in `OPEN311_API_KEY` at start-up (`seed`, from open311's indexes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import sys
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


async def _main(argv: list[str]) -> int:
    from services.intake.settings import IntakeSettings
    from shared.mongo import mongo_client

    parser = argparse.ArgumentParser(prog="python -m services.intake.apikeys", description="Open311 API keys")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("issue", help="issue a new key and print it").add_argument("--name", required=True)
    commands.add_parser("revoke", help="revoke every key of a client").add_argument("--name", required=True)
    commands.add_parser("list", help="list clients and their keys' state (never the keys)")
    args = parser.parse_args(argv)

    settings = IntakeSettings()
    client = mongo_client(settings.mongo_uri)
    try:
        db = client[settings.mongo_db]
        if args.command == "issue":
            await ensure_indexes(db)
            print(await issue(db, args.name))
        elif args.command == "revoke":
            count = await revoke(db, args.name)
            print(f"{count} key(s) revoked", file=sys.stderr)
            return 0 if count else 1
        else:
            async for doc in db[COLLECTION].find({}, {"name": 1, "active": 1, "created_at": 1}).sort("name"):
                state = "active" if doc.get("active") else "revoked"
                print(f"{doc['name']}\t{state}\t{doc['created_at'].isoformat()}")
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
