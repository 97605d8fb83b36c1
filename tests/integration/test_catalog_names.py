"""Names, not slugs (issue 21 item 5), through the real path: a coordinator renames an OPD in
routing's catalog; routing stages the pemda's whole catalog with the write and its relay puts it on
`catalog.changes`; sla's report consumer keeps the names, and its CSV export (what a person opens
in a spreadsheet) and JSON show the new name, never reading routing's database. A second rename
wins over the first."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ulid import ULID

from devtools.infra import Endpoints
from shared.auth import mint
from tests.service_apps import Apps, Seeded, running_apps, seed_complaint
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PEMDA, SLUG = "33.74", "dinas-pupr"
OPD = f"{PEMDA}/{SLUG}"
COORDINATOR = {"Authorization": f"Bearer {mint('coordinator', pemda=PEMDA, sub='koord-semarang')}"}
SUPERVISOR = {"Authorization": f"Bearer {mint('supervisor', pemda=PEMDA, sub='pengawas-semarang')}"}


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints) -> AsyncIterator[tuple[Apps, Seeded]]:
    async with running_apps(endpoints) as apps:
        seeded = await seed_complaint(
            apps, endpoints.kafka_bootstrap, category="jalan-jembatan", region_code="33.74.01.1001"
        )
        assert seeded.opd_id == OPD
        yield apps, seeded


async def _csv_row(apps: Apps) -> dict[str, str] | None:
    response = await apps.sla.get(
        "/api/v1/supervisor/compliance", params={"pemda": PEMDA, "format": "csv"}, headers=SUPERVISOR
    )
    assert response.status == 200, await response.text()
    rows = csv.DictReader(io.StringIO((await response.text()).lstrip("\ufeff")))
    return next((row for row in rows if row["OPD/Pemda"] == OPD), None)


async def _renamed(apps: Apps, name: str) -> None:
    response = await apps.routing.put(
        f"/api/v1/admin/opds/{PEMDA}/{SLUG}", json={"name": name}, headers=COORDINATOR
    )
    assert response.status == 200, await response.text()

    async def shown() -> bool:
        row = await _csv_row(apps)
        return row is not None and row["Nama OPD"] == name

    await eventually(shown, within=60, what=f"sla's CSV to show {name!r}")


async def test_a_rename_in_routing_shows_in_slas_csv_and_json(world: tuple[Apps, Seeded]) -> None:
    apps, _ = world
    first = f"Dinas Pekerjaan Umum Kota Semarang {ULID()}"
    await _renamed(apps, first)
    second = f"Dinas PU dan Penataan Ruang Kota Semarang {ULID()}"
    await _renamed(apps, second)  # the later announcement replaces the earlier one
    response = await apps.sla.get(
        "/api/v1/supervisor/compliance", params={"pemda": PEMDA}, headers=SUPERVISOR
    )
    rows = {row["scope"]: row for row in (await response.json())["items"]}
    assert rows[OPD]["opd_name"] == second and rows[OPD]["pemda_name"]
    # Routing's staged announcement was published and its outbox cleared (the relay marks it by a
    # write of its own after the publish sla has already read).

    async def cleared() -> dict[str, Any] | None:
        pemda = await apps.routing_db["pemda"].find_one({"_id": PEMDA})
        return pemda if pemda is not None and pemda["outbox"] == [] else None

    pemda = await eventually(cleared, within=30, what="routing's catalog outbox cleared")
    assert pemda["catalog_revision"] > 0


async def test_a_new_opd_s_code_is_checked_by_the_api_as_by_the_page(world: tuple[Apps, Seeded]) -> None:
    apps, _ = world
    for slug in ("Dinas-Baru", "dinas%20baru", "d", "dinas_baru", "x" * 61):
        response = await apps.routing.put(
            f"/api/v1/admin/opds/{PEMDA}/{slug}", json={"name": "Dinas Baru"}, headers=COORDINATOR
        )
        assert response.status == 422, (slug, await response.text())
        assert (await response.json())["errors"][0]["field"] == "slug"
    assert await apps.routing_db["opds"].find_one({"name": "Dinas Baru"}) is None
