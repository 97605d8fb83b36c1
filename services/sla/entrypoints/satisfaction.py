"""Two measures of satisfaction, per OPD that resolved the complaints, never mixed:
- `GET /api/v1/supervisor/satisfaction`: the reporters' 1–5 ratings at closing, "kepuasan atas
  penanganan pengaduan" (weekly counters);
- `GET /api/v1/supervisor/ikm`: the Indeks Kepuasan Masyarakat of PermenPANRB 14/2017 from the
  SKM answers (monthly counters, domain/monthly.py; arithmetic and grades in domain/ikm.py), per
  OPD (or pemda) and period in months."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from services.sla.domain.figures import sum_counts
from services.sla.domain.ikm import from_counts
from services.sla.domain.reports import (
    Doc,
    opd_pemda,
)
from services.sla.domain.transparency import sum_months
from services.sla.entrypoints.openapi.supervisor import API
from services.sla.entrypoints.report_params import (
    Column,
    answer,
    guarded,
    limit_param,
    months_param,
    page_of,
    read_scope,
    reader,
    reading_instant,
    wants_csv,
    weeks_param,
    with_opd_names,
)
from shared.survey import CURRENT, QUESTIONNAIRES

SATISFACTION_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Nama OPD", lambda r: r["opd_name"]),
    ("Jumlah penilaian", lambda r: r["ratings"]),
    ("Rata-rata kepuasan atas penanganan pengaduan (1–5)", lambda r: r["average"]),
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
    """Reporters' ratings (1–5) of resolved complaints — kepuasan atas penanganan pengaduan,
    not the IKM — per OPD that resolved them."""
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


IKM_COLUMNS: list[Column] = [
    ("OPD/Pemda", lambda r: r["scope"]),
    ("Periode dari", lambda r: r["from"]),
    ("Periode sampai", lambda r: r["to"]),
    ("Versi kuesioner", lambda r: r["questionnaire"]),
    ("Jumlah responden", lambda r: r["respondents"]),
    *[
        (f"{e.code.upper()} {e.name}", (lambda c: lambda r: r["elements"].get(c))(e.code))
        for e in CURRENT.elements
    ],
    ("IKM", lambda r: r["ikm"]),
    ("Mutu pelayanan", lambda r: r["grade"]),
    ("Kinerja unit pelayanan", lambda r: r["label"]),
]


def _ikm_row(scope: str, counts: dict[str, Any], months: tuple[str, str], version: str) -> dict[str, Any]:
    found = from_counts(counts, version)
    return {
        "scope": scope,
        "pemda": opd_pemda(scope),
        "from": months[0],
        "to": months[1],
        "questionnaire": version,
        "respondents": found.respondents if found else 0,
        "elements": {k: float(v) for k, v in found.element_averages.items()} if found else {},
        "ikm": float(found.index) if found else None,
        "grade": found.grade if found else None,
        "label": found.label if found else None,
    }


async def ikm(request: web.Request) -> web.Response:
    """The IKM (PermenPANRB 14/2017) per OPD and period, one row per scope and questionnaire
    version answered in the period (versions are never summed together)."""
    scope = await read_scope(request)
    now = reading_instant(request)
    months = months_param(request, scope.zone_pemda, now)
    level = "pemda" if scope.pemda is None else "opd"
    docs = await reader(request).monthly(level=level, pemda=scope.pemda, scope=scope.opd, months=months)
    grouped: dict[str, list[Doc]] = {}
    for doc in docs:
        grouped.setdefault(doc["scope"], []).append(doc)
    rows = []
    for name in sorted(grouped):
        counts = sum_months(grouped[name])
        versions = sorted(set(counts.get("ikm", {})) & set(QUESTIONNAIRES)) or [CURRENT.version]
        rows += [_ikm_row(name, counts, months, v) for v in versions]
    total_counts = sum_months(docs)
    total = _ikm_row(scope.opd or scope.pemda or "nasional", total_counts, months, CURRENT.version)
    items, next_cursor = page_of(rows, request, "scope", limit_param(request, wants_csv(request)))
    extra = {"pemda": scope.pemda, "opd": scope.opd, "from": months[0], "to": months[1], "total": total}
    return answer(request, "ikm", IKM_COLUMNS, items, next_cursor, extra)


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{API}/satisfaction", guarded(satisfaction))
    app.router.add_get(f"{API}/ikm", guarded(ikm))
