"""Attachment content checks and metadata removal, on files built byte by byte here."""

from __future__ import annotations

import zlib

import pytest

from services.intake.attachments import (
    CannotClean,
    Unreadable,
    scrub_pdf,
    sniff,
    strip_jpeg,
    strip_png,
    strip_webp,
)

SECRET = b"Budi Santoso -6.9932,110.4203"


def seg(marker: int, body: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(body) + 2).to_bytes(2, "big") + body


JFIF = seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
JFIF_WITH_THUMBNAIL = seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x02\x02" + SECRET[:12])
ADOBE = seg(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
DQT = seg(0xDB, b"\x00" + bytes(range(64)))
SOF = seg(0xC0, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00")
DHT = seg(0xC4, b"\x00" + bytes(16) + b"")
SOS = seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
# Entropy-coded data with a stuffed 0xFF00 and a restart marker, which are not segment boundaries.
SCAN = b"\x12\x34\xff\x00\x56\xff\xd0\x78\x9a"


def test_jpeg_loses_exif_xmp_comments_thumbnails_and_trailers_but_keeps_every_image_byte() -> None:
    exif = seg(0xE1, b"Exif\x00\x00" + SECRET)
    xmp = seg(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + SECRET + b"</x:xmpmeta>")
    icc = seg(0xE2, b"ICC_PROFILE\x00" + SECRET)
    comment = seg(0xFE, SECRET)
    between_scans = seg(0xED, b"Photoshop 3.0\x00" + SECRET)
    original = (
        b"\xff\xd8" + JFIF_WITH_THUMBNAIL + exif + xmp + icc + ADOBE + comment + DQT + SOF + DHT
        + SOS + SCAN + between_scans + SOS + SCAN + b"\xff\xd9" + SECRET
    )  # fmt: skip
    cleaned = strip_jpeg(original)
    assert SECRET[:4] not in cleaned
    assert cleaned == b"\xff\xd8" + ADOBE + DQT + SOF + DHT + SOS + SCAN + SOS + SCAN + b"\xff\xd9"
    assert sniff(cleaned) == "image/jpeg"
    assert strip_jpeg(cleaned) == cleaned  # idempotent


def test_a_plain_jfif_header_stays() -> None:
    original = b"\xff\xd8" + JFIF + DQT + SOS + SCAN + b"\xff\xd9"
    assert strip_jpeg(original) == original


@pytest.mark.parametrize(
    "broken",
    [
        b"\xff\xd8" + JFIF + DQT[:5],  # segment runs past the end
        b"\xff\xd8" + JFIF + SOS + SCAN,  # scan never ends
        b"\xff\xd8\x00\x00",  # no marker where one must be
    ],
)
def test_a_broken_jpeg_is_refused_not_passed_through(broken: bytes) -> None:
    with pytest.raises(Unreadable):
        strip_jpeg(broken)


def chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IHDR = chunk(b"IHDR", b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00")
IDAT = chunk(b"IDAT", zlib.compress(b"\x00\x00"))
IEND = chunk(b"IEND", b"")


def test_png_keeps_the_pixels_and_loses_text_exif_and_time() -> None:
    original = (
        PNG_SIGNATURE + IHDR + chunk(b"tEXt", b"Author\x00" + SECRET) + chunk(b"eXIf", b"MM\x00*" + SECRET)
        + chunk(b"pHYs", bytes(9)) + chunk(b"iTXt", b"Comment\x00\x00\x00\x00\x00" + SECRET)
        + chunk(b"tIME", bytes(7)) + IDAT + chunk(b"zTXt", b"Title\x00\x00" + zlib.compress(SECRET)) + IEND
        + SECRET
    )  # fmt: skip
    cleaned = strip_png(original)
    assert cleaned == PNG_SIGNATURE + IHDR + chunk(b"pHYs", bytes(9)) + IDAT + IEND
    assert sniff(cleaned) == "image/png"


def test_a_png_without_its_end_is_refused() -> None:
    with pytest.raises(Unreadable):
        strip_png(PNG_SIGNATURE + IHDR + IDAT)


def riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(4, "little") + data + (b"\x00" if len(data) % 2 else b"")


def test_webp_loses_exif_and_xmp_and_its_header_says_so() -> None:
    vp8x = riff_chunk(b"VP8X", bytes([0x08 | 0x04 | 0x10]) + bytes(9))  # EXIF, XMP, alpha
    image = riff_chunk(b"VP8L", b"\x2f\x00\x00\x00\x00")
    body = b"WEBP" + vp8x + image + riff_chunk(b"EXIF", SECRET) + riff_chunk(b"XMP ", SECRET + b"!")
    original = b"RIFF" + len(body).to_bytes(4, "little") + body
    cleaned = strip_webp(original)
    assert SECRET[:4] not in cleaned
    expected_body = b"WEBP" + riff_chunk(b"VP8X", bytes([0x10]) + bytes(9)) + image
    assert cleaned == b"RIFF" + len(expected_body).to_bytes(4, "little") + expected_body
    assert sniff(cleaned) == "image/webp"


PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >> endobj\n"
    b"3 0 obj << /Author (Budi \\(Pak\\) Santoso (RT 3)) /Producer <42756469>\n"
    b"/Title (Laporan Budi) >> endobj\n"
    b"4 0 obj << /Type /Metadata /Subtype /XML /Length 90 >> stream\n"
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta>Budi</x:xmpmeta><?xpacket end="w"?>\n'
    b"endstream endobj\n"
    b"trailer << /Info 3 0 R /Root 1 0 R >>\n%%EOF\n"
)


def test_pdf_metadata_is_blanked_in_place_so_offsets_stay_valid() -> None:
    cleaned = scrub_pdf(PDF)
    assert len(cleaned) == len(PDF)
    assert b"Budi" not in cleaned and b"42756469" not in cleaned and b"xmpmeta" not in cleaned
    assert b"/Author (" in cleaned and b"/Type /Catalog" in cleaned
    assert sniff(cleaned) == "application/pdf"


def test_a_pdf_hiding_metadata_in_a_compressed_stream_cannot_be_cleaned() -> None:
    hidden = zlib.compress(b"3 0 << /Author (Budi) /Producer (Word) >>")
    pdf = b"%PDF-1.7\n5 0 obj << /Type /ObjStm /Filter /FlateDecode >> stream\n" + hidden + b"\nendstream\n"
    with pytest.raises(CannotClean):
        scrub_pdf(pdf)
    content = zlib.compress(b"BT /F1 12 Tf (Halo) Tj ET")
    plain = b"%PDF-1.7\n6 0 obj << /Filter /FlateDecode >> stream\n" + content + b"\nendstream\n"
    assert scrub_pdf(plain) == plain


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (PNG_SIGNATURE + b"rest", "image/png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"GIF89a....", None),
        (b"<html><script>", None),
        (b"PK\x03\x04 a zip named foto.jpg", None),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", None),
        (b"", None),
    ],
)
def test_the_type_is_read_from_the_bytes(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected
