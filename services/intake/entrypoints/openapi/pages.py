"""The citizen's pages and the region picker's levels (services/intake/entrypoints/pages.py)."""

from __future__ import annotations

from services.intake.models import RegionLevel
from shared.openapi import Media, Operation, Param, Reply, json_reply
from shared.survey import CURRENT

_HTML = Media("text/html", schema={"type": "string"})
_FIELDS = (
    "kunci", "title", "description", "category", "provinsi", "kabkota", "kecamatan", "desa", "address",
    "incident_date", "lat", "lon", "name", "phone", "email", "anonymous", "confidential", "langkah",
)  # fmt: skip
_TEXT: dict[str, object] = {name: {"type": "string"} for name in _FIELDS}
_PHOTO = {"foto": {"type": "string", "format": "binary"}}
_FORM = (
    Media("application/x-www-form-urlencoded", schema={"type": "object", "properties": _TEXT}),
    Media("multipart/form-data", schema={"type": "object", "properties": {**_TEXT, **_PHOTO}}),
)
_DESA = [{"code": "35.73.01.1002", "name": "Arjosari"}]
_LEVEL_EXAMPLE = {"parent": "35.73.01", "level": "desa", "items": _DESA}
_TEXT_FILE = {"type": "string"}
_FILES = Reply("Berkas", (Media("text/css", schema=_TEXT_FILE), Media("text/javascript", schema=_TEXT_FILE)))
_SUBMITTED = {
    200: Reply("Halaman konfirmasi, atau formulir dengan wilayah berikutnya", (_HTML,)),
    422: Reply("Formulir lagi, dengan isian yang salah disebut", (_HTML,)),
}

_LOGIN_FORM = Media(
    "application/x-www-form-urlencoded",
    schema={"type": "object", "properties": {"code": {"type": "string"}, "pin": {"type": "string"}}},
)
_ACTION_FORM = Media(
    "application/x-www-form-urlencoded",
    schema={
        "type": "object",
        "properties": {
            "aksi": {"type": "string", "enum": ["informasi", "nilai", "survei", "buka", "cabut"]},
            "csrf": {"type": "string"},
            "kunci": {"type": "string", "description": "Kunci formulir (Idempotency-Key perintahnya)"},
            **{name: {"type": "string"} for name in ("message", "rating", "comment", "reason")},
            "versi": {"type": "string", "description": "Versi kuesioner SKM (aksi=survei)"},
            **{
                code: {"type": "string", "description": f"SKM unsur {code}: 1–{CURRENT.top} (aksi=survei)"}
                for code in CURRENT.codes
            },
        },
    },
)

OPERATIONS = [
    Operation(
        "GET",
        "/lacak",
        "Halaman lacak pengaduan dengan kode pelacakan dan PIN",
        {200: Reply("Halaman HTML", (_HTML,))},
        offline=True,
    ),
    Operation(
        "POST",
        "/lacak",
        "Kode pelacakan + PIN dari formulir halaman lacak: cookie sesi lalu 303 ke halaman pengaduan",
        {
            303: Reply("Sesi dibuka; pengalihan ke halaman pengaduan"),
            401: Reply("Formulir lagi: kode atau PIN salah", (_HTML,)),
            422: Reply("Formulir lagi: isian tidak valid", (_HTML,)),
            429: Reply("Formulir lagi: jeda setelah PIN salah (Retry-After)", (_HTML,)),
        },
        (400, 411, 413, 415),
        body=(_LOGIN_FORM,),
    ),
    Operation(
        "POST",
        "/api/v1/complaints/{id}/halaman",
        "Tindakan pelapor dari halaman pengaduan (informasi, nilai, survei kepuasan, buka kembali, cabut)",
        {
            303: Reply("Terkirim; kembali ke halaman pengaduan"),
            409: Reply("Halaman pengaduan lagi, dengan alasan penolakan", (_HTML,)),
            422: Reply("Halaman pengaduan lagi, dengan isian yang salah", (_HTML,)),
        },
        (401, 403, 404, 413, 415),
        "Formulir halaman dengan token CSRF yang terikat pada cookie sesi pelacakan.",
        body=(_ACTION_FORM,),
    ),
    Operation(
        "GET",
        "/lapor",
        "Halaman formulir pengaduan untuk warga (HTML, tanpa JavaScript pun berfungsi)",
        {200: Reply("Halaman HTML", (_HTML,))},
        offline=True,
    ),
    Operation(
        "POST",
        "/lapor",
        "Kirim formulir pengaduan (atau, dengan `langkah=wilayah`, tampilkan tingkat wilayah berikutnya)",
        _SUBMITTED,
        (400, 413, 415, 429),
        "Kunci formulir (`kunci`) dipakai sebagai Idempotency-Key: formulir yang sama dikirim dua kali "
        "menjadi satu pengaduan. Foto diperiksa dan dibersihkan sebelum pengaduan disimpan.",
        body=_FORM,
    ),
    Operation(
        "GET",
        "/api/v1/regions",
        "Satu tingkat daftar wilayah Kemendagri (provinsi, atau anak dari `parent`), untuk pemilih wilayah",
        {200: json_reply("Wilayah satu tingkat", RegionLevel, _LEVEL_EXAMPLE)},
        (404, 422),
        params=(
            Param("parent", description="Kode wilayah induk (kosong: provinsi)", example="35.73"),
            Param("q", description="Saring dengan sebagian nama (paling banyak 100 huruf)", example="arjo"),
        ),
        offline=True,
    ),
    Operation(
        "GET",
        "/halaman/{name}",
        "Berkas gaya dan skrip halaman warga",
        {200: _FILES},
        (404,),
        offline=True,
    ),
]
