"""The OPD catalog: every pemda (38 provinces, 514 kab/kota) gets the standard OPD set of
DESIGN §4, stored in routing's database with the pemda list itself. Loaded by `make run`
(`python -m services.routing.catalog`); idempotent, versioned.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters import ensure_indexes
from services.routing.settings import RoutingSettings
from shared import clock
from shared.mongo import mongo_client
from shared.regions import all_pemda

CATALOG_VERSION = 1

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
    return {"pemda": len(pemda_ops), "opds": len(opd_ops)}


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
