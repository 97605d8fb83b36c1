"""The answers of the IKM report and the public transparency page as pydantic models (their
OpenAPI schemas; tests validate the real answers against them), and their OpenAPI paths."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from services.sla.entrypoints.openapi.supervisor import _op, _param
from shared.openapi import Media, Operation, Reply


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class IkmRow(_Answer):
    scope: str
    pemda: str
    from_: str = Field(alias="from")
    to: str
    questionnaire: str
    respondents: int
    elements: dict[str, float] = Field(description="unsur (u1 … u9) → rata-rata nilai 1–4")
    ikm: float | None
    grade: str | None = Field(description="mutu pelayanan A–D")
    label: str | None = Field(description="kinerja unit pelayanan")


class IkmAnswer(_Answer):
    pemda: str | None
    opd: str | None
    from_: str = Field(alias="from")
    to: str
    total: IkmRow
    items: list[IkmRow]
    next_cursor: str | None


class MonthFigures(_Answer):
    scope: str
    level: str = Field(description="`pemda` atau `opd`")
    name: str
    month: str | None = Field(default=None, description="`YYYY-MM`; tidak ada di `totals`")
    received: int
    answered: int
    answered_on_time: int
    answered_on_time_pct: float | None
    median_response_hk: float | None
    open: int
    overdue: int
    ikm_respondents: int
    ikm: float | None
    ikm_grade: str | None


class TransparencyAnswer(_Answer):
    pemda: str | None
    from_: str = Field(alias="from")
    to: str
    questionnaire: str
    items: list[MonthFigures]
    totals: list[MonthFigures]


_MONTHS = [
    _param("from", "Bulan awal `YYYY-MM`; bawaan: 12 bulan terakhir"),
    _param("to", "Bulan akhir `YYYY-MM`; bawaan: bulan ini"),
]
_EXAMPLE_FIGURES = {
    "received": 120,
    "answered": 110,
    "answered_on_time": 99,
    "answered_on_time_pct": 90.0,
    "median_response_hk": 1.8,
    "open": 6,
    "overdue": 1,
    "ikm_respondents": 40,
    "ikm": 83.33,
    "ikm_grade": "B",
}


_IKM_ROW = {
    "scope": "33.74/dinas-pupr",
    "pemda": "33.74",
    "from": "2026-01",
    "to": "2026-03",
    "questionnaire": "skm-2017-1",
    "respondents": 2,
    "elements": {"u1": 3.5, "u2": 3.0},
    "ikm": 83.33,
    "grade": "B",
    "label": "Baik",
}
_SEMARANG = {"scope": "33.74", "level": "pemda", "name": "Kota Semarang"}
_TRANSPARENCY_EXAMPLE = {
    "pemda": "33.74",
    "from": "2026-03",
    "to": "2026-03",
    "questionnaire": "skm-2017-1",
    "items": [{**_SEMARANG, "month": "2026-03", **_EXAMPLE_FIGURES}],
    "totals": [{**_SEMARANG, **_EXAMPLE_FIGURES}],
}
_NOT_MODIFIED = Reply("tidak berubah (ETag)")
_PEMDA = _param("pemda", "Kode pemda; tanpa ini: semua pemda")

OPERATIONS = [
    _op(
        "ikm",
        "Indeks Kepuasan Masyarakat (IKM) per OPD",
        "IKM menurut PermenPANRB 14/2017 dari Survei Kepuasan Masyarakat yang diisi pelapor setelah "
        "pengaduan diselesaikan: rata-rata tiap unsur (1–4), indeks = rata-rata tertimbang (1/9) × 25, "
        "mutu A (88,31–100), B (76,61–88,30), C (65,00–76,60), D (25,00–64,99); per versi kuesioner. "
        "Dihitung untuk OPD yang menyelesaikan pengaduan, per bulan. Bukan penilaian 1–5 (kepuasan atas "
        "penanganan pengaduan, `/satisfaction`).",
        [
            _param("pemda", "Kode pemda; bawaan: pemda token"),
            _param("opd", "Id OPD, mis. `33.74/dinas-pupr`"),
            *_MONTHS,
            _param("limit", "Jumlah baris (1–200; CSV hingga 10.000)"),
            _param("cursor", "`next_cursor` dari halaman sebelumnya"),
            _param("format", "`json` (bawaan) atau `csv`"),
        ],
        IkmAnswer,
        {
            "pemda": "33.74",
            "opd": None,
            "from": "2026-01",
            "to": "2026-03",
            "total": {**_IKM_ROW, "scope": "33.74"},
            "items": [_IKM_ROW],
            "next_cursor": None,
        },
    ),
    Operation(
        "GET",
        "/api/v1/public/transparency",
        "Transparansi pengaduan (data terbuka, tanpa masuk)",
        {
            200: Reply(
                "ok",
                (
                    Media(model=TransparencyAnswer, example=_TRANSPARENCY_EXAMPLE),
                    Media("text/csv", schema={"type": "string"}),
                ),
            ),
            304: _NOT_MODIFIED,
        },
        (422,),
        "Per pemda (dan OPD-nya) per bulan: pengaduan diterima, persen dijawab sesuai standar "
        "pelayanan, median waktu tanggapan (hari kerja), masih terbuka, melewati tenggat "
        "penyelesaian, IKM. Hanya angka rekap; tanpa isi pengaduan atau identitas. `Cache-Control` "
        "dan `ETag` (`If-None-Match` → 304).",
        params=(_PEMDA, *_MONTHS, _param("format", "`json` (bawaan) atau `csv`")),
        tags=("Publik",),
    ),
    Operation(
        "GET",
        "/transparansi",
        "Halaman transparansi pengaduan (HTML dengan grafik SVG, tanpa masuk)",
        {200: Reply("halaman HTML", (Media("text/html", schema={"type": "string"}),)), 304: _NOT_MODIFIED},
        (422,),
        params=(_PEMDA, *_MONTHS),
        tags=("Publik",),
    ),
    Operation(
        "GET",
        "/transparansi/transparansi.css",
        "Gaya halaman transparansi",
        {200: Reply("CSS", (Media("text/css", schema={"type": "string"}),))},
        offline=True,
        tags=("Publik",),
    ),
]
