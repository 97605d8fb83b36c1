"""Routing's OpenAPI document (`GET /openapi.json`), generated (shared/openapi.py) from the
operations each feature's module declares."""

from __future__ import annotations

from typing import Any

from services.routing.entrypoints.openapi import coordinator_pages, explain, staff, staff_oidc, staff_pages
from shared.openapi import Info, tagged
from shared.openapi import document as build

INFO = Info("Pengaduan — routing", "0.1.0", "Klasifikasi dan disposisi pengaduan ke OPD yang berwenang.")
OPERATIONS = [
    *tagged("Disposisi", explain.OPERATIONS),
    *tagged("Petugas", staff.OPERATIONS),
    *tagged("Halaman staf", staff_pages.OPERATIONS),
    *tagged("Masuk staf (OpenID Connect)", staff_oidc.OPERATIONS),
]
EXEMPT: dict[tuple[str, str], str] = {**staff_pages.EXEMPT, **coordinator_pages.EXEMPT}


def document() -> dict[str, Any]:
    return build(INFO, OPERATIONS)
