"""The coordinator pages (issue 21 item 3) and intake's reporter-identity page, against the three
real apps (tests/service_apps.py: the real Kafka and database the fixtures start), as a browser
would use them (a cookie jar, the forms' fields): triage with the classifier's guess, a one-step
disposition that reaches intake, archive and privacy refusals in Indonesian, the OPD catalog and
rules, and the identity reveal that only a same-site form with its token can make (audited)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from devtools.infra import Endpoints
from services.routing.adapters.catalog import load_catalog
from services.routing.domain.staff import Account
from services.routing.entrypoints.edge import ROUTING
from services.routing.entrypoints.staff_pages import DIRECTORY, PAGE_SETTINGS
from services.routing.handlers import handle_routing_batch
from shared.auth import mint
from shared.envelope import Envelope
from shared.topics import COMPLAINTS_SUBMITTED
from tests.service_apps import Apps, running_apps
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PEMDA = "33.74"
DESA = "33.74.01.1001"
PASSWORD = "kata-sandi-yang-cukup-panjang"
# Below the classifier's threshold, its best guess a routable category (jalan-jembatan): triage.
AMBIGUOUS = "Ada masalah jalan dan taman di lingkungan kami yang perlu ditangani."


@dataclass(frozen=True)
class World:
    apps: Apps
    routing: str
    intake: str


def _base(client: Any) -> str:
    return str(client.make_url("")).rstrip("/")


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints) -> AsyncIterator[World]:
    async with running_apps(endpoints) as apps:
        await load_catalog(apps.routing_db)  # the OPDs and their names, as `make prepare` loads them
        directory = apps.routing.server.app[DIRECTORY]
        for account in (
            Account("koor-smg", "Koordinator Semarang", "coordinator", PEMDA, None),
            Account("koor-skt", "Koordinator Surakarta", "coordinator", "33.72", None),
            Account("petugas-pupr", "Petugas PUPR", "handler", PEMDA, f"{PEMDA}/dinas-pupr"),
        ):
            await directory.create(account, PASSWORD, "test")
        # The test's intake listens on a port of its own: the pages link there.
        apps.routing.server.app[PAGE_SETTINGS].staff_intake_url = _base(apps.intake)
        yield World(apps, _base(apps.routing), _base(apps.intake))


async def triaged(world: World, bootstrap: str, **fields: Any) -> str:
    """A complaint submitted to intake and routed (routing's consumer step, called here) to triage."""
    body = {
        "title": "Keluhan warga",
        "description": AMBIGUOUS,
        "region_code": DESA,
        "reporter": {"name": "Sari"},
    }
    response = await world.apps.intake.post("/api/v1/complaints", json={**body, **fields})
    assert response.status == 202, await response.text()
    complaint_id: str = (await response.json())["id"]

    async def submitted() -> list[Envelope]:
        return await messages_for(bootstrap, COMPLAINTS_SUBMITTED, complaint_id)

    envelopes = await eventually(submitted, what=f"{complaint_id} on {COMPLAINTS_SUBMITTED}")
    assert not await handle_routing_batch(envelopes, world.apps.routing.server.app[ROUTING])
    doc = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id})
    assert doc is not None and doc["state"] == "triage", doc
    return complaint_id


class Person:
    """A browser: one cookie jar (cookies of 127.0.0.1 reach every port, as in a browser)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def sign_in(self, username: str) -> None:
        page = await self.get(f"{self.world.routing}/staff/masuk")
        form = {"csrf": _field(page, "csrf"), "next": "/staff/", "username": username, "password": PASSWORD}
        async with self.http.post(f"{self.world.routing}/staff/masuk", data=form, allow_redirects=False) as r:
            assert r.status == 302, await r.text()

    async def get(self, url: str, status: int = 200) -> str:
        async with self.http.get(url, allow_redirects=False) as r:
            text = await r.text()
            assert r.status == status, (r.status, text[:500])
            return text

    async def post(self, url: str, form: dict[str, str], status: int = 200, **headers: str) -> str:
        async with self.http.post(url, data=form, headers=headers, allow_redirects=False) as r:
            text = await r.text()
            assert r.status == status, (r.status, text[:800])
            return text


def _field(page: str, name: str, form_id: str | None = None) -> str:
    if form_id is not None:
        page = page[page.index(f'id="{form_id}"') :]
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no field {name}"
    return html.unescape(found.group(1))


def _selected(page: str, name: str, row_of: str) -> str:
    """The preselected option of select `name` in the row of complaint `row_of`."""
    row = page[page.index(f'data-id="{row_of}"') :]
    select = row[row.index(f'name="{name}"') :]
    found = re.search(r'<option value="([^"]*)" selected>', select[: select.index("</select>")])
    assert found, f"nothing selected in {name}"
    return found.group(1)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
async def coordinator(world: World) -> AsyncIterator[Person]:
    person = Person(world)
    await person.sign_in("koor-smg")
    yield person
    await person.http.close()


async def test_the_triage_queue_shows_the_guess_and_disposes_in_one_step(
    world: World, endpoints: Endpoints, coordinator: Person
) -> None:
    complaint_id = await triaged(world, endpoints.kafka_bootstrap)
    page = await coordinator.get(f"{world.routing}/staff/triase")
    text = _text(page)
    assert complaint_id in page and "Jalan dan Jembatan" in text and "keyakinan 39%" in text
    row = _text(page[page.index(f'data-id="{complaint_id}"') :])
    assert row.split("Jalan dan Jembatan")[0].count("Klasifikasi otomatis kurang yakin") == 1  # why
    stored = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id})
    assert stored is not None and stored["triage"]["rule"] == "uncategorised:below-threshold"
    # The guess preselected: its category, and the OPD the table (and the pemda's rules) give it.
    assert _selected(page, "category", complaint_id) == "jalan-jembatan"
    assert _selected(page, "opd_id", complaint_id) == f"{PEMDA}/dinas-pupr"
    assert "Dinas Pekerjaan Umum" in text  # names, not slugs
    form = {"csrf": _field(page, "csrf"), "kembali": "antrean", "category": "jalan-jembatan"}
    done = await coordinator.post(
        f"{world.routing}/staff/triase/{complaint_id}/disposisi", {**form, "opd_id": f"{PEMDA}/dinas-pupr"}
    )
    assert f"Pengaduan {complaint_id} didisposisikan ke Dinas Pekerjaan Umum" in _text(done)
    assert f'data-id="{complaint_id}"' not in done  # out of the queue
    doc = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id})
    assert doc is not None and doc["state"] == "assigned" and doc["opd_id"] == f"{PEMDA}/dinas-pupr"
    assert doc["triage"] is None  # disposed: no longer waiting, for any reason

    async def in_intake() -> bool:  # the assignment reached intake over Kafka
        found = await world.apps.intake_db["complaints"].find_one({"_id": complaint_id})
        return bool(found and found.get("opd_id") == f"{PEMDA}/dinas-pupr")

    await eventually(in_intake, within=120, what="the disposition in intake")
    # Again (a second tab): refused in Indonesian, nothing changes.
    again = await coordinator.post(
        f"{world.routing}/staff/triase/{complaint_id}/disposisi",
        {**form, "opd_id": f"{PEMDA}/dinas-pupr"},
        status=409,
    )
    assert "Tindakan ditolak" in _text(again)


async def test_the_page_says_when_no_opd_could_be_chosen_for_a_province_only_region(
    world: World, endpoints: Endpoints
) -> None:
    province = Account("koor-jateng", "Koordinator Jawa Tengah", "coordinator", "33", None)
    await world.apps.routing.server.app[DIRECTORY].create(province, PASSWORD, "test")
    # A kab/kota category, the region only a province: no kab/kota, so no OPD to route to.
    complaint_id = await triaged(
        world, endpoints.kafka_bootstrap, category="jalan-jembatan", region_code="33"
    )
    person = Person(world)
    try:
        await person.sign_in(province.id)
        page = await person.get(f"{world.routing}/staff/triase")
        row = _text(page[page.index(f'data-id="{complaint_id}"') :]).split("Disposisikan")[0]
        assert "wilayahnya hanya sampai provinsi" in row
        one = _text(await person.get(f"{world.routing}/staff/triase/{complaint_id}"))
        assert "Alasan triase" in one and "tidak ada OPD yang dapat dipilih otomatis" in one
    finally:
        await person.http.close()


async def test_refusals_are_explained_and_nothing_changes(
    world: World, endpoints: Endpoints, coordinator: Person
) -> None:
    complaint_id = await triaged(world, endpoints.kafka_bootstrap)
    url = f"{world.routing}/staff/triase/{complaint_id}"
    page = await coordinator.get(url)
    csrf = _field(page, "csrf")
    # Another pemda's OPD (the same validation as the API's).
    wrong = await coordinator.post(
        f"{url}/disposisi",
        {"csrf": csrf, "category": "jalan-jembatan", "opd_id": "33.71/dinas-pupr"},
        status=422,
    )
    assert "OPD tujuan: OPD harus milik pemda wilayah pengaduan" in _text(wrong)
    unpicked = await coordinator.post(
        f"{url}/disposisi", {"csrf": csrf, "category": "jalan-jembatan"}, status=422
    )
    assert "OPD tujuan: pilih OPD tujuan" in _text(unpicked)
    short = await coordinator.post(f"{url}/arsip", {"csrf": csrf, "reason": "spam"}, status=422)
    assert "Alasan: terlalu pendek (minimal 5 karakter)" in _text(short)
    # Privacy: tightened, then loosening refused.
    tightened = await coordinator.post(f"{url}/privasi", {"csrf": csrf, "confidential": "ya"})
    assert "Status privasi disimpan" in _text(tightened)
    loosened = await coordinator.post(f"{url}/privasi", {"csrf": csrf}, status=409)
    assert "tidak boleh dilonggarkan" in _text(loosened)
    # A form without its token: refused, nothing written.
    forged = await coordinator.post(
        f"{url}/arsip", {"csrf": "palsu", "reason": "alasan yang cukup"}, status=403
    )
    assert "Permintaan ditolak" in _text(forged)
    doc = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id})
    assert doc is not None and doc["state"] == "triage" and doc["confidential"] is True
    archived = await coordinator.post(
        f"{url}/arsip", {"csrf": csrf, "reason": "Pengaduan ganda, sudah ditangani"}
    )
    assert f"Pengaduan {complaint_id} diarsipkan" in _text(archived)
    doc = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id})
    assert doc is not None and doc["state"] == "archived"


async def test_only_the_pemdas_coordinator_may_use_the_pages(world: World, endpoints: Endpoints) -> None:
    complaint_id = await triaged(world, endpoints.kafka_bootstrap)
    handler = Person(world)
    await handler.sign_in("petugas-pupr")
    for path in ("/staff/triase", f"/staff/triase/{complaint_id}", "/staff/katalog"):
        assert "Bukan wewenang Anda" in _text(await handler.get(f"{world.routing}{path}", status=403))
    # Every form too, with the handler's own session token: refused, nothing written.
    csrf = _field(await handler.get(f"{world.routing}/staff/"), "csrf")
    forms = {
        f"/staff/triase/{complaint_id}/disposisi": {
            "category": "jalan-jembatan",
            "opd_id": f"{PEMDA}/dinas-pupr",
        },
        f"/staff/triase/{complaint_id}/arsip": {"reason": "bukan pengaduan"},
        f"/staff/triase/{complaint_id}/privasi": {"confidential": "ya"},
        "/staff/katalog/opd": {"slug": "dinas-pupr", "name": "Dinas Diganti"},
        "/staff/katalog/aturan": {"category": "jalan-jembatan", "opd_slug": "dlh"},
        "/staff/katalog/aturan/jalan-jembatan/hapus": {},
    }
    for path, form in forms.items():
        answer = await handler.post(f"{world.routing}{path}", {"csrf": csrf, **form}, status=403)
        assert "Bukan wewenang Anda" in _text(answer), path
    await handler.http.close()
    other = Person(world)
    await other.sign_in("koor-skt")
    refused = await other.get(f"{world.routing}/staff/triase/{complaint_id}", status=403)
    assert "di luar kewenangan Anda" in _text(refused)
    csrf = _field(await other.get(f"{world.routing}/staff/triase"), "csrf")
    dispose = {"csrf": csrf, "category": "jalan-jembatan", "opd_id": f"{PEMDA}/dinas-pupr"}
    await other.post(f"{world.routing}/staff/triase/{complaint_id}/disposisi", dispose, status=403)
    doc = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id})
    assert doc is not None and doc["state"] == "triage" and not doc.get("confidential")
    assert (
        await world.apps.routing_db["rules"].count_documents({"pemda": PEMDA, "category": "jalan-jembatan"})
        == 0
    )
    assert complaint_id not in await other.get(f"{world.routing}/staff/triase")
    await other.http.close()
    nobody = Person(world)
    await nobody.get(f"{world.routing}/staff/triase", status=302)  # to the sign-in page
    await nobody.http.close()


async def test_hostile_addresses_are_explained_pages_not_errors(world: World, coordinator: Person) -> None:
    triase = f"{world.routing}/staff/triase"
    assert "Alamat halaman: kursor tidak valid" in _text(
        await coordinator.get(f"{triase}?cursor=bukan-kursor", status=422)
    )
    assert "status tidak dikenal" in _text(await coordinator.get(f"{triase}?status={'x' * 500}", status=422))
    assert "Pengaduan ini tidak ada" in _text(await coordinator.get(f"{triase}/TIDAK-ADA", status=404))
    csrf = _field(await coordinator.get(triase), "csrf")
    long_name = {"csrf": csrf, "slug": "dinas-baru", "name": "x" * 5000}
    answer = await coordinator.post(f"{world.routing}/staff/katalog/opd", long_name, status=422)
    assert "Nama OPD: terlalu panjang (maksimal 200 karakter)" in _text(answer)
    unknown = {"csrf": csrf, "category": "tidak-ada", "opd_slug": "dinas-pupr"}
    answer = await coordinator.post(f"{world.routing}/staff/katalog/aturan", unknown, status=422)
    assert "Kategori: kategori tidak dikenal" in _text(answer)


async def test_the_catalog_names_opds_and_sets_rules(world: World, coordinator: Person) -> None:
    url = f"{world.routing}/staff/katalog"
    page = await coordinator.get(url)
    csrf = _field(page, "csrf")
    assert "Dinas Pekerjaan Umum" in _text(page)
    bad = await coordinator.post(
        f"{url}/opd", {"csrf": csrf, "slug": "Dinas Baru!", "name": "Dinas Baru"}, status=422
    )
    assert "Kode OPD: huruf kecil" in _text(bad)
    added = await coordinator.post(
        f"{url}/opd", {"csrf": csrf, "slug": "dinas-taman", "name": "Dinas Pertamanan"}
    )
    assert f"OPD Dinas Pertamanan ({PEMDA}/dinas-taman) disimpan" in _text(added)
    unknown = await coordinator.post(
        f"{url}/aturan", {"csrf": csrf, "category": "jalan-jembatan", "opd_slug": "tidak-ada"}, status=422
    )
    assert f"OPD: OPD {PEMDA}/tidak-ada tidak ada" in _text(unknown)
    ruled = await coordinator.post(
        f"{url}/aturan",
        {"csrf": csrf, "category": "penerangan-jalan", "opd_slug": "dinas-taman", "note": "uji"},
    )
    assert 'data-category="penerangan-jalan"' in ruled and "Dinas Pertamanan" in _text(ruled)
    rule = await world.apps.routing_db["rules"].find_one({"pemda": PEMDA, "category": "penerangan-jalan"})
    assert rule is not None and rule["opd_slug"] == "dinas-taman" and rule["by"] == "koor-smg"
    audit = await world.apps.routing_db["audit"].find_one({"what": "rule.put", "by": "koor-smg"})
    assert audit is not None
    removed = await coordinator.post(f"{url}/aturan/penerangan-jalan/hapus", {"csrf": csrf})
    assert "Aturan Penerangan" in _text(removed) and 'data-category="penerangan-jalan"' not in removed
    gone = await coordinator.post(f"{url}/aturan/penerangan-jalan/hapus", {"csrf": csrf}, status=404)
    assert "Aturan ini sudah tidak ada" in _text(gone)


async def disposed(world: World, coordinator: Person, complaint_id: str) -> None:
    """Disposed to dinas-pupr from the complaint's page, and known so in intake (over Kafka)."""
    page = await coordinator.get(f"{world.routing}/staff/triase/{complaint_id}")
    form = {"csrf": _field(page, "csrf"), "category": "jalan-jembatan", "opd_id": f"{PEMDA}/dinas-pupr"}
    await coordinator.post(f"{world.routing}/staff/triase/{complaint_id}/disposisi", form)

    async def in_intake() -> bool:
        found = await world.apps.intake_db["complaints"].find_one({"_id": complaint_id})
        return bool(found and found.get("opd_id") == f"{PEMDA}/dinas-pupr")

    await eventually(in_intake, within=120, what=f"{complaint_id} disposed, in intake")


async def _audit_count(world: World, complaint_id: str) -> int:
    return await world.apps.intake_db["identity_audit"].count_documents({"complaint_id": complaint_id})


async def test_identity_is_revealed_only_by_the_pages_form_and_audited(
    world: World, endpoints: Endpoints, coordinator: Person
) -> None:
    complaint_id = await triaged(world, endpoints.kafka_bootstrap, anonymous=True)
    triage_page = await coordinator.get(f"{world.routing}/staff/triase/{complaint_id}")
    assert "Sari" not in _text(triage_page)  # routing never holds identity
    assert f'{world.intake}/staff/pelapor/{complaint_id}"' in triage_page
    url = f"{world.intake}/staff/pelapor/{complaint_id}"
    page = await coordinator.get(url)  # the cookie routing's sign-in set: reading it writes nothing
    assert "Sari" not in _text(page) and "Belum ada yang meminta" in _text(page)
    assert await _audit_count(world, complaint_id) == 0
    # What a page elsewhere could make the browser send: no token, a wrong one, another origin;
    # and the JSON endpoint with the cookie alone. None reveals, none is audited.
    csrf = _field(page, "csrf")
    await coordinator.post(url, {}, status=403)
    await coordinator.post(url, {"csrf": "x" * 40}, status=403)
    await coordinator.post(url, {"csrf": csrf}, status=403, Origin="https://jahat.example")
    await coordinator.post(url, {"csrf": csrf}, status=403, **{"Sec-Fetch-Site": "same-site"})
    await coordinator.get(f"{world.intake}/api/v1/complaints/{complaint_id}/reporter", status=401)
    assert await _audit_count(world, complaint_id) == 0
    shown = await coordinator.post(url, {"csrf": csrf}, Origin=world.intake)
    text = _text(shown)
    assert "Sari" in text and "Koordinator Semarang (koor-smg)" in text and "dibuka" in text
    [entry] = await world.apps.intake_db["identity_audit"].find({"complaint_id": complaint_id}).to_list()
    assert entry["who"] == "koor-smg" and entry["who_name"] == "Koordinator Semarang" and entry["allowed"]
    # Before it is theirs, the OPD's handler is told nothing of it (not even that it is anonymous).
    handler = Person(world)
    await handler.sign_in("petugas-pupr")
    unknown = _text(await handler.get(url, status=404))
    assert "tidak ada atau di luar kewenangan Anda" in unknown and "anonim" not in unknown
    # Disposed to the handler's OPD: still, an anonymous reporter is not theirs to see (refused,
    # audited), nor is the trail.
    await disposed(world, coordinator, complaint_id)
    theirs = await handler.get(url)
    assert "Jejak audit" not in theirs
    refused = await handler.post(url, {"csrf": _field(theirs, "csrf")}, status=403)
    assert "Sari" not in _text(refused) and "hanya dapat dibaca Admin Koordinator" in _text(refused)
    assert await _audit_count(world, complaint_id) == 2
    await handler.http.close()
    # A token minted for systems still reads it through the header (the API is unchanged).
    headers = {"Authorization": f"Bearer {mint('coordinator', pemda=PEMDA, sub='sistem')}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{world.intake}/api/v1/complaints/{complaint_id}/reporter", headers=headers) as r,
    ):
        assert r.status == 200 and (await r.json())["name"] == "Sari"
