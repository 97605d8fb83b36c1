"""Notifications to the reporter on intake's database (the NotificationStore port, ports.py).

Each notification is one document, `notifications/<event id>:<channel>` (a reminder:
`<event id>:r<days>:<channel>`), and is its own outbox record (shared/mail_outbox.py): staged
with the change that causes it (the view consumer upserts it before it saves the view, so a crash
between the two stages the same document again and a redelivery nothing new), due from
`outbox_since` (the relay's field and index), and cleared once sent. The worker claims a document
by moving its `outbox_since` on by a lease, so a send that crashes before its mark is tried again
after the lease, with the same id: the receiver sees one message. The claim is also the guard of
the mark, so two instances never both mark one notification.

The documents hold no address: the worker reads it from the complaint's record when it sends.
The daily cap counts per address under an HMAC of it (`notify_caps`, expired after two days).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateMany
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.mail_outbox import MailOutbox

Document = dict[str, Any]
CAP_TTL_SECONDS = 2 * 24 * 3600
_DUPLICATE_KEY = 11000
# What the worker needs of a complaint's record to decide and address a notification.
RECIPIENT_FIELDS = (
    "reporter",
    "notify_channels",
    "notify_opt_out_at",
    "tracking_code",  # shown in the "received" notification, with the PIN while it is kept
    "pin_sealed",
    "status",
    "awaiting_reply",
    "anonymous",
)


class MongoNotificationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._notifications = db["notifications"]
        self._outbox = MailOutbox(self._notifications)
        self._complaints = db["complaints"]
        self._caps = db["notify_caps"]

    async def stage(self, notifications: Sequence[Document]) -> int:
        """Insert the ones not staged yet (by id); how many were new."""
        return await self._outbox.stage(notifications)

    async def cancel_reminders(self, open_requests: Mapping[str, str | None]) -> None:
        """Pending reminders of these complaints that are not about their open request (complaint
        id → its open request's event id, or None) are cancelled."""
        if not open_requests:
            return
        now = clock.now()
        pending = {"kind": "information_reminder", "state": "pending"}
        cancel = {"$set": {"state": "cancelled", "at": now, "outbox_since": None}}
        ops = [
            UpdateMany({"complaint_id": cid, **pending, "event_id": {"$ne": request}}, cancel)
            for cid, request in open_requests.items()
        ]
        await self._notifications.bulk_write(ops, ordered=False)

    async def due(self, limit: int) -> list[Document]:
        return await self._outbox.due(limit)

    async def claim(self, notification: Document, lease_seconds: float) -> datetime | None:
        """Hold it for `lease_seconds` (None: another pass or instance took it first)."""
        return await self._outbox.claim(notification, lease_seconds)

    async def settle(self, notification_id: str, claimed: datetime, changes: Mapping[str, Any]) -> bool:
        return await self._outbox.settle(notification_id, claimed, changes)

    async def retry_later(
        self, notification_id: str, claimed: datetime, after_seconds: float, error: str
    ) -> None:
        await self._outbox.retry_later(notification_id, claimed, after_seconds, error)

    async def recipient(self, complaint_id: str) -> Document | None:
        return await self._complaints.find_one({"_id": complaint_id}, dict.fromkeys(RECIPIENT_FIELDS, 1))

    async def count_toward_cap(self, address_key: str, day: str, notification_id: str) -> int:
        """This notification's place among the day's notifications to one address (counted once
        however often it is tried)."""
        for _ in range(2):  # two first upserts of one counter race: the loser reads the winner's
            with contextlib.suppress(DuplicateKeyError):
                found = await self._caps.find_one_and_update(
                    {"_id": f"{address_key}:{day}"},
                    {"$addToSet": {"ids": notification_id}, "$setOnInsert": {"created_at": clock.wall()}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                ids: list[str] = (found or {}).get("ids", [notification_id])
                return ids.index(notification_id) + 1
        raise DuplicateKeyError("notify_caps: the counter could not be written")

    async def forget_pin(self, complaint_id: str) -> None:
        """Once no "received" notification of the complaint is pending, its sealed PIN goes."""
        pending = {"complaint_id": complaint_id, "kind": "received", "state": "pending"}
        if await self._notifications.find_one(pending, {"_id": 1}) is None:
            await self._complaints.update_one(
                {"_id": complaint_id, "pin_sealed": {"$ne": None}}, {"$set": {"pin_sealed": None}}
            )

    async def opt_out(self, complaint_id: str, at: datetime) -> bool:
        """The reporter wants no more notifications for this complaint: recorded (the first time),
        and what is pending is not sent (the worker checks again before each send)."""
        result = await self._complaints.update_one(
            {"_id": complaint_id, "notify_opt_out_at": None}, {"$set": {"notify_opt_out_at": at}}
        )
        await self._notifications.update_many(
            {"complaint_id": complaint_id, "state": "pending"},
            {"$set": {"state": "opted_out", "at": at, "outbox_since": None}},
        )
        return bool(result.modified_count)

    async def of_complaint(self, complaint_id: str) -> list[Document]:
        """A complaint's notifications in the order the reporter reads them (`when`, then id)."""
        found = self._notifications.find(
            {"complaint_id": complaint_id}, {"kind": 1, "channel": 1, "state": 1, "at": 1, "when": 1}
        ).sort([("complaint_id", ASCENDING), ("_id", ASCENDING)])
        return sorted(await found.limit(200).to_list(), key=lambda n: (*n.get("when", []), n["_id"]))


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await MailOutbox(db["notifications"]).ensure_indexes()
    await db["notifications"].create_index([("complaint_id", ASCENDING), ("_id", ASCENDING)])
    await db["notify_caps"].create_index("created_at", expireAfterSeconds=CAP_TTL_SECONDS)
