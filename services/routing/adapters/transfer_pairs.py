"""Counted transfers per pemda × category × from × to (the `TransferPairs` of ports.py), in
routing's `transfer_pairs` collection: one small document per pair, holding its newest transfers
(domain/suggestions.py `KEPT`) and its last decision.

Counting is one upsert per transfer, idempotent by the lifecycle event's id: the update matches the
pair only while the event is not among its transfers, so a redelivered event finds no match, and
its upsert's insert collides with the pair's `_id` (duplicate key: already counted). Transfers are
kept newest-last by their instant (`$sort`, `$slice`), so a replay of old events can neither push
out newer ones nor count twice what is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.routing.domain.suggestions import (
    KEPT,
    CountedTransfer,
    Decision,
    TransferPair,
    suggestion_id,
)
from shared.mongo import transaction

COLLECTION = "transfer_pairs"
DECIDE_TIMEOUT_S = 10.0  # the decision, the rule and the audit in one transaction
MAX_PAIRS = 500  # pairs read for one pemda's suggestions (categories × OPD pairs actually transferred)


def _key(pemda: str, category: str, from_slug: str, to_slug: str) -> str:
    return f"{pemda}|{suggestion_id(category, from_slug, to_slug)}"


def _decision_doc(d: Decision) -> dict[str, Any]:
    return {
        "verdict": d.verdict,
        "by": d.by,
        "role": d.role,
        "at": d.at,
        "note": d.note,
        "complaint_ids": list(d.complaint_ids),
    }


def _decision(doc: Mapping[str, Any] | None) -> Decision | None:
    if not doc:
        return None
    return Decision(
        verdict=doc["verdict"],
        by=doc["by"],
        role=doc["role"],
        at=_aware(doc["at"]),
        note=doc.get("note"),
        complaint_ids=tuple(doc.get("complaint_ids") or ()),
    )


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def pair_of(doc: Mapping[str, Any]) -> TransferPair:
    return TransferPair(
        pemda=doc["pemda"],
        category=doc["category"],
        from_slug=doc["from_slug"],
        to_slug=doc["to_slug"],
        transfers=tuple(
            CountedTransfer(t["event_id"], t["complaint_id"], _aware(t["at"]), t["reason"])
            for t in doc.get("transfers") or ()
        ),
        decided=_decision(doc.get("decided")),
    )


class MongoTransferPairs:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._pairs = db[COLLECTION]

    async def count(
        self, pemda: str, category: str, from_slug: str, to_slug: str, transfer: CountedTransfer
    ) -> bool:
        """Count one transfer; False when this event was counted before."""
        key = _key(pemda, category, from_slug, to_slug)
        entry = {
            "event_id": transfer.event_id,
            "complaint_id": transfer.complaint_id,
            "at": transfer.at,
            "reason": transfer.reason,
        }
        not_counted = {"_id": key, "transfers.event_id": {"$ne": transfer.event_id}}
        push = {
            "$push": {"transfers": {"$each": [entry], "$sort": {"at": 1}, "$slice": -KEPT}},
            "$max": {"last_at": transfer.at},
        }
        fields = {"pemda": pemda, "category": category, "from_slug": from_slug, "to_slug": to_slug}
        try:
            await self._pairs.update_one(not_counted, {**push, "$setOnInsert": fields}, upsert=True)
            return True
        except DuplicateKeyError:
            # Either this event is already counted, or another consumer created the pair at the
            # same moment: the pair exists now, so a plain update tells the two apart.
            result = await self._pairs.update_one(not_counted, push)
            return result.matched_count == 1

    async def of_pemda(self, pemda: str) -> list[TransferPair]:
        found = self._pairs.find({"pemda": pemda}).sort("last_at", DESCENDING).limit(MAX_PAIRS)
        return [pair_of(d) async for d in found]

    async def get(self, pemda: str, category: str, from_slug: str, to_slug: str) -> TransferPair | None:
        doc = await self._pairs.find_one({"_id": _key(pemda, category, from_slug, to_slug)})
        return pair_of(doc) if doc else None

    async def decide(
        self,
        pair: TransferPair,
        decision: Decision,
        then: Callable[[AsyncClientSession], Awaitable[None]] | None = None,
    ) -> bool:
        """Record the decision if the pair's last decision is still the one `pair` was read with
        (two coordinators deciding at once: one wins); False otherwise. The winner's `then` writes
        (the rule, the audit) are in the same transaction: a crash leaves all or none."""
        previous = pair.decided.at if pair.decided is not None else None
        key = _key(pair.pemda, pair.category, pair.from_slug, pair.to_slug)
        decided = _decision_doc(decision)
        won = False

        async def work(session: AsyncClientSession) -> None:
            nonlocal won
            result = await self._pairs.update_one(
                {"_id": key, "decided.at": previous},
                {"$set": {"decided": decided}, "$push": {"decisions": decided}},
                session=session,
            )
            won = result.matched_count == 1
            if won and then is not None:
                await then(session)

        await transaction(self._pairs.database.client, work, timeout=DECIDE_TIMEOUT_S)
        return won


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[COLLECTION].create_index([("pemda", ASCENDING), ("last_at", DESCENDING)])
