"""Reporters' ratings of resolved complaints per OPD that resolved them:
`GET /api/v1/supervisor/satisfaction`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.sla.domain.figures import sum_counts
from services.sla.domain.reports import (
    Doc,
    opd_pemda,
)
from services.sla.entrypoints.openapi.supervisor import API
from services.sla.entrypoints.report_params import (
    Column,
    answer,
    guarded,
    limit_param,
    page_of,
    read_scope,
    reader,
    reading_instant,
    wants_csv,
    weeks_param,
    with_opd_names,
)

SATISFACTION_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Nama OPD", lambda r: r["opd_name"]),
    ("Jumlah penilaian", lambda r: r["ratings"]),
    ("Rata-rata (1–5)", lambda r: r["average"]),
    *[(f"Nilai {n}", (lambda k: lambda r: r["distribution"][k])(str(n))) for n in range(1, 6)],
]


def _satisfaction(scope: str, counts: dict[str, Any]) -> dict[str, Any]:
    n = int(counts.get("rating_n", 0))
    dist = counts.get("rating", {})
    return {
        "scope": scope,
        "pemda": opd_pemda(scope),
        "ratings": n,
        "average": round(int(counts.get("rating_sum", 0)) / n, 2) if n else None,
        "distribution": {str(k): int(dist.get(str(k), 0)) for k in range(1, 6)},
    }


async def satisfaction(request: web.Request) -> web.Response:
    """Reporters' ratings (1–5) of resolved complaints, per OPD that resolved them."""
    scope = await read_scope(request)
    now = reading_instant(request)
    weeks = weeks_param(request, scope, now)
    level = "pemda" if scope.pemda is None else "opd"
    docs = await reader(request).weekly(level=level, pemda=scope.pemda, scope=scope.opd, weeks=weeks)
    grouped: dict[str, list[Doc]] = {}
    for doc in docs:
        grouped.setdefault(doc["scope"], []).append(doc)
    rows = [_satisfaction(name, sum_counts(grouped[name])) for name in sorted(grouped)]
    total = _satisfaction(scope.opd or scope.pemda or "nasional", sum_counts(docs)) if docs else None
    items, next_cursor = page_of(rows, request, "scope", limit_param(request, wants_csv(request)))
    await with_opd_names(request, items, "scope")
    extra = {"pemda": scope.pemda, "opd": scope.opd, "total": total}
    return answer(request, "kepuasan-pelapor", SATISFACTION_COLUMNS, items, next_cursor, extra)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{API}/satisfaction", guarded(satisfaction))
