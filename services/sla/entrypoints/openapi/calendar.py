"""The calendar answers and the admin's extra dates (entrypoints/calendar.py, extra_dates.py)."""

from __future__ import annotations

from pydantic import BaseModel

from services.sla.entrypoints.extra_dates import ExtraDates
from shared.openapi import Media, Operation, Param, json_reply


class Due(BaseModel):
    due: str


class WorkingTime(BaseModel):
    seconds: int


class Recomputed(BaseModel):
    complaints: int
    corrected: int
    announced: int


class PemdaExtraDates(BaseModel):
    pemda: str
    extra_dates: list[str]
    revision: int
    holidays_version: str


class ExtraDatesSaved(PemdaExtraDates):
    recomputed: Recomputed


def _moment(name: str, description: str) -> Param:
    return Param(name, description=description, example="2026-03-02T09:00:00+07:00", required=True)


_EXTRA = {"pemda": "33.74", "extra_dates": ["2026-03-16"], "revision": 2, "holidays_version": "0.108"}
_PATH = "/api/v1/admin/calendar/{pemda}/extra-dates"

OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/calendar/{pemda}/due",
        "Tenggat N hari kerja sejak suatu waktu",
        {200: json_reply("Tenggat", Due, {"due": "2026-03-09T09:00:00+07:00"})},
        (404, 422),
        params=(
            Param("pemda", "path", "Kode pemda", "33.74"),
            _moment("from", "Awal (ISO 8601 dengan zona)"),
            Param("hk", description="Jumlah hari kerja", example="5", required=True),
        ),
    ),
    Operation(
        "GET",
        "/api/v1/calendar/{pemda}/working-time",
        "Waktu kerja (detik) di antara dua waktu",
        {200: json_reply("Waktu kerja", WorkingTime, {"seconds": 86400})},
        (404, 422),
        params=(
            Param("pemda", "path", "Kode pemda", "33.74"),
            _moment("from", "Awal (ISO 8601 dengan zona)"),
            _moment("to", "Akhir (ISO 8601 dengan zona)"),
        ),
    ),
    Operation(
        "PUT",
        _PATH,
        "Ganti tanggal libur tambahan pemda (admin); menghitung ulang jam SLA",
        {
            200: json_reply(
                "Disimpan dan dihitung ulang",
                ExtraDatesSaved,
                {**_EXTRA, "recomputed": {"complaints": 12, "corrected": 3, "announced": 3}},
            )
        },
        (400, 401, 403, 404, 413, 415, 422),
        body=(Media(model=ExtraDates, example={"dates": ["2026-03-16"], "reason": "Cuti bersama daerah"}),),
        security=("staffJwt",),
    ),
    Operation(
        "GET",
        _PATH,
        "Tanggal libur tambahan pemda",
        {200: json_reply("Tanggal libur tambahan", PemdaExtraDates, _EXTRA)},
        (401, 404),
        security=("staffJwt",),
    ),
]
