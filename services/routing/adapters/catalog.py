"""The OPD catalog (the `Catalog` of ports.py): the OPDs, the pemdas' rule overrides and the
audit of their changes. Every pemda (38 provinces, 514 kab/kota) gets the standard OPD set of
DESIGN §4, stored in routing's database with the pemda list itself. Loaded by `make run`
(`python -m services.routing.adapters.catalog`); idempotent, versioned.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters.store import ensure_indexes
from services.routing.settings import RoutingSettings
from shared import clock, outbox
from shared.envelope import new_event
from shared.events import CatalogChanged, OpdEntry
from shared.kafka import Outgoing
from shared.mongo import mongo_client, transaction
from shared.regions import all_pemda, lookup
from shared.topics import CATALOG_CHANGES

CATALOG_VERSION = 1
# The per-pemda rule overrides are re-read at most this often (a read per batch cost a database
# round trip on every submission batch). A change through this process's admin API is seen at
# once; another routing process sees it within this many seconds.
RULES_TTL_SECONDS = 1.0

STANDARD_OPDS: dict[str, str] = {
    "dinas-pupr": "Dinas Pekerjaan Umum dan Penataan Ruang",
    "dinas-perhubungan": "Dinas Perhubungan",
    "dlh": "Dinas Lingkungan Hidup",
    "dinas-kesehatan": "Dinas Kesehatan",
    "dinas-pendidikan": "Dinas Pendidikan",
    "disdukcapil": "Dinas Kependudukan dan Pencatatan Sipil",
    "dpmptsp": "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
    "satpol-pp": "Satuan Polisi Pamong Praja",
    "bapenda": "Badan Pendapatan Daerah",
    "perumda-air-minum": "Perusahaan Umum Daerah Air Minum",
    "dinas-sosial": "Dinas Sosial",
    "disnaker": "Dinas Tenaga Kerja",
    "inspektorat": "Inspektorat Daerah",
    "admin-koordinator": "Admin Koordinator Pengaduan",
}


def catalog_operations(now: datetime) -> tuple[list[UpdateOne], list[UpdateOne]]:
    pemda_ops: list[UpdateOne] = []
    opd_ops: list[UpdateOne] = []
    for pemda in all_pemda():
        pemda_ops.append(
            UpdateOne(
                {"_id": pemda.code},
                {"$set": {"name": pemda.name, "level": pemda.level, "path": pemda.path}},
                upsert=True,
            )
        )
        for slug, name in STANDARD_OPDS.items():
            opd_id = f"{pemda.code}/{slug}"
            opd_ops.append(
                UpdateOne(
                    {"_id": opd_id},
                    # Standard entries never overwrite a pemda's own renaming (`overridden`).
                    {
                        "$setOnInsert": {"pemda": pemda.code, "slug": slug, "name": f"{name} {pemda.name}"},
                        "$max": {"catalog_version": CATALOG_VERSION},
                        "$set": {"updated_at": now},
                    },
                    upsert=True,
                )
            )
    return pemda_ops, opd_ops


async def load_catalog(db: AsyncDatabase[dict[str, Any]], chunk: int = 500) -> dict[str, int]:
    await ensure_indexes(db)
    pemda_ops, opd_ops = catalog_operations(clock.now())
    for collection, ops in (("pemda", pemda_ops), ("opds", opd_ops)):
        for start in range(0, len(ops), chunk):
            await db[collection].bulk_write(ops[start : start + chunk], ordered=False)
    # Every pemda's names are announced once (a pemda already announced keeps its revision).
    async for doc in db["pemda"].find({"catalog_revision": {"$exists": False}}, {"_id": 1}):
        await stage_announcement(db, doc["_id"])
    return {"pemda": len(pemda_ops), "opds": len(opd_ops)}


WRITE_TIMEOUT_S = 10.0


async def stage_announcement(
    db: AsyncDatabase[dict[str, Any]], pemda: str, session: AsyncClientSession | None = None
) -> None:
    """Stage the pemda's whole catalog as a `CatalogChanged` in its `pemda` document's outbox
    (shared/outbox.py; the catalog relay publishes it). A later change replaces a staged one not
    yet published: each carries the whole list, so only the latest matters."""
    doc = await db["pemda"].find_one(
        {"_id": pemda}, {"catalog_revision": 1, "outbox_since": 1}, session=session
    )
    region = lookup(pemda)
    found = db["opds"].find({"pemda": pemda}, {"name": 1}, session=session).sort("_id", ASCENDING)
    opds = [OpdEntry(opd_id=o["_id"], name=o.get("name") or o["_id"]) async for o in found]
    # Milliseconds of wall time (or one more than the last, if the clock stepped back): a restored
    # backup's or a rebuilt database's next announcement is still newer than any on the topic.
    revision = max(int((doc or {}).get("catalog_revision", 0)) + 1, int(clock.wall().timestamp() * 1000))
    payload = CatalogChanged(
        pemda=pemda, pemda_name=region.name if region else pemda, revision=revision, opds=opds
    )
    event = new_event(payload, producer="routing", complaint_id=None)
    staged: dict[str, Any] = {}
    outbox.stage(
        staged, [Outgoing(CATALOG_CHANGES, pemda, event.to_bytes())], after=(doc or {}).get("outbox_since")
    )
    await db["pemda"].update_one(
        {"_id": pemda}, {"$set": {**staged, "catalog_revision": revision}}, upsert=True, session=session
    )


async def run_catalog_relay(db: AsyncDatabase[dict[str, Any]], publish: outbox.Publish) -> None:
    """Background: publish the staged catalog announcements (shared/outbox.py's relay)."""
    await outbox.run_relay(db["pemda"], publish, older_than=timedelta(0), every=1.0)


class MongoCatalog:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._rules: dict[tuple[str, str], str] | None = None
        self._rules_read_at = 0.0

    async def overrides(self, pemdas: Sequence[str]) -> dict[tuple[str, str], str]:
        """Per-pemda rule overrides (a few per pemda at most, all held in memory), re-read when
        older than `RULES_TTL_SECONDS`: a change takes effect without a restart."""
        if self._rules is None or time.monotonic() - self._rules_read_at > RULES_TTL_SECONDS:
            read_at = time.monotonic()
            found = self._db["rules"].find({}, {"pemda": 1, "category": 1, "opd_slug": 1})
            self._rules = {(r["pemda"], r["category"]): r["opd_slug"] async for r in found}
            self._rules_read_at = read_at
        wanted = set(pemdas)
        return {key: slug for key, slug in self._rules.items() if key[0] in wanted}

    async def opds_of(self, pemdas: Sequence[str]) -> list[dict[str, Any]]:
        # An OPD's id starts with its pemda and "/" ("0" sorts right after "/"): a range of the
        # `_id` index per pemda, no other index needed.
        ranges = [{"_id": {"$gte": f"{p}/", "$lt": f"{p}0"}} for p in pemdas]
        if not ranges:
            return []
        fields = {"pemda": 1, "slug": 1, "name": 1}
        found = self._db["opds"].find({"$or": ranges}, fields).sort("_id", ASCENDING)
        return [d async for d in found]

    async def rules_of(self, pemda: str) -> list[dict[str, Any]]:
        found = self._db["rules"].find({"pemda": pemda}, {"_id": 0}).sort("category", ASCENDING)
        return [d async for d in found]

    def forget_rules(self) -> None:
        """The rules changed (admin API): the next batch reads them again."""
        self._rules = None

    async def opd_exists(self, opd_id: str) -> bool:
        return await self._db["opds"].find_one({"_id": opd_id}, {"_id": 1}) is not None

    async def put_rule(
        self, pemda: str, category: str, opd_slug: str, note: str | None, by: str, *, session: Any = None
    ) -> None:
        await self._db["rules"].update_one(
            {"pemda": pemda, "category": category},
            {"$set": {"opd_slug": opd_slug, "note": note, "by": by, "at": clock.now()}},
            upsert=True,
            session=session,
        )
        self.forget_rules()

    async def delete_rule(self, pemda: str, category: str) -> bool:
        result = await self._db["rules"].delete_one({"pemda": pemda, "category": category})
        self.forget_rules()
        return result.deleted_count > 0

    async def put_opd(self, pemda: str, slug: str, name: str) -> None:
        """Rename a standard OPD or add a pemda's own (`overridden`: the loader never overwrites it),
        and announce the pemda's catalog on `catalog.changes` (staged in the same transaction)."""

        async def write(session: AsyncClientSession) -> None:
            await self._db["opds"].update_one(
                {"_id": f"{pemda}/{slug}"},
                {"$set": {"pemda": pemda, "slug": slug, "name": name, "overridden": True}},
                upsert=True,
                session=session,
            )
            await stage_announcement(self._db, pemda, session)

        await transaction(self._db.client, write, timeout=WRITE_TIMEOUT_S)

    async def audit(
        self, what: str, by: str, role: str, data: dict[str, Any], *, session: Any = None
    ) -> None:
        await self._db["audit"].insert_one(
            {"what": what, "by": by, "role": role, "at": clock.now(), "data": data}, session=session
        )


async def _main() -> None:
    settings = RoutingSettings()
    client = mongo_client(settings.mongo_uri)
    try:
        counts = await load_catalog(client[settings.mongo_db])
        logging.getLogger(__name__).info("catalog loaded: %s", counts)
        print(f"catalog v{CATALOG_VERSION}: {counts['pemda']} pemda, {counts['opds']} OPDs")
    finally:
        await client.close()


if __name__ == "__main__":
    clock.install_from_environment()
    asyncio.run(_main())
