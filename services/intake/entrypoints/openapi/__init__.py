"""Intake's OpenAPI document (`GET /openapi.json`), generated (shared/openapi.py) from the
operations each feature's module declares."""

from __future__ import annotations

from typing import Any

from services.intake.entrypoints.openapi import (
    complaints,
    identity_pages,
    listing,
    notifications,
    open311,
    pages,
    tracking,
)
from shared.openapi import Info, tagged
from shared.openapi import document as build

INFO = Info(
    "Pengaduan — intake",
    "0.1.0",
    "Layanan pengaduan warga: kirim pengaduan, pantau status dan tenggat layanan.",
)
OPERATIONS = [
    *tagged("Pengaduan", [*complaints.OPERATIONS, *listing.OPERATIONS]),
    *open311.OPERATIONS,
    *tagged("Pemberitahuan", notifications.OPERATIONS),
    *tagged("Pelacakan", tracking.OPERATIONS),
    *tagged("Halaman warga", pages.OPERATIONS),
]
EXEMPT = {**open311.EXEMPT, **identity_pages.EXEMPT}


def document() -> dict[str, Any]:
    return build(INFO, OPERATIONS)
