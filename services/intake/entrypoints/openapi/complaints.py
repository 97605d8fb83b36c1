"""OpenAPI paths of the complaint API: submit, status, the reporter's commands, the identity
endpoint and attachments (services/intake/entrypoints/{complaints,commands,identity,attachments}.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.intake.models import (
    AddInformationBody,
    AttachmentInfo,
    AttachmentList,
    CommandAccepted,
    CommandStatus,
    ComplaintView,
    FeedbackBody,
    ReopenBody,
    ReporterIdentity,
    SubmitAccepted,
    SubmitComplaint,
    WithdrawBody,
)

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _problems(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": "#/components/responses/Problem"} for status in statuses}


def _command_path(summary: str, body: type[BaseModel], example: dict[str, Any], when: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": (
                f"{when} Dikirim ke pengelola alur pengaduan; hasilnya dapat dipantau di `status_url`. "
                "Header `Idempotency-Key` membuat pengiriman ulang mendapat jawaban yang sama."
            ),
            "parameters": [_ID],
            "security": [{"accessToken": []}],
            "requestBody": {
                "content": {"application/json": {"schema": body.model_json_schema(), "example": example}}
            },
            "responses": {
                "202": {
                    "description": "Permintaan diterima dan tersimpan di antrean",
                    "content": {
                        "application/json": {
                            "schema": CommandAccepted.model_json_schema(),
                            "example": {
                                "command_id": "01JQ6Z8Y7X3V5T4R2P1N0M9K8J",
                                "status_url": "http://127.0.0.1:8081/api/v1/complaints/01JQ6Z1D4QH3K6W8C2M5N7P9RT"
                                "/commands/01JQ6Z8Y7X3V5T4R2P1N0M9K8J",
                            },
                        }
                    },
                },
                **_problems(401, 403, 404, 409, 422, 503),
            },
        }
    }


_COMMAND_PATHS = {
    "/api/v1/complaints/{id}/information": _command_path(
        "Tambahkan informasi",
        AddInformationBody,
        {"message": "Lubangnya kini sekitar 1 meter; foto terbaru saya lampirkan."},
        "Selama pengaduan ditangani OPD (termasuk saat OPD meminta informasi).",
    ),
    "/api/v1/complaints/{id}/feedback": _command_path(
        "Beri penilaian atas penyelesaian",
        FeedbackBody,
        {"rating": 4, "comment": "Sudah ditambal, terima kasih."},
        "Hanya setelah pengaduan diselesaikan OPD; menutup pengaduan.",
    ),
    "/api/v1/complaints/{id}/reopen": _command_path(
        "Buka kembali pengaduan",
        ReopenBody,
        {"reason": "Tambalan sudah rusak lagi setelah hujan."},
        "Hanya setelah diselesaikan, dalam 10 hari kerja, dan hanya sekali.",
    ),
    "/api/v1/complaints/{id}/withdraw": _command_path(
        "Cabut pengaduan",
        WithdrawBody,
        {"reason": "Masalah sudah selesai sendiri."},
        "Selama pengaduan masih terbuka.",
    ),
}


TITLE = "Pengaduan — intake"
VERSION = "0.1.0"
DESCRIPTION = "Layanan pengaduan warga: kirim pengaduan, pantau status dan tenggat layanan."


PATHS: dict[str, Any] = {
    "/api/v1/complaints": {
        "post": {
            "summary": "Kirim pengaduan",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": (
                        "Kunci unik dari klien; pengiriman ulang dalam 24 jam mendapat "
                        "jawaban yang sama (termasuk token), bukan pengaduan kedua."
                    ),
                    "schema": {"type": "string", "maxLength": 255},
                    "example": "2f1c7a52-5d1e-4a53-9a4b-0c9f8e1d2b3a",
                }
            ],
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": SubmitComplaint.model_json_schema(),
                        "example": {
                            "title": "Jalan berlubang di Jl. Pemuda",
                            "description": "Lubang besar di depan SD Negeri 2, sudah dua minggu.",
                            "category": "jalan-jembatan",
                            "region_code": "33.74.01.1001",
                            "reporter": {"name": "Sari", "phone": "0812-3456-7890"},
                        },
                    }
                }
            },
            "responses": {
                "202": {
                    "description": "Pengaduan diterima dan tersimpan; simpan token akses untuk memantau",
                    "content": {"application/json": {"schema": SubmitAccepted.model_json_schema()}},
                },
                "400": {"$ref": "#/components/responses/Problem"},
                "413": {"$ref": "#/components/responses/Problem"},
                "415": {"$ref": "#/components/responses/Problem"},
                "409": {"$ref": "#/components/responses/Problem"},
                "422": {"$ref": "#/components/responses/Problem"},
                "503": {"$ref": "#/components/responses/Problem"},
            },
        }
    },
    "/api/v1/complaints/{id}": {
        "get": {
            "summary": "Status pengaduan, disposisi dan tenggat layanan",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "security": [{"accessToken": []}, {}],
            "responses": {
                "200": {
                    "description": "Status pengaduan",
                    "content": {"application/json": {"schema": ComplaintView.model_json_schema()}},
                },
                "401": {"$ref": "#/components/responses/Problem"},
                "404": {"$ref": "#/components/responses/Problem"},
            },
        }
    },
    **_COMMAND_PATHS,
    "/api/v1/complaints/{id}/commands/{command_id}": {
        "get": {
            "summary": "Hasil permintaan pelapor (menunggu, diterima, ditolak beserta alasannya)",
            "description": (
                "`pending` sampai pengelola alur pengaduan memutuskan; lalu `accepted`, atau "
                "`rejected` dengan alasannya. Permintaan yang tidak dapat diproses sama sekali "
                "(kendala sistem; petugas diberi tahu) juga tampil `rejected` dengan alasan itu, "
                "tidak menunggu selamanya; bila petugas memprosesnya ulang setelah kendala "
                "diatasi, status itu diganti hasil yang sebenarnya."
            ),
            "parameters": [
                _ID,
                {"name": "command_id", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "security": [{"accessToken": []}],
            "responses": {
                "200": {
                    "description": "Status permintaan",
                    "content": {
                        "application/json": {
                            "schema": CommandStatus.model_json_schema(),
                            "example": {
                                "command_id": "01JQ6Z8Y7X3V5T4R2P1N0M9K8J",
                                "command": "ReopenComplaint",
                                "status": "rejected",
                                "reason": "pengaduan hanya dapat dibuka kembali satu kali",
                                "submitted_at": "2026-03-16T03:12:00Z",
                            },
                        }
                    },
                },
                **_problems(401, 403, 404),
            },
        }
    },
    "/api/v1/complaints/{id}/reporter": {
        "get": {
            "summary": "Identitas pelapor untuk petugas berwenang (setiap akses dicatat)",
            "description": (
                "Pengaduan anonim: hanya Admin Koordinator pemda (dan admin). Lainnya: petugas OPD yang "
                "sedang menangani, Admin Koordinator pemda, dan supervisor dalam cakupan. Setiap "
                "pembacaan, diizinkan maupun ditolak, dicatat dalam audit."
            ),
            "parameters": [_ID],
            "security": [{"staffJwt": []}],
            "responses": {
                "200": {
                    "description": "Identitas pelapor",
                    "content": {
                        "application/json": {
                            "schema": ReporterIdentity.model_json_schema(),
                            "example": {
                                "complaint_id": "01JQ6Z1D4QH3K6W8C2M5N7P9RT",
                                "reporter_ref": "rep_01JQ6Z1D4QH3K6W8C2M5N7P9RV",
                                "anonymous": False,
                                "name": "Sari Wulandari",
                                "phone": "+6281234567890",
                                "email": "sari@example.id",
                            },
                        }
                    },
                },
                **_problems(401, 403, 404),
            },
        }
    },
    "/api/v1/complaints/{id}/reporter/audit": {
        "get": {
            "summary": "Audit pembacaan identitas pelapor",
            "description": (
                "Setiap upaya membaca identitas pelapor pengaduan ini, terbaru dulu (paling banyak 200): "
                "siapa (`who_name`: nama orang yang masuk, kosong untuk token sistem), peran dan "
                "cakupannya, kapan, diizinkan atau tidak, dan alasannya. Untuk admin, "
                "serta Admin Koordinator dan supervisor pemda pengaduan."
            ),
            "parameters": [_ID],
            "security": [{"staffJwt": []}],
            "responses": {
                "200": {
                    "description": "Catatan audit",
                    "content": {
                        "application/json": {
                            "example": {
                                "complaint_id": "01JQ6Z1D4QH3K6W8C2M5N7P9RT",
                                "items": [
                                    {
                                        "who": "koord-semarang",
                                        "who_name": "Sri Wahyuni",
                                        "role": "coordinator",
                                        "pemda": "33.74",
                                        "opd": None,
                                        "at": "2026-03-02T03:15:00Z",
                                        "allowed": True,
                                        "reason": "admin koordinator pemda pengaduan anonim",
                                    },
                                    {
                                        "who": "petugas-pupr",
                                        "who_name": None,
                                        "role": "handler",
                                        "pemda": "33.74",
                                        "opd": "33.74/dinas-pupr",
                                        "at": "2026-03-02T03:10:00Z",
                                        "allowed": False,
                                        "reason": (
                                            "identitas pelapor anonim hanya dapat dibaca Admin "
                                            "Koordinator pemda"
                                        ),
                                    },
                                ],
                            }
                        }
                    },
                },
                **_problems(401, 403, 404),
            },
        }
    },
    "/api/v1/complaints/{id}/attachments": {
        "post": {
            "summary": "Unggah lampiran (foto JPEG/PNG/WebP atau PDF)",
            "description": (
                "multipart/form-data (bagian berkas pertama) atau isi mentah dengan Content-Type. Jenis "
                "berkas diperiksa dari isinya dan berkas dibuka dengan batas piksel, halaman dan waktu "
                "(422 bila melewatinya, 503 bila antrean penuh). Untuk pengaduan anonim metadata (EXIF, "
                "XMP, info dokumen, penulis anotasi, berkas sisipan, skrip) dan nama berkas dihapus."
            ),
            "parameters": [_ID],
            "security": [{"accessToken": []}],
            "requestBody": {
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    },
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                }
            },
            "responses": {
                "201": {
                    "description": "Lampiran tersimpan",
                    "content": {"application/json": {"schema": AttachmentInfo.model_json_schema()}},
                },
                **_problems(401, 403, 404, 409, 413, 415, 422, 503),
            },
        },
        "get": {
            "summary": "Daftar lampiran (pelapor, atau petugas yang menangani)",
            "parameters": [_ID],
            "security": [{"accessToken": []}, {"staffJwt": []}],
            "responses": {
                "200": {
                    "description": "Daftar lampiran",
                    "content": {"application/json": {"schema": AttachmentList.model_json_schema()}},
                },
                **_problems(401, 403, 404),
            },
        },
    },
    "/api/v1/complaints/{id}/attachments/{aid}": {
        "get": {
            "summary": "Unduh lampiran",
            "parameters": [
                _ID,
                {"name": "aid", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "security": [{"accessToken": []}, {"staffJwt": []}],
            "responses": {"200": {"description": "Isi berkas"}, **_problems(401, 403, 404, 422, 503)},
        }
    },
}
