"""The staff API's paths in the OpenAPI document (bodies from entrypoints/models.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.routing.entrypoints.models import (
    ArchiveBody,
    DisposeBody,
    MessageBody,
    NoteBody,
    OpdBody,
    ResolveBody,
    RuleBody,
    TierBody,
    TransferBody,
    UpdateBody,
    WebhookBody,
)


def _op(
    summary: str,
    *,
    body: type[BaseModel] | None = None,
    example: dict[str, Any] | None = None,
    params: tuple[str, ...] = (),
    query: tuple[str, ...] = (),
    ok: str = "200",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"staffJwt": []}],
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
        ]
        + [{"name": q, "in": "query", "required": False, "schema": {"type": "string"}} for q in query],
        "responses": {
            ok: {"description": "berhasil"},
            **{
                code: {"$ref": "#/components/responses/Problem"}
                for code in ("401", "403", "404", "409", "422")
            },
        },
    }
    if body is not None:
        op["requestBody"] = {
            "content": {"application/json": {"schema": body.model_json_schema(), "example": example or {}}}
        }
    return op


def paths() -> dict[str, Any]:
    base = "/api/v1/staff/complaints/{id}"
    idp = ("id",)
    opd = ("pemda", "slug")
    return {
        base: {
            "get": _op("Detail pengaduan untuk petugas (tanpa identitas pelapor)", params=idp),
            "patch": _op(
                "Koordinator: ubah kategori/wilayah (saat triage) atau perketat privasi (selama terbuka)",
                body=UpdateBody,
                example={"category": "jalan-jembatan", "confidential": True},
                params=idp,
            ),
        },
        f"{base}/claim": {"post": _op("Petugas OPD mengambil pengaduan (sewa kerja 30 menit)", params=idp)},
        f"{base}/answer": {
            "post": _op(
                "Jawab pelapor (tindak lanjut)",
                body=MessageBody,
                example={"message": "Tim kami akan meninjau lokasi besok pagi."},
                params=idp,
            )
        },
        f"{base}/request-info": {
            "post": _op(
                "Minta informasi tambahan dari pelapor",
                body=MessageBody,
                example={"message": "Mohon kirim foto dan patokan lokasi."},
                params=idp,
            )
        },
        f"{base}/tier": {
            "post": _op("Ubah tingkat pengaduan", body=TierBody, example={"tier": "ringan"}, params=idp)
        },
        f"{base}/resolve": {
            "post": _op(
                "Selesaikan dengan jawaban",
                body=ResolveBody,
                example={"answer": "Lubang jalan sudah ditambal pada 12 Maret."},
                params=idp,
            )
        },
        f"{base}/transfer": {
            "post": _op(
                "Alihkan: bukan wewenang OPD ini",
                body=TransferBody,
                example={"to_opd_id": "33.74/dinas-perhubungan", "reason": "Lampu jalan wewenang Dishub"},
                params=idp,
            )
        },
        f"{base}/dispose": {
            "post": _op(
                "Koordinator: disposisikan ke OPD",
                body=DisposeBody,
                example={"opd_id": "33.74/dinas-pupr", "category": "jalan-jembatan"},
                params=idp,
            )
        },
        f"{base}/archive": {
            "post": _op(
                "Koordinator: arsipkan dengan alasan",
                body=ArchiveBody,
                example={"reason": "Di luar kewenangan pemda", "forwarded_to": "Kementerian PUPR"},
                params=idp,
            )
        },
        f"{base}/notes": {
            "get": _op("Catatan internal (khusus petugas)", params=idp),
            "post": _op(
                "Tambah catatan internal",
                body=NoteBody,
                example={"text": "Sudah koordinasi dengan UPT wilayah timur."},
                params=idp,
                ok="201",
            ),
        },
        "/api/v1/opd/{pemda}/{slug}/queue": {
            "get": _op(
                "Antrean OPD, tenggat SLA terdekat dulu", params=opd, query=("status", "limit", "cursor")
            )
        },
        "/api/v1/opd/{pemda}/{slug}/feed": {
            "get": _op(
                "Umpan perubahan pengaduan OPD ini (untuk sistem OPD)", params=opd, query=("limit", "cursor")
            )
        },
        "/api/v1/opd/{pemda}/{slug}/webhook": {
            "put": _op(
                "Daftarkan webhook OPD (ditandatangani HMAC-SHA256 dan Standard Webhooks; alamat internal "
                "ditolak kecuali jaringannya diizinkan)",
                body=WebhookBody,
                example={
                    "url": "https://opd.example.go.id/pengaduan",
                    "secret": "rahasia-panjang-sekali-123",
                },
                params=opd,
            )
        },
        "/api/v1/opd/{pemda}/{slug}/webhook/deliveries": {
            "get": _op("Log pengiriman webhook", params=opd, query=("limit",))
        },
        "/api/v1/pemda/{pemda}/triage": {
            "get": _op("Daftar triage Admin Koordinator", params=("pemda",), query=("limit", "cursor"))
        },
        "/api/v1/admin/rules/{pemda}/{category}": {
            "put": _op(
                "Aturan disposisi khusus pemda (tercatat di audit, berlaku seketika)",
                body=RuleBody,
                example={"opd_slug": "dinas-pupr", "note": "PJU dikelola Dinas PUPR"},
                params=("pemda", "category"),
            ),
            "delete": _op("Hapus aturan khusus", params=("pemda", "category"), ok="204"),
        },
        "/api/v1/admin/opds/{pemda}/{slug}": {
            "put": _op(
                "Ganti nama OPD atau tambah OPD milik pemda",
                body=OpdBody,
                example={"name": "Dinas Perumahan dan Kawasan Permukiman Kota Semarang"},
                params=opd,
            )
        },
    }


def page_paths() -> dict[str, Any]:
    """The staff pages (HTML for people, services/routing/entrypoints/staff_pages.py): their forms
    need the session cookie and a CSRF token, so only their entry pages are listed."""
    html = {"200": {"description": "halaman HTML", "content": {"text/html": {}}}}
    return {
        "/staff/masuk": {
            "get": {
                "summary": "Halaman masuk staf (HTML)",
                "description": "Nama pengguna dan kata sandi; `next`: halaman tujuan sesudah masuk (jalur "
                "routing, atau asal yang diizinkan `ROUTING_STAFF_RETURN_ORIGINS`). Dengan sesi yang masih "
                "berlaku, langsung ke `next` dengan token staf baru di cookie.",
                "parameters": [
                    {"name": "next", "in": "query", "required": False, "schema": {"type": "string"}}
                ],
                "responses": {**html, "302": {"description": "sudah masuk: ke `next`"}},
            }
        },
        "/staff/": {
            "get": {
                "summary": "Beranda staf (HTML; tanpa sesi → halaman masuk)",
                "responses": {**html, "302": {"description": "belum masuk: ke /staff/masuk"}},
            }
        },
    }
