"""Intake's database: the complaint record (reporter identity lives only here, DESIGN §3) with
the citizen's view maintained on it by the events consumer; the reporter's commands and their
outcome; the audit of identity reads; the pemdas' extra non-working dates."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.intake.adapters.idempotency import key_id
from services.intake.domain.commands import CommandOutcome
from services.intake.domain.complaint import KeyClaim, NewComplaint, ReporterCommand
from shared import clock, outbox
from shared.calendar_store import StoredCalendars
from shared.faults import ConcurrentUpdate
from shared.kafka import Outgoing
from shared.mongo import GroupWriter, transaction

# Never leaves intake's database through a view.
IDENTITY_FIELDS = ("reporter",)
# An Idempotency-Key replays its original answer for 24 h (DESIGN §3); the TTL index expires it.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# A submission answered 503 may still reach Kafka later (an idempotent producer retries until the
# broker takes it): its tombstone lets the consumer withdraw such a complaint when it shows up.
ABANDONED_TTL_SECONDS = 30 * 24 * 3600
# How long a submission's or command's write may take before the answer is a 503 (seconds).
WRITE_TIMEOUT_S = 2.0
# What the events consumer reads and writes of a complaint: the view, never identity or text.
VIEW_FIELDS = (
    "last_seq",
    "deadlines",
    "timeline",
    "status",
    "opd_id",
    "category",
    "region_code",
    "pemda",
    "anonymous",
    "confidential",
    "escalation_level",
    "escalations",
    "reopened",
    "resolved_at",
    "resolved_by",
    "closed_outcome",
    "closed_at",  # closed or archived: where the retention of reporter identity counts from
    "parked",  # lifecycle events after a missing seq, held until it arrives (encoded envelopes)
    "parked_count",
    "awaiting_reply",  # the information request a reminder is about (domain/notifications.py)
    "notify_channels",  # the channels, never the addresses
    "merged_into",  # a merged complaint's survivor (its reporter follows that one)
    "followers",  # a survivor's merged complaints, whose reporters it notifies too
    "rev",
)


# Commands whose outcome may still be recorded: pending ones, and those rejected only because
# routing dead-lettered them (a replay of the letter brings the real answer).
_UNSETTLED: dict[str, Any] = {"$or": [{"status": "pending"}, {"dead_lettered": True}]}


def complaint_document(complaint: NewComplaint) -> dict[str, Any]:
    """A new complaint as stored: the record, and the citizen's view starting from `received`
    (the events consumer keeps it, guarded by `rev`)."""
    return {
        "_id": complaint.id,
        "token_hash": complaint.token_hash,
        "reporter": complaint.reporter,
        "reporter_ref": complaint.reporter_ref,
        "anonymous": complaint.anonymous,
        "confidential": complaint.confidential,
        "category": complaint.category,
        "region_code": complaint.region_code,
        "pemda": complaint.pemda,
        "title": complaint.title,
        "description": complaint.description,
        "staff_title": complaint.staff_title,
        "staff_description": complaint.staff_description,
        "status": "received",
        "opd_id": None,
        "escalation_level": 0,
        "escalations": [],
        "reopened": False,
        "resolved_at": None,
        "last_seq": 0,
        "deadlines": {},
        "timeline": [],
        "submitted_at": complaint.submitted_at,
        "notify_channels": list(complaint.notify_channels),
        "tracking_code": complaint.tracking_code,
        "pin_sealed": complaint.pin_sealed,
        "rev": 0,
    }


def key_document(claim: KeyClaim) -> dict[str, Any]:
    doc = {
        "_id": claim.key,
        "body_hash": claim.body_hash,
        "response": claim.response,
        "done": True,
        "created_at": clock.wall(),  # expired by a TTL index: the database's clock
    }
    if claim.complaint_id is not None:
        doc["complaint_id"] = claim.complaint_id
    return doc


class MongoComplaintStore:
    """The ComplaintStore port (services/intake/ports.py) on intake's database."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._complaints = db["complaints"]
        self._idempotency = db["idempotency_keys"]
        self._commands = db["commands"]
        self._audit = db["identity_audit"]
        self._abandoned = db["abandoned_submissions"]
        self._calendars = StoredCalendars(db["calendars"])
        # Submits arrive concurrently: their writes are grouped into batches (group commit).
        self._complaint_writes = GroupWriter(self._complaints)

    # --- Idempotency-Key records (submit and commands) ---

    # The raw key never reaches the database: records are found by its hash (idempotency.key_id).

    async def insert_with_key(self, record: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any] | None:
        """Insert a complaint and its Idempotency-Key record (`claim`, `_id` the raw key) in one
        transaction; the earlier key record if the key is taken (then nothing is written)."""
        return await self._together(self._complaints, record, claim)

    async def find_key(self, key: str) -> dict[str, Any] | None:
        return await self._idempotency.find_one({"_id": key_id(key)})

    async def _together(
        self, collection: AsyncCollection[dict[str, Any]], record: dict[str, Any], claim: dict[str, Any]
    ) -> dict[str, Any] | None:
        claim = {**claim, "_id": key_id(claim["_id"])}

        async def both(session: AsyncClientSession) -> None:
            # The key last: a transaction cut short before it holds nothing a retry needs.
            await collection.insert_one(record, session=session)
            await self._idempotency.insert_one(claim, session=session)

        try:
            # Bounded: a citizen gets a 503 to retry with the same key instead (which replays the
            # answer); a failed transaction is ended, never left holding the key (shared.mongo).
            await transaction(collection.database.client, both, timeout=WRITE_TIMEOUT_S)
            return None
        except DuplicateKeyError:
            return await self._idempotency.find_one({"_id": claim["_id"]}) or {}

    # --- use-case writes: the record, its outbox and its key's record together ---

    async def add(
        self, complaint: NewComplaint, messages: Sequence[Outgoing], claim: KeyClaim | None
    ) -> datetime | dict[str, Any]:
        """Store a new complaint with its messages (the outbox) and, with `claim`, its key's record
        in one transaction. The instant the outbox was staged (for `outbox.mark_published`), or
        the earlier key record when the key is taken (then nothing is written)."""
        record = complaint_document(complaint)
        since = outbox.stage(record, list(messages))
        if claim is None:
            await self.insert(record)
            return since
        earlier = await self.insert_with_key(record, key_document(claim))
        return since if earlier is None else earlier

    async def add_command(
        self, command: ReporterCommand, messages: Sequence[Outgoing], claim: KeyClaim | None
    ) -> datetime | dict[str, Any]:
        """A reporter's command, pending, with its messages and key record: as `add`."""
        record = {"_id": command.id, "complaint_id": command.complaint_id, "command": command.command,
                  "status": "pending", "reason": None, "created_at": command.created_at}  # fmt: skip
        since = outbox.stage(record, list(messages))
        earlier = await self.insert_command(record, None if claim is None else key_document(claim))
        return since if earlier is None else earlier

    # --- complaints ---

    async def insert(self, doc: dict[str, Any]) -> None:
        await self._complaint_writes.insert(doc)

    async def delete(self, complaint_id: str) -> None:
        await self._complaints.delete_one({"_id": complaint_id})

    async def abandoned(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {d["_id"]: d async for d in self._abandoned.find({"_id": {"$in": list(ids)}})}

    async def mark_withdrawn(self, ids: Sequence[str]) -> None:
        await self._abandoned.update_many({"_id": {"$in": list(ids)}}, {"$set": {"withdrawn": True}})

    async def get(self, complaint_id: str) -> dict[str, Any] | None:
        return await self._complaints.find_one({"_id": complaint_id}, {f: 0 for f in IDENTITY_FIELDS})

    async def identity_of(self, complaint_id: str) -> dict[str, Any] | None:
        """The one read that returns identity: for the audited reporter endpoint only."""
        fields = ("reporter", "reporter_ref", "anonymous", "confidential", "opd_id", "pemda", "region_code")
        return await self._complaints.find_one({"_id": complaint_id}, dict.fromkeys(fields, 1))

    async def reporters(self, ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The reporters' identity of these complaints, for redacting texts (never shown)."""
        found = self._complaints.find({"_id": {"$in": list(ids)}}, {"reporter": 1})
        return {d["_id"]: d.get("reporter") async for d in found}

    async def load_views(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        projection = dict.fromkeys(VIEW_FIELDS, 1)
        return {d["_id"]: d async for d in self._complaints.find({"_id": {"$in": list(ids)}}, projection)}

    async def save_views(self, docs: Sequence[dict[str, Any]]) -> None:
        """Write the view fields back, each guarded by the revision it was read at."""
        if not docs:
            return
        ops = []
        for doc in docs:
            fields = {k: v for k, v in doc.items() if k not in ("_id", "rev")}
            ops.append(
                UpdateOne({"_id": doc["_id"], "rev": doc["rev"]}, {"$set": {**fields, "rev": doc["rev"] + 1}})
            )
        result = await self._complaints.bulk_write(ops, ordered=False)
        if result.matched_count != len(ops):
            raise ConcurrentUpdate(f"{len(ops) - result.matched_count} view(s) changed concurrently")

    # --- the reporter's commands ---

    async def insert_command(
        self, record: dict[str, Any], claim: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Insert a reporter's command and, with `claim` (`_id` the raw key), its Idempotency-Key
        record in one transaction; the earlier key record if the key is taken."""
        if claim is None:
            await self._commands.insert_one(record)
            return None
        return await self._together(self._commands, record, claim)

    async def get_command(self, complaint_id: str, command_id: str) -> dict[str, Any] | None:
        return await self._commands.find_one({"_id": command_id, "complaint_id": complaint_id})

    async def pending_commands(self, complaint_id: str) -> set[str]:
        # The (complaint_id, created_at) index narrows it to this complaint's few commands.
        kinds = await self._commands.distinct("command", {"complaint_id": complaint_id, "status": "pending"})
        return set(kinds)

    async def settle_commands(self, outcomes: Mapping[str, CommandOutcome]) -> None:
        """Record what the lifecycle owner made of pending commands — or of commands rejected
        because routing dead-lettered them, whose replayed letter now has its real answer; settled
        ones stay as they are."""
        if not outcomes:
            return
        # Most correlation ids name no command (routing's own decisions): one read finds the few.
        pending = {
            d["_id"]
            async for d in self._commands.find({"_id": {"$in": list(outcomes)}, **_UNSETTLED}, {"_id": 1})
        }
        ops = [
            UpdateOne(
                {"_id": cid, **_UNSETTLED},
                {"$set": {"status": status, "reason": reason, "dead_lettered": False}},
            )
            for cid, (status, reason) in outcomes.items()
            if cid in pending
        ]
        if ops:
            await self._commands.bulk_write(ops, ordered=False)

    async def reject_dead_lettered(self, dead: Mapping[str, Mapping[str, Any]], reason: str) -> int:
        """Commands routing dead-lettered (id → where the letter is): rejected with `reason` and
        marked (`dead_lettered`, and the letter in `dead_letter`) if still pending; how many. A
        redelivered letter, or one whose command has its outcome already, changes nothing."""
        if not dead:
            return 0
        ops = [
            UpdateOne(
                {"_id": cid, "status": "pending"},
                {
                    "$set": {
                        "status": "rejected",
                        "reason": reason,
                        "dead_lettered": True,
                        "dead_letter": dict(letter),
                    }
                },
            )
            for cid, letter in dead.items()
        ]
        result = await self._commands.bulk_write(ops, ordered=False)
        return result.modified_count

    # --- identity reads ---

    async def audit_identity_read(self, record: dict[str, Any]) -> None:
        await self._audit.insert_one(record)

    async def erasure_texts(self, complaint_id: str) -> dict[str, Any] | None:
        """What `erased` needs: the texts, and whether there is still a reporter."""
        fields = ("reporter", "title", "description", "staff_title", "staff_description")
        return await self._complaints.find_one({"_id": complaint_id}, dict.fromkeys(fields, 1))

    async def erase_identity(self, complaint_id: str, changes: dict[str, Any], audit: dict[str, Any]) -> bool:
        # The audit first: an erasure is never unaudited; the entry's id is the complaint's, so an
        # erasure retried after a crash (or by a second sweep) keeps one entry.
        fields = {k: v for k, v in audit.items() if k != "_id"}
        await self._audit.update_one({"_id": audit["_id"]}, {"$setOnInsert": fields}, upsert=True)
        done = await self._complaints.update_one(
            {"_id": complaint_id, "reporter": {"$type": "object"}}, {"$set": changes}
        )
        return done.modified_count == 1

    async def ended_before(self, cutoff: datetime, limit: int) -> list[str]:
        """Closed or archived before `cutoff` with the reporter's identity still kept."""
        found = self._complaints.find(
            {"closed_at": {"$lt": cutoff}, "reporter": {"$type": "object"}}, {"_id": 1}
        ).sort("closed_at", ASCENDING)
        return [d["_id"] async for d in found.limit(limit)]

    async def reported_by(self, *, email: str | None, phone: str | None) -> list[str]:
        """Complaints whose reporter gave this e-mail (any case) or phone (+62…). A scan: erasure
        on request is rare, and an index would be one more copy of every reporter's contact."""
        wanted: list[dict[str, Any]] = []
        if email:
            wanted.append({"reporter.email": {"$regex": f"^{re.escape(email)}$", "$options": "i"}})
        if phone:
            wanted.append({"reporter.phone": phone})
        if not wanted:
            return []
        return [d["_id"] async for d in self._complaints.find({"$or": wanted}, {"_id": 1})]

    async def identity_reads(self, complaint_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The audit of one complaint's identity reads, newest first."""
        found = self._audit.find({"complaint_id": complaint_id}).sort([("complaint_id", 1), ("at", -1)])
        return [d async for d in found.limit(limit)]

    # --- calendars ---

    async def save_calendar(self, pemda: str, revision: int, extra_dates: Sequence[date]) -> None:
        await self._calendars.save(pemda, revision, extra_dates)

    async def calendars(self) -> list[tuple[str, int, list[date]]]:
        return await self._calendars.all()


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db["idempotency_keys"].create_index("created_at", expireAfterSeconds=IDEMPOTENCY_TTL_SECONDS)
    # Views waiting for a missing lifecycle event (`pengaduan status`): few, so a partial index.
    await db["complaints"].create_index(
        [("parked_count", ASCENDING)], partialFilterExpression={"parked_count": {"$gt": 0}}
    )
    await db["abandoned_submissions"].create_index("at", expireAfterSeconds=ABANDONED_TTL_SECONDS)
    # An early index no query used (the listing's own are in listing.ensure_indexes); every index
    # costs each submit and each status change a write, so a database that has it drops it.
    with contextlib.suppress(OperationFailure):
        await db["complaints"].drop_index("region_code_1_status_1__id_1")
    await db["commands"].create_index([("complaint_id", ASCENDING), ("created_at", ASCENDING)])
    await db["identity_audit"].create_index([("complaint_id", ASCENDING), ("at", DESCENDING)])
    # The retention sweep's query: ended complaints that still keep a reporter (partial: few).
    await db["complaints"].create_index(
        [("closed_at", ASCENDING)], partialFilterExpression={"reporter": {"$type": "object"}}
    )
