"""The public transparency figures (transparan, akuntabel) from the monthly counters
(domain/monthly.py): per pemda or per OPD and month, and over the whole period. Pure.

Counts only, never a complaint: the counters hold no id, no text and no identity, and a
confidential (rahasia) complaint is only ever a +1 in them (DESIGN §3 forbids listing or showing
it, not counting it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.sla.domain.figures import add_counts
from services.sla.domain.ikm import graded_index
from services.sla.domain.monthly import median_hk, share_pct
from shared.survey import QUESTIONNAIRES, Questionnaire

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


@dataclass(slots=True)
class Tally:
    """What `Figures` are computed from, for one scope and a month or a period: the counts, the
    response-time histogram (bucket → answers, as stored) and, of the SKM answers, the
    respondents and the sum of all their element scores (an IKM needs nothing else of them,
    domain/ikm.py). Adding two is adding numbers, so a period or the national row costs one
    pass over the month documents."""

    received: int = 0
    answered: int = 0
    answered_on_time: int = 0
    open: int = 0
    overdue: int = 0
    rt_hk: dict[str, int] = field(default_factory=dict)
    ikm_n: int = 0
    ikm_total: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, Any], questionnaire: Questionnaire | None) -> Tally:
        """A monthly counter document's (domain/monthly.py), for `questionnaire`'s SKM answers
        (None: a version this code does not know, whose answers are not an IKM)."""
        ikm_n = ikm_total = 0
        kept = counts.get("ikm")
        sums = kept.get(questionnaire.version) if questionnaire and isinstance(kept, Mapping) else None
        if questionnaire is not None and isinstance(sums, Mapping):
            ikm_n = int(sums.get("n", 0))
            ikm_total = sum([int(sums.get(code, 0)) for code in questionnaire.codes])
        return cls(
            int(counts.get("received", 0)),
            int(counts.get("answered", 0)),
            int(counts.get("answered_on_time", 0)),
            int(counts.get("open", 0)),
            int(counts.get("overdue", 0)),
            dict(counts.get("rt_hk", {})),  # median_hk() reads only the buckets it knows
            ikm_n,
            ikm_total,
        )

    def add(self, other: Tally) -> None:
        self.received += other.received
        self.answered += other.answered
        self.answered_on_time += other.answered_on_time
        self.open += other.open
        self.overdue += other.overdue
        for bucket, n in other.rt_hk.items():
            self.rt_hk[bucket] = self.rt_hk.get(bucket, 0) + n
        self.ikm_n += other.ikm_n
        self.ikm_total += other.ikm_total

    def figures(self, questionnaire: Questionnaire | None) -> Figures:
        median = median_hk(self.rt_hk)
        index = graded_index(questionnaire, self.ikm_n, self.ikm_total) if questionnaire else None
        return Figures(
            received=self.received,
            answered=self.answered,
            answered_on_time=self.answered_on_time,
            answered_on_time_pct=share_pct(self.answered_on_time, self.answered),
            median_response_hk=None if median is None else round(median, 1),
            open=self.open,
            overdue=self.overdue,
            ikm_respondents=self.ikm_n if index else 0,
            ikm=index[0] if index else None,
            ikm_grade=index[1] if index else None,
        )


def figures(counts: Mapping[str, Any], version: str) -> Figures:
    questionnaire = QUESTIONNAIRES.get(version)
    return Tally.of(counts, questionnaire).figures(questionnaire)


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


@dataclass
class ScopeTally:
    level: str
    months: dict[str, Tally]  # the months that have a document
    period: Tally


def tally(docs: Iterable[Doc], version: str) -> dict[str, ScopeTally]:
    """The documents by scope, each read once: its months' tallies and their sum."""
    questionnaire = QUESTIONNAIRES.get(version)
    out: dict[str, ScopeTally] = {}
    for doc in docs:
        found = out.get(doc["scope"])
        if found is None:
            found = out[doc["scope"]] = ScopeTally(doc["level"], {}, Tally())
        month = Tally.of(doc, questionnaire)
        found.months[doc["month"]] = month  # one document per scope and month (its _id)
        found.period.add(month)
    return out


def scope_figures(
    tallies: Mapping[str, ScopeTally], months: Sequence[str], version: str
) -> list[ScopeFigures]:
    """Each scope's figures for every month of `months` and for all of them; the pemda's own
    row first, then its OPDs by id (or every pemda by code)."""
    questionnaire = QUESTIONNAIRES.get(version)
    zero = Tally().figures(questionnaire)
    out = []
    for scope in sorted(tallies, key=lambda s: (tallies[s].level != "pemda", s)):
        found = tallies[scope]
        rows = [(m, found.months[m].figures(questionnaire) if m in found.months else zero) for m in months]
        out.append(ScopeFigures(scope, found.level, rows, found.period.figures(questionnaire)))
    return out


def by_scope(docs: Sequence[Doc], months: Sequence[str], version: str) -> list[ScopeFigures]:
    return scope_figures(tally(docs, version), months, version)


def summed(
    tallies: Mapping[str, ScopeTally], months: Sequence[str], version: str, scope: str, level: str
) -> ScopeFigures | None:
    """One row adding up every scope of `tallies`, month by month (e.g. every pemda: the
    national row); None when there is none."""
    if not tallies:
        return None
    questionnaire = QUESTIONNAIRES.get(version)
    by_month = {m: Tally() for m in months}
    period = Tally()
    for found in tallies.values():
        period.add(found.period)
        for m, month in found.months.items():
            if m in by_month:
                by_month[m].add(month)
    rows = [(m, t.figures(questionnaire)) for m, t in by_month.items()]
    return ScopeFigures(scope, level, rows, period.figures(questionnaire))
