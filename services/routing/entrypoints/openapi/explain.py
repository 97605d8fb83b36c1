"""`POST /api/v1/routing/explain` in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from services.routing.entrypoints.models import ExplainRequest


def paths() -> dict[str, Any]:
    return {
        "/api/v1/routing/explain": {
            "post": {
                "summary": "Jelaskan ke OPD mana sebuah pengaduan akan didisposisikan",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": ExplainRequest.model_json_schema(),
                            "example": {"category": "kependudukan", "region_code": "64.01.03.2001"},
                        }
                    }
                },
                "responses": {
                    "200": {
                        "description": "Keputusan disposisi",
                        "content": {
                            "application/json": {
                                "example": {
                                    "category": "kependudukan",
                                    "confidence": 1.0,
                                    "level": "kabkota",
                                    "pemda": "64.01",
                                    "opd_id": "64.01/disdukcapil",
                                    "rule": "table:kependudukan",
                                }
                            }
                        },
                    },
                    "422": {"$ref": "#/components/responses/Problem"},
                },
            }
        }
    }
