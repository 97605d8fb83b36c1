"""Staff's internal notes on a complaint (the `Notes` of ports.py): never on Kafka, never shown
to the reporter."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase


class MongoNotes:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._notes = db["notes"]

    async def add(self, note: dict[str, Any]) -> None:
        await self._notes.insert_one(dict(note))

    async def of(self, complaint_id: str) -> list[dict[str, Any]]:
        return [n async for n in self._notes.find({"complaint_id": complaint_id}).sort("at", 1)]
