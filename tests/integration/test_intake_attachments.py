"""Uploads over HTTP on the real broker and database, through the real worker processes: what an
anonymous reporter's photo or PDF is stored and served as, who may read it, what is refused and
how, and what happens when a worker runs past its limits.

Files are built in the tests with Pillow and pikepdf (tests/attachment_files.py). Views of states
only routing could produce are written directly (a high `last_seq`), as in test_intake_api.py.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from PIL import Image
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from services.intake.entrypoints.edge import SCRUBBER
from shared.auth import mint
from tests.attachment_files import (
    NAME,
    OLD_CRAFTED,
    heavy_png,
    pdf,
    pdf_leftovers,
    pdf_text,
    photo,
    png_declaring,
    png_with_text,
)
from tests.intake_app import running_intake
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

OPD = "33.74/dinas-pupr"
MAX_BYTES = 256 * 1024
MAX_PAGES = 5
SUBMISSION: dict[str, Any] = {
    "title": "Jalan berlubang di depan SD",
    "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2 sudah dua minggu.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": {"name": "Sari Wulandari", "phone": "0812-3456-7890"},
}


@dataclass
class Intake:
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    db: AsyncDatabase[dict[str, Any]]

    async def submit(self, **changes: Any) -> tuple[str, str]:
        resp = await self.http.post("/api/v1/complaints", json={**SUBMISSION, **changes})
        assert resp.status == 202, await resp.text()
        body = await resp.json()
        return body["id"], body["access_token"]

    async def force(self, complaint_id: str, **fields: Any) -> None:
        await self.db["complaints"].update_one(
            {"_id": complaint_id}, {"$set": {"last_seq": 100, **fields}, "$inc": {"rev": 1}}
        )

    async def upload(
        self, complaint_id: str, token: str, data: bytes, *, name: str | None = None
    ) -> aiohttp.ClientResponse:
        headers = bearer(token) | {"Content-Type": "application/octet-stream"}
        if name is not None:
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return await self.http.post(
            f"/api/v1/complaints/{complaint_id}/attachments", data=data, headers=headers
        )

    async def served(self, complaint_id: str, attachment_id: str, credential: str) -> bytes:
        got = await self.http.get(
            f"/api/v1/complaints/{complaint_id}/attachments/{attachment_id}", headers=bearer(credential)
        )
        assert got.status == 200, await got.text()
        return await got.read()


@pytest.fixture(scope="module")
async def intake(endpoints: Endpoints) -> AsyncIterator[Intake]:
    async with running_intake(endpoints, attachment_max_bytes=MAX_BYTES, attachment_max_pages=MAX_PAGES) as (
        client,
        db,
    ):
        yield Intake(client, db)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refusal(resp: aiohttp.ClientResponse, status: int) -> str:
    """The problem's message for the `file` field."""
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    [error] = body["errors"]
    assert error["field"] == "file"
    message: str = error["message"]
    return message


# --- anonymous reporters: cleaned, without a name ---------------------------------------------------


async def test_an_anonymous_reporters_photo_is_served_without_exif_gps_comment_or_name_in_scope(
    intake: Intake,
) -> None:
    cid, token = await intake.submit(anonymous=True)
    await intake.force(cid, status="assigned", opd_id=OPD)
    original = photo()
    resp = await intake.upload(cid, token, original, name="rumah-budi.jpg")
    assert resp.status == 201, await resp.text()
    info = await resp.json()
    assert info["content_type"] == "image/jpeg" and info["filename"] is None
    path = f"/api/v1/complaints/{cid}/attachments/{info['id']}"
    for credential in (token, mint("handler", opd=OPD), mint("coordinator", pemda="33.74")):
        got = await intake.http.get(path, headers=bearer(credential))
        assert got.status == 200 and got.content_type == "image/jpeg"
        assert "budi" not in got.headers["Content-Disposition"]
        data = await got.read()
        assert len(data) == info["size"] and NAME.encode() not in data
        with Image.open(io.BytesIO(data)) as im:
            assert im.size == (64, 48) and not im.getexif() and im.getexif().get_ifd(0x8825) == {}
            assert not {"exif", "comment", "xmp", "icc_profile"} & im.info.keys()
    listing = await (
        await intake.http.get(f"/api/v1/complaints/{cid}/attachments", headers=bearer(token))
    ).json()
    assert [i["id"] for i in listing["items"]] == [info["id"]] and "budi" not in str(listing)
    stored = await intake.db["attachments.files"].find_one({"_id": info["id"]})
    assert stored is not None and stored["metadata"]["original_name"] is None
    assert "budi" not in stored["filename"] and stored["metadata"]["stripped"] is True

    assert (await intake.http.get(path)).status == 401
    assert (await intake.http.get(path, headers=bearer(mint("handler", opd="33.74/dlh")))).status == 403
    staff_upload = await intake.http.post(
        f"/api/v1/complaints/{cid}/attachments",
        data=original,
        headers=bearer(mint("handler", opd=OPD)) | {"Content-Type": "image/jpeg"},
    )
    assert staff_upload.status == 403


async def test_an_anonymous_reporters_png_loses_its_text_chunks(intake: Intake) -> None:
    cid, token = await intake.submit(anonymous=True)
    resp = await intake.upload(cid, token, png_with_text(), name="denah.png")
    assert resp.status == 201, await resp.text()
    data = await intake.served(cid, (await resp.json())["id"], token)
    assert NAME.encode() not in data and b"tEXt" not in data and b"iTXt" not in data and b"zTXt" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (12, 8) and im.text == {}


async def test_an_anonymous_reporters_pdf_is_accepted_and_served_without_identity_files_or_scripts(
    intake: Intake,
) -> None:
    cid, token = await intake.submit(anonymous=True)
    await intake.force(cid, status="assigned", opd_id=OPD)
    original = pdf()
    assert pdf_leftovers(original)
    resp = await intake.upload(cid, token, original, name="laporan-budi.pdf")
    assert resp.status == 201, await resp.text()
    info = await resp.json()
    assert info["content_type"] == "application/pdf" and info["filename"] is None
    for credential in (token, mint("handler", opd=OPD)):
        data = await intake.served(cid, info["id"], credential)
        assert pdf_leftovers(data) == [] and NAME.encode() not in data
        assert pdf_text(data) == (1, b"BT /F1 12 Tf 20 100 Td (Jalan berlubang) Tj ET", ["alamat"])


async def test_files_of_a_complaint_made_anonymous_later_are_served_cleaned(intake: Intake) -> None:
    cid, token = await intake.submit()
    uploaded = []
    for data, name in ((photo(), "foto.jpg"), (pdf(), "surat.pdf")):
        resp = await intake.upload(cid, token, data, name=name)
        assert resp.status == 201, await resp.text()
        uploaded.append((await resp.json())["id"])
    assert NAME.encode() in await intake.served(cid, uploaded[0], token)  # named: kept as sent
    await intake.force(cid, anonymous=True)
    photo_now, pdf_now = [await intake.served(cid, aid, token) for aid in uploaded]
    with Image.open(io.BytesIO(photo_now)) as im:
        assert not im.getexif() and "comment" not in im.info
    assert pdf_leftovers(pdf_now) == [] and NAME.encode() not in pdf_now


# --- every reporter: checked, kept as sent --------------------------------------------------------


async def test_a_named_reporters_files_keep_their_names_and_bytes(intake: Intake) -> None:
    cid, token = await intake.submit()
    form = aiohttp.FormData(quote_fields=False)  # as browsers send names: raw, in quotes
    form.add_field("keterangan", "foto jalan")
    png = png_with_text()
    form.add_field("file", png, filename="foto jalan.png", content_type="application/octet-stream")
    resp = await intake.http.post(f"/api/v1/complaints/{cid}/attachments", data=form, headers=bearer(token))
    assert resp.status == 201
    info = await resp.json()
    assert info["content_type"] == "image/png" and info["filename"] == "foto jalan.png"
    got = await intake.http.get(f"/api/v1/complaints/{cid}/attachments/{info['id']}", headers=bearer(token))
    assert await got.read() == png
    assert "foto%20jalan.png" in got.headers["Content-Disposition"]
    original = pdf()
    resp = await intake.upload(cid, token, original, name="surat.pdf")
    assert resp.status == 201
    assert await intake.served(cid, (await resp.json())["id"], token) == original

    secret_id, _ = await intake.submit(confidential=True)
    assert (await intake.http.get(f"/api/v1/complaints/{secret_id}/attachments")).status == 404


async def test_bad_uploads_are_refused_with_a_problem_naming_the_file(intake: Intake) -> None:
    cid, token = await intake.submit()
    url = f"/api/v1/complaints/{cid}/attachments"
    not_a_photo = aiohttp.FormData()
    not_a_photo.add_field(
        "file", b"<script>alert(1)</script>", filename="foto.jpg", content_type="image/jpeg"
    )
    assert (await intake.http.post(url, data=not_a_photo, headers=bearer(token))).status == 415
    big = b"%PDF-1.7\n" + b"0" * MAX_BYTES
    assert (
        await intake.http.post(url, data=big, headers=bearer(token) | {"Content-Type": "application/pdf"})
    ).status == 413
    big_form = aiohttp.FormData()
    big_form.add_field("file", big, filename="laporan.pdf", content_type="application/pdf")
    assert (await intake.http.post(url, data=big_form, headers=bearer(token))).status == 413
    empty = await intake.http.post(url, data=b"", headers=bearer(token) | {"Content-Type": "image/png"})
    assert "kosong" in await refusal(empty, 422)
    assert (await intake.http.post(url, data=photo(), headers={"Content-Type": "image/jpeg"})).status == 401

    for garbage in (b"%PDF-1.7\n<script>alert(1)</script>", b"\xff\xd8\xff\xe0" + b"\x00" * 500):
        assert "tidak dapat diproses" in await refusal(await intake.upload(cid, token, garbage), 422)
    too_long = await intake.upload(cid, token, pdf(pages=MAX_PAGES + 1))
    assert "6 halaman" in await refusal(too_long, 422)
    assert (await intake.db["attachments.files"].count_documents({"metadata.complaint_id": cid})) == 0


async def test_a_malformed_multipart_body_is_a_400_problem(intake: Intake) -> None:
    """Found by the fuzzer: a part without headers made aiohttp's reader raise out of the handler."""
    cid, token = await intake.submit()
    url = f"/api/v1/complaints/{cid}/attachments"
    for body in (b"--b\r\n[]--b--", b"--b\r\nContent-Disposition: form-data; name=file\r\n", b"--x--"):
        resp = await intake.http.post(
            url, data=body, headers=bearer(token) | {"Content-Type": "multipart/form-data; boundary=b"}
        )
        assert resp.status in (400, 422), (body, await resp.text())
        assert resp.content_type == "application/problem+json"
    assert (await intake.db["attachments.files"].count_documents({"metadata.complaint_id": cid})) == 0


@pytest.mark.parametrize("anonymous", [False, True])
async def test_a_decompression_bomb_is_refused_for_its_pixels(intake: Intake, anonymous: bool) -> None:
    cid, token = await intake.submit(anonymous=anonymous)
    for bomb in (png_declaring(100_000, 100_000), png_declaring(8000, 8000, rows=64)):
        assert len(bomb) < MAX_BYTES
        assert "piksel" in await refusal(await intake.upload(cid, token, bomb), 422)


async def test_the_inputs_that_stalled_the_old_pdf_scrubber_are_refused(intake: Intake) -> None:
    cid, token = await intake.submit(anonymous=True)
    for crafted in OLD_CRAFTED:
        assert "tidak dapat diproses" in await refusal(await intake.upload(cid, token, crafted), 422)
    # A real PDF with the crafted bytes appended after its end is still read, and cleaned.
    resp = await intake.upload(cid, token, pdf() + OLD_CRAFTED[0])
    assert resp.status == 201, await resp.text()
    assert pdf_leftovers(await intake.served(cid, (await resp.json())["id"], token)) == []


# --- the workers' limits ------------------------------------------------------------------------------


async def test_a_worker_past_its_cpu_limit_is_killed_and_the_next_upload_works(endpoints: Endpoints) -> None:
    async with running_intake(
        endpoints, attachment_cpu_seconds=1, attachment_timeout_seconds=60, attachment_workers=1,
        attachment_queue_limit=0,
    ) as (client, db):  # fmt: skip
        intake = Intake(client, db)
        cid, token = await intake.submit(anonymous=True)
        heavy = asyncio.create_task(intake.upload(cid, token, heavy_png()))
        scrubber = client.app[SCRUBBER]
        await eventually(lambda: _true(scrubber.busy == 1), what="the heavy upload in a worker")
        full = await intake.upload(cid, token, photo())
        assert full.status == 503 and full.headers["Retry-After"] == "60"
        assert "batas CPU" in await refusal(await heavy, 422)
        after = await intake.upload(cid, token, photo())
        assert after.status == 201, await after.text()


async def test_a_worker_past_its_time_is_killed_and_the_next_upload_works(endpoints: Endpoints) -> None:
    # Decoding the heavy file takes 0.7-2 s of CPU here (under 1 s on a quiet machine: a 1 s limit
    # let it through half the time); a small photo a few milliseconds.
    async with running_intake(endpoints, attachment_timeout_seconds=0.25, attachment_workers=1) as (
        client,
        db,
    ):
        intake = Intake(client, db)
        cid, token = await intake.submit(anonymous=True)  # decoded and encoded again
        assert "batas waktu" in await refusal(await intake.upload(cid, token, heavy_png()), 422)
        after = await intake.upload(cid, token, photo())
        assert after.status == 201, await after.text()


async def test_a_worker_past_its_memory_limit_gives_a_problem_and_the_next_upload_works(
    endpoints: Endpoints,
) -> None:
    # A worker's libraries take about 100 MB of address space; the heavy file's pixels 160 MB more.
    async with running_intake(endpoints, attachment_memory_bytes=192 * 1024 * 1024, attachment_workers=1) as (
        client,
        db,
    ):
        intake = Intake(client, db)
        cid, token = await intake.submit(anonymous=True)
        assert "memori" in await refusal(await intake.upload(cid, token, heavy_png()), 422)
        after = await intake.upload(cid, token, photo())
        assert after.status == 201, await after.text()


async def _true(value: bool) -> bool:
    return value
