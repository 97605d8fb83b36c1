"""Intake's OpenAPI document (`GET /openapi.json`), one module of paths per feature; `document()`
assembles a fresh copy for each app, so no app changes another's."""

from __future__ import annotations

from typing import Any

from services.intake.entrypoints.openapi import (
    complaints,
    docs_page,
    listing,
    notifications,
    open311,
    tracking,
)
from shared.http import openapi_document


def _merged(paths: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """`paths` with `more`'s operations added (a path both describe gets both's methods)."""
    merged = dict(paths)
    for path, operations in more.items():
        merged[path] = {**merged.get(path, {}), **operations}
    return merged


def document() -> dict[str, Any]:
    doc = openapi_document(complaints.TITLE, complaints.VERSION, complaints.DESCRIPTION, complaints.PATHS)
    paths = doc.get("paths", {})
    for feature in (docs_page.PATHS, listing.PATHS, open311.PATHS, notifications.PATHS, tracking.PATHS):
        paths = _merged(paths, feature)
    return {**doc, "paths": paths}
