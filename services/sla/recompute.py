"""Recompute (DESIGN §5): when a pemda's calendar changes — its extra dates, or a new pinned
`holidays` version — the clocks it governs, open and closed, are rebuilt by replaying each
complaint's stored lifecycle facts with the new calendar, and the differences are stored and
announced: moved dues (`ClockRescheduled`), retracted or new breaches (`BreachRetracted`,
`SlaBreached`) and the escalations that depended on them (`EscalationRetracted`,
`EscalationRaised`). The change itself goes out as `CalendarChanged` (key = pemda) so intake's
countdowns follow.

- `PUT /api/v1/admin/calendar/{pemda}/extra-dates` (role admin, audited in `audit` with who, when,
  what, before and after) with `{"dates": ["2026-08-17", …], "reason": "…"}` replaces the pemda's
  extra dates (collection `calendars`, one document per pemda with a `revision`), publishes
  `CalendarChanged`, recomputes, and answers with the counts. `GET` on the same path reads them.
- A kab/kota also observes its province's dates, so a province's change recomputes the complaints
  of its kab/kota too (the documents' `governing` field lists both).
- After a new pinned `holidays` release: `python -m services.sla.recompute holidays` (or
  `recompute_holidays`) rebuilds every complaint computed with another version. The service also
  does it by itself at start (`catch_up`), together with any calendar change whose recompute was
  interrupted (`recomputed_revision` < `revision`).

A recompute is idempotent: rebuilding clocks that are already right announces nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from services.sla.adapters import MongoClockStore
from services.sla.domain import ComplaintClocks, ms
from services.sla.handlers import Publish, announce
from services.sla.standards import CALENDARS, RULES, SlaRules
from shared import clock
from shared.auth import Staff, require_staff
from shared.calendar import HOLIDAYS_VERSION
from shared.envelope import new_event
from shared.events import CalendarChanged
from shared.faults import ConcurrentUpdate
from shared.http import ProblemError, json_response, read_json
from shared.kafka import Outgoing
from shared.regions import lookup
from shared.runtime import INFRA, Infra
from shared.topics import SLA_EVENTS

log = logging.getLogger(__name__)

AUDIT = "audit"
META = "meta"
MAX_ATTEMPTS = 5


@dataclass
class Recomputed:
    complaints: int = 0  # rebuilt
    corrected: int = 0  # whose stored clocks, ladder or accountability changed
    announced: int = 0  # messages published

    def add(self, other: Recomputed) -> None:
        self.complaints += other.complaints
        self.corrected += other.corrected
        self.announced += other.announced


def _fingerprint(clocks: ComplaintClocks) -> tuple[Any, ...]:
    return (
        tuple(clocks.clocks),
        tuple(clocks.holdings),
        clocks.escalation.level,
        tuple(clocks.escalation.steps),
        clocks.escalation.level_2_at,
        clocks.next_check(),
    )


async def recompute_ids(
    db: AsyncDatabase[dict[str, Any]],
    publish: Publish,
    rules: SlaRules,
    batches: AsyncIterator[list[str]],
    *,
    reason: str,
    at: datetime,
    rewrite_all: bool = False,
) -> Recomputed:
    """Rebuild the complaints in `batches` with today's calendars; store and announce corrections.
    `rewrite_all` stores even unchanged complaints (to record the new `holidays_version`)."""
    store = MongoClockStore(db)
    total = Recomputed()
    async for ids in batches:
        for attempt in range(MAX_ATTEMPTS):
            loaded = await store.load(ids)
            changed: list[tuple[ComplaintClocks, list[Outgoing]]] = []
            done = Recomputed(complaints=len(loaded))
            for record in loaded.values():
                clocks = record.clocks
                before = _fingerprint(clocks)
                payloads = clocks.rebuild(rules, at, reason)
                if payloads or rewrite_all or _fingerprint(clocks) != before:
                    changed.append((clocks, announce(payloads, clocks.complaint_id, clocks.last_seq or None)))
                    done.corrected += bool(payloads) or _fingerprint(clocks) != before
            try:
                saved = await store.save(changed)
            except ConcurrentUpdate:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                continue  # the consumer or the detector moved one of them: load again
            await publish(saved.messages)
            await store.mark_published(saved.writes)
            done.announced = len(saved.messages)
            total.add(done)
            break
    return total


# --- calendars --------------------------------------------------------------------------------


def _calendar_changed(pemda: str, dates: list[date], revision: int, at: datetime) -> Outgoing:
    payload = CalendarChanged(
        pemda=pemda, extra_dates=dates, holidays_version=HOLIDAYS_VERSION, revision=revision
    )
    event = new_event(payload, producer="sla", complaint_id=None, occurred_at=at)
    return Outgoing.of(SLA_EVENTS, pemda, event)


async def recompute_pemda(
    db: AsyncDatabase[dict[str, Any]], publish: Publish, rules: SlaRules, pemda: str, revision: int
) -> Recomputed:
    """Announce the pemda's calendar revision and recompute what it governs; idempotent."""
    dates = sorted(rules.calendars.extra_dates(pemda))
    at = ms(clock.now())
    await publish([_calendar_changed(pemda, dates, revision, at)])
    result = await recompute_ids(
        db,
        publish,
        rules,
        MongoClockStore(db).governed(pemda),
        reason=f"kalender {pemda} diubah (revisi {revision})",
        at=at,
    )
    await db[CALENDARS].update_one(
        {"_id": pemda, "revision": revision}, {"$set": {"recomputed_revision": revision}}
    )
    return result


async def set_extra_dates(
    db: AsyncDatabase[dict[str, Any]],
    publish: Publish,
    rules: SlaRules,
    pemda: str,
    dates: list[date],
    *,
    who: Staff,
    reason: str | None = None,
) -> tuple[int, Recomputed]:
    """Store a pemda's extra dates as a new revision (audited), then recompute."""
    at = clock.now()
    wanted = sorted(set(dates))
    before = await db[CALENDARS].find_one({"_id": pemda})
    stored = await db[CALENDARS].find_one_and_update(
        {"_id": pemda},
        {
            "$set": {"extra_dates": [d.isoformat() for d in wanted], "updated_at": at, "updated_by": who.sub},
            "$inc": {"revision": 1},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert stored is not None  # upserted
    revision = int(stored["revision"])
    await db[AUDIT].insert_one(
        {
            "_id": str(ULID()),
            "at": at,
            "who": {"sub": who.sub, "role": who.role, "pemda": who.pemda, "opd": who.opd},
            "action": "calendar.extra_dates.replace",
            "target": pemda,
            "before": (before or {}).get("extra_dates", []),
            "after": [d.isoformat() for d in wanted],
            "revision": revision,
            "reason": reason,
        }
    )
    rules.calendars.set(pemda, wanted, revision)
    return revision, await recompute_pemda(db, publish, rules, pemda, revision)


async def recompute_holidays(
    db: AsyncDatabase[dict[str, Any]], publish: Publish, rules: SlaRules
) -> Recomputed:
    """Rebuild every complaint computed with another pinned `holidays` version."""
    return await recompute_ids(
        db,
        publish,
        rules,
        MongoClockStore(db).with_old_holidays(),
        reason=f"versi data hari libur berganti ke {HOLIDAYS_VERSION}",
        at=ms(clock.now()),
        rewrite_all=True,
    )


async def catch_up(db: AsyncDatabase[dict[str, Any]], publish: Publish, rules: SlaRules) -> None:
    """At start: finish recomputes a crash interrupted, and follow a new `holidays` pin (once:
    the version the stored clocks were computed with is kept in `meta`)."""
    await rules.refresh(db)
    async for doc in db[CALENDARS].find({}):  # one small document per pemda at most
        if doc.get("recomputed_revision", 0) >= doc.get("revision", 0):
            continue
        result = await recompute_pemda(db, publish, rules, doc["_id"], int(doc["revision"]))
        log.info("recomputed %s after an interrupted calendar change: %s", doc["_id"], result)
    meta = await db[META].find_one({"_id": "holidays"})
    if meta is not None and meta.get("version") == HOLIDAYS_VERSION:
        return
    result = await recompute_holidays(db, publish, rules)
    if result.complaints:
        log.info("recomputed for holidays %s: %s", HOLIDAYS_VERSION, result)
    await db[META].update_one({"_id": "holidays"}, {"$set": {"version": HOLIDAYS_VERSION}}, upsert=True)


# --- HTTP ---------------------------------------------------------------------------------------


class ExtraDates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dates: list[date] = Field(max_length=366)
    reason: str | None = Field(default=None, max_length=500)

    @field_validator("dates")
    @classmethod
    def _within_calendar(cls, dates: list[date]) -> list[date]:
        # The working-day calendar is kept for 1900–2100 (the calendar API's bounds too).
        if any(not date(1900, 1, 1) <= d <= date(2100, 12, 31) for d in dates):
            raise ValueError("tanggal harus antara tahun 1900 dan 2100")
        return dates


def _pemda(request: web.Request) -> str:
    code = request.match_info["pemda"]
    region = lookup(code)
    if region is None or region.level > 2:
        raise ProblemError(404, f"pemda {code!r} tidak dikenal")
    return code


def _infra(request: web.Request) -> Infra:
    infra = request.app.get(INFRA)
    if infra is None:
        raise ProblemError(503, "layanan belum siap", headers={"Retry-After": "5"})
    return infra


async def put_extra_dates(request: web.Request) -> web.Response:
    staff = await require_staff(request, "admin")
    pemda = _pemda(request)
    body = await read_json(request, ExtraDates)
    infra = _infra(request)
    revision, result = await set_extra_dates(
        infra.db, infra.publish, request.app[RULES], pemda, body.dates, who=staff, reason=body.reason
    )
    return json_response(
        {
            "pemda": pemda,
            "extra_dates": [d.isoformat() for d in sorted(set(body.dates))],
            "revision": revision,
            "holidays_version": HOLIDAYS_VERSION,
            "recomputed": {
                "complaints": result.complaints,
                "corrected": result.corrected,
                "announced": result.announced,
            },
        }
    )


async def get_extra_dates(request: web.Request) -> web.Response:
    await require_staff(request)
    pemda = _pemda(request)
    doc = await _infra(request).db[CALENDARS].find_one({"_id": pemda}) or {}
    return json_response(
        {
            "pemda": pemda,
            "extra_dates": doc.get("extra_dates", []),
            "revision": doc.get("revision", 0),
            "holidays_version": HOLIDAYS_VERSION,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_put("/api/v1/admin/calendar/{pemda}/extra-dates", put_extra_dates)
    app.router.add_get("/api/v1/admin/calendar/{pemda}/extra-dates", get_extra_dates)


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/admin/calendar/{pemda}/extra-dates": {
        "put": {
            "summary": "Ganti tanggal libur tambahan pemda (admin); menghitung ulang jam SLA",
            "security": [{"bearer": []}],
            "parameters": [{"name": "pemda", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {
                "content": {"application/json": {"schema": ExtraDates.model_json_schema()}},
            },
            "responses": {
                "200": {"description": "disimpan dan dihitung ulang"},
                "401": {"$ref": "#/components/responses/Problem"},
                "403": {"$ref": "#/components/responses/Problem"},
                "404": {"$ref": "#/components/responses/Problem"},
                "422": {"$ref": "#/components/responses/Problem"},
            },
        },
        "get": {
            "summary": "Tanggal libur tambahan pemda",
            "security": [{"bearer": []}],
            "parameters": [{"name": "pemda", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "ok"}, "404": {"$ref": "#/components/responses/Problem"}},
        },
    }
}


# --- CLI ------------------------------------------------------------------------------------------


async def _main(args: argparse.Namespace) -> None:
    from services.sla.settings import SlaSettings
    from shared.runtime import open_infra

    settings = SlaSettings()
    async with open_infra(
        kafka_bootstrap=settings.kafka_bootstrap, mongo_uri=settings.mongo_uri, db_name=settings.mongo_db
    ) as infra:
        rules = SlaRules()
        await rules.refresh(infra.db)
        if args.command == "holidays":
            result = await recompute_holidays(infra.db, infra.publish, rules)
        else:
            doc = await infra.db[CALENDARS].find_one({"_id": args.pemda}) or {}
            result = await recompute_pemda(
                infra.db, infra.publish, rules, args.pemda, int(doc.get("revision", 1))
            )
        print(result)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m services.sla.recompute", description="Recompute SLA clocks after a calendar change."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("holidays", help="rebuild every complaint computed with another pinned holidays version")
    one = sub.add_parser("pemda", help="rebuild the complaints a pemda's calendar governs")
    one.add_argument("pemda")
    clock.install_from_environment()
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
