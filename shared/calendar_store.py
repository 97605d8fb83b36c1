"""The pemdas' extra non-working dates as sla announced them (`CalendarChanged` on sla.events), kept
by a service that counts working days without owning the calendars (intake's countdowns, routing's
staff mail): the highest revision per pemda, in one document per pemda of the service's database,
read back by every process of the service into its `CalendarBook` (shared/calendar.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.calendar import CalendarBook


class StoredCalendars:
    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._calendars = collection

    async def save(self, pemda: str, revision: int, extra_dates: Sequence[date]) -> None:
        """Keep the highest revision of a pemda's extra dates (a redelivered or older announcement
        changes nothing)."""
        dates = sorted(d.isoformat() for d in extra_dates)
        # A newer revision stored already makes the upsert collide on _id: nothing to do.
        with contextlib.suppress(DuplicateKeyError):
            await self._calendars.update_one(
                {"_id": pemda, "revision": {"$lt": revision}},
                {"$set": {"revision": revision, "extra_dates": dates, "updated_at": clock.now()}},
                upsert=True,
            )

    async def all(self) -> list[tuple[str, int, list[date]]]:
        return [
            (d["_id"], d["revision"], [date.fromisoformat(x) for x in d.get("extra_dates", [])])
            async for d in self._calendars.find({})
        ]

    async def teach(self, book: CalendarBook) -> None:
        """What any process stored, learnt by this one's book."""
        for pemda, revision, dates in await self.all():
            book.learn(pemda, revision, dates)
