"""The staff pages for people (services/routing/entrypoints/staff_pages.py): HTML whose forms need
the session cookie and a CSRF token, so only their entry pages are operations; the forms are
listed in EXEMPT with that reason."""

from __future__ import annotations

from shared.openapi import Media, Operation, Param, Reply

_HTML = Reply("halaman HTML", (Media("text/html", schema={"type": "string"}),))

OPERATIONS = [
    Operation(
        "GET",
        "/staff/masuk",
        "Halaman masuk staf (HTML)",
        {200: _HTML, 302: Reply("sudah masuk: ke `next`")},
        description="Nama pengguna dan kata sandi (dengan `ROUTING_OIDC_ISSUER`: 302 ke penyedia identitas "
        "OpenID Connect); `next`: halaman tujuan sesudah masuk (jalur routing, atau "
        "asal yang diizinkan `ROUTING_STAFF_RETURN_ORIGINS`). Dengan sesi yang masih berlaku, langsung ke "
        "`next` dengan token staf baru di cookie.",
        params=(Param("next", description="Halaman tujuan sesudah masuk", example="/staff/"),),
        offline=True,
    ),
    Operation(
        "GET",
        "/staff/",
        "Beranda staf (HTML; tanpa sesi → halaman masuk)",
        {200: _HTML, 302: Reply("belum masuk: ke /staff/masuk")},
    ),
]

_FORM = "a staff page's form (session cookie and CSRF token; HTML for people, not an API)"
EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/staff"): "a redirect to /staff/",
    ("POST", "/staff/masuk"): _FORM,
    ("POST", "/staff/keluar"): _FORM,
    ("GET", "/staff/sandi"): _FORM,
    ("GET", "/staff/surel"): _FORM,
    ("POST", "/staff/surel"): _FORM,
    ("POST", "/staff/sandi"): _FORM,
    ("POST", "/staff/alamat-surel"): _FORM,
    ("GET", "/staff/akun"): _FORM,
    ("POST", "/staff/akun"): _FORM,
    ("POST", "/staff/akun/{username}/nonaktifkan"): _FORM,
    ("POST", "/staff/akun/{username}/tautan-sandi"): _FORM,
    ("GET", "/staff/atur-sandi/{token}"): _FORM,
    ("POST", "/staff/atur-sandi/{token}"): _FORM,
    ("GET", "/staff/static"): "the staff pages' own files (static route)",
    **{  # the handler workbench (entrypoints/workbench_pages.py)
        ("GET", "/staff/tugas"): _FORM,
        ("GET", "/staff/tugas/baru"): "the workbench page's own polling (session cookie), not an API",
        ("GET", "/staff/pengaduan/{id}"): _FORM,
        ("GET", "/staff/pengaduan/{id}/lampiran/{aid}"): "a reporter's file for the workbench page "
        "(session cookie), passed on from intake's attachment API",
        **{
            ("POST", f"/staff/pengaduan/{{id}}/{action}"): _FORM
            for action in ("ambil", "jawab", "minta-info", "tingkat", "selesaikan", "alihkan", "catatan")
        },
    },
    ("GET", "/staff/masuk/oidc"): "the OpenID Connect provider's redirect back to sign-in (browser only: "
    "needs the attempt's state and binding cookie; 404 without ROUTING_OIDC_ISSUER)",
}
