"""The citizen's form page without JavaScript, on the real broker and database: the region picker
one level per post, the wrong fields named, a submit (with a photo, cleaned for an anonymous
reporter) that writes the complaint once however often the form is sent, and the region levels
the picker's script loads."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from PIL import Image

from devtools.infra import Endpoints
from services.intake.settings import RateLimitSettings
from shared.calendar import WIB
from shared.envelope import Envelope
from shared.events import SubmitSurvey
from shared.topics import COMPLAINTS_COMMANDS
from tests.attachment_files import NAME, photo
from tests.conftest import DAYS
from tests.intake_app import running_intake
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

OPD = "35.73/dinas-pupr"

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


def _page_session(answer_page: str) -> dict[str, str]:
    """The confirmation page's tracking code and PIN."""
    code = re.search(r"<code data-kode>([^<]+)</code>", answer_page)
    pin = re.search(r"<code data-pin>([^<]+)</code>", answer_page)
    assert code and pin, answer_page[:500]
    return {"code": code[1], "pin": pin[1]}


async def _open_page(client: Any, cid: str, session: str) -> tuple[int, str]:
    answer = await client.get(
        f"/api/v1/complaints/{cid}", headers={"Cookie": f"pengaduan_lacak={session}", "Accept": "text/html"}
    )
    return answer.status, await answer.text()


def _form(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form for `action` (its CSRF token and its own key)."""
    found = re.search(rf'<form [^>]*id="form-{action}">(.*?)</form>', page, re.S)
    assert found, f"no form {action}"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', found[1]))


async def test_a_resolved_complaint_offers_the_rating_and_the_skm_survey_as_plain_forms(
    endpoints: Endpoints,
) -> None:
    async with running_intake(endpoints, rate=RateLimitSettings(track_per_minute=0)) as (client, db):
        accepted = await (
            await client.post("/api/v1/complaints", json={**API_BODY, "reporter": {"name": "Dewi Lestari"}})
        ).json()
        cid = accepted["id"]
        session, _ = await _signed_in(client, accepted["tracking_code"], accepted["pin"])
        # Resolved by the OPD, as routing's events leave the view.
        await db["complaints"].update_one(
            {"_id": cid},
            {
                "$set": {
                    "last_seq": 100,
                    "status": "resolved",
                    "opd_id": "35.73/dinas-pupr",
                    "resolved_by": "35.73/dinas-pupr",
                    "resolved_at": DAYS["saturday"],
                },
                "$inc": {"rev": 1},
            },
        )
        status, page = await _open_page(client, cid, session)
        assert status == 200
        assert '<span data-status="resolved">Terdisposisi selesai</span>' in page
        # The 1–5 rating, called what it is; the survey: nine elements, four labelled answers each.
        assert "<legend>Kepuasan atas penanganan pengaduan</legend>" in page
        assert "IKM" not in page and "Indeks" not in page
        assert "<script" not in page and "style=" not in page  # the policy allows files only
        survey = re.search(r'<form [^>]*id="form-survei">(.*?)</form>', page, re.S)
        assert survey
        elements = re.findall(r'<fieldset class="isian skala" data-unsur="(u\d)"><legend>', survey[1])
        assert elements == [f"u{n}" for n in range(1, 10)]
        for code in elements:
            for n, label in enumerate(("Tidak baik", "Kurang baik", "Baik", "Sangat baik"), 1):
                assert f'id="f-{code}-{n}" name="{code}" value="{n}" required' in survey[1]
                assert f'<label for="f-{code}-{n}">{n} — {label}</label>' in survey[1]
        assert (
            'id="form-buka"' in page and 'id="form-cabut"' not in page and 'id="form-informasi"' not in page
        )

        hidden = _form(page, "survei")
        act = f"/api/v1/complaints/{cid}/halaman"
        cookie = {"Cookie": f"pengaduan_lacak={session}"}
        answers = {f"u{n}": str(1 + n % 4) for n in range(1, 10)}
        # One element left out: the page again, naming it, the answers given still chosen.
        partial = {k: v for k, v in answers.items() if k != "u3"}
        again = await client.post(act, data={**hidden, **partial}, headers=cookie)
        text = await again.text()
        assert again.status == 422 and "Survei, unsur Waktu penyelesaian: wajib diisi" in text
        assert 'id="f-u1-2" name="u1" value="2" required checked' in text
        assert 'id="f-u3-' in text and 'name="u3" value="1" required checked' not in text
        # Hostile answers: the page again with the reason, nothing sent (never int() of a long text).
        for bad, reason in (
            ({"u1": "9" * 5000}, "Survei, unsur Persyaratan: "),
            ({"u2": "5"}, "Survei, unsur Sistem, mekanisme, dan prosedur: bilangan bulat 1–4"),
            ({"u4": "-1"}, "Survei, unsur Biaya/tarif: "),
            ({"versi": "x" * 41}, "Versi kuesioner: "),
            ({"versi": "skm-1990"}, "Versi kuesioner: versi kuesioner tidak dikenal"),
        ):
            refused = await client.post(act, data={**hidden, **answers, **bad}, headers=cookie)
            text = await refused.text()
            assert refused.status == 422 and 'role="alert"' in text and reason in text, (bad, text[:2000])
        assert await db["commands"].count_documents({"complaint_id": cid}) == 0
        sent = []
        for _ in range(2):  # a double tap: the form's own key sends it once
            answer = await client.post(act, data={**hidden, **answers}, headers=cookie, allow_redirects=False)
            assert answer.status == 303, await answer.text()
            sent.append(answer.headers["Location"])
        assert sent[0].endswith(f"/api/v1/complaints/{cid}?terkirim=survei")
        browser = {"Cookie": f"pengaduan_lacak={session}", "Accept": "text/html"}
        after = await (await client.get(f"/api/v1/complaints/{cid}?terkirim=survei", headers=browser)).text()
        assert '<p class="kabar" role="status">Jawaban survei Anda terkirim' in after
        # On its way: not offered again until routing answers (the form's key guards a double tap,
        # this a second visit).
        assert "Permintaan Anda untuk mengisi survei kepuasan masyarakat sedang diproses." in after
        assert "form-survei" not in after and 'id="form-nilai"' in after
        odd = await (await client.get(f"/api/v1/complaints/{cid}?terkirim=<b>x</b>", headers=browser)).text()
        assert "Permintaan Anda terkirim dan sedang diproses." in odd and "<b>x</b>" not in odd
        records = await db["commands"].find({"complaint_id": cid}).to_list(None)
        assert [r["command"] for r in records] == ["SubmitSurvey"]

        async def on_its_way() -> list[Envelope]:
            return [e for e in await messages_for(endpoints.kafka_bootstrap, COMPLAINTS_COMMANDS, cid)]

        envelopes = await eventually(on_its_way, what="the survey command on complaints.commands")
        assert len(envelopes) == 1 and isinstance(envelopes[0].payload, SubmitSurvey)
        assert envelopes[0].payload.version == "skm-2017-1"
        assert envelopes[0].payload.scores == {k: int(v) for k, v in answers.items()}

        # Rated and surveyed: closed, the survey done (SurveySubmitted, which settles the command) —
        # nothing more to fill in.
        await db["complaints"].update_one(
            {"_id": cid}, {"$set": {"status": "closed", "surveyed": True}, "$inc": {"rev": 1}}
        )
        await db["commands"].update_many({"complaint_id": cid}, {"$set": {"status": "accepted"}})
        _, page = await _open_page(client, cid, session)
        assert '<span data-status="closed">Selesai</span>' in page
        assert "form-survei" not in page and "form-nilai" not in page and "Tindakan Anda" not in page
        # Closed by the rating but not surveyed yet: the survey alone is still offered.
        await db["complaints"].update_one({"_id": cid}, {"$set": {"surveyed": False}, "$inc": {"rev": 1}})
        _, page = await _open_page(client, cid, session)
        assert 'id="form-survei"' in page and "form-nilai" not in page


async def test_the_countdowns_are_named_and_counted_in_working_days(endpoints: Endpoints) -> None:
    async with running_intake(endpoints, rate=RateLimitSettings(track_per_minute=0)) as (client, db):
        accepted = await (await client.post("/api/v1/complaints", json=API_BODY)).json()
        cid = accepted["id"]
        session, _ = await _signed_in(client, accepted["tracking_code"], accepted["pin"])
        started = DAYS["saturday"] - timedelta(days=1)
        clocks: dict[str, dict[str, Any]] = {
            # Due at the end of Thu 18 June 2026; from Saturday: Mon 15, Wed 17, Thu 18 (Tue 16 is
            # 1 Muharram, a holiday).
            "c-response": {
                "clock": "response",
                "due_at": datetime(2026, 6, 19, tzinfo=WIB),
                "state": "running",
            },
            "c-resolution": {
                "clock": "resolution",
                "due_at": None,
                "state": "paused",
                "remaining_seconds": 2 * 86400,
            },
            "c-verification": {"clock": "verification", "due_at": started, "state": "met", "stopped": True},
        }
        deadlines = {
            cid_: {"opd_id": "35.73/dinas-pupr", "pemda": "35.73", "started_at": started, "version": 1, **c}
            for cid_, c in clocks.items()
        }
        await db["complaints"].update_one(
            {"_id": cid},
            {
                "$set": {
                    "last_seq": 100,
                    "status": "waiting_reporter",
                    "opd_id": "35.73/dinas-pupr",
                    "deadlines": deadlines,
                },
                "$inc": {"rev": 1},
            },
        )
        # The OPD as routing's catalog names it (catalog.changes, kept by intake's consumer).
        await db["opd_names"].insert_one(
            {"_id": "35.73", "revision": 1, "names": [[OPD, "Dinas PU Kota Malang"]]}
        )
        request = {"at": DAYS["saturday"], "type": "InformationRequested", "author": "opd"}
        summary = f"{OPD} meminta informasi tambahan dari pelapor"
        await db["complaints"].update_one(
            {"_id": cid},
            {"$push": {"timeline": {**request, "summary": summary, "text": "Mohon foto tiangnya."}}},
        )
        _, page = await _open_page(client, cid, session)
        assert f'<dd data-opd="{OPD}">Dinas PU Kota Malang</dd>' in page
        assert "Dinas PU Kota Malang meminta informasi tambahan dari pelapor: Mohon foto tiangnya." in page
        assert '<time datetime="2026-06-13T03:00:00+00:00">13-06-2026 10:00 WIB</time>' in page
        assert '<span data-status="waiting_reporter">Menunggu tanggapan pelapor</span>' in page
        assert "dihentikan sementara sampai Anda menjawab" in page
        assert (
            '<dt>Batas waktu tanggapan pertama OPD</dt><dd data-tenggat="response">sisa 3 hari kerja '
            "(paling lambat akhir hari 18-06-2026)</dd>"
        ) in page
        assert (
            '<dt>Batas waktu penyelesaian oleh OPD</dt><dd data-tenggat="resolution">'
            "dijeda, sisa 2 hari kerja</dd>"
        ) in page
        assert 'data-tenggat="verification"' not in page  # a met clock owes nothing any more
        assert "Jawab permintaan informasi petugas" in page and 'id="form-cabut"' in page


async def test_the_reporters_photo_is_on_the_page_served_as_the_api_serves_it(endpoints: Endpoints) -> None:
    async with running_intake(endpoints, rate=RateLimitSettings(track_per_minute=0)) as (client, db):
        key = _key(await (await client.get("/lapor")).text())
        answer = await client.post("/lapor", data=_multipart({**FORM, "kunci": key}, photo()))
        confirmation = await answer.text()
        assert answer.status == 200, confirmation
        cid = re.search(r"<code data-nomor>([0-9A-Z]{26})</code>", confirmation)
        assert cid
        session, _ = await _signed_in(client, **_page_session(confirmation))
        _, page = await _open_page(client, cid[1], session)
        stored = await db["attachments.files"].find_one({"metadata.complaint_id": cid[1]})
        assert stored is not None
        url = f"/api/v1/complaints/{cid[1]}/attachments/{stored['_id']}"
        assert f'<img src="{url}" alt="Foto lampiran 1" loading="lazy">' in page
        assert f'<a href="{url}" download>Unduh foto 1 (lubang-dewi.jpg),' in page
        # The thumbnail's address answers the session as the API answers the token: the photo, as
        # a download that cannot run in a page.
        image = await client.get(url, headers={"Cookie": f"pengaduan_lacak={session}"})
        assert image.status == 200 and image.content_type == "image/jpeg"
        assert image.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in image.headers["Content-Security-Policy"]
        assert image.headers["Content-Disposition"].startswith("attachment;")
        Image.open(__import__("io").BytesIO(await image.read())).verify()
        # Not for the public nor for another complaint's session.
        public = await client.get(f"/api/v1/complaints/{cid[1]}", headers={"Accept": "text/html"})
        assert public.status == 200 and "lampiran" not in (await public.text()).lower()
        assert (await client.get(url)).status == 401
        other = await (await client.post("/api/v1/complaints", json=API_BODY)).json()
        other_session, _ = await _signed_in(client, other["tracking_code"], other["pin"])
        assert (await client.get(url, headers={"Cookie": f"pengaduan_lacak={other_session}"})).status == 401
