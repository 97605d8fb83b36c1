"""sla's OpenAPI document (`GET /openapi.json`), generated (shared/openapi.py) from the operations
of the calendar answers, the admin's extra dates and the supervisor API."""

from __future__ import annotations

from typing import Any

from services.sla.entrypoints.openapi import calendar, public, supervisor
from shared.openapi import Info, tagged
from shared.openapi import document as build

INFO = Info(
    "Pengaduan — SLA",
    "0.1.0",
    "Jam SLA berdasarkan hari kerja (HK) pemda: tenggat, pelanggaran, eskalasi.",
)
OPERATIONS = [
    *tagged("Kalender hari kerja", calendar.OPERATIONS),
    *tagged("Dasbor", supervisor.OPERATIONS),
    *tagged("Dasbor", public.OPERATIONS),
]
# Routes served but not operations of the API, each with its reason.
EXEMPT = {
    ("GET", "/dashboard"): "a redirect to /dashboard/",
    ("GET", "/dashboard/static"): "the dashboard's own files (static route)",
}


def document() -> dict[str, Any]:
    return build(INFO, OPERATIONS)
