"""Monthly counters per pemda and per OPD: what the public transparency page and the IKM reports
read (DESIGN §6: reads come from pre-aggregated counters, never from complaints).

They are part of the report records' contributions (domain/reports.py): a record's monthly keys
are a pure function of the record, rebased like every other counter, so a redelivered event
changes nothing and a correction (a retracted breach, a transfer) moves the counts with it.
Months are calendar months in the pemda's local time (DESIGN §5 zones).

Key: `m|<scope>|<YYYY-MM>|<field>`, where scope is a pemda code (a province or a kab/kota) or an
OPD id (`<pemda>/<slug>`); unlike the weekly counters, nothing rolls up by itself: each figure
says which pemda it counts for.

Fields (the pemda row / the OPD row):
- `received`: complaints submitted in the month, by the complaint's pemda / complaints the OPD
  first received (was assigned) in the month;
- `open`: of those, the ones still open now / still held by the OPD now;
- `overdue`: open complaints whose running verification or resolution clock is past its due, by
  the month that clock started, for the pemda of the clock's OPD / for that OPD;
- `answered`, `answered_on_time`: response clocks that stopped (an answer, a request for
  information, a resolution) in the month, and those within the service standard (`met`);
- `rt_hk.<k>`: those answers by working days taken, bucket k = [k, k+1) HK, the last one
  (`RT_HK_TOP`) open-ended;
- `ikm.<version>.n`, `ikm.<version>.u1` … `u9`: SKM answers given in the month and their score
  sums per element, for the OPD that resolved the complaint and its pemda.

A median cannot come from sums, hence the histogram of whole working days: the median is
interpolated inside the bucket its rank falls in, so it is off by less than one working day (and
past `RT_HK_TOP` it is a lower bound).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from shared.calendar import zone_for

HK = 86400
RT_HK_TOP = 30  # answers taking 30 HK or more share one bucket


@dataclass(frozen=True)
class Stay:
    """What the monthly counts need of one holding."""

    opd_id: str
    since: datetime
    open: bool


@dataclass(frozen=True)
class Survey:
    opd_id: str
    version: str
    scores: Mapping[str, int]
    at: datetime


def month_of(instant: datetime, pemda: str) -> str:
    return instant.astimezone(zone_for(pemda)).strftime("%Y-%m")


def pemda_of(scope: str) -> str:
    return scope.split("/", 1)[0]


def key(scope: str, instant: datetime, name: str) -> str:
    return f"m|{scope}|{month_of(instant, pemda_of(scope))}|{name}"


def complaint_months(
    pemda: str | None,
    submitted_at: datetime | None,
    is_open: bool,
    stays: Iterable[Stay],
    survey: Survey | None,
) -> Counter[str]:
    c: Counter[str] = Counter()
    if pemda is not None and submitted_at is not None:
        c[key(pemda, submitted_at, "received")] += 1
        if is_open:
            c[key(pemda, submitted_at, "open")] += 1
    first: dict[str, datetime] = {}
    holding_now: set[str] = set()
    for stay in stays:
        first.setdefault(stay.opd_id, stay.since)
        if stay.open:
            holding_now.add(stay.opd_id)
    for opd, since in first.items():
        c[key(opd, since, "received")] += 1
        if opd in holding_now:
            c[key(opd, since, "open")] += 1
    if survey is not None:
        for scope in (survey.opd_id, pemda_of(survey.opd_id)):
            c[key(scope, survey.at, f"ikm.{survey.version}.n")] += 1
            for code, score in survey.scores.items():
                c[key(scope, survey.at, f"ikm.{survey.version}.{code}")] += score
    return c


def rt_bucket_hk(working_seconds: int) -> int:
    return min(max(working_seconds, 0) // HK, RT_HK_TOP)


def clock_months(
    opd: str,
    clock: str,
    started_at: datetime,
    stopped_at: datetime | None,
    state: str,
    breached: bool,
    response_working_seconds: int | None,
) -> Counter[str]:
    """`response_working_seconds`: the working time a stopped response clock ran (else None)."""
    c: Counter[str] = Counter()
    for scope in (opd, pemda_of(opd)):
        if clock in ("verification", "resolution") and breached and stopped_at is None:
            c[key(scope, started_at, "overdue")] += 1
        if clock == "response" and stopped_at is not None and response_working_seconds is not None:
            c[key(scope, stopped_at, "answered")] += 1
            if state == "met" and not breached:
                c[key(scope, stopped_at, "answered_on_time")] += 1
            c[key(scope, stopped_at, f"rt_hk.{rt_bucket_hk(response_working_seconds)}")] += 1
    return c


# --- reading ------------------------------------------------------------------------------------


def median_hk(histogram: Mapping[str, int]) -> float | None:
    """The median of an `rt_hk` histogram in working days, interpolated in its bucket."""
    counts = [0] * (RT_HK_TOP + 1)
    for bucket, n in histogram.items():
        if bucket.isdigit() and int(bucket) <= RT_HK_TOP:
            counts[int(bucket)] = int(n)
    total = sum(counts)
    if total == 0:
        return None
    rank = total / 2
    seen = 0
    for k, count in enumerate(counts):
        if count and seen + count >= rank:
            if k == RT_HK_TOP:
                return float(RT_HK_TOP)
            return k + (rank - seen) / count
        seen += count
    return float(RT_HK_TOP)


def share_pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def months_between(first: date, last: date) -> list[str]:
    """`YYYY-MM` of every month from `first`'s to `last`'s, both included."""
    out = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
