"""Intake's staff page of a reporter's identity (services/intake/entrypoints/identity_pages.py):
HTML for people signed in at routing (the staff token cookie, a CSRF token), not an API; the JSON
endpoint `GET /api/v1/complaints/{id}/reporter` is documented in complaints.py."""

from __future__ import annotations

_PAGE = (
    "a staff page (routing's sign-in cookie; HTML for people, not an API: the JSON endpoint is documented)"
)
EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/staff/pelapor/{id}"): _PAGE,
    ("POST", "/staff/pelapor/{id}"): _PAGE + "; a form with a CSRF token",
}
