"""The supervisor API's operations (entrypoints/compliance.py, breaches.py, satisfaction.py and
complaint_clocks.py serve the routes), with models of the answers as those modules build them and
Indonesian examples; each list also as CSV (`format=csv` or `Accept: text/csv`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.openapi import Media, Operation, Param, Reply, json_reply

API = "/api/v1/supervisor"  # the supervisor API's path prefix (the routes are added under it too)


class ClockFigures(BaseModel):
    met: int
    breached: int
    on_time_pct: float | None


class ResponseFigures(ClockFigures):
    answered: int
    mean_seconds: int | None
    median_seconds: int | None
    p90_seconds: int | None
    median_hk: float | None
    p90_hk: float | None


class ComplianceRow(BaseModel):
    """One OPD's (or pemda's) figures over the period (domain/figures.py's `summarize`)."""

    scope: str
    pemda: str | None
    pemda_name: str | None
    assigned: int
    met: int
    breached: int
    on_time_pct: float | None
    response: ResponseFigures
    resolution: ClockFigures
    verification: ClockFigures
    open: int
    breached_open: int
    escalated: int
    escalation_levels: dict[str, int]
    aging: dict[str, int]
    transfers_out: int
    transfers_in: int
    misrouted_seconds: int
    misrouted_hk: float


class MisroutingRow(BaseModel):
    """One OPD's (or pemda's) transfers *bukan wewenang* and the working time they lost."""

    scope: str
    pemda: str | None
    pemda_name: str | None
    assigned: int
    transfers_out: int
    transfers_in: int
    transferred_out_pct: float | None
    lost_seconds: int
    lost_hk: float
    lost_hk_per_transfer: float | None


class WeekPeriod(BaseModel):
    from_week: str
    to_week: str


class Misrouting(BaseModel):
    pemda: str | None
    opd: str | None
    period: WeekPeriod
    as_of: str
    total: MisroutingRow | None
    items: list[MisroutingRow]
    next_cursor: str | None


class ClassifierMonth(BaseModel):
    """A month's automatic classifications and the coordinators' corrections of them."""

    month: str
    classified: int
    auto_routed: int
    reviewed: int
    corrected: int
    accuracy_pct: float | None
    reviewed_accuracy_pct: float | None


class Classifier(BaseModel):
    pemda: str
    as_of: str
    total: ClassifierMonth
    items: list[ClassifierMonth]
    next_cursor: str | None = None


_MISROUTING_ROW: dict[str, Any] = {
    "scope": "33.74/dinas-pupr",
    "pemda": "33.74",
    "pemda_name": "KOTA SEMARANG",
    "assigned": 40,
    "transfers_out": 3,
    "transfers_in": 1,
    "transferred_out_pct": 7.5,
    "lost_seconds": 129600,
    "lost_hk": 1.5,
    "lost_hk_per_transfer": 0.5,
}
_CLASSIFIER_MONTH: dict[str, Any] = {
    "month": "2026-03",
    "classified": 20,
    "auto_routed": 15,
    "reviewed": 6,
    "corrected": 2,
    "accuracy_pct": 90.0,
    "reviewed_accuracy_pct": 66.7,
}


class Period(BaseModel):
    from_: str = Field(alias="from")
    to: str
    from_week: str
    to_week: str


class Compliance(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    pemda: str | None
    opd: str | None
    period: Period
    as_of: str
    total: ComplianceRow | None
    items: list[ComplianceRow]
    next_cursor: str | None


class Week(BaseModel):
    week: str
    week_start: str
    assigned: int
    met: int
    breached: int
    on_time_pct: float | None
    response_median_seconds: int | None
    response_median_hk: float | None
    transfers_out: int
    rating_average: float | None


class Trend(BaseModel):
    pemda: str | None
    opd: str | None
    items: list[Week]
    next_cursor: None


class Breach(BaseModel):
    clock_id: str
    complaint_id: str
    clock: str
    opd_id: str | None
    pemda: str | None
    started_at: str | None
    due_at: str | None
    stopped_at: str | None
    state: str
    open: bool
    late_seconds: int
    late_days: float
    late_working_seconds: int
    late_hk: float


class Breaches(BaseModel):
    pemda: str | None
    opd: str | None
    as_of: str
    items: list[Breach]
    next_cursor: str | None


class Escalation(BaseModel):
    complaint_id: str
    level: int
    level_label: str | None
    opd_id: str | None
    pemda: str | None
    current_opd_id: str | None
    raised_at: str | None
    reason: str | None
    submitted_at: str | None
    transfers: int


class Escalations(BaseModel):
    pemda: str | None
    opd: str | None
    items: list[Escalation]
    next_cursor: str | None


class SatisfactionRow(BaseModel):
    scope: str
    pemda: str | None
    ratings: int
    average: float | None
    distribution: dict[str, int]


class Satisfaction(BaseModel):
    pemda: str | None
    opd: str | None
    total: SatisfactionRow | None
    items: list[SatisfactionRow]
    next_cursor: str | None


class HistoryEntry(BaseModel):
    type: str
    state: str
    at: str | None
    due_at: str | None
    remaining_seconds: int | None
    version: int


class ClockView(BaseModel):
    clock_id: str
    clock: str
    opd_id: str | None
    pemda: str | None
    started_at: str | None
    due_at: str | None
    budget_seconds: int | None
    remaining_seconds: int | None
    state: str
    breached: bool
    breached_at: str | None
    stopped_at: str | None
    version: int
    history: list[HistoryEntry]


class Holding(BaseModel):
    opd_id: str
    from_: str | None = Field(alias="from")
    to: str | None
    ended_by: str | None
    working_seconds: int | None


class EscalationStep(BaseModel):
    kind: str
    level: int
    at: str | None
    reason: str | None
    opd_id: str | None


class ComplaintClocks(BaseModel):
    complaint_id: str
    pemda: str | None
    status: str | None
    opd_id: str | None
    escalation_level: int
    transfers: int
    misrouted_seconds: int
    holdings: list[Holding]
    clocks: list[ClockView]
    escalations: list[EscalationStep]


def _param(name: str, description: str, where: Any = "query") -> Param:
    return Param(name, where, description)


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


def _op(
    path: str,
    summary: str,
    description: str,
    params: list[Param],
    model: type[BaseModel],
    example: dict[str, Any],
    problems: tuple[int, ...] = (401, 403, 422),
) -> Operation:
    answer = Reply(
        "ok",
        (Media(model=model, example=example), Media("text/csv", schema={"type": "string"})),
    )
    return Operation(
        "GET",
        f"{API}/{path}",
        summary,
        {200: answer},
        problems,
        f"{description}\n\nMemerlukan `Authorization: Bearer <JWT staf>` dengan peran supervisor, "
        "coordinator atau admin; di luar cakupan token → 403.",
        params=tuple(params),
        security=("staffJwt",),
        tags=("Pengawas",),
    )


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
    "transfers_in": 1,
    "misrouted_seconds": 172800,
    "misrouted_hk": 2.0,
}


def _operations() -> list[Operation]:
    period = {"from": "2026-01-05", "to": "2026-03-29", "from_week": "2026-W02", "to_week": "2026-W13"}
    return [
        _op(
            "compliance",
            "Kepatuhan SLA per OPD",
            "Per OPD (atau per pemda bagi admin tanpa `pemda`): penugasan, jam respons/penyelesaian tepat "
            "waktu dan terlambat, % tepat waktu, median dan p90 waktu kerja respons, terbuka, terlambat yang "
            "masih terbuka, tereskalasi, umur pengaduan terbuka (HK), pengalihan dan waktu salah alamat.",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, *_LIST_PARAMS],
            Compliance,
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
        _op(
            "trend",
            "Tren mingguan",
            "Per minggu ISO: penugasan, jam tepat waktu dan terlambat, % tepat waktu, median respons.",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, _param("format", "`json` atau `csv`")],
            Trend,
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
        _op(
            "breaches",
            "Daftar pelanggaran SLA",
            "Jam SLA yang melewati tenggat, terurut dari yang paling terlambat (yang masih terbuka terlambat "
            "hingga saat ini). Periode menyaring tanggal tenggat.",
            [
                *_SCOPE_PARAMS,
                _param("clock", "response, resolution atau verification"),
                *_PERIOD_PARAMS,
                *_LIST_PARAMS,
            ],
            Breaches,
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
        _op(
            "escalations",
            "Eskalasi",
            "Pengaduan belum selesai yang tereskalasi: level 1 (kepala OPD), 2 (Inspektorat dan Admin "
            "Koordinator), 3 (dapat dilaporkan ke Ombudsman); level tertinggi lebih dulu.",
            [*_SCOPE_PARAMS, *_LIST_PARAMS],
            Escalations,
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
        _op(
            "misrouting",
            "Salah alamat per OPD",
            "Per OPD (atau per pemda bagi admin tanpa `pemda`) dalam minggu-minggu periode: pengalihan "
            "*bukan wewenang* keluar dan masuk, dan waktu yang hilang di OPD yang mengalihkan (waktu kerja "
            "dari penugasan sampai pengalihan, menurut kalender hari kerja pemda OPD itu).",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, *_LIST_PARAMS],
            Misrouting,
            {
                "pemda": "33.74",
                "opd": None,
                "period": {"from_week": "2026-W02", "to_week": "2026-W13"},
                "as_of": "2026-03-27T03:00:00+00:00",
                "total": {**_MISROUTING_ROW, "scope": "33.74", "pemda_name": None},
                "items": [_MISROUTING_ROW],
                "next_cursor": None,
            },
        ),
        _op(
            "classifier/{pemda}",
            "Akurasi klasifikasi otomatis per bulan",
            "Per bulan klasifikasi: pengaduan tanpa kategori yang diklasifikasi otomatis, yang langsung "
            "ke OPD, yang ditinjau Admin Koordinator dan yang dikoreksinya (kategori akhir berbeda dari "
            "tebakan). Akurasi = 1 − dikoreksi / diklasifikasi. Angka pemda: bukan untuk token satu OPD. "
            "Periode `from`/`to` dalam bulan (bawaan 12 bulan terakhir, paling panjang 60).",
            [*_PERIOD_PARAMS, _param("format", "`json` atau `csv`")],
            Classifier,
            {
                "pemda": "33.74",
                "as_of": "2026-03-27T03:00:00+00:00",
                "total": {**_CLASSIFIER_MONTH, "month": "total"},
                "items": [_CLASSIFIER_MONTH],
                "next_cursor": None,
            },
            problems=(401, 403, 404, 422),
        ),
        _op(
            "satisfaction",
            "Kepuasan atas penanganan pengaduan (1–5) per OPD",
            "Penilaian pelapor (1–5) atas penanganan pengaduan yang diselesaikan, dihitung untuk OPD "
            "yang menyelesaikannya. Bukan IKM (lihat `/ikm`).",
            [*_SCOPE_PARAMS, *_PERIOD_PARAMS, *_LIST_PARAMS],
            Satisfaction,
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
        _op(
            "complaints/{complaint_id}/clocks",
            "Jam SLA satu pengaduan",
            "Semua jam SLA pengaduan beserta riwayatnya, OPD yang pernah memegangnya (waktu kerja), "
            "dan eskalasinya.",
            [_param("complaint_id", "Id pengaduan", where="path")],
            ComplaintClocks,
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
            problems=(401, 403, 404),
        ),
    ]


class Me(BaseModel):
    """The person a staff token belongs to, with their scope's names."""

    sub: str
    name: str | None
    role: str
    role_label: str
    pemda: str | None
    pemda_name: str | None
    opd: str | None
    opd_name: str | None


_ME = {
    "sub": "sri.pengawas",
    "name": "Sri Wahyuni",
    "role": "supervisor",
    "role_label": "Pengawas",
    "pemda": "33.74",
    "pemda_name": "Kota Semarang",
    "opd": None,
    "opd_name": None,
}


OPERATIONS = [
    *_operations(),
    Operation(
        "GET",
        f"{API}/me",
        "Siapa yang masuk",
        {200: json_reply("Pemilik token staf", Me, _ME)},
        (401,),
        "Pemilik token staf (header `Authorization`, atau cookie sesi masuk staf untuk GET): nama, peran "
        "dan cakupannya dengan nama pemda/OPD. Semua peran staf.",
        security=("staffJwt",),
        tags=("Pengawas",),
    ),
    Operation(
        "GET",
        "/dashboard/",
        "Dasbor pengawasan SLA (HTML; orang yang masuk di ruang staf routing)",
        {200: Reply("halaman HTML", (Media("text/html", schema={"type": "string"}),))},
        offline=True,
    ),
]
