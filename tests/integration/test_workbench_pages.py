"""The handler workbench (issue 21 item 2: services/routing/entrypoints/workbench_pages.py) over
HTTP against the real apps (tests/service_apps.py: the real Kafka and database), with complaints
submitted to intake and routed, and people signed in through the staff sign-in page.

Who sees what (the queue, the complaint, the forms), each action's effect, and each refusal as a
page in words: another OPD's handler, a pemda supervisor who may look but not act, a colleague
holding the lease, a transfer out of the complaint's reach, an empty message, a form without its
CSRF token. The browser's side (the script, polling, axe) is tests/e2e/test_workbench.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from devtools.infra import Endpoints
from services.routing.domain.staff import Account
from services.routing.entrypoints import workbench_pages
from services.routing.entrypoints.edge import ROUTING
from services.routing.entrypoints.staff_pages import DIRECTORY
from tests.attachment_files import png_with_text
from tests.service_apps import Apps, Seeded, running_apps, seed_complaint
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PUPR, DISDUKCAPIL = "33.74/dinas-pupr", "33.74/disdukcapil"
PASSWORD = "sandi-uji-meja-kerja"
PEOPLE = {
    "budi": Account(id="budi", name="Budi", role="handler", pemda="33.74", opd=PUPR),
    "ani": Account(id="ani", name="Ani", role="handler", pemda="33.74", opd=PUPR),
    "tono": Account(id="tono", name="Tono", role="handler", pemda="33.74", opd=DISDUKCAPIL),
    "sri": Account(id="sri", name="Sri", role="supervisor", pemda="33.74", opd=None),
    "koor": Account(id="koor", name="Koordinator", role="coordinator", pemda="33.74", opd=None),
}
SECRET_PHONE = "0812-7777-6666"


@dataclass
class World:
    apps: Apps
    base: str
    road: Seeded  # PUPR's, reporter named
    hidden: Seeded  # PUPR's, anonymous, a phone number in its text


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints) -> AsyncIterator[World]:
    async with running_apps(endpoints) as apps:
        directory = apps.routing.server.app[DIRECTORY]
        for account in PEOPLE.values():
            await directory.create(account, PASSWORD, "test")
        road = await seed_complaint(
            apps,
            endpoints.kafka_bootstrap,
            category="jalan-jembatan",
            region_code="33.74.01.1001",
            reporter={"name": "Sari Wulandari"},
        )
        hidden = await seed_complaint(
            apps,
            endpoints.kafka_bootstrap,
            category="jalan-jembatan",
            region_code="33.74.01.1001",
            anonymous=True,
            reporter={"name": "Joko Rahasia", "phone": SECRET_PHONE},
            description=f"Trotoar ambruk di depan rumah saya, hubungi {SECRET_PHONE} untuk lokasinya.",
        )
        yield World(apps, str(apps.routing.make_url("")).rstrip("/"), road, hidden)


@pytest.fixture
async def people(world: World) -> AsyncIterator[dict[str, aiohttp.ClientSession]]:
    """A signed-in session per person (a jar that keeps cookies of an IP address host)."""
    sessions = {}
    for username in PEOPLE:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.get(f"{world.base}/staff/masuk") as resp:
            found = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
            assert found
        form = {"username": username, "password": PASSWORD, "csrf": found.group(1)}
        async with http.post(f"{world.base}/staff/masuk", data=form, allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
        sessions[username] = http
    yield sessions
    for http in sessions.values():
        await http.close()


async def _page(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url, allow_redirects=False) as resp:
        return resp.status, await resp.text()


async def _timeline_shows(http: aiohttp.ClientSession, url: str, entry: str) -> str:
    """The complaint page once its timeline (the OPD feed, written after the event is published)
    shows `entry`."""

    async def shown() -> str | None:
        status, text = await _page(http, url)
        return text if status == 200 and entry in text else None

    return await eventually(shown, within=30, what=f"{entry!r} in the timeline")


async def _csrf(http: aiohttp.ClientSession, url: str) -> str:
    status, text = await _page(http, url)
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert status == 200 and found, (status, text[:300])
    return found.group(1)


async def _post(
    http: aiohttp.ClientSession, world: World, complaint_id: str, action: str, **fields: str
) -> tuple[int, str, str]:
    """A workbench form as the complaint page sends it: status, the page, where it sent us."""
    page = f"{world.base}/staff/pengaduan/{complaint_id}"
    csrf = await _csrf(http, page)
    async with http.post(f"{page}/{action}", data={"csrf": csrf, **fields}, allow_redirects=False) as resp:
        return resp.status, await resp.text(), resp.headers.get("Location", "")


async def _state(world: World, complaint_id: str) -> str:
    doc = await world.apps.routing_db["complaints"].find_one({"_id": complaint_id}, {"state": 1})
    assert doc is not None
    return str(doc["state"])


def _error(text: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', text)
    return found.group(1) if found else ""


async def test_the_queue_lists_the_opds_complaints_filters_and_pages(
    world: World, people: dict[str, aiohttp.ClientSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, text = await _page(people["budi"], f"{world.base}/staff/tugas")
    assert status == 200
    assert world.road.id in text and world.hidden.id in text
    assert (
        "script-src 'self'"
        in (await people["budi"].get(f"{world.base}/staff/tugas")).headers["Content-Security-Policy"]
    )
    _, text = await _page(people["budi"], f"{world.base}/staff/tugas?kategori=kependudukan")
    assert world.road.id not in text and "Tidak ada pengaduan untuk filter ini" in text
    _, text = await _page(people["budi"], f"{world.base}/staff/tugas?status=resolved")
    assert world.road.id not in text
    status, text = await _page(people["budi"], f"{world.base}/staff/tugas?kategori=bukan-kategori")
    assert status == 422 and "Filter tidak valid" in text

    # Paging: one complaint a page, the second through the page's own link.
    monkeypatch.setattr(workbench_pages, "PAGE_SIZE", 1)
    _, first = await _page(people["budi"], f"{world.base}/staff/tugas")
    found = re.search(r'href="([^"]+)" id="next-page"', first)
    assert found
    _, second = await _page(people["budi"], world.base + found.group(1).replace("&amp;", "&"))
    ids = {world.road.id, world.hidden.id}
    assert {i for i in ids if i in first} | {i for i in ids if i in second} == ids
    assert not {i for i in ids if i in first} & {i for i in ids if i in second}

    # The script's poll: the first page as JSON.
    async with people["budi"].get(f"{world.base}/staff/tugas/baru") as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        items: list[dict[str, Any]] = (await resp.json())["items"]
    assert len(items) == 1 and items[0]["id"] in ids and items[0]["href"].startswith("/staff/pengaduan/")

    # Another OPD's handler sees their own queue, whatever OPD they name; a pemda supervisor names one.
    _, text = await _page(people["tono"], f"{world.base}/staff/tugas?opd={PUPR}")
    assert world.road.id not in text and DISDUKCAPIL in text
    _, text = await _page(people["sri"], f"{world.base}/staff/tugas?opd={PUPR}")
    assert world.road.id in text
    status, text = await _page(people["sri"], f"{world.base}/staff/tugas?opd=33.71/dinas-pupr")
    assert status == 403 and "Bukan wewenang Anda" in text
    status, text = await _page(people["sri"], f"{world.base}/staff/tugas")
    assert status == 200 and 'id="choose-opd"' in text


async def test_claim_answer_note_and_each_refusal_in_words(
    world: World, people: dict[str, aiohttp.ClientSession]
) -> None:
    cid = world.road.id
    page = f"{world.base}/staff/pengaduan/{cid}"
    status, text = await _page(people["budi"], page)
    assert status == 200 and 'id="form-ambil"' in text and 'id="form-alihkan"' in text
    assert "Sari" not in text  # the reporter's name is intake's, never on this page

    status, _, location = await _post(people["budi"], world, cid, "ambil")
    assert (status, location) == (303, f"/staff/pengaduan/{cid}?pesan=ambil")
    assert await _state(world, cid) == "in_progress"
    _, text = await _page(people["budi"], f"{page}?pesan=ambil")
    assert "Pengaduan sudah Anda ambil." in text
    await _timeline_shows(people["budi"], page, "Diambil petugas")  # the feed's writer, a moment later

    # A colleague: the lease holds them off, said on the page.
    status, text, _ = await _post(people["ani"], world, cid, "jawab", message="Kami cek besok.")
    assert status == 409 and _error(text).startswith("Tindakan ditolak: sedang dikerjakan oleh budi")
    # Form values the use case never sees: an empty message, a transfer out of the region's pemdas.
    status, text, _ = await _post(people["budi"], world, cid, "jawab", message="")
    assert status == 422 and _error(text) == "Pesan wajib diisi."
    status, text, _ = await _post(
        people["budi"], world, cid, "alihkan", to_opd_id="33.71/dinas-pupr", reason="Lokasi di Kota Salatiga"
    )
    assert status == 422 and "OPD harus milik pemda wilayah pengaduan" in _error(text)
    assert ">Lokasi di Kota Salatiga</textarea>" in text  # what was typed is kept for a second try
    status, text, _ = await _post(people["budi"], world, cid, "alihkan", to_opd_id=PUPR, reason="x")
    assert status == 422 and _error(text) == "Alasan minimal 5 karakter."
    status, text, _ = await _post(people["budi"], world, cid, "tingkat", tier="normatif")
    assert status == 409 and _error(text) == "Tindakan ditolak: tingkat sudah normatif."
    assert await _state(world, cid) == "in_progress"

    status, _, _ = await _post(people["budi"], world, cid, "jawab", message="Tim kami meninjau lokasi.")
    assert status == 303
    status, _, _ = await _post(people["budi"], world, cid, "catatan", text="Perlu alat berat dari UPT.")
    assert status == 303
    text = await _timeline_shows(people["budi"], page, "Dijawab kepada pelapor")
    assert "Tim kami meninjau lokasi." in text and "Perlu alat berat dari UPT." in text

    # Without the form's CSRF token: refused, nothing done.
    async with people["budi"].post(f"{page}/selesaikan", data={"answer": "Selesai."}) as resp:
        assert resp.status == 403
    assert await _state(world, cid) == "in_progress"


async def test_others_may_look_or_not_and_see_only_their_forms(
    world: World, people: dict[str, aiohttp.ClientSession]
) -> None:
    cid = world.road.id
    page = f"{world.base}/staff/pengaduan/{cid}"
    status, text = await _page(people["tono"], page)
    assert status == 403 and "Bukan wewenang Anda" in text and "Trotoar" not in text
    status, text = await _page(people["tono"], f"{world.base}/staff/pengaduan/01J0000000000000000000000X")
    assert status == 404 and "Pengaduan tidak ditemukan" in text
    # A supervisor looks: no forms at all. A coordinator: only the note.
    status, text = await _page(people["sri"], page)
    assert status == 200 and '<form method="post" action="/staff/pengaduan' not in text
    status, text = await _page(people["koor"], page)
    assert status == 200 and 'id="form-catatan"' in text and 'id="actions"' not in text
    before = await _state(world, cid)
    async with people["sri"].get(page) as resp:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
        assert csrf
    async with people["sri"].post(f"{page}/ambil", data={"csrf": csrf.group(1)}) as resp:
        assert resp.status == 403 and "hanya dapat dilakukan oleh petugas OPD" in await resp.text()
    async with people["tono"].get(f"{world.base}/staff/tugas") as resp:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await resp.text())
        assert csrf
    async with people["tono"].post(f"{page}/ambil", data={"csrf": csrf.group(1)}) as resp:
        assert resp.status == 403
    assert await _state(world, cid) == before


async def test_an_anonymous_complaint_shows_no_identity_and_transfers_with_a_reason(
    world: World, people: dict[str, aiohttp.ClientSession]
) -> None:
    cid = world.hidden.id
    status, text = await _page(people["budi"], f"{world.base}/staff/pengaduan/{cid}")
    assert status == 200 and "Trotoar ambruk" in text
    assert SECRET_PHONE not in text and "Joko" not in text and "Anonim" in text
    transfer = {
        "to_opd_id": "33.74/dinas-perhubungan",
        "reason": "Trotoar di jalan nasional: kewenangan Dinas Perhubungan",
    }
    # An OPD the catalog does not hold yet: refused in words; once the catalog has it, it goes.
    status, text, _ = await _post(people["budi"], world, cid, "alihkan", **transfer)
    assert status == 409 and "tidak ada dalam katalog" in _error(text)
    assert SECRET_PHONE not in text  # the page again, as refused
    await world.apps.routing.server.app[ROUTING].catalog.put_opd(
        "33.74", "dinas-perhubungan", "Dinas Perhubungan"
    )
    status, _, location = await _post(people["budi"], world, cid, "alihkan", **transfer)
    assert (status, location) == (303, "/staff/tugas?pesan=alihkan")
    doc = await world.apps.routing_db["complaints"].find_one({"_id": cid})
    assert doc is not None and (doc["state"], doc["opd_id"]) == ("assigned", "33.74/dinas-perhubungan")
    status, text = await _page(people["budi"], f"{world.base}/staff/pengaduan/{cid}")
    assert status == 403  # no longer PUPR's
    _, text = await _page(people["budi"], f"{world.base}/staff/tugas?pesan=alihkan")
    assert cid not in text and "Pengaduan dialihkan ke OPD tujuan" in text


async def test_the_reporter_s_photo_is_shown_as_intake_allows_it(
    world: World, people: dict[str, aiohttp.ClientSession]
) -> None:
    cid = world.road.id
    photo = png_with_text()
    uploaded = await world.apps.intake.post(
        f"/api/v1/complaints/{cid}/attachments",
        data=photo,
        headers={"Authorization": f"Bearer {world.road.access_token}", "Content-Type": "image/png"},
    )
    assert uploaded.status == 201, await uploaded.text()
    aid = (await uploaded.json())["id"]
    page = f"{world.base}/staff/pengaduan/{cid}"
    status, text = await _page(people["budi"], page)
    href = f"/staff/pengaduan/{cid}/lampiran/{aid}"
    assert status == 200 and f'<img src="{href}"' in text and "(image/png" in text
    async with people["budi"].get(f"{world.base}{href}") as resp:
        body = await resp.read()
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
        assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert body[:8] == b"\x89PNG\r\n\x1a\n"
    # Another OPD's handler: neither the page nor the file; an unknown file: a page saying so.
    status, text = await _page(people["tono"], f"{world.base}{href}")
    assert status == 403 and "Bukan wewenang Anda" in text
    status, text = await _page(people["budi"], f"{world.base}/staff/pengaduan/{cid}/lampiran/01J00000000000")
    assert status == 404 and "Lampiran tidak ditemukan" in text
    # Intake not answering: the page still comes, saying the files cannot be shown now.
    files = world.apps.routing.server.app[workbench_pages.INTAKE_FILES]
    kept, files.base_url = files.base_url, "http://127.0.0.1:9"
    try:
        status, text = await _page(people["budi"], page)
        assert status == 200 and 'id="files-unavailable"' in text
        status, text = await _page(people["budi"], f"{world.base}{href}")
        assert status == 503 and "Lampiran tidak dapat dimuat" in text
    finally:
        files.base_url = kept
