"""Routing's OpenAPI document, put together from the paths of each feature."""

from __future__ import annotations

from typing import Any

from services.routing.entrypoints.openapi import explain, staff
from shared.http import openapi_document


def document() -> dict[str, Any]:
    doc = openapi_document(
        "Pengaduan — routing",
        "0.1.0",
        "Klasifikasi dan disposisi pengaduan ke OPD yang berwenang.",
        explain.paths(),
    )
    doc["paths"].update(staff.paths())
    doc["paths"].update(staff.page_paths())
    doc.setdefault("components", {})["securitySchemes"] = {
        "staffJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    return doc
