"""The OpenID Connect provider's back-channel logout (services/routing/entrypoints/staff_oidc.py):
called server to server by the provider, so an operation of the document, unlike the browser's
return from sign-in (an EXEMPT of staff_pages.py)."""

from __future__ import annotations

from shared.openapi import Media, Operation, Reply

OPERATIONS = [
    Operation(
        "POST",
        "/staff/oidc/backchannel-logout",
        "Logout Token dari penyedia identitas (OpenID Connect Back-Channel Logout 1.0)",
        {200: Reply("sesi yang disebut token diakhiri (atau sudah tidak ada); `Cache-Control: no-store`")},
        problems=(400, 404, 413, 429, 503),
        description="Dipanggil oleh penyedia identitas pemda (bukan peramban), daftarkan sebagai "
        "`backchannel_logout_uri` klien. Token ditandatangani kunci penyedia (yang sama dengan ID token); "
        "`iss`, `aud` (= `ROUTING_OIDC_CLIENT_ID`), `iat` (paling lama 5 menit), `jti` (sekali pakai), "
        "`events` (`http://schemas.openid.net/event/backchannel-logout`), `sub` dan/atau `sid`, tanpa "
        "`nonce`. Dengan `sid`: sesi yang dibuka dengan sesi penyedia itu berakhir; hanya `sub`: semua "
        "sesi orang itu. Token yang ditolak (juga yang diputar ulang): 400, problem yang juga memuat "
        "`error`=`invalid_request` dan `error_description` sesuai spesifikasi; tidak ada sesi yang "
        "berakhir. 404 tanpa `ROUTING_OIDC_ISSUER`; 503 bila kunci penyedia tidak dapat dibaca.",
        body=(
            Media(
                "application/x-www-form-urlencoded",
                schema={
                    "type": "object",
                    "required": ["logout_token"],
                    "properties": {"logout_token": {"type": "string", "description": "JWT (Logout Token)"}},
                },
            ),
        ),
    ),
]
