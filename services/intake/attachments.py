"""Attachments (DESIGN §3): photos (JPEG, PNG, WebP) and PDF, kept in intake's database (GridFS)
and served only to the reporter (access token) and to staff whose scope covers the complaint's
current OPD.

- The type is decided by the bytes (magic numbers), never by the name or the declared type:
  anything else is a 415. Larger than `attachment_max_bytes` is a 413.
- Anonymous complaints: metadata is removed before the file is stored, and the file name is not
  kept. JPEG: APP1–APP13, APP15 (EXIF, XMP, ICC, IPTC/Photoshop, MPF …) and COM segments are
  dropped, APP0 only kept as a plain JFIF header without thumbnail, APP14 "Adobe" kept (colour
  transform only, needed to decode CMYK files); bytes after EOI are dropped. PNG: only the chunks
  that describe pixels are kept (text, eXIf, tIME and unknown chunks go). WebP: EXIF and XMP
  chunks go and the VP8X flags say so. PDF: Info-dictionary strings and XMP packets are blanked in
  place (same length, so the cross-reference table stays valid); a PDF whose metadata sits in
  compressed streams cannot be cleaned without rewriting it, so it is refused (422) for an
  anonymous complaint. No imaging library is needed.
- A complaint made anonymous later by a coordinator: stored files are cleaned when served, and
  their names are no longer shown.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from services.intake.commands import base_url
from services.intake.identity import caller_for
from services.intake.models import AttachmentInfo, AttachmentList
from services.intake.settings import SETTINGS
from services.intake.store import STORE
from shared import clock
from shared.http import FieldError, ProblemError, json_response

BUCKET = "attachments"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
_CHUNK = 64 * 1024
# Room for a multipart envelope (boundaries, part headers) around the file itself.
_MULTIPART_OVERHEAD = 16 * 1024


class Unreadable(ValueError):
    """The bytes claim a type (by their magic) but are not a well-formed file of it."""


class CannotClean(ValueError):
    """Metadata may remain and cannot be removed without rewriting the file."""


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


def strip_metadata(data: bytes, content_type: str) -> bytes:
    if content_type == "image/jpeg":
        return strip_jpeg(data)
    if content_type == "image/png":
        return strip_png(data)
    if content_type == "image/webp":
        return strip_webp(data)
    if content_type == "application/pdf":
        return scrub_pdf(data)
    raise ValueError(content_type)


# --- JPEG ---------------------------------------------------------------------------------------

_SOS, _EOI, _COM, _APP0, _APP14 = 0xDA, 0xD9, 0xFE, 0xE0, 0xEE


def _keep_jpeg_segment(marker: int, body: bytes) -> bool:
    if marker == _COM:
        return False
    if marker == _APP0:
        # A plain JFIF header without a thumbnail (a thumbnail can show the uncropped photo).
        return body.startswith(b"JFIF\x00") and len(body) >= 14 and body[12] == 0 and body[13] == 0
    if marker == _APP14:
        return body.startswith(b"Adobe")
    return not 0xE1 <= marker <= 0xEF


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG without metadata segments; every image segment and scan kept byte for byte."""
    if not data.startswith(b"\xff\xd8"):
        raise Unreadable("no SOI")
    out = bytearray(b"\xff\xd8")
    i, n = 2, len(data)
    while True:
        if i >= n or data[i] != 0xFF:
            raise Unreadable(f"marker expected at {i}")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            raise Unreadable("truncated marker")
        marker = data[i]
        i += 1
        if marker == _EOI:
            out += b"\xff\xd9"
            return bytes(out)  # anything appended after the image is dropped
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += bytes((0xFF, marker))
            continue
        if i + 2 > n:
            raise Unreadable("truncated segment length")
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2 or i + length > n:
            raise Unreadable(f"bad segment length at {i}")
        body = data[i + 2 : i + length]
        if _keep_jpeg_segment(marker, body):
            out += bytes((0xFF, marker)) + data[i : i + length]
        i += length
        if marker == _SOS:
            # Entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor RSTn.
            j = i
            while True:
                j = data.find(b"\xff", j)
                if j < 0 or j + 1 >= n:
                    raise Unreadable("scan without end")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    j += 2
                    continue
                break
            out += data[i:j]
            i = j


# --- PNG ----------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that describe the pixels (and APNG frames); everything else, text and eXIf included, goes.
_PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
     b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT", b"cICP", b"mDCV", b"cLLI"}
)  # fmt: skip


def strip_png(data: bytes) -> bytes:
    if not data.startswith(_PNG_SIGNATURE):
        raise Unreadable("no PNG signature")
    out = bytearray(_PNG_SIGNATURE)
    i, n = len(_PNG_SIGNATURE), len(data)
    while i + 8 <= n:
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        end = i + 12 + length
        if end > n:
            raise Unreadable(f"chunk {kind!r} runs past the end")
        if kind in _PNG_KEEP:
            out += data[i:end]
        if kind == b"IEND":
            return bytes(out)
        i = end
    raise Unreadable("no IEND")


# --- WebP ---------------------------------------------------------------------------------------

_WEBP_DROP = frozenset({b"EXIF", b"XMP "})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def strip_webp(data: bytes) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Unreadable("no RIFF/WEBP header")
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    body = bytearray()
    i = 12
    while i + 8 <= end:
        kind = data[i : i + 4]
        size = int.from_bytes(data[i + 4 : i + 8], "little")
        stop = i + 8 + size + (size & 1)
        if i + 8 + size > end:
            raise Unreadable(f"chunk {kind!r} runs past the end")
        if kind == b"VP8X" and size >= 1:
            chunk = bytearray(data[i:stop])
            chunk[8] &= ~(_VP8X_EXIF | _VP8X_XMP) & 0xFF
            body += chunk
        elif kind not in _WEBP_DROP:
            body += data[i:stop]
        i = stop
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WEBP" + bytes(body)


# --- PDF ----------------------------------------------------------------------------------------

_INFO_KEY = re.compile(rb"/(?:Author|Creator|Producer|Title|Subject|Keywords)\s*([(<])")
_XMP_PACKET = re.compile(rb"<\?xpacket begin=.*?<\?xpacket end=[^>]*>", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_HIDDEN_METADATA = re.compile(rb"/(?:Author|Creator|Producer)\s*[(<]|xmpmeta|xpacket")


def _string_end(data: bytes, start: int) -> int:
    """Index just past the PDF string opening at `start` (`(` literal with nesting, or `<` hex)."""
    if data[start : start + 1] == b"<":
        end = data.find(b">", start)
        if end < 0:
            raise Unreadable("unterminated hex string")
        return end + 1
    depth, i = 0, start
    while i < len(data):
        c = data[i]
        if c == 0x5C:  # backslash escapes the next byte
            i += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise Unreadable("unterminated string")


def scrub_pdf(data: bytes) -> bytes:
    out = bytearray(data)
    for match in _INFO_KEY.finditer(data):
        start = match.start(1)
        end = _string_end(data, start)
        filler = b" " if data[start : start + 1] == b"(" else b"0"
        out[start + 1 : end - 1] = filler * (end - 1 - (start + 1))
    for match in _XMP_PACKET.finditer(data):
        out[match.start() : match.end()] = b" " * (match.end() - match.start())
    for match in _STREAM.finditer(bytes(out)):
        try:
            inflated = zlib.decompressobj().decompress(match.group(1), 16 * 1024 * 1024)
        except zlib.error:
            continue  # not Flate (an image, or already plain): the plain text was scrubbed above
        if _HIDDEN_METADATA.search(inflated):
            raise CannotClean("metadata inside a compressed stream")
    return bytes(out)


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
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                raise ProblemError(422, errors=[FieldError(field="file", message="berkas tidak ada")])
            if isinstance(part, BodyPartReader) and (part.filename is not None or part.name == "file"):
                return await _read_bounded(part.read_chunk, limit), part.filename
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
    if anonymous:
        data = _cleaned(data, content_type)
    stored = await store.put(
        doc["_id"], data, content_type, None if anonymous else _clean_name(filename), anonymous
    )
    return json_response(_info(request, doc["_id"], stored, anonymous), status=201)


def _cleaned(data: bytes, content_type: str) -> bytes:
    try:
        return strip_metadata(data, content_type)
    except Unreadable as exc:
        raise ProblemError(
            422, errors=[FieldError(field="file", message=f"berkas rusak atau tidak lengkap ({exc})")]
        ) from None
    except CannotClean:
        raise ProblemError(
            422,
            errors=[
                FieldError(
                    field="file",
                    message="metadata PDF ini tidak dapat dihapus; untuk pengaduan anonim kirim foto "
                    "atau cetak ulang PDF tanpa properti dokumen",
                )
            ],
        ) from None


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
        data = _cleaned(data, item.content_type)  # made anonymous after the upload
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
