"""The supervisor API's OpenAPI description (entrypoints/compliance.py, breaches.py,
satisfaction.py and complaint_clocks.py serve the routes): the paths, parameters and Indonesian
examples merged into the sla service's document.
"""

from __future__ import annotations

from typing import Any

API = "/api/v1/supervisor"  # the supervisor API's path prefix (the routes are added under it too)


def _param(name: str, description: str, where: str = "query", required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


_SCOPE_PARAMS = [
    _param("pemda", "Kode pemda (provinsi `33` atau kab/kota `33.74`); bawaan: pemda token"),
    _param("opd", "Id OPD, mis. `33.74/dinas-pupr`"),
]
_PERIOD_PARAMS = [
    _param("from", "Awal periode `YYYY-MM-DD` (minggu ISO yang memuatnya); bawaan: 12 minggu terakhir"),
    _param("to", "Akhir periode `YYYY-MM-DD`; bawaan: hari ini"),
]
_LIST_PARAMS = [
    _param("limit", "Jumlah baris (1–200; CSV hingga 10.000)"),
    _param("cursor", "`next_cursor` dari halaman sebelumnya"),
    _param("format", "`json` (bawaan) atau `csv`; juga `Accept: text/csv`"),
]
_ERRORS = {
    "401": {"$ref": "#/components/responses/Problem"},
    "403": {"$ref": "#/components/responses/Problem"},
    "422": {"$ref": "#/components/responses/Problem"},
}


def _op(
    summary: str, description: str, params: list[dict[str, Any]], example: dict[str, Any]
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": f"{description}\n\nMemerlukan `Authorization: Bearer <JWT staf>` dengan peran "
            "supervisor, coordinator atau admin; di luar cakupan token → 403.",
            "tags": ["Pengawas"],
            "parameters": params,
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {"example": example},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                **_ERRORS,
            },
        }
    }


_ROW_EXAMPLE = {
    "scope": "33.74/dinas-pupr",
    "pemda": "33.74",
    "pemda_name": "KOTA SEMARANG",
    "assigned": 120,
    "met": 190,
    "breached": 14,
    "on_time_pct": 93.1,
    "response": {
        "met": 104,
        "breached": 6,
        "on_time_pct": 94.5,
        "answered": 110,
        "mean_seconds": 151200,
        "median_seconds": 129600,
        "p90_seconds": 388800,
        "median_hk": 1.5,
        "p90_hk": 4.5,
    },
    "resolution": {"met": 86, "breached": 8, "on_time_pct": 91.5},
    "verification": {"met": 0, "breached": 0, "on_time_pct": None},
    "open": 23,
    "breached_open": 3,
    "escalated": 2,
    "escalation_levels": {"1": 2, "2": 0, "3": 0},
    "aging": {"lt_3": 15, "3_5": 5, "5_10": 2, "gt_10": 1},
    "transfers_out": 4,
    "misrouted_seconds": 172800,
    "misrouted_hk": 2.0,
}


def _with_404(op: dict[str, Any]) -> dict[str, Any]:
    op["get"]["responses"]["404"] = {"$ref": "#/components/responses/Problem"}
    return op


def openapi_paths() -> dict[str, Any]:
    """The supervisor API's OpenAPI paths (merged into the service's document)."""
    period = {"from": "2026-01-05", "to": "2026-03-29", "from_week": "2026-W02", "to_week": "2026-W13"}
    return {
        f"{API}/compliance": _op(
            "Kepatuhan SLA per OPD",
            "Per OPD (atau per pemda bagi admin tanpa `pemda`): penugasan, jam respons/penyelesaian tepat "
            "waktu dan terlambat, % tepat waktu, median dan p90 waktu kerja respons, terbuka, terlambat yang "
            "masih terbuka, tereskalasi, umur pengaduan terbuka (HK), pengalihan dan waktu salah alamat.",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, *_LIST_PARAMS],
            {
                "pemda": "33.74",
                "opd": None,
                "period": period,
                "as_of": "2026-03-27T03:00:00+00:00",
                "total": {**_ROW_EXAMPLE, "scope": "33.74"},
                "items": [_ROW_EXAMPLE],
                "next_cursor": None,
            },
        ),
        f"{API}/trend": _op(
            "Tren mingguan",
            "Per minggu ISO: penugasan, jam tepat waktu dan terlambat, % tepat waktu, median respons.",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, _param("format", "`json` atau `csv`")],
            {
                "pemda": "33.74",
                "opd": None,
                "items": [
                    {
                        "week": "2026-W12",
                        "week_start": "2026-03-16",
                        "assigned": 31,
                        "met": 44,
                        "breached": 3,
                        "on_time_pct": 93.6,
                        "response_median_seconds": 118800,
                        "response_median_hk": 1.38,
                        "transfers_out": 1,
                        "rating_average": 4.2,
                    }
                ],
                "next_cursor": None,
            },
        ),
        f"{API}/breaches": _op(
            "Daftar pelanggaran SLA",
            "Jam SLA yang melewati tenggat, terurut dari yang paling terlambat (yang masih terbuka terlambat "
            "hingga saat ini). Periode menyaring tanggal tenggat.",
            [
                *_SCOPE_PARAMS,
                _param("clock", "response, resolution atau verification"),
                *_PERIOD_PARAMS,
                *_LIST_PARAMS,
            ],
            {
                "pemda": "33.74",
                "opd": None,
                "as_of": "2026-03-27T03:00:00+00:00",
                "items": [
                    {
                        "clock_id": "01JQ8Z3N9W/response/1",
                        "complaint_id": "01JQ8Z3N9W",
                        "clock": "response",
                        "opd_id": "33.74/dinas-pupr",
                        "pemda": "33.74",
                        "started_at": "2026-03-02T09:15:00+07:00",
                        "due_at": "2026-03-10T00:00:00+07:00",
                        "stopped_at": None,
                        "state": "breached",
                        "open": True,
                        "late_seconds": 1458000,
                        "late_days": 16.88,
                        "late_working_seconds": 604800,
                        "late_hk": 7.0,
                    }
                ],
                "next_cursor": "eyJhc19vZiI6MTc3NDU4MDQwMDAwMCwibGF0ZSI6MTIzLCJpZCI6IngifQ",
            },
        ),
        f"{API}/escalations": _op(
            "Eskalasi",
            "Pengaduan belum selesai yang tereskalasi: level 1 (kepala OPD), 2 (Inspektorat dan Admin "
            "Koordinator), 3 (dapat dilaporkan ke Ombudsman); level tertinggi lebih dulu.",
            [*_SCOPE_PARAMS, *_LIST_PARAMS],
            {
                "pemda": "33.74",
                "opd": None,
                "items": [
                    {
                        "complaint_id": "01JQ8Z3N9W",
                        "level": 1,
                        "level_label": "Kepala OPD",
                        "opd_id": "33.74/dinas-pupr",
                        "pemda": "33.74",
                        "current_opd_id": "33.74/dinas-pupr",
                        "raised_at": "2026-03-10T00:00:00+07:00",
                        "reason": "jam respons melewati tenggat",
                        "submitted_at": "2026-03-02T08:40:00+07:00",
                        "transfers": 0,
                    }
                ],
                "next_cursor": None,
            },
        ),
        f"{API}/satisfaction": _op(
            "Kepuasan pelapor per OPD",
            "Penilaian pelapor (1–5) atas pengaduan yang diselesaikan, dihitung untuk OPD yang "
            "menyelesaikannya.",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, *_LIST_PARAMS],
            {
                "pemda": "33.74",
                "opd": None,
                "total": {
                    "scope": "33.74",
                    "pemda": "33.74",
                    "ratings": 40,
                    "average": 4.1,
                    "distribution": {"1": 1, "2": 2, "3": 5, "4": 14, "5": 18},
                },
                "items": [
                    {
                        "scope": "33.74/disdukcapil",
                        "pemda": "33.74",
                        "ratings": 12,
                        "average": 4.5,
                        "distribution": {"1": 0, "2": 0, "3": 1, "4": 4, "5": 7},
                    }
                ],
                "next_cursor": None,
            },
        ),
        f"{API}/complaints/{{complaint_id}}/clocks": _with_404(
            _op(
                "Jam SLA satu pengaduan",
                "Semua jam SLA pengaduan beserta riwayatnya, OPD yang pernah memegangnya (waktu kerja), "
                "dan eskalasinya.",
                [_param("complaint_id", "Id pengaduan", where="path", required=True)],
                {
                    "complaint_id": "01JQ8Z3N9W",
                    "pemda": "33.74",
                    "status": "assigned",
                    "opd_id": "33.74/dinas-pupr",
                    "escalation_level": 1,
                    "transfers": 1,
                    "misrouted_seconds": 86400,
                    "holdings": [
                        {
                            "opd_id": "33.74/dlh",
                            "from": "2026-03-02T09:15:00+07:00",
                            "to": "2026-03-03T09:15:00+07:00",
                            "ended_by": "transferred",
                            "working_seconds": 86400,
                        }
                    ],
                    "clocks": [
                        {
                            "clock_id": "01JQ8Z3N9W/response/2",
                            "clock": "response",
                            "opd_id": "33.74/dinas-pupr",
                            "pemda": "33.74",
                            "started_at": "2026-03-03T09:15:00+07:00",
                            "due_at": "2026-03-11T00:00:00+07:00",
                            "budget_seconds": 432000,
                            "remaining_seconds": None,
                            "state": "breached",
                            "breached": True,
                            "breached_at": "2026-03-11T00:00:00+07:00",
                            "stopped_at": None,
                            "version": 2,
                            "history": [
                                {
                                    "type": "ClockStarted",
                                    "state": "running",
                                    "at": "2026-03-03T09:15:00+07:00",
                                    "due_at": "2026-03-11T00:00:00+07:00",
                                    "remaining_seconds": None,
                                    "version": 1,
                                }
                            ],
                        }
                    ],
                    "escalations": [
                        {
                            "kind": "raised",
                            "level": 1,
                            "at": "2026-03-11T00:00:00+07:00",
                            "reason": "jam respons melewati tenggat",
                            "opd_id": "33.74/dinas-pupr",
                        }
                    ],
                },
            )
        ),
        f"{API}/me": {
            "get": {
                "summary": "Siapa yang masuk",
                "description": "Pemilik token staf (header `Authorization`, atau cookie sesi masuk staf "
                "untuk GET): nama, peran dan cakupannya dengan nama pemda/OPD. Semua peran staf.",
                "tags": ["Pengawas"],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "example": {
                                    "sub": "sri.pengawas",
                                    "name": "Sri Wahyuni",
                                    "role": "supervisor",
                                    "role_label": "Pengawas",
                                    "pemda": "33.74",
                                    "pemda_name": "Kota Semarang",
                                    "opd": None,
                                    "opd_name": None,
                                }
                            }
                        },
                    },
                    "401": _ERRORS["401"],
                },
            }
        },
        "/dashboard/": {
            "get": {
                "summary": "Dasbor pengawasan SLA (HTML; orang yang masuk di ruang staf routing)",
                "responses": {"200": {"description": "halaman HTML", "content": {"text/html": {}}}},
            }
        },
    }
