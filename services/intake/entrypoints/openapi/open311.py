"""The OpenAPI description of the /open311/v2/ paths (services/intake/entrypoints/open311.py)."""

from __future__ import annotations

from typing import Any

from services.intake.entrypoints.open311_services import (
    BASE,
    CHANGESET,
    SPECIFICATION,
    service_definition,
    service_list,
)


def _param(name: str, where: str, description: str, example: str | None = None) -> dict[str, Any]:
    found = {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": "string"},
    }
    return found | ({"example": example} if example is not None else {})


_FMT = _param("fmt", "path", "Format jawaban: json atau xml", "json") | {
    "schema": {"type": "string", "enum": ["json", "xml"]}
}
_ID = "01KDVDNA00Y1HZ1G6WHQ1ZZJPH"
_ERRORS = {
    "description": "Kesalahan (daftar {code, description} sesuai spesifikasi)",
    "content": {
        "application/json": {"example": [{"code": 400, "description": "service_code: wajib diisi"}]},
        "text/xml": {
            "example": "<?xml version='1.0' encoding='utf-8'?>\n<errors><error><code>400</code>"
            "<description>service_code: wajib diisi</description></error></errors>"
        },
    },
}
_EXAMPLE_REQUEST = {
    "service_request_id": _ID,
    "status": "open",
    "status_notes": "Didisposisikan ke 33.74/dinas-pupr",
    "service_name": "Jalan dan Jembatan",
    "service_code": "jalan-jembatan",
    "description": None,
    "agency_responsible": "33.74/dinas-pupr",
    "service_notice": None,
    "requested_datetime": "2026-03-02T10:14:58+07:00",
    "updated_datetime": "2026-03-02T10:15:00+07:00",
    "expected_datetime": "2026-03-10T00:00:00+07:00",
    "address": None,
    "address_id": None,
    "zipcode": None,
    "lat": None,
    "long": None,
    "media_url": None,
    "region_code": "33.74",
}
_EXAMPLE_FORM = (
    "api_key=o311_contoh&service_code=jalan-jembatan&lat=-6.9932&long=110.4203"
    "&address_string=Jl.+Pemuda+No.+12,+Semarang&region_code=33.74.01.1001"
    "&description=Lubang+besar+di+depan+SD+Negeri+2+sudah+dua+minggu+membahayakan+motor"
    "&first_name=Sari&last_name=Wulandari&phone=0812-3456-7890"
)
_EXAMPLE_CREATED = {
    "service_request_id": _ID,
    "token": "k3J9c2VjcmV0LXRva2Vu",
    "account_id": None,
    "service_notice": "Pengaduan diterima dan segera diverifikasi (tenggat 3 hari kerja).",
    "access_token": "rahasia-pelapor",
    "status_url": f"http://127.0.0.1:8081/api/v1/complaints/{_ID}",
    "region_code": "33.74.01.1001",
    "region_source": "region_code",
}


def _operation(summary: str, description: str, status: str, example: Any, *params: dict[str, Any]) -> Any:
    return {
        "tags": ["Open311 GeoReport v2"],
        "summary": summary,
        "description": description,
        "parameters": [_FMT, *params],
        "responses": {
            status: {"description": "OK", "content": {"application/json": {"example": example}}},
            **{code: _ERRORS for code in ("400", "404")},
        },
    }


_POST = _operation(
    "Open311: kirim pengaduan (form, dengan api_key)",
    "Form application/x-www-form-urlencoded sesuai spesifikasi. Wilayah: region_code (ekstensi) bila "
    "ada, lalu jurisdiction_id (kode pemda), lalu pemda bawaan server (INTAKE_DEFAULT_PEMDA), lalu "
    "provinsi dari lat/long; tanpa semuanya 400. Judul diturunkan dari layanan dan deskripsi. Header "
    "Idempotency-Key didukung.",
    "201",
    [_EXAMPLE_CREATED],
)
_POST["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"example": _EXAMPLE_FORM}}}
_POST["responses"] |= {code: _ERRORS for code in ("403", "413", "415", "429", "503")}

PATHS: dict[str, Any] = {
    BASE + "/discovery.{fmt}": {
        "get": _operation(
            "Open311: penemuan layanan (discovery)",
            "Titik akhir, format dan ekstensi server ini (region_code, access_token) dan pemda yang dilayani "
            "(jurisdictions).",
            "200",
            {"changeset": CHANGESET, "endpoints": [{"specification": SPECIFICATION, "type": "production"}]},
        )
    },
    BASE + "/services.{fmt}": {
        "get": _operation(
            "Open311: daftar layanan (kategori pengaduan)",
            "Setiap kategori DESIGN §4 adalah satu service_code.",
            "200",
            service_list()[:1],
        )
    },
    BASE + "/services/{code}.{fmt}": {
        "get": _operation(
            "Open311: definisi layanan dan atributnya",
            "Semua atribut opsional (attribute[region_code]: kode wilayah Kemendagri).",
            "200",
            service_definition("jalan-jembatan"),
            _param("code", "path", "service_code", "kependudukan"),
        )
    },
    BASE + "/requests.{fmt}": {
        "get": _operation(
            "Open311: cari pengaduan publik",
            "Hanya data publik; pengaduan rahasia tidak pernah tampil. Terbaru lebih dulu, paling banyak "
            "200, rentang tanggal paling lama 90 hari (bawaan: 90 hari terakhir).",
            "200",
            [_EXAMPLE_REQUEST],
            _param("service_request_id", "query", "Id dipisah koma (mengabaikan filter lain)", _ID),
            _param("service_code", "query", "Kategori, dipisah koma", "jalan-jembatan,air-minum"),
            _param(
                "start_date", "query", "Waktu paling awal (W3C, dengan zona)", "2026-03-01T00:00:00+07:00"
            ),
            _param("end_date", "query", "Waktu paling akhir (W3C, dengan zona)", "2026-03-31T23:59:59+07:00"),
            _param("status", "query", "open atau closed, dipisah koma", "open"),
        ),
        "post": _POST,
    },
    BASE + "/requests/{id}.{fmt}": {
        "get": _operation(
            "Open311: satu pengaduan publik",
            "Pengaduan rahasia menjawab 404.",
            "200",
            [_EXAMPLE_REQUEST],
            _param("id", "path", "service_request_id", _ID),
        )
    },
    BASE + "/tokens/{token}.{fmt}": {
        "get": _operation(
            "Open311: token → service_request_id",
            "Menukar token dari jawaban POST dengan id pengaduan.",
            "200",
            [{"service_request_id": _ID, "token": "k3J9c2VjcmV0LXRva2Vu"}],
            _param("token", "path", "token dari jawaban POST", "k3J9c2VjcmV0LXRva2Vu"),
        )
    },
}
