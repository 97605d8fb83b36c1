"""The complaint API's operations: submit, status, the reporter's commands, the identity endpoint
and attachments (services/intake/entrypoints/{complaints,commands,identity,attachments}.py)."""

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
    SurveyBody,
    WithdrawBody,
)
from shared.openapi import Media, Operation, Param, Reply, json_reply
from shared.survey import CURRENT, QuestionnaireDoc


class IdentityRead(BaseModel):
    """One attempt to read a reporter's identity, as the audit shows it (`at` as the view writes
    it: Python's text of the instant, "2026-03-02 03:15:00+00:00")."""

    who: str | None
    # The person's display name from the staff token (`name`: routing's sign-in, by password or
    # through the OIDC provider); null for a system's token.
    who_name: str | None = None
    role: str | None
    pemda: str | None
    opd: str | None
    at: str | None
    allowed: bool | None
    reason: str | None


class IdentityAudit(BaseModel):
    complaint_id: str
    items: list[IdentityRead]


_ID = "01JQ6Z1D4QH3K6W8C2M5N7P9RT"
_COMMAND_ID = "01JQ6Z8Y7X3V5T4R2P1N0M9K8J"
_BASE = "http://127.0.0.1:8081/api/v1/complaints"
_IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    "header",
    "Kunci unik dari klien; pengiriman ulang dalam 24 jam mendapat jawaban yang sama (termasuk token), "
    "bukan pengaduan/permintaan kedua.",
    "2f1c7a52-5d1e-4a53-9a4b-0c9f8e1d2b3a",
    {"type": "string", "maxLength": 255},
)
_VIEW_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "status": "assigned",
    "status_label": "Didisposisikan ke OPD",
    "category": "jalan-jembatan",
    "region_code": "33.74",
    "opd_id": "33.74/dinas-pupr",
    "escalation_level": 0,
    "deadlines": [
        {
            "clock": "response",
            "opd_id": "33.74/dinas-pupr",
            "started_at": "2026-03-02T10:15:00+07:00",
            "due_at": "2026-03-10T00:00:00+07:00",
            "remaining_seconds": 302400,
            "state": "running",
            "remaining_text": "3,5 hari kerja lagi",
        }
    ],
    "timeline": [
        {"at": "2026-03-02T10:14:58+07:00", "type": "ComplaintReceived", "summary": "Pengaduan diterima"},
        {"at": "2026-03-02T10:15:00+07:00", "type": "ComplaintAssigned", "summary": "Didisposisikan ke OPD"},
    ],
    "title": "Jalan berlubang di Jl. Pemuda",
    "description": "Lubang besar di depan SD Negeri 2, sudah dua minggu.",
    "anonymous": False,
    "confidential": False,
}


def _command(path: str, summary: str, body: type[BaseModel], example: dict[str, Any], when: str) -> Operation:
    return Operation(
        "POST",
        f"/api/v1/complaints/{{id}}/{path}",
        summary,
        {
            202: json_reply(
                "Permintaan diterima dan tersimpan di antrean",
                CommandAccepted,
                {"command_id": _COMMAND_ID, "status_url": f"{_BASE}/{_ID}/commands/{_COMMAND_ID}"},
            )
        },
        (400, 401, 403, 404, 409, 413, 415, 422, 429),
        f"{when} Dikirim ke pengelola alur pengaduan; hasilnya dapat dipantau di `status_url`. "
        "Header `Idempotency-Key` membuat pengiriman ulang mendapat jawaban yang sama.",
        body=(Media(model=body, example=example),),
        params=(_IDEMPOTENCY_KEY,),
        security=("accessToken",),
    )


_COMMANDS = [
    _command(
        "information",
        "Tambahkan informasi",
        AddInformationBody,
        {"message": "Lubangnya kini sekitar 1 meter; foto terbaru saya lampirkan."},
        "Selama pengaduan ditangani OPD (termasuk saat OPD meminta informasi).",
    ),
    _command(
        "feedback",
        "Beri penilaian kepuasan atas penanganan pengaduan (1–5)",
        FeedbackBody,
        {"rating": 4, "comment": "Sudah ditambal, terima kasih."},
        "Hanya setelah pengaduan diselesaikan OPD; menutup pengaduan.",
    ),
    _command(
        "survey",
        "Isi Survei Kepuasan Masyarakat (PermenPANRB 14/2017)",
        SurveyBody,
        {"version": CURRENT.version, "answers": {code: 4 for code in CURRENT.codes}},
        "Setelah pengaduan diselesaikan OPD (juga setelah ditutup), sekali per pengaduan; sembilan "
        "unsur, masing-masing bernilai 1–4 (kuesioner: `GET /api/v1/survey`). Terpisah dari "
        "penilaian 1–5 atas penanganan pengaduan.",
    ),
    _command(
        "reopen",
        "Buka kembali pengaduan",
        ReopenBody,
        {"reason": "Tambalan sudah rusak lagi setelah hujan."},
        "Hanya setelah diselesaikan, dalam 10 hari kerja, dan hanya sekali.",
    ),
    _command(
        "withdraw",
        "Cabut pengaduan",
        WithdrawBody,
        {"reason": "Masalah sudah selesai sendiri."},
        "Selama pengaduan masih terbuka.",
    ),
]

# The examples' ids are few on purpose: the golden baseline numbers every id it meets, these too.
_ATTACHMENT_ID = "01KDVDNA00Y1HZ1G6WHQ1ZZJPH"
_ATTACHMENT = {
    "id": _ATTACHMENT_ID,
    "content_type": "image/jpeg",
    "size": 183422,
    "filename": "lubang.jpg",
    "uploaded_at": "2026-03-02T03:20:00Z",
    "url": f"{_BASE}/{_ID}/attachments/{_ATTACHMENT_ID}",
}
_BINARY = {"type": "string", "format": "binary"}

_SURVEY = Operation(
    "GET",
    "/api/v1/survey",
    "Kuesioner Survei Kepuasan Masyarakat yang berlaku",
    {
        200: json_reply(
            "Versi, unsur dan skala kuesioner", QuestionnaireDoc, QuestionnaireDoc.of(CURRENT).model_dump()
        )
    },
    (),
)
OPERATIONS = [
    _SURVEY,
    Operation(
        "POST",
        "/api/v1/complaints",
        "Kirim pengaduan",
        {
            202: json_reply(
                "Pengaduan diterima dan tersimpan; simpan token akses untuk memantau",
                SubmitAccepted,
                {"id": _ID, "access_token": "rahasia-pelapor", "status_url": f"{_BASE}/{_ID}"},
            )
        },
        (400, 409, 413, 415, 422, 429),
        body=(
            Media(
                model=SubmitComplaint,
                example={
                    "title": "Jalan berlubang di Jl. Pemuda",
                    "description": "Lubang besar di depan SD Negeri 2, sudah dua minggu.",
                    "category": "jalan-jembatan",
                    "region_code": "33.74.01.1001",
                    "reporter": {"name": "Sari", "phone": "0812-3456-7890"},
                },
            ),
        ),
        params=(_IDEMPOTENCY_KEY,),
    ),
    Operation(
        "GET",
        "/api/v1/complaints/{id}",
        "Status pengaduan, disposisi dan tenggat layanan",
        {
            200: Reply(
                "Status pengaduan (JSON; halaman HTML untuk peramban yang meminta `Accept: text/html`)",
                (
                    Media(model=ComplaintView, example=_VIEW_EXAMPLE),
                    Media("text/html", schema={"type": "string"}),
                ),
            )
        },
        (401, 404),
        "Dengan token akses pelapor: tampilan lengkap. Tanpa token: tampilan publik (DESIGN §3); "
        "pengaduan rahasia menjawab 404.",
        security=("accessToken", ""),
    ),
    *_COMMANDS,
    Operation(
        "GET",
        "/api/v1/complaints/{id}/commands/{command_id}",
        "Hasil permintaan pelapor (menunggu, diterima, ditolak beserta alasannya)",
        {
            200: json_reply(
                "Status permintaan",
                CommandStatus,
                {
                    "command_id": _COMMAND_ID,
                    "command": "ReopenComplaint",
                    "status": "rejected",
                    "reason": "pengaduan hanya dapat dibuka kembali satu kali",
                    "submitted_at": "2026-03-16T03:12:00Z",
                },
            )
        },
        (401, 403, 404),
        "`pending` sampai pengelola alur pengaduan memutuskan; lalu `accepted`, atau `rejected` dengan "
        "alasannya. Permintaan yang tidak dapat diproses sama sekali (kendala sistem; petugas diberi "
        "tahu) juga tampil `rejected` dengan alasan itu, tidak menunggu selamanya; bila petugas "
        "memprosesnya ulang setelah kendala diatasi, status itu diganti hasil yang sebenarnya.",
        security=("accessToken",),
    ),
    Operation(
        "GET",
        "/api/v1/complaints/{id}/reporter",
        "Identitas pelapor untuk petugas berwenang (setiap akses dicatat)",
        {
            200: json_reply(
                "Identitas pelapor",
                ReporterIdentity,
                {
                    "complaint_id": _ID,
                    "reporter_ref": "rep_01JQ6Z1D4QH3K6W8C2M5N7P9RV",
                    "anonymous": False,
                    "name": "Sari Wulandari",
                    "phone": "+6281234567890",
                    "email": "sari@example.id",
                },
            )
        },
        (401, 403, 404),
        "Pengaduan anonim: hanya Admin Koordinator pemda (dan admin). Lainnya: petugas OPD yang sedang "
        "menangani, Admin Koordinator pemda, dan supervisor dalam cakupan. Setiap pembacaan, diizinkan "
        "maupun ditolak, dicatat dalam audit. Token hanya dari header Authorization, bukan cookie masuk "
        "staf (peramban memakai halaman `/staff/pelapor/{id}`, formulir POST dengan token CSRF).",
        security=("staffJwt",),
    ),
    Operation(
        "GET",
        "/api/v1/complaints/{id}/reporter/audit",
        "Audit pembacaan identitas pelapor",
        {
            200: json_reply(
                "Catatan audit",
                IdentityAudit,
                {
                    "complaint_id": _ID,
                    "items": [
                        {
                            "who": "koord-semarang",
                            "role": "coordinator",
                            "pemda": "33.74",
                            "opd": None,
                            "at": "2026-03-02 03:15:00+00:00",
                            "allowed": True,
                            "reason": "admin koordinator pemda pengaduan anonim",
                        },
                        {
                            "who": "petugas-pupr",
                            "role": "handler",
                            "pemda": "33.74",
                            "opd": "33.74/dinas-pupr",
                            "at": "2026-03-02 03:10:00+00:00",
                            "allowed": False,
                            "reason": "identitas pelapor anonim hanya dapat dibaca Admin Koordinator pemda",
                        },
                    ],
                },
            )
        },
        (401, 403, 404),
        "Setiap upaya membaca identitas pelapor pengaduan ini, terbaru dulu (paling banyak 200): siapa, "
        "peran dan cakupannya, kapan, diizinkan atau tidak, dan alasannya. Untuk admin, serta Admin "
        "Koordinator dan supervisor pemda pengaduan.",
        security=("staffJwt",),
    ),
    Operation(
        "POST",
        "/api/v1/complaints/{id}/attachments",
        "Unggah lampiran (foto JPEG/PNG/WebP atau PDF)",
        {201: json_reply("Lampiran tersimpan", AttachmentInfo, _ATTACHMENT)},
        (400, 401, 403, 404, 409, 413, 415, 422, 429),
        "multipart/form-data (bagian berkas pertama) atau isi mentah dengan Content-Type. Jenis berkas "
        "diperiksa dari isinya dan berkas dibuka dengan batas piksel, halaman dan waktu (422 bila "
        "melewatinya, 503 bila antrean penuh). Untuk pengaduan anonim metadata (EXIF, XMP, info "
        "dokumen, penulis anotasi, berkas sisipan, skrip) dan nama berkas dihapus.",
        body=(
            Media("multipart/form-data", schema={"type": "object", "properties": {"file": _BINARY}}),
            Media("image/jpeg", schema=_BINARY),
            Media("image/png", schema=_BINARY),
            Media("application/pdf", schema=_BINARY),
        ),
        security=("accessToken",),
    ),
    Operation(
        "GET",
        "/api/v1/complaints/{id}/attachments",
        "Daftar lampiran (pelapor, atau petugas yang menangani)",
        {200: json_reply("Daftar lampiran", AttachmentList, {"items": [_ATTACHMENT], "next_cursor": None})},
        (401, 403, 404),
        security=("accessToken", "staffJwt"),
    ),
    Operation(
        "GET",
        "/api/v1/complaints/{id}/attachments/{aid}",
        "Unduh lampiran",
        {
            200: Reply(
                "Isi berkas (dibersihkan)",
                tuple(
                    Media(t, schema=_BINARY)
                    for t in ("image/jpeg", "image/png", "image/webp", "application/pdf")
                ),
            )
        },
        (401, 403, 404, 422),
        security=("accessToken", "staffJwt"),
    ),
]
