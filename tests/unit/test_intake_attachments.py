"""Attachment checks and cleaning as the worker process runs them (called here in process), on
files built with Pillow and pikepdf; the worker pool and its limits are tested over HTTP in
tests/integration/test_intake_attachments.py."""

from __future__ import annotations

import io
import resource

import pikepdf
import pytest
from PIL import Image

from services.intake.adapters.scrub_worker import Limits, Outcome, run
from services.intake.domain.attachments import sniff
from tests.attachment_files import (
    NAME,
    OLD_CRAFTED,
    pdf,
    pdf_leftovers,
    pdf_photo_pixels,
    pdf_text,
    photo,
    png_declaring,
    png_with_text,
)

# As in a worker process (init_worker): Pillow's own pixel check refuses.
pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")

LIMITS = Limits(max_pixels=1_000_000, max_pages=5, cpu_seconds=10)


def cleaned(data: bytes, content_type: str) -> bytes:
    outcome = run(data, content_type, True, LIMITS)
    assert outcome.problem is None and outcome.data is not None, outcome
    return outcome.data


def test_a_jpeg_loses_exif_gps_xmp_icc_and_comment_and_keeps_its_pixels_and_quality() -> None:
    original = photo()
    assert NAME.encode() in original
    data = cleaned(original, "image/jpeg")
    assert NAME.encode() not in data and b"Exif" not in data
    with Image.open(io.BytesIO(data)) as im, Image.open(io.BytesIO(original)) as before:
        assert im.format == "JPEG" and im.size == before.size
        assert not im.getexif() and im.getexif().get_ifd(0x8825) == {}
        assert not {"exif", "comment", "xmp", "icc_profile", "photoshop"} & im.info.keys()
        assert im.quantization == before.quantization  # not encoded again at another quality
        assert im.getpixel((5, 5)) == before.getpixel((5, 5))


def test_a_rotated_photo_stands_upright_after_its_exif_is_gone() -> None:
    data = cleaned(photo(size=(64, 48), orientation=6), "image/jpeg")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (48, 64) and not im.getexif()
        top, bottom = im.getpixel((24, 2)), im.getpixel((24, 61))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[2] > 150 > bottom[2]  # the blue left half is on top now


def test_a_webp_loses_exif_and_xmp() -> None:
    original = photo(fmt="WEBP")
    assert NAME.encode() in original
    data = cleaned(original, "image/webp")
    assert NAME.encode() not in data
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "WEBP" and not im.getexif() and "xmp" not in im.info


def test_a_png_loses_its_text_and_exif_chunks_and_keeps_pixels_and_transparency() -> None:
    original = png_with_text()
    data = cleaned(original, "image/png")
    assert NAME.encode() not in data
    for kind in (b"tEXt", b"zTXt", b"iTXt", b"eXIf"):
        assert kind in original and kind not in data
    with Image.open(io.BytesIO(data)) as im, Image.open(io.BytesIO(original)) as before:
        assert im.text == {} and im.info.get("transparency") == 0
        assert im.convert("RGBA").tobytes() == before.convert("RGBA").tobytes()


def test_a_named_reporters_file_is_checked_but_kept_as_sent() -> None:
    for data, content_type in ((photo(), "image/jpeg"), (pdf(), "application/pdf")):
        assert run(data, content_type, False, LIMITS) == Outcome()


@pytest.mark.parametrize(
    "bomb",
    [png_declaring(100_000, 100_000), png_declaring(1001, 1000, rows=1000)],
    ids=["ten-gigapixels", "just-over-the-limit"],
)
def test_too_many_pixels_are_refused_before_decoding(bomb: bytes) -> None:
    assert run(bomb, "image/png", True, LIMITS).problem == "pixels"
    assert run(bomb, "image/png", False, LIMITS).problem == "pixels"


def test_a_pdf_loses_info_xmp_annotation_authors_embedded_files_and_scripts() -> None:
    for original in (pdf(), pdf(object_streams=False)):
        assert NAME.encode() in original or b"ObjStm" in original
        assert len(pdf_leftovers(original)) >= 8
        data = cleaned(original, "application/pdf")
        assert pdf_leftovers(data) == []
        assert NAME.encode() not in data and b"3374011203900004" not in data
        # The page, its text, its photo and the form field (its /T is its name, not an author) stay.
        assert pdf_text(data) == (1, b"BT /F1 12 Tf 20 100 Td (Jalan berlubang) Tj ET", ["alamat"])
        assert pdf_photo_pixels(data) == pdf_photo_pixels(original)


def test_a_pdf_over_the_page_limit_is_refused() -> None:
    assert run(pdf(pages=6), "application/pdf", True, LIMITS) == Outcome(problem="pages", detail="6")
    assert run(pdf(pages=5), "application/pdf", True, LIMITS).problem is None


def test_a_pdf_locked_with_a_password_is_refused() -> None:
    doc = pikepdf.open(io.BytesIO(pdf()))
    out = io.BytesIO()
    doc.save(out, encryption=pikepdf.Encryption(user="rahasia", owner="rahasia"))
    assert run(out.getvalue(), "application/pdf", True, LIMITS).problem == "encrypted"


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"\xff\xd8\xff\xe0 not a photo at all", "image/jpeg"),
        (photo()[:400], "image/jpeg"),  # truncated
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
        (png_with_text()[:-30], "image/png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 garbage", "image/webp"),
        (b"%PDF-1.7\n<script>alert(1)</script>", "application/pdf"),
        (pdf()[:300], "application/pdf"),
        *((crafted, "application/pdf") for crafted in OLD_CRAFTED),
    ],
)
def test_garbage_that_claims_a_type_is_unreadable(data: bytes, content_type: str) -> None:
    for clean in (True, False):
        assert run(data, content_type, clean, LIMITS).problem == "unreadable"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
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


def test_running_a_task_outside_a_worker_puts_no_cpu_limit_on_this_process() -> None:
    """Only a worker limits its own CPU: in any other process the kernel would end the whole
    process (SIGXCPU) once it had used the limit — this once killed the test run half-way."""
    before = resource.getrlimit(resource.RLIMIT_CPU)
    run(b"\xff\xd8\xff\xe0" + b"\x00" * 50, "image/jpeg", False, LIMITS)
    assert resource.getrlimit(resource.RLIMIT_CPU) == before
