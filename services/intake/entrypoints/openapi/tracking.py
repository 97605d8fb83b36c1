"""OpenAPI paths of tracking without a bearer header (services/intake/entrypoints/tracking.py)."""

from __future__ import annotations

from typing import Any

from services.intake.models import TrackingLogin

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_SIGNED_IN = {
    "description": (
        "Sesi dibuka: cookie `pengaduan_lacak` (HttpOnly, Secure, SameSite=Lax, berlaku untuk "
        "/api/v1/complaints/{id} saja, kedaluwarsa) dan pengalihan ke alamat pengaduan tanpa token."
    ),
    "headers": {
        "Location": {"schema": {"type": "string"}, "description": "/api/v1/complaints/{id}"},
        "Set-Cookie": {"schema": {"type": "string"}},
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/complaints/{id}/track": {
        "get": {
            "summary": "Tautan pelacakan dari pemberitahuan: ditukar dengan cookie sesi, lalu 303",
            "description": (
                "Token tautan (≥ 128 bit, khusus pengaduan ini) ditukar dengan cookie sesi pelapor; "
                "jawabannya 303 ke /api/v1/complaints/{id} sehingga token tidak tertinggal di bilah "
                "alamat. Token salah: 404."
            ),
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {
                    "name": "t",
                    "in": "query",
                    "required": True,
                    "description": "Token tautan pelacakan",
                    "schema": {"type": "string", "maxLength": 64},
                },
            ],
            "responses": {"303": _SIGNED_IN, "404": _PROBLEM},
        }
    },
    "/api/v1/tracking": {
        "post": {
            "summary": "Kode pelacakan + PIN: ditukar dengan cookie sesi, lalu 303",
            "description": (
                "Kode (mis. YK-7F3K-Q9; huruf besar/kecil dan tanda hubung bebas) dan PIN 6 angka yang "
                "diberikan saat pengaduan dikirim. JSON atau form HTML biasa. Kode atau PIN salah: 401 "
                "(tanpa menyebut yang mana). Setelah beberapa PIN salah, kode itu menunggu jeda yang "
                "berlipat (429 dengan Retry-After); PIN yang benar tetap berlaku setelah jeda."
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": TrackingLogin.model_json_schema(),
                        "example": {"code": "YK-7F3K-Q9", "pin": "482913"},
                    },
                    "application/x-www-form-urlencoded": {"schema": TrackingLogin.model_json_schema()},
                },
            },
            "responses": {
                "303": _SIGNED_IN,
                **{code: _PROBLEM for code in ("400", "401", "413", "415", "422", "429")},
            },
        }
    },
}
