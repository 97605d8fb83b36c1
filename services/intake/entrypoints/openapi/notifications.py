"""The notifications' opt-out link (services/intake/entrypoints/notifications.py)."""

from __future__ import annotations

from shared.openapi import Media, Operation, Param, Reply

_TOKEN = Param(
    "t",
    description="Token tautan berhenti berlangganan dari pemberitahuan (khusus pengaduan ini)",
    example="Zm9vYmFyLXRva2VuLW9wdC1vdXQ",
    schema={"type": "string", "maxLength": 64},
    required=True,
)
_PAGE = Reply("Halaman HTML", (Media("text/html", schema={"type": "string"}),))

OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/complaints/{id}/notifications/opt-out",
        "Halaman berhenti menerima pemberitahuan (tautan di setiap pemberitahuan)",
        {200: _PAGE},
        (404,),
        params=(_TOKEN,),
    ),
    Operation(
        "POST",
        "/api/v1/complaints/{id}/notifications/opt-out",
        "Berhenti menerima pemberitahuan untuk pengaduan ini (berlaku seketika)",
        {200: _PAGE},
        (404,),
        "Dipanggil oleh tombol di halaman itu, atau oleh klien e-mail (List-Unsubscribe-Post, RFC 8058). "
        "Pemberitahuan yang belum terkirim tidak dikirim.",
        params=(_TOKEN,),
    ),
]
