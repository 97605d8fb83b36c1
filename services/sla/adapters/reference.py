"""The reference data in MongoDB: service-standard rules (`service_standards`), the pemdas' extra
dates (`calendars`, one document per pemda with a `revision` and the `recomputed_revision` a
recompute finished), their audit trail (`audit`) and the `holidays` version the stored clocks were
last computed with (`meta`). The shapes are described in domain/standards.py."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast, get_args

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from services.sla.domain.standards import ServiceStandard, SlaRules, Standards
from services.sla.ports import ExtraDates
from shared.events import ClockName, Tier

log = logging.getLogger(__name__)

STANDARDS = "service_standards"
CALENDARS = "calendars"
AUDIT = "audit"
META = "meta"


def standard_from_doc(doc: Mapping[str, Any]) -> ServiceStandard:
    clock, tier, hk = doc.get("clock"), doc.get("tier"), doc.get("hk")
    if clock not in get_args(ClockName):
        raise ValueError(f"unknown clock {clock!r}")
    if tier is not None and tier not in get_args(Tier):
        raise ValueError(f"unknown tier {tier!r}")
    if not isinstance(hk, int) or not 0 <= hk <= 365:
        raise ValueError(f"hk must be an integer 0–365, not {hk!r}")
    return ServiceStandard(
        clock=cast(ClockName, clock),
        hk=hk,
        pemda=doc.get("pemda"),
        opd_id=doc.get("opd_id"),
        category=doc.get("category"),
        tier=tier,
    )


def _extra(doc: Mapping[str, Any]) -> ExtraDates:
    return ExtraDates(
        pemda=doc["_id"],
        dates=list(doc.get("extra_dates", [])),
        revision=int(doc.get("revision", 0)),
        recomputed_revision=int(doc.get("recomputed_revision", 0)),
    )


class MongoCalendars:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def refresh(self, rules: SlaRules) -> list[str]:
        """Reload standards and calendars from the database; the pemdas whose calendar changed."""
        standards = []
        async for doc in self._db[STANDARDS].find({}).sort("_id", 1):
            try:
                standards.append(standard_from_doc(doc))
            except ValueError as exc:
                log.warning("service standard %s ignored: %s", doc.get("_id"), exc)
        rules.standards = Standards(standards)
        changed = []
        async for doc in self._db[CALENDARS].find({}):
            dates = [date.fromisoformat(d) for d in doc.get("extra_dates", [])]
            if rules.calendars.set(doc["_id"], dates, int(doc.get("revision", 1))):
                changed.append(doc["_id"])
        return changed

    async def extra_dates(self, pemda: str) -> ExtraDates | None:
        doc = await self._db[CALENDARS].find_one({"_id": pemda})
        return _extra(doc) if doc else None

    async def all_extra_dates(self) -> list[ExtraDates]:
        return [_extra(doc) async for doc in self._db[CALENDARS].find({})]  # one small doc per pemda

    async def replace_extra_dates(
        self, pemda: str, dates: Sequence[date], *, at: datetime, who: Mapping[str, Any], reason: str | None
    ) -> int:
        before = await self._db[CALENDARS].find_one({"_id": pemda})
        after = [d.isoformat() for d in dates]
        stored = await self._db[CALENDARS].find_one_and_update(
            {"_id": pemda},
            {
                "$set": {"extra_dates": after, "updated_at": at, "updated_by": who["sub"]},
                "$inc": {"revision": 1},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert stored is not None  # upserted
        revision = int(stored["revision"])
        await self._db[AUDIT].insert_one(
            {
                "_id": str(ULID()),
                "at": at,
                "who": dict(who),
                "action": "calendar.extra_dates.replace",
                "target": pemda,
                "before": (before or {}).get("extra_dates", []),
                "after": after,
                "revision": revision,
                "reason": reason,
            }
        )
        return revision

    async def mark_recomputed(self, pemda: str, revision: int) -> None:
        await self._db[CALENDARS].update_one(
            {"_id": pemda, "revision": revision}, {"$set": {"recomputed_revision": revision}}
        )

    async def holidays_version(self) -> str | None:
        meta = await self._db[META].find_one({"_id": "holidays"})
        return meta.get("version") if meta else None

    async def set_holidays_version(self, version: str) -> None:
        await self._db[META].update_one({"_id": "holidays"}, {"$set": {"version": version}}, upsert=True)
