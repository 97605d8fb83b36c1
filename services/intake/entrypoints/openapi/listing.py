"""The public listing's operation (services/intake/entrypoints/listing.py)."""

from __future__ import annotations

from services.intake.entrypoints.openapi.complaints import _VIEW_EXAMPLE
from services.intake.models import ComplaintPage
from shared.categories import CATEGORIES
from shared.openapi import Operation, Param, json_reply
from shared.states import STATE_LABELS

_PUBLIC_VIEW = {k: v for k, v in _VIEW_EXAMPLE.items() if k not in ("title", "description")}

OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/complaints",
        "Daftar pengaduan publik",
        {
            200: json_reply(
                "Satu halaman pengaduan publik",
                ComplaintPage,
                {"items": [_PUBLIC_VIEW], "next_cursor": "MDFLRFZETkEwMFkxSFoxRzZXSFExWlpKUEguMzYwMA"},
            )
        },
        (422,),
        "Pengaduan terbaru lebih dulu, tampilan publik (DESIGN §3): tanpa identitas pelapor, wilayah "
        "sampai kab/kota; pengaduan rahasia tidak pernah tercantum. Halaman berikutnya dengan "
        "`cursor=<next_cursor>`.",
        params=(
            Param(
                "region",
                description="Kode provinsi atau kab/kota; mencakup semua wilayah di bawahnya",
                example="33.74",
            ),
            Param(
                "category",
                description="Kode kategori (DESIGN §4)",
                example="jalan-jembatan",
                schema={"type": "string", "enum": list(CATEGORIES)},
            ),
            Param(
                "status",
                description="Status siklus pengaduan",
                example="in_progress",
                schema={"type": "string", "enum": list(STATE_LABELS)},
            ),
            Param(
                "limit",
                description="Jumlah per halaman (1–100, bawaan 20)",
                example=20,
                schema={"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            ),
            Param("cursor", description="`next_cursor` dari halaman sebelumnya"),
        ),
    )
]
