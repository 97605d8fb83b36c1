"""Attachments built in the tests with Pillow and pikepdf themselves, each carrying the reporter's
identity in a place a careless cleaner would leave it, and readers that say what is left."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, PngImagePlugin

NAME = "Budi Santoso"
GPS = {1: "S", 2: (6.0, 59.0, 35.5), 3: "E", 4: (110.0, 25.0, 13.0)}
_ORIENTATION, _MAKE, _GPS_IFD = 0x0112, 0x010F, 0x8825


def exif(orientation: int = 1) -> Image.Exif:
    tags = Image.Exif()
    tags[_MAKE] = f"Kamera {NAME}"
    tags[_ORIENTATION] = orientation
    tags[_GPS_IFD] = GPS
    return tags


def photo(size: tuple[int, int] = (64, 48), orientation: int = 1, fmt: str = "JPEG") -> bytes:
    """A red-and-blue photo with EXIF (GPS, camera), a comment, XMP and an ICC profile."""
    im = Image.new("RGB", size, (200, 30, 30))
    im.paste((20, 40, 220), (0, 0, size[0] // 2, size[1]))
    out = io.BytesIO()
    xmp = f"<x:xmpmeta><dc:creator>{NAME}</dc:creator></x:xmpmeta>".encode()
    options: dict[str, Any] = {"exif": exif(orientation), "xmp": xmp}
    if fmt == "JPEG":
        options |= {"comment": NAME.encode(), "icc_profile": b"ICC " + NAME.encode(), "quality": 80}
    im.save(out, fmt, **options)
    return out.getvalue()


def png_with_text() -> bytes:
    """A palette PNG with a transparent colour and tEXt, zTXt, iTXt and eXIf chunks."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", NAME)
    info.add_text("Title", f"Rumah {NAME}", zip=True)
    info.add_itxt("Comment", f"Lokasi {NAME}", zip=False)
    im = Image.new("P", (12, 8), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    im.putpixel((0, 0), 0)
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=info, transparency=0, exif=exif())
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, *, depth: int = 8, rows: int = 1) -> bytes:
    """A PNG that declares an RGBA image of this size; its pixel data are `rows` all-zero rows
    (all of them: a decompression bomb, a few bytes per megapixel)."""
    bytes_per_row = 1 + width * 4 * depth // 8
    block = bytes(bytes_per_row * 64)
    comp = zlib.compressobj(1)
    body = b"".join(comp.compress(block) for _ in range(rows // 64))
    body += comp.compress(bytes(bytes_per_row * (rows % 64))) + comp.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def heavy_png() -> bytes:
    """About 150 KB that decode to 320 MB (40 MP, 16-bit RGBA): seconds of CPU to open and encode."""
    return png_declaring(6300, 6300, depth=16, rows=6300)


def pdf(pages: int = 1, *, object_streams: bool = True) -> bytes:
    """A PDF with the reporter's name in its document info and XMP, in the EXIF of a photo on its
    page, a comment annotation signed with it, a form field, an embedded file (also as a
    file-attachment annotation), document JavaScript, a JavaScript open action and page
    additional actions."""
    doc = pikepdf.new()
    for _ in range(pages):
        doc.add_blank_page(page_size=(200, 200))
    first = doc.pages[0]
    first.obj.Contents = doc.make_stream(b"BT /F1 12 Tf 20 100 Td (Jalan berlubang) Tj ET")
    picture = doc.make_stream(
        photo(), Type=Name.XObject, Subtype=Name.Image, Width=64, Height=48, ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8, Filter=Name.DCTDecode,
    )  # fmt: skip
    first.obj.Resources = Dictionary(XObject=Dictionary(Im0=picture))
    doc.docinfo["/Author"] = NAME
    doc.docinfo["/Producer"] = f"Word ({NAME})"
    with doc.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [NAME]
    note = Dictionary(
        Type=Name.Annot, Subtype=Name.Text, Rect=[10, 10, 30, 30], T=String(NAME), Contents=String("lihat")
    )
    attached = doc.make_stream(f"KTP {NAME} 3374011203900004".encode())
    spec = doc.make_indirect(
        Dictionary(Type=Name.Filespec, F=String("ktp-budi.txt"), EF=Dictionary(F=attached))
    )
    clip = Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=[40, 10, 60, 30], FS=spec)
    script = doc.make_indirect(Dictionary(S=Name.JavaScript, JS=String(f"app.alert('{NAME}')")))
    field = doc.make_indirect(
        Dictionary(
            Type=Name.Annot, Subtype=Name.Widget, FT=Name.Tx, T=String("alamat"), Rect=[70, 10, 190, 30]
        )
    )
    first.obj.Annots = Array([doc.make_indirect(note), doc.make_indirect(clip), field])
    first.obj.AA = Dictionary(O=script)
    doc.Root.AcroForm = Dictionary(Fields=Array([field]))
    doc.Root.OpenAction = script
    doc.Root.Names = Dictionary(
        EmbeddedFiles=Dictionary(Names=Array([String("ktp.txt"), spec])),
        JavaScript=Dictionary(Names=Array([String("sapa"), script])),
    )
    out = io.BytesIO()
    mode = pikepdf.ObjectStreamMode.generate if object_streams else pikepdf.ObjectStreamMode.disable
    doc.save(out, object_stream_mode=mode)
    return out.getvalue()


def pdf_leftovers(data: bytes) -> list[str]:
    """What of the reporter and of active content a PDF still carries (opened with pikepdf)."""
    found: list[str] = []
    with pikepdf.open(io.BytesIO(data)) as doc:
        if "/Info" in doc.trailer:
            found.append("document info")
        if "/OpenAction" in doc.Root:
            found.append("open action")
        names = doc.Root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            found += [f"names {k}" for k in ("/EmbeddedFiles", "/JavaScript") if k in names]
        for obj in doc.objects:
            if not isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                continue
            for key in ("/Metadata", "/EF", "/AA", "/JS"):
                if key in obj:
                    found.append(f"{key} in {obj.get('/Type', obj.get('/Subtype', '?'))}")
            if obj.get("/Subtype") == Name.FileAttachment:
                found.append("file attachment annotation")
            if "/T" in obj and obj.get("/Subtype") not in (None, Name.Widget):
                found.append(f"annotation author {obj.T}")
            if obj.get("/Type") == Name.Metadata:
                found.append("XMP stream")
            if isinstance(obj, pikepdf.Stream) and NAME.encode() in _stream_bytes(obj):
                found.append("name in a stream")
    return found


def _stream_bytes(stream: pikepdf.Stream) -> bytes:
    """Decoded as far as qpdf can (a JPEG image stays as it is stored)."""
    try:
        return stream.read_bytes(decode_level=pikepdf.StreamDecodeLevel.generalized)
    except pikepdf.PdfError:
        return stream.read_raw_bytes()


def pdf_text(data: bytes) -> tuple[int, bytes, list[str]]:
    """The page count, the first page's content and the form fields' names."""
    with pikepdf.open(io.BytesIO(data)) as doc:
        fields = [str(f.T) for f in doc.Root.AcroForm.Fields] if "/AcroForm" in doc.Root else []
        return len(doc.pages), doc.pages[0].Contents.read_bytes(), fields


def pdf_photo_pixels(data: bytes) -> bytes:
    """The pixels of the photo on the first page (decoded by Pillow)."""
    with pikepdf.open(io.BytesIO(data)) as doc:
        raw = doc.pages[0].Resources.XObject.Im0.read_raw_bytes()
    with Image.open(io.BytesIO(raw)) as im:
        return im.tobytes()


# The PDF scrubber's old patterns were quadratic on these (80 KB took seconds).
OLD_CRAFTED = [
    b"%PDF-1.4\n" + b"/Author (" * (80 * 1024 // 9),
    b"%PDF-1.4\n" + b"<?xpacket begin=" * (80 * 1024 // 16),
    b"%PDF-1.4\nstream\n" + b"stream\r\n" * (80 * 1024 // 8),
]
