"""The /open311/v2/ operations (services/intake/entrypoints/open311.py): GeoReport v2 in JSON or
XML by the path's suffix; errors are the specification's list of {code, description}, not problems.
The models below describe the JSON answers as open311.py builds them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from services.intake.entrypoints.open311_services import (
    BASE,
    CHANGESET,
    SPECIFICATION,
    service_definition,
    service_list,
)
from shared.openapi import Media, Operation, Param, Reply


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")  # the specification lets servers add fields


class Endpoint(_Open):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Extension(_Open):
    name: str
    description: str
    applies_to: str


class Jurisdiction(_Open):
    jurisdiction_id: str
    name: str
    level: str


class Discovery(_Open):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]
    extensions: list[Extension] = []
    default_jurisdiction_id: str | None = None
    jurisdictions: list[Jurisdiction] = []


class Service(_Open):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class AttributeValue(_Open):
    key: str
    name: str


class Attribute(_Open):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue] | None = None


class ServiceDefinition(_Open):
    service_code: str
    attributes: list[Attribute]


class ServiceRequest(_Open):
    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None
    region_code: str | None = None


class Created(_Open):
    service_request_id: str | None
    token: str | None
    account_id: str | None
    service_notice: str | None
    access_token: str | None = None
    status_url: str | None = None
    # Which region the complaint was filed under, and where it came from (region_code,
    # jurisdiction_id, the server's default pemda, or the province of lat/long).
    region_code: str | None = None
    region_source: str | None = None


class TokenAnswer(_Open):
    service_request_id: str | None
    token: str


class Open311Error(_Open):
    code: int
    description: str


_XML = {"type": "string"}
_FMT = Param(
    "fmt", "path", "Format jawaban: json atau xml", "json", {"type": "string", "enum": ["json", "xml"]}
)
_ID = "01KDVDNA00Y1HZ1G6WHQ1ZZJPH"
_ERRORS = Reply(
    "Kesalahan (daftar {code, description} sesuai spesifikasi)",
    (
        Media(model=list[Open311Error], example=[{"code": 400, "description": "service_code: wajib diisi"}]),
        Media(
            "text/xml",
            schema=_XML,
            example="<?xml version='1.0' encoding='utf-8'?>\n<errors><error><code>400</code>"
            "<description>service_code: wajib diisi</description></error></errors>",
        ),
    ),
)
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


def _operation(
    method: str,
    path: str,
    summary: str,
    description: str,
    status: int,
    model: Any,
    example: Any,
    *params: Param,
    problems: tuple[int, ...] = (400, 404, 429),
    **more: Any,
) -> Operation:
    answer = Reply("OK", (Media(model=model, example=example), Media("text/xml", schema=_XML)))
    return Operation(
        method,
        BASE + path,
        summary,
        {status: answer},
        problems,
        description,
        params=(_FMT, *params),
        tags=("Open311 GeoReport v2",),
        error=_ERRORS,
        **more,
    )


OPERATIONS = [
    _operation(
        "GET",
        "/discovery.{fmt}",
        "Open311: penemuan layanan (discovery)",
        "Titik akhir, format dan ekstensi server ini (region_code, access_token) dan pemda yang dilayani "
        "(jurisdictions).",
        200,
        Discovery,
        {
            "changeset": CHANGESET,
            "contact": "Layanan pengaduan pemerintah daerah",
            "key_service": "Kunci API diterbitkan oleh admin",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": "http://127.0.0.1:8081/open311/v2",
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
    ),
    _operation(
        "GET",
        "/services.{fmt}",
        "Open311: daftar layanan (kategori pengaduan)",
        "Setiap kategori DESIGN §4 adalah satu service_code.",
        200,
        list[Service],
        service_list()[:1],
    ),
    _operation(
        "GET",
        "/services/{code}.{fmt}",
        "Open311: definisi layanan dan atributnya",
        "Semua atribut opsional (attribute[region_code]: kode wilayah Kemendagri).",
        200,
        ServiceDefinition,
        service_definition("jalan-jembatan"),
        Param("code", "path", "service_code", "kependudukan"),
    ),
    _operation(
        "GET",
        "/requests.{fmt}",
        "Open311: cari pengaduan publik",
        "Hanya data publik; pengaduan rahasia tidak pernah tampil. Terbaru lebih dulu, paling banyak 200, "
        "rentang tanggal paling lama 90 hari (bawaan: 90 hari terakhir).",
        200,
        list[ServiceRequest],
        [_EXAMPLE_REQUEST],
        Param("service_request_id", description="Id dipisah koma (mengabaikan filter lain)", example=_ID),
        Param("service_code", description="Kategori, dipisah koma", example="jalan-jembatan,air-minum"),
        Param(
            "start_date",
            description="Waktu paling awal (W3C, dengan zona)",
            example="2026-03-01T00:00:00+07:00",
        ),
        Param(
            "end_date",
            description="Waktu paling akhir (W3C, dengan zona)",
            example="2026-03-31T23:59:59+07:00",
        ),
        Param("status", description="open atau closed, dipisah koma", example="open"),
    ),
    _operation(
        "POST",
        "/requests.{fmt}",
        "Open311: kirim pengaduan (form, dengan api_key)",
        "Form application/x-www-form-urlencoded sesuai spesifikasi. Wilayah: region_code (ekstensi) bila "
        "ada, lalu jurisdiction_id (kode pemda), lalu pemda bawaan server (INTAKE_DEFAULT_PEMDA), lalu "
        "provinsi dari lat/long; tanpa semuanya 400. Judul diturunkan dari layanan dan deskripsi. Header "
        "Idempotency-Key didukung.",
        201,
        list[Created],
        [_EXAMPLE_CREATED],
        problems=(400, 403, 404, 409, 413, 415, 429),
        body=(Media("application/x-www-form-urlencoded", schema={"type": "object"}, example=_EXAMPLE_FORM),),
    ),
    _operation(
        "GET",
        "/requests/{id}.{fmt}",
        "Open311: satu pengaduan publik",
        "Pengaduan rahasia menjawab 404.",
        200,
        list[ServiceRequest],
        [_EXAMPLE_REQUEST],
        Param("id", "path", "service_request_id", _ID),
    ),
    _operation(
        "GET",
        "/tokens/{token}.{fmt}",
        "Open311: token → service_request_id",
        "Menukar token dari jawaban POST dengan id pengaduan.",
        200,
        list[TokenAnswer],
        [{"service_request_id": _ID, "token": "k3J9c2VjcmV0LXRva2Vu"}],
        Param("token", "path", "token dari jawaban POST", "k3J9c2VjcmV0LXRva2Vu"),
    ),
]

# Routes served but not operations of the API, each with its reason.
EXEMPT = {
    ("GET", BASE + "/{tail}"): "Open311's catch-all: a 404 naming discovery.json for any unknown resource",
    ("POST", BASE + "/{tail}"): "Open311's catch-all: a 404 naming discovery.json for any unknown resource",
}
