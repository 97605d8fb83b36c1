"""OpenAPI paths of the notifications' opt-out link (services/intake/entrypoints/notifications.py)."""

from __future__ import annotations

from typing import Any

_PARAMS = [
    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "t",
        "in": "query",
        "required": True,
        "description": "Token tautan berhenti berlangganan dari pemberitahuan (khusus pengaduan ini)",
        "schema": {"type": "string", "maxLength": 64},
    },
]
_NOT_FOUND = {"404": {"$ref": "#/components/responses/Problem"}}

PATHS: dict[str, Any] = {
    "/api/v1/complaints/{id}/notifications/opt-out": {
        "get": {
            "summary": "Halaman berhenti menerima pemberitahuan (tautan di setiap pemberitahuan)",
            "parameters": _PARAMS,
            "responses": {"200": {"description": "Halaman HTML", "content": {"text/html": {}}}, **_NOT_FOUND},
        },
        "post": {
            "summary": "Berhenti menerima pemberitahuan untuk pengaduan ini (berlaku seketika)",
            "description": (
                "Dipanggil oleh tombol di halaman itu, atau oleh klien e-mail (List-Unsubscribe-Post, "
                "RFC 8058). Pemberitahuan yang belum terkirim tidak dikirim."
            ),
            "parameters": _PARAMS,
            "responses": {"200": {"description": "Halaman HTML", "content": {"text/html": {}}}, **_NOT_FOUND},
        },
    }
}
