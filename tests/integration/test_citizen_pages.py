"""The citizen's form page without JavaScript, on the real broker and database: the region picker
one level per post, the wrong fields named, a submit (with a photo, cleaned for an anonymous
reporter) that writes the complaint once however often the form is sent, and the region levels
the picker's script loads."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from PIL import Image

from devtools.infra import Endpoints
from services.intake.settings import RateLimitSettings
from tests.attachment_files import NAME, photo
from tests.intake_app import running_intake

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

FORM = {
    "title": "Lampu jalan mati di depan pasar",
    "description": "Tiga lampu jalan di depan Pasar Arjosari mati sejak seminggu, malam hari gelap.",
    "category": "penerangan-jalan",
    "provinsi": "35",
    "kabkota": "35.73",
    "kecamatan": "35.73.01",
    "desa": "35.73.01.1002",
    "name": "Dewi Lestari",
    "phone": "081355550101",
}

API_BODY = {
    "title": "Lampu jalan mati di depan pasar",
    "description": "Tiga lampu jalan di depan Pasar Arjosari mati sejak seminggu, malam hari gelap.",
    "category": "penerangan-jalan",
    "region_code": "35.73.01.1002",
}


def _key(page: str) -> str:
    found = re.search(r'name="kunci" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _multipart(fields: dict[str, str], photo_bytes: bytes | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    if photo_bytes is not None:
        form.add_field("foto", photo_bytes, filename="lubang-dewi.jpg", content_type="image/jpeg")
    return form


async def test_the_form_page_is_mobile_first_with_labels_and_no_inline_script(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, _):
        answer = await client.get("/lapor")
        page = await answer.text()
        assert answer.status == 200 and answer.content_type == "text/html"
        assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        assert 'name="viewport"' in page and '<html lang="id">' in page
        assert "<script>" not in page and "onclick" not in page  # scripts only from files
        for field in ("title", "description", "category", "provinsi", "name", "phone", "email", "foto"):
            assert re.search(rf'<label for="f-{field}"', page), field
        # Without a choice yet, only the provinces are offered.
        assert 'name="provinsi"' in page and 'name="kabkota"' not in page
        script = await client.get("/halaman/lapor.js")
        assert script.status == 200 and "regions?parent=" in await script.text()
        assert (await client.get("/halaman/lain.js")).status == 404


async def test_without_javascript_the_region_picker_goes_one_level_per_post(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, _):
        key = _key(await (await client.get("/lapor")).text())
        answer = await client.post(
            "/lapor", data={"kunci": key, "title": "Judul saya", "provinsi": "35", "langkah": "wilayah"}
        )
        page = await answer.text()
        assert answer.status == 200
        assert 'value="Judul saya"' in page  # what was typed stays
        assert '<option value="35.73">Kota Malang</option>' in page  # the kab/kota of Jawa Timur
        answer = await client.post(
            "/lapor",
            data={"kunci": key, "provinsi": "35", "kabkota": "35.73", "langkah": "wilayah"},
        )
        page = await answer.text()
        assert 'name="kecamatan"' in page and ">Blimbing</option>" in page and 'name="desa"' not in page


async def test_wrong_fields_are_named_and_nothing_is_written(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, db):
        key = _key(await (await client.get("/lapor")).text())
        answer = await client.post(
            "/lapor",
            data={
                **FORM,
                "kunci": key,
                "description": "pendek",
                "provinsi": "",
                "kabkota": "",
                "email": "x@",
            },
        )
        page = await answer.text()
        assert answer.status == 422
        assert 'role="alert"' in page
        for field in ("description", "email"):
            assert f'id="e-{field}"' in page and f'aria-describedby="e-{field}"' in page, field
        assert 'href="#f-wilayah"' in page  # no region chosen
        assert await db["complaints"].count_documents({}) == 0


async def test_a_submit_writes_one_complaint_however_often_the_form_is_sent(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, db):
        key = _key(await (await client.get("/lapor")).text())
        pages = []
        for _ in range(2):  # a double tap, or the browser's "send again"
            answer = await client.post("/lapor", data=_multipart({**FORM, "kunci": key}, photo()))
            assert answer.status == 200, await answer.text()
            pages.append(await answer.text())
        number = re.search(r"<code data-nomor>([0-9A-Z]{26})</code>", pages[0])
        assert number and number.group(1) in pages[1]
        complaint_id = number.group(1)
        doc = await db["complaints"].find_one({"_id": complaint_id})
        assert doc is not None and doc["region_code"] == "35.73.01.1002"
        assert doc["reporter"]["name"] == "Dewi Lestari"
        assert await db["complaints"].count_documents({}) == 1
        assert await db["attachments.files"].count_documents({"metadata.complaint_id": complaint_id}) == 1
        token = re.search(r"<code data-token>([^<]+)</code>", pages[0])
        assert token
        view = await client.get(
            f"/api/v1/complaints/{complaint_id}", headers={"Authorization": f"Bearer {token[1]}"}
        )
        assert view.status == 200


async def test_an_anonymous_reporters_photo_is_cleaned_and_their_name_not_kept(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, db):
        key = _key(await (await client.get("/lapor")).text())
        answer = await client.post(
            "/lapor", data=_multipart({**FORM, "kunci": key, "anonymous": "ya"}, photo())
        )
        page = await answer.text()
        assert answer.status == 200, page
        complaint_id = re.search(r"<code data-nomor>([0-9A-Z]{26})</code>", page)
        assert complaint_id
        doc = await db["complaints"].find_one({"_id": complaint_id.group(1)})
        assert doc is not None and doc["anonymous"] is True and not doc.get("reporter")
        stored = await db["attachments.files"].find_one({"metadata.complaint_id": complaint_id.group(1)})
        assert stored is not None and stored["metadata"]["original_name"] is None
        chunks = [
            c["data"] async for c in db["attachments.chunks"].find({"files_id": stored["_id"]}).sort("n")
        ]
        data = b"".join(chunks)
        assert NAME.encode() not in data and b"Exif" not in data
        Image.open(__import__("io").BytesIO(data)).verify()


async def test_a_file_that_is_not_a_photo_refuses_the_form(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, db):
        key = _key(await (await client.get("/lapor")).text())
        answer = await client.post("/lapor", data=_multipart({**FORM, "kunci": key}, b"%PDF-1.4 bukan foto"))
        assert answer.status == 422 and 'id="e-foto"' in await answer.text()
        assert await db["complaints"].count_documents({}) == 0


async def test_the_region_levels_are_small_and_searchable(endpoints: Endpoints) -> None:
    async with running_intake(endpoints) as (client, _):
        provinces = await client.get("/api/v1/regions")
        body: dict[str, Any] = await provinces.json()
        assert body["level"] == "provinsi" and len(body["items"]) == 38
        assert "max-age" in provinces.headers["Cache-Control"]
        # The largest level is the desa of one kecamatan (~110): far under 50 KB.
        desa = await client.get("/api/v1/regions", params={"parent": "35.73.01"})
        assert desa.status == 200 and len(await desa.read()) < 50_000
        found = await (await client.get("/api/v1/regions", params={"parent": "35.73.01", "q": "arjo"})).json()
        assert {i["name"] for i in found["items"]} == {"Arjosari", "Balearjosari"}
        for bad in ({"parent": "99.99"}, {"parent": "x"}, {"parent": "35.73.01.1002"}, {"q": "a" * 101}):
            answer = await client.get("/api/v1/regions", params=bad)
            assert answer.status in (404, 422), bad
            assert answer.content_type == "application/problem+json"


async def _signed_in(client: Any, code: str, pin: str) -> tuple[str, str]:
    """The /lacak form with the code and PIN: (the session cookie, the page it leads to)."""
    answer = await client.post("/lacak", data={"code": code, "pin": pin}, allow_redirects=False)
    assert answer.status == 303, await answer.text()
    session = answer.cookies["pengaduan_lacak"].value
    return session, answer.headers["Location"]


async def test_a_reporter_follows_and_acts_on_their_complaint_from_the_page(endpoints: Endpoints) -> None:
    async with running_intake(endpoints, rate=RateLimitSettings(track_per_minute=0)) as (client, db):
        page = await (await client.get("/lacak")).text()
        assert '<label for="f-code"' in page and '<label for="f-pin"' in page
        accepted = await (
            await client.post("/api/v1/complaints", json={**API_BODY, "reporter": {"name": "Dewi Lestari"}})
        ).json()
        cid = accepted["id"]

        wrong = await client.post("/lacak", data={"code": accepted["tracking_code"], "pin": "000000"})
        assert wrong.status == 401 and 'role="alert"' in await wrong.text()  # the form again, said why

        session, location = await _signed_in(client, accepted["tracking_code"], accepted["pin"])
        assert location == f"/api/v1/complaints/{cid}"
        browser = {"Cookie": f"pengaduan_lacak={session}", "Accept": "text/html,application/xhtml+xml"}
        answer = await client.get(location, headers=browser)
        page = await answer.text()
        assert answer.status == 200 and answer.content_type == "text/html"
        assert API_BODY["title"] in page and "data-status=" in page and 'name="csrf"' in page
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf
        # An API client still gets JSON from the same address.
        as_json = await client.get(location, headers={"Cookie": f"pengaduan_lacak={session}"})
        assert as_json.content_type == "application/json"

        # Before routing recorded the complaint, an action is refused: the page again, with why.
        act = f"/api/v1/complaints/{cid}/halaman"
        early = await client.post(
            act,
            data={"csrf": csrf[1], "aksi": "informasi", "message": "Tiang nomor 12 dan 13."},
            headers={"Cookie": f"pengaduan_lacak={session}"},
        )
        assert early.status == 409 and "belum tercatat" in await early.text()
        # The view as routing's events leave it once an OPD handles the complaint.
        await db["complaints"].update_one(
            {"_id": cid}, {"$set": {"last_seq": 100, "status": "in_progress"}, "$inc": {"rev": 1}}
        )
        # Adding information from the page: a command on its way, then back to the page.
        sent = await client.post(
            act,
            data={"csrf": csrf[1], "aksi": "informasi", "message": "Tiang nomor 12 dan 13."},
            headers={"Cookie": f"pengaduan_lacak={session}"},
            allow_redirects=False,
        )
        assert sent.status == 303 and sent.headers["Location"].startswith(location)
        assert await db["commands"].count_documents({"complaint_id": cid}) == 1

        # Without the page's token, or from another complaint's session: refused, nothing sent.
        forged = await client.post(
            act,
            data={"csrf": "0" * 32, "aksi": "cabut"},
            headers={"Cookie": f"pengaduan_lacak={session}"},
            allow_redirects=False,
        )
        assert forged.status == 403
        other = await (await client.post("/api/v1/complaints", json=API_BODY)).json()
        other_session, _ = await _signed_in(client, other["tracking_code"], other["pin"])
        stolen = await client.post(
            act,
            data={"csrf": csrf[1], "aksi": "cabut"},
            headers={"Cookie": f"pengaduan_lacak={other_session}"},
            allow_redirects=False,
        )
        assert stolen.status in (401, 403)
        refused = await client.post(
            act,
            data={"csrf": csrf[1], "aksi": "nilai", "rating": "5"},  # not resolved yet: the page says why
            headers={"Cookie": f"pengaduan_lacak={session}"},
        )
        assert refused.status == 409 and 'role="alert"' in await refused.text()
        huge = await client.post(
            act,
            data={"csrf": csrf[1], "aksi": "nilai", "rating": "9" * 5000},  # no int() of a long text
            headers={"Cookie": f"pengaduan_lacak={session}"},
        )
        assert huge.status == 422 and 'role="alert"' in await huge.text()
        assert await db["commands"].count_documents({"complaint_id": cid}) == 1
