"""sla's OpenAPI document, built fresh for each app: the calendar answers, the admin's extra
dates and the supervisor API."""

from __future__ import annotations

from typing import Any

from services.sla.entrypoints.openapi.calendar import calendar_paths, extra_dates_paths
from services.sla.entrypoints.openapi.public import openapi_paths as public_paths
from services.sla.entrypoints.openapi.supervisor import openapi_paths as supervisor_paths
from shared.http import openapi_document


def document() -> dict[str, Any]:
    paths = {**calendar_paths(), **extra_dates_paths(), **supervisor_paths(), **public_paths()}
    return openapi_document(
        "Pengaduan — SLA",
        "0.1.0",
        "Jam SLA berdasarkan hari kerja (HK) pemda: tenggat, pelanggaran, eskalasi.",
        paths,
    )
