"""The public transparency figures (transparan, akuntabel) from the monthly counters
(domain/monthly.py): per pemda or per OPD and month, and over the whole period. Pure.

Counts only, never a complaint: the counters hold no id, no text and no identity, and a
confidential (rahasia) complaint is only ever a +1 in them (DESIGN §3 forbids listing or showing
it, not counting it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.sla.domain.figures import add_counts
from services.sla.domain.ikm import index_from_counts
from services.sla.domain.monthly import median_hk, share_pct

Doc = dict[str, Any]
LABELS = ("_id", "level", "scope", "pemda", "month")


@dataclass(frozen=True)
class Figures:
    received: int
    answered: int
    answered_on_time: int
    answered_on_time_pct: float | None
    median_response_hk: float | None
    open: int
    overdue: int
    ikm_respondents: int
    ikm: Decimal | None
    ikm_grade: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "answered": self.answered,
            "answered_on_time": self.answered_on_time,
            "answered_on_time_pct": self.answered_on_time_pct,
            "median_response_hk": self.median_response_hk,
            "open": self.open,
            "overdue": self.overdue,
            "ikm_respondents": self.ikm_respondents,
            "ikm": None if self.ikm is None else float(self.ikm),
            "ikm_grade": self.ikm_grade,
        }


def figures(counts: Mapping[str, Any], version: str) -> Figures:
    answered = int(counts.get("answered", 0))
    on_time = int(counts.get("answered_on_time", 0))
    median = median_hk(counts.get("rt_hk", {}))
    index = index_from_counts(counts, version)
    return Figures(
        received=int(counts.get("received", 0)),
        answered=answered,
        answered_on_time=on_time,
        answered_on_time_pct=share_pct(on_time, answered),
        median_response_hk=None if median is None else round(median, 1),
        open=int(counts.get("open", 0)),
        overdue=int(counts.get("overdue", 0)),
        ikm_respondents=index[0] if index else 0,
        ikm=index[1] if index else None,
        ikm_grade=index[2] if index else None,
    )


def sum_months(docs: Iterable[Doc]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for doc in docs:
        add_counts(total, {k: v for k, v in doc.items() if k not in LABELS})
    return total


@dataclass(frozen=True)
class ScopeFigures:
    scope: str
    level: str
    by_month: list[tuple[str, Figures]]  # every month of the period, zeros included
    period: Figures


def by_scope(docs: Sequence[Doc], months: Sequence[str], version: str) -> list[ScopeFigures]:
    """Each scope found in `docs`, its figures for every month of `months` and for all of them;
    the pemda's own row first, then its OPDs by id."""
    grouped: dict[str, list[Doc]] = {}
    levels: dict[str, str] = {}
    for doc in docs:
        grouped.setdefault(doc["scope"], []).append(doc)
        levels[doc["scope"]] = doc["level"]
    out = []
    for scope in sorted(grouped, key=lambda s: (levels[s] != "pemda", s)):
        per_month = {d["month"]: d for d in grouped[scope]}
        # One document per scope and month: read as it is (figures() reads only counter fields).
        rows = [(m, figures(per_month.get(m, {}), version)) for m in months]
        out.append(ScopeFigures(scope, levels[scope], rows, figures(sum_months(grouped[scope]), version)))
    return out
