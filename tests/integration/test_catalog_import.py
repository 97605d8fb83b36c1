"""`pengaduan catalog import` against the real database: a pemda's OPDs and category rules land
in routing's catalog (the overrides routing decides with), audited; a dry run or a file with a
mistake writes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from devtools import ops
from devtools.infra import Endpoints
from services.routing.adapters.catalog import MongoCatalog

pytestmark = pytest.mark.integration

GOOD = (
    "pemda;kode;nama;kategori\n"
    '33.74;dinas-pupr;Dinas Pekerjaan Umum Kota Semarang;"jalan-jembatan;penerangan-jalan"\n'
    "33.74;unit-layanan-air;Unit Layanan Air Bersih Kota Semarang;air-minum\n"
)


async def _catalog(
    uri: str, db: str
) -> tuple[dict[tuple[str, str], str], list[dict[str, Any]], list[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        rules = await MongoCatalog(client[db]).overrides(["33.74"])
        opds = await client[db]["opds"].find({"pemda": "33.74"}).sort("_id", 1).to_list()
        audit = await client[db]["audit"].find({"what": "catalog.import"}).to_list()
        return rules, opds, audit
    finally:
        await client.close()


def test_an_import_writes_the_opds_and_rules_routing_reads_and_audits_it(
    endpoints: Endpoints,
    db_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"{db_prefix}routing"
    monkeypatch.setenv("MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("ROUTING_MONGO_DB", db)
    good, bad = tmp_path / "opd.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    bad.write_text(GOOD + "33.74;dinas-lain;Dinas Lain;air-minum\n")

    assert ops.main(["catalog", "import", str(good), "--dry-run"]) == 0
    assert "2 OPD(s) and 3 rule(s) of 1 pemda (dry run" in capsys.readouterr().out
    assert ops.main(["catalog", "import", str(bad)]) == 1
    assert "kategori air-minum given to both unit-layanan-air and dinas-lain" in capsys.readouterr().err
    assert asyncio.run(_catalog(endpoints.mongo_uri, db)) == ({}, [], [])  # neither wrote anything

    assert ops.main(["catalog", "import", str(good), "--by", "op-7"]) == 0
    rules, opds, audit = asyncio.run(_catalog(endpoints.mongo_uri, db))
    assert rules == {
        ("33.74", "jalan-jembatan"): "dinas-pupr",
        ("33.74", "penerangan-jalan"): "dinas-pupr",
        ("33.74", "air-minum"): "unit-layanan-air",
    }
    assert [(o["_id"], o["name"], o["overridden"]) for o in opds] == [
        ("33.74/dinas-pupr", "Dinas Pekerjaan Umum Kota Semarang", True),
        ("33.74/unit-layanan-air", "Unit Layanan Air Bersih Kota Semarang", True),
    ]
    [entry] = audit
    assert (entry["by"], entry["data"]["opds"], entry["data"]["rules"]) == ("op-7", 2, 3)
