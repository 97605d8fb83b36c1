"""Attachment rules without I/O: when a complaint takes another file, what a file is (by its
bytes), and what of its name is kept."""

from __future__ import annotations

import re

from services.intake.domain.errors import NotAllowed

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}


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


def clean_name(name: str | None) -> str | None:
    if not name:
        return None
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:200] or None


def check_open(status: str | None) -> None:
    """Raise NotAllowed when the complaint takes no more files: closed or archived."""
    if status in ("closed", "archived"):
        raise NotAllowed("Pengaduan yang sudah selesai atau diarsipkan tidak menerima lampiran")


def check_room(count: int, max_count: int) -> None:
    """Raise NotAllowed when the complaint has as many files as one may have."""
    if count >= max_count:
        raise NotAllowed(f"Satu pengaduan paling banyak {max_count} lampiran")
