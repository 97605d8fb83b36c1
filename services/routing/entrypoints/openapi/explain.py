"""`POST /api/v1/routing/explain` (services/routing/entrypoints/explain.py)."""

from __future__ import annotations

from services.routing.entrypoints.models import Decision, ExplainRequest
from shared.openapi import Media, Operation, json_reply

OPERATIONS = [
    Operation(
        "POST",
        "/api/v1/routing/explain",
        "Jelaskan ke OPD mana sebuah pengaduan akan didisposisikan",
        {
            200: json_reply(
                "Keputusan disposisi",
                Decision,
                {
                    "category": "kependudukan",
                    "confidence": 1.0,
                    "level": "kabkota",
                    "pemda": "64.01",
                    "opd_id": "64.01/disdukcapil",
                    "rule": "table:kependudukan",
                },
            )
        },
        (400, 413, 415, 422),
        body=(
            Media(model=ExplainRequest, example={"category": "kependudukan", "region_code": "64.01.03.2001"}),
        ),
    )
]
