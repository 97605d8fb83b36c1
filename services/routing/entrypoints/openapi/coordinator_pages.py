"""The coordinator pages (services/routing/entrypoints/coordinator_pages.py): HTML for people,
whose forms need the session cookie and a CSRF token; the JSON API they share their rules with is
documented in staff.py. All are listed in EXEMPT with that reason."""

from __future__ import annotations

_PAGE = "a coordinator page (session cookie; HTML for people, not an API: the JSON API is documented)"
_FORM = "a coordinator page's form (session cookie and CSRF token; HTML for people, not an API)"
EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/staff/triase"): _PAGE,
    ("GET", "/staff/triase/{id}"): _PAGE,
    ("GET", "/staff/katalog"): _PAGE,
    ("POST", "/staff/triase/{id}/disposisi"): _FORM,
    ("POST", "/staff/triase/{id}/arsip"): _FORM,
    ("POST", "/staff/triase/{id}/privasi"): _FORM,
    ("POST", "/staff/katalog/opd"): _FORM,
    ("POST", "/staff/katalog/aturan"): _FORM,
    ("POST", "/staff/katalog/aturan/{category}/hapus"): _FORM,
}
