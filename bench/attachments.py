"""Attachment processing times: each file goes through intake's worker pool (services/intake/
attachments.py `Scrubber`, with the service's default limits) as an upload would, and the event
loop's longest stall while it runs is measured by a ticker task (every 5 ms).

Lines (one per file; the last line of output is the same data as JSON):

- pdf 5 MiB clean     a PDF of about 5 MiB (pages of text in Flate streams, JPEG images, document
                      info, XMP, annotations with authors, an embedded file and JavaScript), rewritten
                      as for an anonymous reporter
- pdf 5 MiB check     the same, opened and counted only (a named reporter's upload)
- pdf 5 MiB crafted   5 MiB of `/Author (` (the old regex scrubber's quadratic case): refused
- xpacket crafted     5 MiB of `<?xpacket begin=`: refused
- jpeg 24 MP clean    a 6000×4000 photo with EXIF GPS, encoded again from its pixels
- jpeg 24 MP check    the same, decoded only
- png 40 MP clean     a 40 MP RGBA PNG (compressible), decoded and encoded again
- png bomb            a PNG declaring 100000×100000 pixels: refused before decoding
- idle 1 s            no file, the loop only waits a second: the stall this machine's load alone
                      causes (compare the other stalls with it)

Nothing needs Kafka or the database. Run from the repository root:

    .venv/bin/python -m bench.attachments
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import time
from collections.abc import Awaitable, Callable

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import Image

from services.intake.adapters.scrubber import Scrubber
from services.intake.settings import IntakeSettings
from shared.http import ProblemError
from tests.attachment_files import exif, png_declaring

MIB = 1024 * 1024


def big_pdf(target: int = 5 * MIB) -> bytes:
    rng = random.Random(15)
    doc = pikepdf.new()
    doc.docinfo["/Author"] = "Budi Santoso"
    with doc.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Budi Santoso"]
    photo = io.BytesIO()
    noise = Image.effect_noise((400, 300), 60).convert("RGB")
    noise.save(photo, "JPEG", quality=85)
    image = doc.make_stream(
        photo.getvalue(), Type=Name.XObject, Subtype=Name.Image, Width=400, Height=300,
        ColorSpace=Name.DeviceRGB, BitsPerComponent=8, Filter=Name.DCTDecode,
    )  # fmt: skip
    words = [f"kata{i}".encode() for i in range(3000)]
    page_no = 0
    while True:
        doc.add_blank_page(page_size=(595, 842))
        page = doc.pages[page_no]
        lines = b"\n".join(
            b"BT /F1 10 Tf 40 %d Td (%s) Tj ET" % (800 - 12 * i, b" ".join(rng.choices(words, k=12)))
            for i in range(60)
        )
        page.obj.Contents = doc.make_stream(lines + b"\nq 200 0 0 150 40 40 cm /Im0 Do Q")
        page.obj.Resources = Dictionary(XObject=Dictionary(Im0=image if page_no % 4 else _copy(doc, image)))
        note = Dictionary(Type=Name.Annot, Subtype=Name.Text, Rect=[10, 10, 30, 30], T=String("Budi"))
        page.obj.Annots = Array([doc.make_indirect(note)])
        page_no += 1
        if page_no % 10 == 0:
            out = io.BytesIO()
            doc.save(out)
            if out.tell() >= target:
                break
    doc.Root.OpenAction = doc.make_indirect(Dictionary(S=Name.JavaScript, JS=String("app.alert(1)")))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _copy(doc: pikepdf.Pdf, stream: pikepdf.Stream) -> pikepdf.Stream:
    return doc.make_stream(stream.read_raw_bytes(), **{k[1:]: v for k, v in stream.stream_dict.items()})


def big_jpeg() -> bytes:
    im = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    im.paste(Image.effect_noise((3000, 2000), 40).convert("RGB"), (1500, 1000))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, exif=exif())
    return out.getvalue()


async def timed(work: Callable[[], Awaitable[bytes]]) -> tuple[float, float, str]:
    """Wall time of `work`, the longest event-loop stall meanwhile, and its outcome."""
    stall = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal stall
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            stall = max(stall, now - last - 0.005)
            last = now

    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    try:
        result = await work()
        outcome = f"ok {len(result)} B"
    except ProblemError as exc:
        outcome = f"{exc.status} {exc.errors[0].message if exc.errors else exc.detail}"
    elapsed = time.perf_counter() - start
    done.set()
    await tick
    return elapsed, stall, outcome


async def main() -> None:
    settings = IntakeSettings()
    scrubber = Scrubber(settings)
    await scrubber.start()
    pdf = big_pdf()
    jpeg = big_jpeg()
    cases: list[tuple[str, bytes, str, bool]] = [
        ("pdf 5 MiB clean", pdf, "application/pdf", True),
        ("pdf 5 MiB check", pdf, "application/pdf", False),
        ("pdf 5 MiB crafted", b"%PDF-1.4\n" + b"/Author (" * (5 * MIB // 9), "application/pdf", True),
        ("xpacket crafted", b"%PDF-1.4\n" + b"<?xpacket begin=" * (5 * MIB // 16), "application/pdf", True),
        ("jpeg 24 MP clean", jpeg, "image/jpeg", True),
        ("jpeg 24 MP check", jpeg, "image/jpeg", False),
        ("png 40 MP clean", png_declaring(6300, 6300, rows=6300), "image/png", True),
        ("png bomb", png_declaring(100_000, 100_000), "image/png", True),
    ]
    load = os.getloadavg()[0]
    print(f"cpus {os.cpu_count()}  load {load:.2f}  workers {settings.attachment_workers}")
    print(f"{'file':<20} {'size':>10} {'wall ms':>9} {'loop stall ms':>14}  outcome")
    rows = []

    async def idle() -> bytes:
        await asyncio.sleep(1)  # the baseline: how long the loop stalls with nothing to do
        return b""

    try:
        elapsed, stall, _ = await timed(idle)
        print(f"{'idle 1 s':<20} {0:>10} {elapsed * 1000:>9.0f} {stall * 1000:>14.1f}")
        rows.append({"file": "idle 1 s", "bytes": 0, "wall_ms": round(elapsed * 1000),
                     "loop_stall_ms": round(stall * 1000, 1), "outcome": ""})  # fmt: skip
        for name, data, content_type, clean in cases:
            elapsed, stall, outcome = await timed(
                lambda data=data, content_type=content_type, clean=clean: scrubber.check(
                    data, content_type, clean=clean
                )
            )
            print(f"{name:<20} {len(data):>10} {elapsed * 1000:>9.0f} {stall * 1000:>14.1f}  {outcome[:60]}")
            rows.append(
                {"file": name, "bytes": len(data), "wall_ms": round(elapsed * 1000),
                 "loop_stall_ms": round(stall * 1000, 1), "outcome": outcome}
            )  # fmt: skip
    finally:
        await scrubber.stop()
    print(json.dumps(rows))


if __name__ == "__main__":
    asyncio.run(main())
