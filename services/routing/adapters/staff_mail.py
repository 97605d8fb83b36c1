"""Staff e-mails on routing's database (the StaffMailbox port, ports.py): `staff_mail`, one
document per mail, digest item or digest, each its own outbox record (shared/mail_outbox.py).

A mail's id is `<event id>:<username>` (domain/staff_mail.py), so staging a redelivered event's
mails inserts nothing. A digest item has no `outbox_since` of its own: the day's digest document
(`digest:<username>:<day>`) is what comes due, and its worker reads the items that name it.
Documents hold no address: the worker reads the account's when it sends (an address-change
notice holds the old one until it is settled).

A settled document (sent, or set aside with its reason) expires `keep` after it was settled
(`expires_at`, a TTL index; `ROUTING_MAIL_KEEP_DAYS`); a pending one, a digest item waiting for its
digest included, never does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.settings import StaffMailSettings
from shared.calendar_store import StoredCalendars
from shared.mail_outbox import MailOutbox

Document = dict[str, Any]
# What the staged mails need of routing's complaint record (category, pemda, the OPD, the due).
COMPLAINT_FIELDS = ("category", "pemda", "opd_id", "sla_due")
DEFAULT_KEEP = timedelta(days=StaffMailSettings.model_fields["keep_days"].default)


class MongoStaffMailbox:
    def __init__(self, db: AsyncDatabase[Document], keep: timedelta | None = DEFAULT_KEEP) -> None:
        self._db = db
        self.outbox = MailOutbox(db["staff_mail"], keep)

    async def stage(self, mails: Sequence[Document]) -> int:
        return await self.outbox.stage(mails)

    async def complaints(self, ids: Sequence[str]) -> dict[str, Document]:
        found = self._db["complaints"].find({"_id": {"$in": list(ids)}}, dict.fromkeys(COMPLAINT_FIELDS, 1))
        return {d["_id"]: d async for d in found}

    async def digest_items(self, digest: str, limit: int = 500) -> list[Document]:
        """The pending items of one digest, in the order they were staged."""
        found = self._db["staff_mail"].find({"digest": digest, "state": "pending"})
        return (
            await found.sort([("digest", ASCENDING), ("at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
            .to_list()
        )

    async def settle_items(self, ids: Sequence[str], changes: Mapping[str, Any]) -> None:
        """Digest items that went out with their digest (or with it were set aside)."""
        if ids:
            await self._db["staff_mail"].update_many(
                {"_id": {"$in": list(ids)}, "state": "pending"}, {"$set": self.outbox.settled(changes)}
            )

    async def opd_names(self, ids: Sequence[str]) -> dict[str, str]:
        """Current names from routing's own catalog (names, not slugs)."""
        found = self._db["opds"].find({"_id": {"$in": list(ids)}}, {"name": 1})
        return {d["_id"]: d["name"] async for d in found if d.get("name")}

    async def of_complaint(self, complaint_id: str) -> list[Document]:
        """A complaint's staff mails (for operators and tests), by id."""
        found = self._db["staff_mail"].find({"complaint_id": complaint_id}).sort("_id", ASCENDING)
        return await found.limit(500).to_list()

    async def due(self, limit: int, until: datetime | None = None) -> list[Document]:
        return await self.outbox.due(limit, until)

    async def claim(self, mail: Document, lease_seconds: float) -> datetime | None:
        return await self.outbox.claim(mail, lease_seconds)

    async def settle(self, mail_id: str, claimed: datetime, changes: Mapping[str, Any]) -> bool:
        return await self.outbox.settle(mail_id, claimed, changes)

    async def retry_later(self, mail_id: str, claimed: datetime, after_seconds: float, error: str) -> None:
        await self.outbox.retry_later(mail_id, claimed, after_seconds, error)


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await MongoStaffMailbox(db).outbox.ensure_indexes()
    await db["staff_mail"].create_index(
        [("digest", ASCENDING), ("at", ASCENDING), ("_id", ASCENDING)], sparse=True
    )
    await db["staff_mail"].create_index([("complaint_id", ASCENDING), ("_id", ASCENDING)])


def stored_calendars(db: AsyncDatabase[dict[str, Any]]) -> StoredCalendars:
    """The pemdas' days off sla announced, as the staff-mail group keeps them (routing's
    `calendars` collection)."""
    return StoredCalendars(db["calendars"])
