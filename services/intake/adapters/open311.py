"""Open311's own records in intake's database: the spec's request tokens and the API keys."""

from __future__ import annotations

import secrets
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.adapters import apikeys
from shared import clock

TOKENS = "open311_tokens"


class Open311Records:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._tokens = db[TOKENS]

    async def client_of(self, api_key: str) -> str | None:
        """The client name of an active key, or None."""
        return await apikeys.client_of(self._db, api_key)

    async def token_for(self, request_id: str) -> str:
        """The spec token of a request: one per request, so a replayed POST gets the same one."""
        found = await self._tokens.find_one_and_update(
            {"service_request_id": request_id},
            {
                "$setOnInsert": {
                    "_id": secrets.token_urlsafe(16),
                    "service_request_id": request_id,
                    "created_at": clock.now(),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if found is None:  # an upsert that returns the document after it always has one
            raise RuntimeError(f"no Open311 token stored for {request_id}")
        return str(found["_id"])

    async def request_of(self, token: str) -> str | None:
        """The service request id a spec token stands for."""
        found = await self._tokens.find_one({"_id": token})
        return None if found is None else str(found["service_request_id"])


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]], seeded_key: str) -> None:
    """Indexes the Open311 queries need, and the local run's key (`OPEN311_API_KEY`) if given."""
    await apikeys.ensure_indexes(db)
    await db[TOKENS].create_index("service_request_id", unique=True)
    if seeded_key:
        await apikeys.seed(db, seeded_key)
