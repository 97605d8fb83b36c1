"""The staff API's operations (services/routing/entrypoints/{complaints,notes,queues,opd_systems,
admin}.py); bodies and answers from entrypoints/models.py."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.routing.entrypoints.models import (
    AcceptSuggestionBody,
    ArchiveBody,
    DeliveryPage,
    DisposeBody,
    DuplicatesPage,
    FeedPage,
    MergeBody,
    MergeResult,
    MessageBody,
    Note,
    NoteBody,
    NotePage,
    OpdBody,
    OpdNamed,
    RejectSuggestionBody,
    ResolveBody,
    RuleBody,
    RuleSet,
    RuleSuggestionList,
    StaffComplaint,
    StaffComplaintPage,
    SuggestionDecision,
    TierBody,
    TransferBody,
    UpdateBody,
    WebhookBody,
    WebhookRegistered,
)
from shared.categories import CATEGORIES
from shared.openapi import Media, Operation, Param, Reply, json_reply

# The examples' ids are intake's (the golden baseline numbers every id it meets, these too).
_ID = "01JQ6Z1D4QH3K6W8C2M5N7P9RT"
_ENTRY = "01JQ6Z8Y7X3V5T4R2P1N0M9K8J:33.74/dinas-pupr"
_COMPLAINT: dict[str, Any] = {
    "id": _ID,
    "status": "in_progress",
    "status_label": "Sedang ditangani OPD",
    "seq": 3,
    "title": "Jalan berlubang di Jl. Pemuda",
    "description": "Lubang besar di depan SD Negeri 2, sudah dua minggu.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "pemda": "33.74",
    "opd_id": "33.74/dinas-pupr",
    "classification": "pengaduan",
    "anonymous": False,
    "confidential": False,
    "tier": "normatif",
    "transfers": 0,
    "sla_due": "2026-03-10T00:00:00+07:00",
    "claimed_by": "petugas-pupr",
    "lease_until": "2026-03-02T10:45:00+07:00",
    "submitted_at": "2026-03-02T10:14:58+07:00",
    "updated_at": "2026-03-02T10:15:30+07:00",
}
_DUPLICATE = {
    "id": _ID,
    "status": "in_progress",
    "category": "jalan-jembatan",
    "opd_id": "33.74/dinas-pupr",
    "submitted_at": "2026-03-02T03:14:58+00:00",
    "similarity": 0.52,
    "distance_m": 40,
    "direction": "earlier",
}
_SUGGESTION: dict[str, Any] = {
    "id": "33.74:penerangan-jalan:33.74/dinas-perhubungan:33.74/dinas-pupr",
    "pemda": "33.74",
    "category": "penerangan-jalan",
    "from_opd_id": "33.74/dinas-perhubungan",
    "to_opd_id": "33.74/dinas-pupr",
    "current_opd_id": None,
    "transfers": 3,
    "window_days": 90,
    "first_at": "2026-03-02T03:15:30+00:00",
    "last_at": "2026-03-09T03:15:30+00:00",
    "rule": "override:33.74:penerangan-jalan",
    "explained_by": [
        {"complaint_id": _ID, "at": "2026-03-02T03:15:30+00:00", "reason": "PJU dikelola Dinas PUPR"}
    ],
}
_DECISION: dict[str, Any] = {
    "id": _SUGGESTION["id"],
    "pemda": "33.74",
    "verdict": "accepted",
    "by": "koordinator-semarang",
    "at": "2026-03-09T04:00:00+00:00",
    "note": "PJU memang dikelola Dinas PUPR",
    "complaint_ids": [_ID],
    "rule": "override:33.74:penerangan-jalan",
}
_AS_STAFF_SEE_IT = json_reply("Pengaduan sebagaimana terlihat oleh petugas", StaffComplaint, _COMPLAINT)
_PAGE = json_reply("Satu halaman pengaduan", StaffComplaintPage, {"items": [_COMPLAINT], "next_cursor": None})
_NOTE = {
    "complaint_id": _ID,
    "opd_id": "33.74/dinas-pupr",
    "by": "petugas-pupr",
    "role": "handler",
    "text": "Sudah koordinasi dengan UPT wilayah timur.",
    "at": "2026-03-02T04:00:00+00:00",
}
_LIMIT = Param(
    "limit",
    description="Jumlah per halaman (1–200, bawaan 50)",
    example=20,
    schema={"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
)
_CURSOR = Param("cursor", description="`next_cursor` dari halaman sebelumnya")
_BODY_PROBLEMS = (400, 401, 403, 404, 409, 413, 415, 422)
_PROBLEMS = (401, 403, 404, 409, 422)
_BASE = "/api/v1/staff/complaints/{id}"
_OPD = "/api/v1/opd/{pemda}/{slug}"


def _staff(
    method: str,
    path: str,
    summary: str,
    reply: Reply = _AS_STAFF_SEE_IT,
    *,
    body: type[BaseModel] | None = None,
    example: dict[str, Any] | None = None,
    params: tuple[Param, ...] = (),
    status: int = 200,
    problems: tuple[int, ...] | None = None,
) -> Operation:
    return Operation(
        method,
        path,
        summary,
        {status: reply},
        problems or (_BODY_PROBLEMS if body else _PROBLEMS),
        body=(Media(model=body, example=example),) if body else (),
        params=params,
        security=("staffJwt",),
    )


def _action(name: str, summary: str, body: type[BaseModel] | None = None, example: Any = None) -> Operation:
    return _staff("POST", f"{_BASE}/{name}", summary, body=body, example=example)


OPERATIONS = [
    _staff(
        "GET", _BASE, "Detail pengaduan untuk petugas (tanpa identitas pelapor)", problems=(401, 403, 404)
    ),
    _staff(
        "PATCH",
        _BASE,
        "Koordinator: ubah kategori/wilayah (saat triage) atau perketat privasi (selama terbuka)",
        body=UpdateBody,
        example={"category": "jalan-jembatan", "confidential": True},
    ),
    _action("claim", "Petugas OPD mengambil pengaduan (sewa kerja 30 menit)"),
    _action(
        "answer",
        "Jawab pelapor (tindak lanjut)",
        MessageBody,
        {"message": "Tim kami akan meninjau lokasi besok pagi."},
    ),
    _action(
        "request-info",
        "Minta informasi tambahan dari pelapor",
        MessageBody,
        {"message": "Mohon kirim foto dan patokan lokasi."},
    ),
    _action("tier", "Ubah tingkat pengaduan", TierBody, {"tier": "ringan"}),
    _action(
        "resolve",
        "Selesaikan dengan jawaban",
        ResolveBody,
        {"answer": "Lubang jalan sudah ditambal pada 12 Maret."},
    ),
    _action(
        "transfer",
        "Alihkan: bukan wewenang OPD ini",
        TransferBody,
        {"to_opd_id": "33.74/dinas-perhubungan", "reason": "Lampu jalan wewenang Dishub"},
    ),
    _action(
        "dispose",
        "Koordinator: disposisikan ke OPD",
        DisposeBody,
        {"opd_id": "33.74/dinas-pupr", "category": "jalan-jembatan"},
    ),
    _action(
        "archive",
        "Koordinator: arsipkan dengan alasan",
        ArchiveBody,
        {"reason": "Di luar kewenangan pemda", "forwarded_to": "Kementerian PUPR"},
    ),
    _staff(
        "GET",
        f"{_BASE}/notes",
        "Catatan internal (khusus petugas)",
        json_reply("Catatan internal", NotePage, {"items": [_NOTE], "next_cursor": None}),
        problems=(401, 403, 404),
    ),
    _staff(
        "POST",
        f"{_BASE}/notes",
        "Tambah catatan internal",
        json_reply("Catatan tersimpan", Note, _NOTE),
        body=NoteBody,
        example={"text": "Sudah koordinasi dengan UPT wilayah timur."},
        status=201,
    ),
    _staff(
        "GET",
        f"{_OPD}/queue",
        "Antrean OPD, tenggat SLA terdekat dulu",
        _PAGE,
        params=(
            Param("status", description="Status, diulang atau dipisah koma", example="assigned,in_progress"),
            Param(
                "category",
                description="Hanya pengaduan berkategori ini (kode katalog); kosong: semua kategori. "
                "Kursor halaman berikutnya berlaku dengan filter yang sama.",
                example="jalan-jembatan",
                schema={"type": "string", "enum": [*CATEGORIES, ""]},
            ),
            _LIMIT,
            _CURSOR,
        ),
        problems=(401, 403, 422),
    ),
    _staff(
        "GET",
        f"{_OPD}/feed",
        "Umpan perubahan pengaduan OPD ini (untuk sistem OPD)",
        json_reply(
            "Perubahan, urut seperti ditulis",
            FeedPage,
            {
                "items": [
                    {
                        "id": _ENTRY,
                        "complaint_id": _ID,
                        "opd_id": "33.74/dinas-pupr",
                        "type": "ComplaintClaimed",
                        "state": "in_progress",
                        "seq": 3,
                        "at": "2026-03-02 03:15:30+00:00",
                        "data": {"handler": "petugas-pupr", "opd_id": "33.74/dinas-pupr"},
                    }
                ],
                "next_cursor": None,
            },
        ),
        params=(_LIMIT, _CURSOR),
        problems=(401, 403, 422),
    ),
    _staff(
        "PUT",
        f"{_OPD}/webhook",
        "Daftarkan webhook OPD (ditandatangani HMAC-SHA256 dan Standard Webhooks; alamat internal "
        "ditolak kecuali jaringannya diizinkan)",
        json_reply(
            "Webhook terdaftar",
            WebhookRegistered,
            {"opd_id": "33.74/dinas-pupr", "url": "https://opd.example.go.id/pengaduan"},
        ),
        body=WebhookBody,
        example={"url": "https://opd.example.go.id/pengaduan", "secret": "rahasia-panjang-sekali-123"},
    ),
    _staff(
        "GET",
        f"{_OPD}/webhook/deliveries",
        "Log pengiriman webhook",
        json_reply(
            "Pengiriman terbaru",
            DeliveryPage,
            {
                "items": [
                    {
                        "opd_id": "33.74/dinas-pupr",
                        "at": "2026-03-02T03:15:31+00:00",
                        "url": "https://opd.example.go.id/pengaduan",
                        "entries": 1,
                        "first": _ENTRY,
                        "last": _ENTRY,
                        "status": 503,
                        "error": None,
                        "ok": False,
                        "attempt": 1,
                    }
                ],
                "next_cursor": None,
            },
        ),
        params=(_LIMIT,),
        problems=(401, 403, 422),
    ),
    _staff(
        "GET",
        "/api/v1/pemda/{pemda}/triage",
        "Daftar triage Admin Koordinator",
        _PAGE,
        params=(_LIMIT, _CURSOR),
        problems=(401, 403, 422),
    ),
    _staff(
        "PUT",
        "/api/v1/admin/rules/{pemda}/{category}",
        "Aturan disposisi khusus pemda (tercatat di audit, berlaku seketika)",
        json_reply(
            "Aturan berlaku",
            RuleSet,
            {
                "pemda": "33.74",
                "category": "penerangan-jalan",
                "opd_id": "33.74/dinas-pupr",
                "rule": "override:33.74:penerangan-jalan",
            },
        ),
        body=RuleBody,
        example={"opd_slug": "dinas-pupr", "note": "PJU dikelola Dinas PUPR"},
    ),
    _staff(
        "DELETE",
        "/api/v1/admin/rules/{pemda}/{category}",
        "Hapus aturan khusus",
        Reply("Aturan dihapus"),
        status=204,
        problems=(401, 403, 404),
    ),
    _staff(
        "GET",
        f"{_BASE}/duplicates",
        "Dugaan duplikat: pengaduan terbuka sekategori yang berdekatan (radius per kategori, atau desa "
        "yang sama) dan bernada serupa, tanpa identitas, teks, atau lampiran pelapor lain",
        json_reply("Dugaan duplikat", DuplicatesPage, {"items": [_DUPLICATE], "next_cursor": None}),
        problems=(401, 403, 404),
    ),
    _staff(
        "POST",
        f"{_BASE}/merge",
        "Koordinator: gabungkan pengaduan ini (duplikat) ke pengaduan lain yang terbuka di pemda yang "
        "sama; duplikat ditutup `merged`, pengaduan tujuan mengambil privasi terketat. Penggabungan yang "
        "sama diulang tidak mengubah apa pun",
        json_reply(
            "Digabungkan",
            MergeResult,
            {"merged": {**_COMPLAINT, "status": "closed", "merged_into": _ID}, "into": _COMPLAINT},
        ),
        body=MergeBody,
        example={"into": _ID, "reason": "Lubang jalan yang sama"},
        problems=(400, 401, 403, 404, 409, 415, 422),
    ),
    _staff(
        "GET",
        "/api/v1/pemda/{pemda}/rule-suggestions",
        "Usulan aturan dari pengalihan berulang (kategori × OPD asal → OPD tujuan), dengan pengaduan "
        "yang mendasarinya",
        json_reply("Usulan yang terbuka", RuleSuggestionList, {"items": [_SUGGESTION], "next_cursor": None}),
        problems=(401, 403, 404, 422),
    ),
    _staff(
        "POST",
        "/api/v1/pemda/{pemda}/rule-suggestions/{id}/accept",
        "Terima usulan: menjadi aturan disposisi khusus pemda (tercatat di audit)",
        json_reply("Usulan diterima", SuggestionDecision, _DECISION),
        body=AcceptSuggestionBody,
        example={"note": "PJU memang dikelola Dinas PUPR"},
        problems=(400, 401, 403, 404, 409, 415, 422),
    ),
    _staff(
        "POST",
        "/api/v1/pemda/{pemda}/rule-suggestions/{id}/reject",
        "Tolak usulan (tercatat di audit; ditawarkan lagi hanya setelah pengalihan baru)",
        json_reply(
            "Usulan ditolak",
            SuggestionDecision,
            {**_DECISION, "verdict": "rejected", "note": "Salah kategori, bukan salah OPD", "rule": None},
        ),
        body=RejectSuggestionBody,
        example={"reason": "Pengalihan itu karena salah kategori, bukan salah OPD"},
        problems=(400, 401, 403, 404, 409, 415, 422),
    ),
    _staff(
        "PUT",
        "/api/v1/admin/opds/{pemda}/{slug}",
        "Ganti nama OPD atau tambah OPD milik pemda",
        json_reply(
            "OPD tersimpan",
            OpdNamed,
            {"opd_id": "33.74/disperkim", "name": "Dinas Perumahan dan Kawasan Permukiman Kota Semarang"},
        ),
        body=OpdBody,
        example={"name": "Dinas Perumahan dan Kawasan Permukiman Kota Semarang"},
    ),
]
