"""OPD names as routing announces them on `catalog.changes` (issue 21 item 5), for what intake
tells people (the reporter's notifications): one document per pemda, {_id, revision, names},
replaced only by a newer revision, so a redelivered or older announcement changes nothing."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

COLLECTION = "opd_names"


class MongoOpdNames:
    """The `OpdNames` of ports.py."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def put(self, pemda: str, revision: int, names: dict[str, str]) -> bool:
        try:
            result = await self._db[COLLECTION].update_one(
                {"_id": pemda, "revision": {"$lt": revision}},
                # Pairs, not a mapping: OPD ids hold dots, which a field name must not.
                {"$set": {"revision": revision, "names": [[k, v] for k, v in names.items()]}},
                upsert=True,
            )
        except DuplicateKeyError:  # a revision as new is stored already
            return False
        return result.modified_count > 0 or result.upserted_id is not None

    async def name_of(self, opd_id: str) -> str | None:
        doc = await self._db[COLLECTION].find_one({"_id": opd_id.split("/", 1)[0]})
        return next((name for k, name in (doc or {}).get("names", []) if k == opd_id), None)
