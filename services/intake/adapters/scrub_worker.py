"""What runs inside an attachment worker process: every upload is opened with Pillow (photos) or
pikepdf (PDF) under the size, pixel and page limits; an anonymous reporter's file is rewritten
without metadata.

This module imports neither aiohttp nor the service: the worker processes (services/intake/
attachments.py starts them) load only it and the two libraries. A library call cannot be
interrupted from Python, so the limits that stop a runaway one are the process's own: an address
space limit (`init_worker`) and a CPU-seconds limit per task (`run`); the parent kills a worker
that overruns its time.

- Photos (JPEG, PNG, WebP) are decoded in full (a truncated or forged file is refused) and, to
  clean them, encoded again from the pixels: EXIF (GPS included), XMP, ICC, comments, text chunks
  and thumbnails are not carried over. The EXIF orientation is applied to the pixels first, so
  the photo still stands upright. Only the first frame of an animation is kept. JPEGs keep their
  quantisation tables (no quality lost) unless rotated.
- PDFs are rewritten by qpdf: the document info, every XMP stream, annotation authors (`/T` on
  non-widget annotations), embedded and associated files, file-attachment annotations, document
  JavaScript, open and additional actions, script-running actions and XFA forms go; compressed
  object streams are read natively. Streams are copied without decoding (no decompression bomb),
  except that JPEG images lose their EXIF, XMP and comment segments (their image data unchanged).
  The trailer's `/ID` is regenerated (it can link the file to its author's other documents).
"""

from __future__ import annotations

import resource
import warnings
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pikepdf
from PIL import Image, ImageOps


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_pages: int
    cpu_seconds: int


@dataclass(frozen=True)
class Outcome:
    """A task's answer. `data` is the rewritten file (None: keep the upload as it is); `problem`
    is set when the file is refused: "pixels", "pages", "encrypted", "memory" or "unreadable"."""

    data: bytes | None = None
    problem: str | None = None
    detail: str = ""


class Refused(Exception):
    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(problem, detail)
        self.problem = problem
        self.detail = detail


# Set by `init_worker`: only a worker process may put a CPU limit on itself. `run` called in any
# other process (a unit test, a tool) must not: the kernel would end that whole process with
# SIGXCPU once it had used the limit — it once killed the test run half-way.
_IN_WORKER = False


def init_worker(memory_bytes: int) -> None:
    """A worker process's start: its address space is capped (an allocation past it fails with
    MemoryError instead of swapping the host), and a kill leaves no core file."""
    global _IN_WORKER
    _IN_WORKER = True
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or memory_bytes < hard:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    # Pillow's own decompression-bomb check refuses, not only warns.
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def warm() -> None:
    """A no-op task: starts the workers before the first upload."""


def _limit_cpu(seconds: int) -> None:
    """The kernel ends this process (SIGXCPU) once this task has used about `seconds` of CPU (the
    limit is in whole seconds, so within half a second); it counts the process's whole life, so
    it is set from what was used before."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = max(int(used) + 1, round(used + max(1, seconds)))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def run(data: bytes, content_type: str, clean: bool, limits: Limits) -> Outcome:
    """The worker's task: check (and with `clean`, rewrite) one upload."""
    if _IN_WORKER:
        _limit_cpu(limits.cpu_seconds)
    try:
        return Outcome(data=process(data, content_type, clean, limits))
    except Refused as exc:
        return Outcome(problem=exc.problem, detail=exc.detail)
    except MemoryError:
        return Outcome(problem="memory")
    except Exception as exc:  # whatever a library says of a forged file, it is unreadable
        return Outcome(problem="unreadable", detail=type(exc).__name__)


def process(data: bytes, content_type: str, clean: bool, limits: Limits) -> bytes | None:
    if content_type == "application/pdf":
        return _pdf(data, clean, limits)
    return _image(data, content_type, clean, limits)


# --- photos -------------------------------------------------------------------------------------

_IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_ORIENTATION = 0x0112


def _image(data: bytes, content_type: str, clean: bool, limits: Limits) -> bytes | None:
    fmt = _IMAGE_FORMATS[content_type]
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        im = Image.open(BytesIO(data), formats=[fmt])
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise Refused("pixels") from None
    with im:
        width, height = im.size
        if width * height > limits.max_pixels:
            raise Refused("pixels", f"{width}×{height}")
        im.load()  # every pixel of the first frame: a truncated or forged file fails here
        if not clean:
            return None
        return _reencode(im, fmt)


def _reencode(im: Image.Image, fmt: str) -> bytes:
    options: dict[str, Any] = {}
    out_im = im
    if im.getexif().get(_ORIENTATION, 1) != 1:
        out_im = ImageOps.exif_transpose(im)
    elif fmt == "JPEG" and im.format == "JPEG":
        options = {"quality": "keep", "subsampling": "keep"}
    # Savers fall back to the opened file's own info (comment, ICC, XMP, EXIF): keep none of it
    # but the palette transparency, which is part of the pixels.
    transparency = im.info.get("transparency")
    out_im.info = {} if transparency is None else {"transparency": transparency}
    if fmt == "JPEG":
        options.setdefault("quality", 90)
    elif fmt == "WEBP":
        options = {"quality": 90}
    out = BytesIO()
    out_im.save(out, fmt, **options)
    return out.getvalue()


# --- PDF ----------------------------------------------------------------------------------------

# Actions that run code, open or send files, or play media: a link to a page or a URI stays.
_ACTIVE_ACTIONS = frozenset(
    {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/RichMediaExecute", "/Rendition",
     "/GoToE", "/Sound", "/Movie", "/Hide", "/SetOCGState"}
)  # fmt: skip
# Keys dropped from every dictionary: metadata, application-private data, embedded file streams,
# additional actions and JavaScript code.
_DROP_EVERYWHERE = ("/Metadata", "/PieceInfo", "/EF", "/AA", "/JS", "/LastModified")
_DROP_FROM_CATALOG = ("/OpenAction", "/AF", "/Collection", "/SpiderInfo", "/Perms", "/Threads")
_DROP_FROM_NAMES = ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations")


def _pdf(data: bytes, clean: bool, limits: Limits) -> bytes | None:
    try:
        pdf = pikepdf.open(BytesIO(data))
    except pikepdf.PasswordError:
        raise Refused("encrypted") from None
    with pdf:
        pages = len(pdf.pages)
        if pages == 0:
            raise Refused("unreadable", "tanpa halaman")
        if pages > limits.max_pages:
            raise Refused("pages", str(pages))
        if not clean:
            return None
        _scrub(pdf)
        out = BytesIO()
        pdf.save(
            out,
            fix_metadata_version=False,
            deterministic_id=True,
            stream_decode_level=pikepdf.StreamDecodeLevel.none,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
        )
        return out.getvalue()


def _scrub(pdf: pikepdf.Pdf) -> None:
    for key in ("/Info", "/ID"):
        if key in pdf.trailer:
            del pdf.trailer[key]
    root = pdf.Root
    _drop(root, _DROP_FROM_CATALOG)
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        _drop(names, _DROP_FROM_NAMES)
    form = root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary):
        _drop(form, ("/XFA",))
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            kept = [a for a in annots if not _is_file_attachment(a)]
            if len(kept) != len(annots):
                page.obj.Annots = pikepdf.Array(kept)
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array):
            _scrub_object(obj)
        if isinstance(obj, pikepdf.Stream) and obj.get("/Filter") in (_DCT, _DCT_ONLY):
            raw = obj.read_raw_bytes()
            stripped = _jpeg_without_metadata(raw)
            parms = obj.get("/DecodeParms")
            if stripped is not None and stripped != raw:
                obj.write(
                    stripped,
                    filter=_DCT,
                    decode_parms=parms if isinstance(parms, pikepdf.Dictionary | pikepdf.Array) else None,
                )


def _drop(d: pikepdf.Object, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in d:
            del d[key]


def _is_file_attachment(annot: pikepdf.Object) -> bool:
    return isinstance(annot, pikepdf.Dictionary) and annot.get("/Subtype") == pikepdf.Name.FileAttachment


def _is_active(action: pikepdf.Object) -> bool:
    if isinstance(action, pikepdf.Array):
        return any(_is_active(a) for a in action)
    return isinstance(action, pikepdf.Dictionary) and str(action.get("/S", "")) in _ACTIVE_ACTIONS


def _scrub_object(obj: pikepdf.Object) -> None:
    """One object and the direct objects inside it (indirect ones are visited on their own)."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, pikepdf.Array):
            pending.extend(v for v in item if _direct_container(v))
            continue
        _drop(item, _DROP_EVERYWHERE)
        for key in ("/A", "/Next", "/OpenAction"):
            if key in item and _is_active(item[key]):
                del item[key]
        subtype = item.get("/Subtype")
        if "/T" in item and "/Rect" in item and subtype is not None and subtype != pikepdf.Name.Widget:
            del item["/T"]  # a markup annotation's author (a widget's /T is its field name)
        pending.extend(v for _, v in item.items() if _direct_container(v))


def _direct_container(v: pikepdf.Object) -> bool:
    return isinstance(v, pikepdf.Dictionary | pikepdf.Array) and not v.is_indirect


# --- JPEG images inside a PDF -------------------------------------------------------------------

_DCT = pikepdf.Name.DCTDecode
_DCT_ONLY = pikepdf.Array([_DCT])
_SOS, _APP14 = 0xDA, 0xEE


def _jpeg_without_metadata(data: bytes) -> bytes | None:
    """A JPEG image stream of a PDF (a photo "printed" to PDF keeps its EXIF, GPS included) with
    the metadata segments before its first scan dropped: APP0–APP13, APP15 and comments. The
    image data are kept byte for byte (encoding them again could change colours the PDF's own
    colour space and /Decode describe); APP14 "Adobe" stays, it says how to read the colours.
    None when the header is not well formed (the stream is then left as it is).

    No library drops JPEG segments without decoding the image, hence this short loop; it reads
    each header segment once (linear time)."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out = bytearray(b"\xff\xd8")
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # a fill byte
            i += 1
            continue
        if marker == _SOS:
            out += data[i:]
            return bytes(out)
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > n:
            return None
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE) or marker == _APP14:
            out += data[i : i + 2 + length]
        i += 2 + length
    return None
