"""OpenAPI paths of the browsable docs page (services/intake/entrypoints/docs_page.py)."""

from __future__ import annotations

from typing import Any

PATHS: dict[str, Any] = {
    "/docs": {
        "get": {
            "summary": "Dokumentasi API yang dapat dijelajahi (halaman HTML)",
            "description": "Menampilkan dokumen /openapi.json ini: setiap jalur, parameter dan contoh.",
            "responses": {"200": {"description": "Halaman HTML", "content": {"text/html": {}}}},
        }
    },
    "/docs/docs.js": {
        "get": {
            "summary": "Skrip halaman dokumentasi (tanpa skrip sebaris: Content-Security-Policy)",
            "responses": {"200": {"description": "JavaScript", "content": {"text/javascript": {}}}},
        }
    },
    "/docs/docs.css": {
        "get": {
            "summary": "Gaya halaman dokumentasi",
            "responses": {"200": {"description": "CSS", "content": {"text/css": {}}}},
        }
    },
}
