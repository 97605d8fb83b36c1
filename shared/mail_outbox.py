"""The outbox of messages to people (e-mail, SMS), shared by intake's notifications to the reporter
and routing's to staff: one document per message, in the sense of shared/outbox.py.

A message is staged with the change that causes it, keyed by what it derives from (an event's id
and its recipient), with `$setOnInsert`: a redelivered event stages nothing new. It is due from
`outbox_since` (the relay's field and index). The worker claims a document by moving its
`outbox_since` on by a lease, so a send that crashes before its mark is tried again after the
lease, with the same id (the e-mail's Message-ID): the receiver sees one message. The claim also
guards the mark, so two processes never both mark one message. A settled document leaves the
query (`outbox_since` null) and stays as the record of what became of it: for ever, or, given a
`keep`, until `expires_at` (set when it is settled; a TTL index removes it then). A message not yet
settled has no `expires_at` and never expires. The owner must keep settled records longer than
anything that stages them could stage the same id again (routing's staff mail: it stages only from
events at most `max_age_hours` old).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared import clock, outbox
from shared.faults import is_transient

log = logging.getLogger(__name__)
Document = dict[str, Any]
_DUPLICATE_KEY = 11000


def wall_due(not_before: datetime | None) -> datetime:
    """The wall instant a message is due (the worker's query compares with the wall clock, as the
    outbox relay does); `not_before` is domain time (CLOCK_START may shift it)."""
    wall = clock.wall()
    if not_before is None:
        return wall
    return wall + max(timedelta(0), not_before - clock.now())


EXPIRES_AT = "expires_at"


class MailOutbox:
    """The messages of one collection: stage, find the due ones, claim, settle, retry. `keep`: how
    long a settled message's record stays (None: for ever)."""

    def __init__(self, collection: AsyncCollection[Document], keep: timedelta | None = None) -> None:
        self.collection = collection
        self.keep = keep

    async def ensure_indexes(self) -> None:
        await outbox.ensure_outbox_index(self.collection)
        if self.keep is not None:
            await self.collection.create_index([(EXPIRES_AT, ASCENDING)], expireAfterSeconds=0)

    def settled(self, changes: Mapping[str, Any]) -> Document:
        """The fields that settle a message: what became of it, out of the due query, and (with
        `keep`) when its record goes. Wall time: the TTL monitor compares with the server's."""
        fields: Document = {**changes, "outbox_since": None}
        if self.keep is not None:
            fields[EXPIRES_AT] = clock.wall() + self.keep
        return fields

    async def stage(self, messages: Sequence[Document], *, session: AsyncClientSession | None = None) -> int:
        """Insert the ones not staged yet (by id), due at their `not_before` (domain time; absent:
        at once) or never by themselves when `outbox_since` is given as None; how many were new.
        `session`: the transaction of the write that causes them."""
        if not messages:
            return 0
        ops = [
            UpdateOne(
                {"_id": m["_id"]},
                {"$setOnInsert": {"outbox_since": wall_due(m.get("not_before")), **m}},
                upsert=True,
            )
            for m in messages
        ]
        try:
            result = await self.collection.bulk_write(ops, ordered=False, session=session)
        except BulkWriteError as exc:  # a concurrent upsert of the same id: staged already
            if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            return int(exc.details.get("nUpserted", 0))
        return result.upserted_count

    async def due(self, limit: int, until: datetime | None = None) -> list[Document]:
        """The messages due by `until` (a wall instant; default now), the longest waiting first."""
        query = {"outbox_since": {"$type": "date", "$lte": until or clock.wall()}}
        return await self.collection.find(query).sort("outbox_since", ASCENDING).limit(limit).to_list()

    async def claim(self, message: Document, lease_seconds: float) -> datetime | None:
        """Hold it for `lease_seconds` (None: another pass or process took it first)."""
        until = clock.wall() + timedelta(seconds=lease_seconds)
        result = await self.collection.update_one(
            {"_id": message["_id"], "outbox_since": message["outbox_since"]},
            {"$set": {"outbox_since": until}},
        )
        return until if result.modified_count else None

    async def settle(self, message_id: str, claimed: datetime, changes: Mapping[str, Any]) -> bool:
        """Record what became of a claimed message; False when its lease had passed meanwhile."""
        result = await self.collection.update_one(
            {"_id": message_id, "outbox_since": claimed},
            {"$set": self.settled(changes)},
        )
        return bool(result.modified_count)

    async def retry_later(self, message_id: str, claimed: datetime, after_seconds: float, error: str) -> None:
        await self.collection.update_one(
            {"_id": message_id, "outbox_since": claimed},
            {
                "$set": {"outbox_since": clock.wall() + timedelta(seconds=after_seconds), "error": error},
                "$inc": {"attempts": 1},
            },
        )


async def run_passes(pass_once: Callable[[], Awaitable[int]], poll_seconds: float, name: str) -> None:
    """A worker's life: passes while there is work, a pause when there is none; a fault of the
    database is waited out, anything else (a bug) ends the task (/readyz says so)."""
    backoff = poll_seconds
    while True:
        try:
            handled = await pass_once()
            backoff = poll_seconds
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("%s: %r; retrying in %.0fs", name, exc, backoff)
            handled = 0
            backoff = min(backoff * 2, 30.0)
        if not handled:
            await asyncio.sleep(backoff)  # a poll period, not a wait for a condition
