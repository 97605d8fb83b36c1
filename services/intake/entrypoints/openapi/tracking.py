"""Tracking without a bearer header (services/intake/entrypoints/tracking.py)."""

from __future__ import annotations

from services.intake.models import TrackingLogin
from shared.openapi import Media, Operation, Param, Reply

_SIGNED_IN = Reply(
    "Sesi dibuka: cookie `pengaduan_lacak` (HttpOnly, Secure, SameSite=Lax, berlaku untuk "
    "/api/v1/complaints/{id} saja, kedaluwarsa), cookie perangkat `pengaduan_perangkat` (peramban ini "
    "dipercaya untuk kode ini: tebakan PIN orang lain tidak membuatnya menunggu) dan pengalihan (Location) "
    "ke alamat pengaduan tanpa token."
)
_LOGIN_EXAMPLE = {"code": "YK-7F3K-Q9", "pin": "482913"}

OPERATIONS = [
    Operation(
        "GET",
        "/api/v1/complaints/{id}/track",
        "Tautan pelacakan dari pemberitahuan: ditukar dengan cookie sesi, lalu 303",
        {303: _SIGNED_IN},
        (404,),
        "Token tautan (≥ 128 bit, khusus pengaduan ini) ditukar dengan cookie sesi pelapor; jawabannya "
        "303 ke /api/v1/complaints/{id} sehingga token tidak tertinggal di bilah alamat. Token salah: 404.",
        params=(
            Param(
                "t",
                description="Token tautan pelacakan",
                example="Zm9vYmFyLXRva2VuLXRyYWNr",
                schema={"type": "string", "maxLength": 64},
                required=True,
            ),
        ),
    ),
    Operation(
        "POST",
        "/api/v1/tracking",
        "Kode pelacakan + PIN: ditukar dengan cookie sesi, lalu 303",
        {303: _SIGNED_IN},
        (400, 401, 411, 413, 415, 422, 429),
        "Kode (mis. YK-7F3K-Q9; huruf besar/kecil dan tanda hubung bebas) dan PIN 6 angka yang diberikan "
        "saat pengaduan dikirim. JSON atau form HTML biasa. Kode atau PIN salah: 401 (tanpa menyebut yang "
        "mana). Setelah beberapa PIN salah, kode itu menunggu jeda yang berlipat (429 dengan Retry-After); "
        "PIN yang benar tetap berlaku setelah jeda.",
        body=(
            Media(model=TrackingLogin, example=_LOGIN_EXAMPLE),
            Media("application/x-www-form-urlencoded", model=TrackingLogin, example=_LOGIN_EXAMPLE),
        ),
    ),
]
