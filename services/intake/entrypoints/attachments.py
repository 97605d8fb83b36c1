"""Attachments (DESIGN §3): photos (JPEG, PNG, WebP) and PDF, kept in intake's database (GridFS)
and served only to the reporter (access token) and to staff whose scope covers the complaint's
current OPD.

- The type is decided by the bytes (magic numbers), never by the name or the declared type:
  anything else is a 415. Larger than `attachment_max_bytes` is a 413.
- Every upload is opened by Pillow or pikepdf in a worker process (services/intake/adapters/scrub_worker.py)
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

from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from services.intake.adapters.attachments import Stored
from services.intake.domain.attachments import EXTENSIONS, check_open, check_room, clean_name, sniff
from services.intake.entrypoints.access import caller_for, complaint_for
from services.intake.entrypoints.edge import ADAPTERS, SCRUBBER, SETTINGS, base_url
from services.intake.models import AttachmentInfo, AttachmentList
from shared.http import FieldError, ProblemError, json_response

_CHUNK = 64 * 1024
# Room for a multipart envelope (boundaries, part headers) around the file itself.
_MULTIPART_OVERHEAD = 16 * 1024


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
    doc = await complaint_for(request)
    await _require_access(request, doc, upload=True)
    check_open(doc.get("status"))
    store = request.app[ADAPTERS].attachments
    check_room(await store.count(doc["_id"]), settings.attachment_max_count)
    data, filename = await _read_upload(request, settings.attachment_max_bytes)
    if not data:
        raise ProblemError(422, errors=[FieldError(field="file", message="berkas kosong")])
    content_type = sniff(data)
    if content_type is None:
        raise ProblemError(415, "Lampiran harus berupa foto (JPEG, PNG, WebP) atau PDF")
    anonymous = bool(doc.get("anonymous"))
    data = await request.app[SCRUBBER].check(data, content_type, clean=anonymous)
    stored = await store.put(
        doc["_id"], data, content_type, None if anonymous else clean_name(filename), anonymous
    )
    return json_response(_info(request, doc["_id"], stored, anonymous), status=201)


async def list_attachments(request: web.Request) -> web.Response:
    doc = await complaint_for(request)
    await _require_access(request, doc, upload=False)
    items = await request.app[ADAPTERS].attachments.list(doc["_id"])
    anonymous = bool(doc.get("anonymous"))
    return json_response(AttachmentList(items=[_info(request, doc["_id"], i, anonymous) for i in items]))


async def download(request: web.Request) -> web.Response:
    doc = await complaint_for(request)
    await _require_access(request, doc, upload=False)
    found = await request.app[ADAPTERS].attachments.read(doc["_id"], request.match_info["aid"])
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
    base = "/api/v1/complaints/{id}/attachments"
    app.router.add_post(base, upload)
    app.router.add_get(base, list_attachments)
    app.router.add_get(base + "/{aid}", download)
