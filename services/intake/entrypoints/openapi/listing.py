"""OpenAPI paths of the public listing (services/intake/entrypoints/listing.py)."""

from __future__ import annotations

from typing import Any

from services.intake.models import ComplaintPage
from shared.categories import CATEGORIES
from shared.states import STATE_LABELS

_EXAMPLE_PAGE = {
    "items": [
        {
            "id": "01KDVDNA00Y1HZ1G6WHQ1ZZJPH",
            "status": "assigned",
            "category": "jalan-jembatan",
            "region_code": "33.74",
            "opd_id": "33.74/dinas-pupr",
            "escalation_level": 0,
            "deadlines": [
                {
                    "clock": "response",
                    "opd_id": "33.74/dinas-pupr",
                    "started_at": "2026-03-02T10:15:00+07:00",
                    "due_at": "2026-03-10T00:00:00+07:00",
                    "remaining_seconds": 302400,
                    "state": "running",
                }
            ],
            "timeline": [
                {
                    "at": "2026-03-02T10:14:58+07:00",
                    "type": "ComplaintReceived",
                    "summary": "Pengaduan diterima dan menunggu verifikasi",
                },
                {
                    "at": "2026-03-02T10:15:00+07:00",
                    "type": "ComplaintAssigned",
                    "summary": "Didisposisikan ke 33.74/dinas-pupr",
                },
            ],
        }
    ],
    "next_cursor": "MDFLRFZETkEwMFkxSFoxRzZXSFExWlpKUEguMzYwMA",
}

PATHS: dict[str, Any] = {
    "/api/v1/complaints": {
        "get": {
            "summary": "Daftar pengaduan publik",
            "description": (
                "Pengaduan terbaru lebih dulu, tampilan publik (DESIGN §3): tanpa identitas pelapor, "
                "wilayah sampai kab/kota; pengaduan rahasia tidak pernah tercantum. Halaman berikutnya "
                "dengan `cursor=<next_cursor>`."
            ),
            "parameters": [
                {
                    "name": "region",
                    "in": "query",
                    "description": "Kode provinsi atau kab/kota; mencakup semua wilayah di bawahnya",
                    "schema": {"type": "string"},
                    "example": "33.74",
                },
                {
                    "name": "category",
                    "in": "query",
                    "description": "Kode kategori (DESIGN §4)",
                    "schema": {"type": "string", "enum": list(CATEGORIES)},
                    "example": "jalan-jembatan",
                },
                {
                    "name": "status",
                    "in": "query",
                    "description": "Status siklus pengaduan",
                    "schema": {"type": "string", "enum": list(STATE_LABELS)},
                    "example": "in_progress",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "description": "Jumlah per halaman (1–100, bawaan 20)",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    "example": 20,
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "description": "`next_cursor` dari halaman sebelumnya",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {
                "200": {
                    "description": "Satu halaman pengaduan publik",
                    "content": {
                        "application/json": {
                            "schema": ComplaintPage.model_json_schema(),
                            "example": _EXAMPLE_PAGE,
                        }
                    },
                },
                "422": {"$ref": "#/components/responses/Problem"},
            },
        }
    }
}
