"""Attachments (DESIGN §3): photos (JPEG, PNG, WebP) and PDF, kept in intake's database (GridFS)
and served only to the reporter (access token) and to staff whose scope covers the complaint's
current OPD.

- The type is decided by the bytes (magic numbers), never by the name or the declared type:
  anything else is a 415. Larger than `attachment_max_bytes` is a 413.
- Every upload is opened by Pillow or pikepdf in a worker process (services/intake/scrub_worker.py)
  under pixel, page, CPU, memory and time limits: a forged or truncated file, too many pixels or
  pages, or a worker killed at its limits is a 422 naming the field; all workers busy and the
  queue full is a 503 with Retry-After. The event loop only waits.
- Anonymous complaints: the stored file is the rewritten one (photos encoded again from their
  pixels, PDFs rewritten by qpdf without document info, XMP, annotation authors, embedded files
  or scripts), and the file name is not kept. Other reporters' files are kept as sent.
- A complaint made anonymous later by a coordinator: stored files are cleaned when served, and
  their names are no longer shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import multiprocessing
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from gridfs import AsyncGridFSBucket, NoFile
from pebble import ProcessExpired, ProcessPool
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from services.intake import scrub_worker
from services.intake.commands import base_url
from services.intake.identity import caller_for
from services.intake.models import AttachmentInfo, AttachmentList
from services.intake.settings import SETTINGS, IntakeSettings
from services.intake.store import STORE
from shared import clock
from shared.http import FieldError, ProblemError, json_response

BUCKET = "attachments"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
_CHUNK = 64 * 1024
# Room for a multipart envelope (boundaries, part headers) around the file itself.
_MULTIPART_OVERHEAD = 16 * 1024


def sniff(data: bytes) -> str | None:
    """The content type by magic number, or None for anything not accepted."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


# --- the workers --------------------------------------------------------------------------------

_UNPROCESSABLE = "berkas tidak dapat diproses"
_START_SECONDS = 60.0


class Scrubber:
    """A small fixed pool of worker processes (pebble: a task past its time is killed with its
    worker, a crashed worker is replaced, and only that task fails) and a bound on how many
    uploads may wait for them."""

    def __init__(self, settings: IntakeSettings) -> None:
        self._limits = scrub_worker.Limits(
            max_pixels=settings.attachment_max_pixels,
            max_pages=settings.attachment_max_pages,
            cpu_seconds=settings.attachment_cpu_seconds,
        )
        self._timeout = settings.attachment_timeout_seconds
        self._workers = max(1, settings.attachment_workers)
        self._capacity = self._workers + max(0, settings.attachment_queue_limit)
        # Waiting behind every queued task, then this task's own time, then pebble's kill.
        self._deadline = self._timeout * (1 + math.ceil(self._capacity / self._workers)) + 10
        self._busy = 0
        # Not fork: the service's threads and sockets must not be copied into the workers. The
        # fork server has the libraries loaded, so a killed worker is replaced quickly.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["services.intake.scrub_worker"])
        self._pool = ProcessPool(
            max_workers=self._workers,
            max_tasks=200,  # a fresh process now and then: no fragmentation piles up
            initializer=scrub_worker.init_worker,
            initargs=(settings.attachment_memory_bytes,),
            context=context,
        )

    async def start(self) -> None:
        """Starts the workers (off the event loop) before the first upload needs them."""
        future = await asyncio.to_thread(self._pool.schedule, scrub_worker.warm)
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), _START_SECONDS)
        except (TimeoutError, ProcessExpired) as exc:
            # A worker that cannot start (e.g. an address-space limit below what the libraries
            # need) would be restarted forever: the service does not start instead.
            await self.stop()
            raise RuntimeError(
                "attachment workers did not start; is INTAKE_ATTACHMENT_MEMORY_BYTES too small?"
            ) from exc

    async def stop(self) -> None:
        self._pool.stop()  # type: ignore[no-untyped-call]
        await asyncio.to_thread(self._pool.join)

    @property
    def busy(self) -> int:
        """Uploads being processed or waiting for a worker."""
        return self._busy

    async def check(self, data: bytes, content_type: str, *, clean: bool) -> bytes:
        """The upload as it is to be stored: checked, and with `clean` rewritten without metadata."""
        if self._busy >= self._capacity:
            raise ProblemError(
                503,
                "Terlalu banyak lampiran sedang diproses; coba lagi sebentar lagi",
                headers={"Retry-After": str(max(1, math.ceil(self._timeout)))},
            )
        self._busy += 1
        try:
            future = self._pool.schedule(
                scrub_worker.run, args=(data, content_type, clean, self._limits), timeout=self._timeout
            )
            outcome = await asyncio.wait_for(asyncio.wrap_future(future), self._deadline)
        except TimeoutError:
            raise _refused(f"{_UNPROCESSABLE}: melewati batas waktu pemrosesan") from None
        except ProcessExpired:
            raise _refused(f"{_UNPROCESSABLE}: melewati batas CPU atau memori") from None
        finally:
            self._busy -= 1
        if outcome.problem is not None:
            raise _refused(self._message(outcome))
        return data if outcome.data is None else outcome.data

    def _message(self, outcome: scrub_worker.Outcome) -> str:
        if outcome.problem == "pixels":
            size = f" ({outcome.detail} piksel)" if outcome.detail else ""
            return f"gambar terlalu besar{size}; maksimal {self._limits.max_pixels} piksel"
        if outcome.problem == "pages":
            pages = self._limits.max_pages
            return f"PDF terlalu panjang ({outcome.detail} halaman); maksimal {pages} halaman"
        if outcome.problem == "encrypted":
            return f"{_UNPROCESSABLE}: PDF dikunci dengan kata sandi"
        if outcome.problem == "memory":
            return f"{_UNPROCESSABLE}: melewati batas memori"
        return f"{_UNPROCESSABLE}: berkas rusak, tidak lengkap atau bukan jenis yang diakui"


def _refused(message: str) -> ProblemError:
    return ProblemError(422, errors=[FieldError(field="file", message=message)])


SCRUBBER = web.AppKey("attachment_scrubber", Scrubber)


async def _scrubber_ctx(app: web.Application) -> AsyncIterator[None]:
    scrubber = Scrubber(app[SETTINGS])
    await scrubber.start()
    app[SCRUBBER] = scrubber
    yield
    await scrubber.stop()


# --- storage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    id: str
    content_type: str
    size: int
    filename: str | None
    uploaded_at: datetime
    stripped: bool


class AttachmentStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self._files = db[f"{BUCKET}.files"]

    async def put(
        self, complaint_id: str, data: bytes, content_type: str, filename: str | None, stripped: bool
    ) -> Stored:
        attachment_id = str(ULID())
        await self._bucket.upload_from_stream_with_id(
            attachment_id,
            f"{attachment_id}.{EXTENSIONS[content_type]}",
            data,
            metadata={
                "complaint_id": complaint_id,
                "content_type": content_type,
                "original_name": filename,
                "stripped": stripped,
                "sha256": hashlib.sha256(data).hexdigest(),
            },
        )
        return Stored(attachment_id, content_type, len(data), filename, clock.now(), stripped)

    async def count(self, complaint_id: str) -> int:
        return await self._files.count_documents({"metadata.complaint_id": complaint_id})

    async def list(self, complaint_id: str) -> list[Stored]:
        cursor = self._files.find({"metadata.complaint_id": complaint_id}).sort("_id", 1)
        return [_stored(doc) async for doc in cursor]

    async def read(self, complaint_id: str, attachment_id: str) -> tuple[Stored, bytes] | None:
        doc = await self._files.find_one({"_id": attachment_id, "metadata.complaint_id": complaint_id})
        if doc is None:
            return None
        try:
            stream = await self._bucket.open_download_stream(attachment_id)
        except NoFile:
            return None
        return _stored(doc), await stream.read()


def _stored(doc: dict[str, Any]) -> Stored:
    meta = doc.get("metadata") or {}
    return Stored(
        id=doc["_id"],
        content_type=meta["content_type"],
        size=doc["length"],
        filename=meta.get("original_name"),
        uploaded_at=doc["uploadDate"],
        stripped=bool(meta.get("stripped")),
    )


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[f"{BUCKET}.files"].create_index("metadata.complaint_id")
    # GridFS's own indexes, created up front rather than on the first upload.
    await db[f"{BUCKET}.files"].create_index([("filename", 1), ("uploadDate", 1)])
    await db[f"{BUCKET}.chunks"].create_index([("files_id", 1), ("n", 1)], unique=True)


ATTACHMENTS = web.AppKey("attachments", AttachmentStore)


# --- HTTP ---------------------------------------------------------------------------------------


async def _complaint(request: web.Request) -> dict[str, Any]:
    doc = await request.app[STORE].get(request.match_info["id"])
    if doc is None:
        raise ProblemError(404)
    return doc


async def _require_access(request: web.Request, doc: dict[str, Any], *, upload: bool) -> None:
    caller = await caller_for(request, doc)
    if caller.audience == "reporter" or (caller.audience == "staff" and not upload):
        return
    if doc.get("confidential"):
        raise ProblemError(404)
    if caller.staff is not None:
        if upload:
            raise ProblemError(403, "Hanya pelapor yang dapat mengunggah lampiran")
        raise ProblemError(403, "Lampiran hanya untuk petugas yang menangani pengaduan ini")
    raise ProblemError(
        401, "Token akses pelapor atau token staf diperlukan", headers={"WWW-Authenticate": "Bearer"}
    )


async def _read_bounded(read: Any, limit: int) -> bytes:
    data = bytearray()
    while True:
        chunk = await read(_CHUNK)
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > limit:
            raise ProblemError(413, f"Lampiran maksimal {limit} byte")


def _clean_name(name: str | None) -> str | None:
    if not name:
        return None
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:200] or None


async def _read_upload(request: web.Request, limit: int) -> tuple[bytes, str | None]:
    """The uploaded file and the name the client gave it: the first file part of a multipart
    form, or the raw body (its name from a Content-Disposition header, if any)."""
    declared = request.content_length
    if request.content_type.startswith("multipart/"):
        if declared is not None and declared > limit + _MULTIPART_OVERHEAD:
            raise ProblemError(413, f"Lampiran maksimal {limit} byte")
        try:
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    raise ProblemError(422, errors=[FieldError(field="file", message="berkas tidak ada")])
                if isinstance(part, BodyPartReader) and (part.filename is not None or part.name == "file"):
                    return await _read_bounded(part.read_chunk, limit), part.filename
        except (HttpProcessingError, ValueError, AssertionError, RuntimeError) as exc:
            # aiohttp's multipart reader on a malformed body (a part without headers, a bad
            # boundary, a truncated part): the client's fault, said so, never a 500.
            raise ProblemError(400, f"Isi multipart tidak dapat dibaca: {type(exc).__name__}") from None
    if declared is not None and declared > limit:
        raise ProblemError(413, f"Lampiran maksimal {limit} byte")
    name = None
    disposition = request.headers.get("Content-Disposition")
    if disposition:
        _, params = parse_content_disposition(disposition)
        name = content_disposition_filename(params, "filename")
    return await _read_bounded(request.content.read, limit), name


def _info(request: web.Request, complaint_id: str, item: Stored, anonymous: bool) -> AttachmentInfo:
    return AttachmentInfo(
        id=item.id,
        content_type=item.content_type,
        size=item.size,
        filename=None if anonymous else item.filename,
        uploaded_at=item.uploaded_at,
        url=f"{base_url(request)}/api/v1/complaints/{complaint_id}/attachments/{item.id}",
    )


async def upload(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    doc = await _complaint(request)
    await _require_access(request, doc, upload=True)
    if doc.get("status") in ("closed", "archived"):
        raise ProblemError(409, "Pengaduan yang sudah selesai atau diarsipkan tidak menerima lampiran")
    store = request.app[ATTACHMENTS]
    if await store.count(doc["_id"]) >= settings.attachment_max_count:
        raise ProblemError(409, f"Satu pengaduan paling banyak {settings.attachment_max_count} lampiran")
    data, filename = await _read_upload(request, settings.attachment_max_bytes)
    if not data:
        raise ProblemError(422, errors=[FieldError(field="file", message="berkas kosong")])
    content_type = sniff(data)
    if content_type is None:
        raise ProblemError(415, "Lampiran harus berupa foto (JPEG, PNG, WebP) atau PDF")
    anonymous = bool(doc.get("anonymous"))
    data = await request.app[SCRUBBER].check(data, content_type, clean=anonymous)
    stored = await store.put(
        doc["_id"], data, content_type, None if anonymous else _clean_name(filename), anonymous
    )
    return json_response(_info(request, doc["_id"], stored, anonymous), status=201)


async def list_attachments(request: web.Request) -> web.Response:
    doc = await _complaint(request)
    await _require_access(request, doc, upload=False)
    items = await request.app[ATTACHMENTS].list(doc["_id"])
    anonymous = bool(doc.get("anonymous"))
    return json_response(AttachmentList(items=[_info(request, doc["_id"], i, anonymous) for i in items]))


async def download(request: web.Request) -> web.Response:
    doc = await _complaint(request)
    await _require_access(request, doc, upload=False)
    found = await request.app[ATTACHMENTS].read(doc["_id"], request.match_info["aid"])
    if found is None:
        raise ProblemError(404)
    item, data = found
    anonymous = bool(doc.get("anonymous"))
    if anonymous and not item.stripped:
        # Made anonymous after the upload.
        data = await request.app[SCRUBBER].check(data, item.content_type, clean=True)
    name = f"lampiran-{item.id}.{EXTENSIONS[item.content_type]}"
    if item.filename and not anonymous:
        name = item.filename
    return web.Response(
        body=data,
        content_type=item.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_scrubber_ctx)
    base = "/api/v1/complaints/{id}/attachments"
    app.router.add_post(base, upload)
    app.router.add_get(base, list_attachments)
    app.router.add_get(base + "/{aid}", download)
