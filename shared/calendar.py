"""Working-day (hari kerja, HK) calendar of a pemda, used for SLA deadlines.

Rules (from the design document):

* A pemda's time zone follows the 2-digit province code that prefixes every
  region code (``33``, ``33.74``, ``33.74.01``, ``33.74.01.1001``): WIB
  (Asia/Jakarta), WITA (Asia/Makassar) or WIT (Asia/Jayapura).  A deadline
  is a local notion -- "three working days" for a Jayapura office ends at
  midnight in Jayapura, two hours before it ends in Jakarta.
* A working day is Monday-Friday in that zone, except national holidays and
  *cuti bersama* (``holidays.country_holidays("ID", categories=("public",
  "government"))``) and extra dates configured for the pemda.  A kab/kota
  (``33.74``) also observes its province's (``33``) extra dates, because a
  provincial decree binds the regencies below it, never the other way round.
* "N HK from instant t" ends at 24:00 local time of the N-th working day
  strictly after t's local date, expressed as the next local midnight
  (``2026-03-28T00:00:00+07:00`` is the end of Friday 27 March in WIB).
  The day a complaint arrives never counts, so a budget of N always grants N
  whole days.  N = 0 is a zero budget: the due is t itself.
* Working time between two instants is the part of [a, b) that falls on
  working days.  ``add_working_time`` is its inverse (the earliest instant
  at which that much working time has elapsed), which is how a paused SLA
  clock resumes without regaining or losing time:
  ``new_due = add_working_time(resume, working_time(pause, old_due))``.

Indonesian zones have had fixed offsets since 1988, so every local day is
exactly 24 hours and a whole working day is worth ``timedelta(days=1)``.

The holiday data depends on the pinned ``holidays`` release (cuti bersama
are decided yearly and the package gets updates); ``HOLIDAYS_VERSION`` is
recorded with computed deadlines so they can be recomputed when it changes.
"""

from __future__ import annotations

import asyncio
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
from holidays.version import __version__ as _holidays_version

__all__ = [
    "HOLIDAYS_VERSION",
    "WIB",
    "WIT",
    "WITA",
    "WorkingCalendar",
    "calendar_for",
    "pemda_of",
    "province_of",
    "zone_for",
]

HOLIDAYS_VERSION: str = _holidays_version

WIB = ZoneInfo("Asia/Jakarta")
WITA = ZoneInfo("Asia/Makassar")
WIT = ZoneInfo("Asia/Jayapura")

_PROVINCE_ZONES: dict[str, ZoneInfo] = {
    **{str(p): WIB for p in (*range(11, 20), 21, *range(31, 37), 61, 62)},
    **{str(p): WITA for p in (*range(51, 54), *range(63, 66), *range(71, 77))},
    **{str(p): WIT for p in (81, 82, *range(91, 97))},
}

# Kemendagri codes: province, kab/kota, kecamatan, desa/kelurahan.
_REGION_CODE = re.compile(r"\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?")

_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)

# _WEEKDAYS_IN_PARTIAL_WEEK[w][r]: Mon-Fri days among r consecutive days
# starting on weekday w; lets working_days_between count in O(1) per span.
_WEEKDAYS_IN_PARTIAL_WEEK = tuple(
    tuple(sum(1 for i in range(r) if (w + i) % 7 < 5) for r in range(7)) for w in range(7)
)


def _check_code(region_code: str) -> str:
    if not _REGION_CODE.fullmatch(region_code):
        raise ValueError(f"malformed region code: {region_code!r}")
    return region_code


def province_of(region_code: str) -> str:
    """``"33.74.01.1001"`` -> ``"33"``."""
    return _check_code(region_code)[:2]


def pemda_of(region_code: str) -> str:
    """The pemda owning a region: its kab/kota, or the province itself."""
    return ".".join(_check_code(region_code).split(".")[:2])


def zone_for(region_code: str) -> ZoneInfo:
    """Time zone of the province prefixing ``region_code``."""
    province = province_of(region_code)
    try:
        return _PROVINCE_ZONES[province]
    except KeyError:
        raise ValueError(f"unknown province code: {province!r}") from None


def local_text(instant: datetime, region_code: str, *, seconds: bool = False) -> str:
    """An instant as people of the region read it, in their zone: `06-12-2026 14:30 WIB` (WITA,
    WIT: the zones' own abbreviations). A naive instant is UTC, as the database gives it."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    local = instant.astimezone(zone_for(region_code))
    return local.strftime("%d-%m-%Y %H:%M:%S %Z" if seconds else "%d-%m-%Y %H:%M %Z")


# Building a holidays object costs ~ms; the SLA service computes dues in
# bulk, so each year is built once per process and queried as a plain set.
@cache
def _holiday_dates(year: int) -> frozenset[date]:
    calendar = holidays.country_holidays("ID", categories=("public", "government"), years=year)
    return frozenset(d for d in calendar if d.year == year)


async def years_ready(first: int, last: int) -> None:
    """Build the holiday sets of `first`..`last` off the event loop when not built yet: building a
    year costs ~100 ms of CPU (the `holidays` package), which on the loop stalls every request and
    heartbeat of the service. Call it before computing on years a request or start-up names."""
    missing = [y for y in range(max(first, 1), min(last, 9998) + 1) if not _is_built(y)]
    if missing:
        await asyncio.to_thread(lambda: [_weekday_holiday_ordinals(y) for y in missing])


def _is_built(year: int) -> bool:
    return year in _BUILT


_BUILT: set[int] = set()


@cache
def _weekday_holiday_ordinals(year: int) -> tuple[int, ...]:
    # Only holidays on Mon-Fri remove a working day; sorted for bisection.
    ordinals = tuple(sorted(d.toordinal() for d in _holiday_dates(year) if d.weekday() < 5))
    _BUILT.add(year)
    return ordinals


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime is ambiguous across zones: {instant!r}")


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days of one pemda in its own time zone."""

    pemda: str
    tz: ZoneInfo
    extra_dates: frozenset[date] = frozenset()
    # Extra dates that actually remove a working day (Mon-Fri, not already a
    # national holiday), so counting never subtracts a day twice.
    _extra_ordinals: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordinals = sorted(
            d.toordinal() for d in self.extra_dates if d.weekday() < 5 and d not in _holiday_dates(d.year)
        )
        object.__setattr__(self, "_extra_ordinals", tuple(ordinals))

    def local(self, instant: datetime) -> datetime:
        """``instant`` in this calendar's zone."""
        _require_aware(instant)
        return instant.astimezone(self.tz)

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in _holiday_dates(d.year) and d not in self.extra_dates

    def working_days_between(self, start: date, end: date) -> int:
        """Number of working days d with ``start <= d < end``."""
        first, stop = start.toordinal(), end.toordinal()
        if stop <= first:
            return 0
        weeks, rest = divmod(stop - first, 7)
        count = 5 * weeks + _WEEKDAYS_IN_PARTIAL_WEEK[start.weekday()][rest]
        for year in range(start.year, date.fromordinal(stop - 1).year + 1):
            ordinals = _weekday_holiday_ordinals(year)
            count -= bisect_left(ordinals, stop) - bisect_left(ordinals, first)
        extras = self._extra_ordinals
        count -= bisect_left(extras, stop) - bisect_left(extras, first)
        return count

    def due(self, start: datetime, hk: int) -> datetime:
        """End (next local midnight) of the ``hk``-th working day after ``start``'s date."""
        _require_aware(start)
        if hk < 0:
            raise ValueError(f"negative working-day budget: {hk}")
        if hk == 0:
            return start
        last = self._nth_working_day_after(self.local(start).date(), hk)
        return self._midnight(last + _ONE_DAY)

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Length of the part of [start, end) that falls on working days."""
        a, b = self.local(start), self.local(end)
        if b <= a:
            return _ZERO
        first, last = a.date(), b.date()
        if first == last:
            return b - a if self.is_working_day(first) else _ZERO
        total = _ONE_DAY * self.working_days_between(first + _ONE_DAY, last)
        if self.is_working_day(first):
            total += self._midnight(first + _ONE_DAY) - a
        if self.is_working_day(last):
            total += b - self._midnight(last)
        return total

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """Earliest instant u with ``working_time(start, u) == amount``."""
        _require_aware(start)
        if amount < _ZERO:
            raise ValueError(f"negative working time: {amount}")
        if not amount:
            return start
        local = self.local(start)
        day = local.date()
        if self.is_working_day(day):
            rest_of_day = self._midnight(day + _ONE_DAY) - local
            if amount <= rest_of_day:
                return local + amount
            amount -= rest_of_day
        # The remainder covers some whole working days and then a final part
        # in (0, 24h]; a part of exactly 24h ends at that day's own midnight
        # rather than at the start of a later working day.
        whole, part = divmod(amount, _ONE_DAY)
        if not part:
            whole, part = whole - 1, _ONE_DAY
        last = self._nth_working_day_after(day, whole + 1)
        return self._midnight(last) + part

    def _midnight(self, d: date) -> datetime:
        return datetime.combine(d, time(), tzinfo=self.tz)

    def _nth_working_day_after(self, d: date, n: int) -> date:
        while n:
            d += _ONE_DAY
            if self.is_working_day(d):
                n -= 1
        return d


def calendar_for(pemda: str, extra_dates: Mapping[str, Iterable[date]] | None = None) -> WorkingCalendar:
    """Calendar of the pemda owning ``pemda`` (any region code is accepted).

    ``extra_dates`` maps pemda codes to their extra non-working dates; a
    kab/kota gets its own and its province's.
    """
    code = pemda_of(pemda)
    province = province_of(code)
    configured = extra_dates or {}
    dates = set(configured.get(code, ()))
    if code != province:
        dates.update(configured.get(province, ()))
    return WorkingCalendar(code, zone_for(code), frozenset(dates))


_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
           "Oktober", "November", "Desember")  # fmt: skip


def last_day(due_iso: str) -> str:
    """A due (the next local midnight, DESIGN §5) as the day it ends, for people to read in a
    message: "Kamis, 12 Maret 2026"."""
    day = (datetime.fromisoformat(due_iso) - timedelta(seconds=1)).date()
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


# --- the pemdas' extra dates as sla announces them (CalendarChanged on sla.events) -------------


class CalendarBook:
    """The shared calendar per pemda, with the extra dates sla announced. A kab/kota observes its
    province's extra dates too (`calendar_for` does the merge). Services other than sla learn them from the
    announcements, keep them (shared/calendar_store.py) and read them back, as other processes of
    theirs may have consumed the announcement."""

    def __init__(self) -> None:
        self._extra: dict[str, tuple[int, frozenset[date]]] = {}
        self._cache: dict[str, WorkingCalendar] = {}

    def calendar_for(self, pemda: str) -> WorkingCalendar:
        code = pemda_of(pemda)
        found = self._cache.get(code)
        if found is None:
            extra = {p: dates for p, (_, dates) in self._extra.items()}
            found = self._cache[code] = calendar_for(code, extra)
        return found

    def learn(self, pemda: str, revision: int, extra_dates: list[date]) -> bool:
        """Keep the highest revision of a pemda's extra dates; True when it changed."""
        current = self._extra.get(pemda)
        if current is not None and current[0] >= revision:
            return False
        self._extra[pemda] = (revision, frozenset(extra_dates))
        self._cache.clear()
        return True

    def revisions(self) -> dict[str, int]:
        return {p: rev for p, (rev, _) in self._extra.items()}
