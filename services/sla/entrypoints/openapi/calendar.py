"""The OpenAPI description of the calendar answers and of the admin's extra dates."""

from __future__ import annotations

from typing import Any

from services.sla.entrypoints.extra_dates import ExtraDates


def _calendar_op(summary: str, params: list[str], example: dict[str, object]) -> dict[str, object]:
    return {
        "get": {
            "summary": summary,
            "parameters": [{"name": "pemda", "in": "path", "required": True, "schema": {"type": "string"}}]
            + [{"name": p, "in": "query", "required": True, "schema": {"type": "string"}} for p in params],
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"example": example}}},
                "404": {"$ref": "#/components/responses/Problem"},
                "422": {"$ref": "#/components/responses/Problem"},
            },
        }
    }


def calendar_paths() -> dict[str, Any]:
    return {
        "/api/v1/calendar/{pemda}/due": _calendar_op(
            "Tenggat N hari kerja sejak suatu waktu",
            ["from", "hk"],
            {"due": "2026-03-28T00:00:00+07:00"},
        ),
        "/api/v1/calendar/{pemda}/working-time": _calendar_op(
            "Waktu kerja (detik) di antara dua waktu", ["from", "to"], {"seconds": 86400}
        ),
    }


def extra_dates_paths() -> dict[str, Any]:
    return {
        "/api/v1/admin/calendar/{pemda}/extra-dates": {
            "put": {
                "summary": "Ganti tanggal libur tambahan pemda (admin); menghitung ulang jam SLA",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "pemda", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "content": {"application/json": {"schema": ExtraDates.model_json_schema()}},
                },
                "responses": {
                    "200": {"description": "disimpan dan dihitung ulang"},
                    "401": {"$ref": "#/components/responses/Problem"},
                    "403": {"$ref": "#/components/responses/Problem"},
                    "404": {"$ref": "#/components/responses/Problem"},
                    "422": {"$ref": "#/components/responses/Problem"},
                },
            },
            "get": {
                "summary": "Tanggal libur tambahan pemda",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "pemda", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "ok"},
                    "404": {"$ref": "#/components/responses/Problem"},
                },
            },
        }
    }
