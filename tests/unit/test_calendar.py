"""Tests for shared.calendar: design examples, zones, extra dates, and laws."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import (
    HOLIDAYS_VERSION,
    WIB,
    WIT,
    WITA,
    WorkingCalendar,
    calendar_for,
    local_text,
    pemda_of,
    province_of,
    zone_for,
)

DAY = timedelta(days=1)
SEMARANG = calendar_for("33.74")


def _midnight(d: date, cal: WorkingCalendar) -> datetime:
    return datetime.combine(d, time(), tzinfo=cal.tz)


# --- design examples (checked against holidays 0.108) -----------------------


def test_pinned_holidays_version() -> None:
    # The 2026 facts below were verified against this release; a new pin
    # must re-verify them (and dues recorded with the old version recomputed).
    assert HOLIDAYS_VERSION == "0.108"


def test_monday_plus_3_hk_ends_thursday() -> None:
    monday = datetime(2026, 2, 2, 10, 0, tzinfo=WIB)
    assert SEMARANG.due(monday, 3) == datetime(2026, 2, 6, tzinfo=WIB)


def test_saturday_plus_3_hk_ends_wednesday() -> None:
    saturday = datetime(2026, 2, 7, 10, 0, tzinfo=WIB)
    assert SEMARANG.due(saturday, 3) == datetime(2026, 2, 12, tzinfo=WIB)


def test_nyepi_and_lebaran_2026() -> None:
    friday = datetime(2026, 3, 13, 16, 0, tzinfo=WIB)
    due = SEMARANG.due(friday, 5)
    assert due.isoformat() == "2026-03-28T00:00:00+07:00"
    assert due == datetime(2026, 3, 28, tzinfo=WIB)


@pytest.mark.parametrize("day", [18, 20, 23, 24])
def test_cuti_bersama_march_2026_are_not_working(day: int) -> None:
    d = date(2026, 3, day)
    assert d.weekday() < 5
    assert not SEMARANG.is_working_day(d)


@pytest.mark.parametrize("day", [16, 17, 25, 26, 27])
def test_weekdays_around_lebaran_2026_are_working(day: int) -> None:
    assert SEMARANG.is_working_day(date(2026, 3, day))


def test_zero_budget_is_the_start_itself() -> None:
    t = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
    assert SEMARANG.due(t, 0) is t
    assert SEMARANG.add_working_time(t, timedelta(0)) is t


def test_invalid_arguments() -> None:
    naive = datetime(2026, 2, 2, 10, 0)
    aware = naive.replace(tzinfo=WIB)
    with pytest.raises(ValueError):
        SEMARANG.due(naive, 1)
    with pytest.raises(ValueError):
        SEMARANG.due(aware, -1)
    with pytest.raises(ValueError):
        SEMARANG.working_time(naive, aware)
    with pytest.raises(ValueError):
        SEMARANG.add_working_time(aware, timedelta(seconds=-1))
    with pytest.raises(ValueError):
        SEMARANG.local(naive)


# --- zones --------------------------------------------------------------------

_WIB_PROVINCES = [*range(11, 20), 21, *range(31, 37), 61, 62]
_WITA_PROVINCES = [*range(51, 54), *range(63, 66), *range(71, 77)]
_WIT_PROVINCES = [81, 82, *range(91, 97)]


@pytest.mark.parametrize(
    ("province", "zone"),
    [(p, WIB) for p in _WIB_PROVINCES]
    + [(p, WITA) for p in _WITA_PROVINCES]
    + [(p, WIT) for p in _WIT_PROVINCES],
)
def test_zone_for_every_province(province: int, zone: ZoneInfo) -> None:
    assert zone_for(str(province)) is zone
    assert zone_for(f"{province}.01.02.2001") is zone


@pytest.mark.parametrize("code", ["99", "20", "37", "54", "97", "00.01"])
def test_zone_for_unknown_province(code: str) -> None:
    with pytest.raises(ValueError):
        zone_for(code)


@pytest.mark.parametrize("code", ["", "3", "33.7", "33.74.1", "3374", "33.74.01.1001.1"])
def test_malformed_region_codes(code: str) -> None:
    with pytest.raises(ValueError):
        pemda_of(code)


def test_region_code_parts() -> None:
    assert pemda_of("33.74.01.1001") == "33.74"
    assert pemda_of("33.74.01") == "33.74"
    assert pemda_of("33.74") == "33.74"
    assert pemda_of("33") == "33"
    assert province_of("33.74.01.1001") == "33"
    assert province_of("33") == "33"


@pytest.mark.parametrize(
    ("pemda", "local_received", "expected_due"),
    [
        # 2026-05-04T16:30Z is still Monday in Semarang ...
        ("33.74", "2026-05-04T23:30:00+07:00", "2026-05-06T00:00:00+07:00"),
        # ... but already Tuesday in Makassar and Jayapura.
        ("73.71", "2026-05-05T00:30:00+08:00", "2026-05-07T00:00:00+08:00"),
        ("94.71", "2026-05-05T01:30:00+09:00", "2026-05-07T00:00:00+09:00"),
    ],
)
def test_same_instant_has_local_dates_and_midnights(
    pemda: str, local_received: str, expected_due: str
) -> None:
    cal = calendar_for(pemda)
    received = datetime(2026, 5, 4, 16, 30, tzinfo=UTC)
    assert cal.local(received).isoformat() == local_received
    assert cal.due(received, 1).isoformat() == expected_due


def test_working_time_ignores_the_offset_of_its_arguments() -> None:
    jayapura = calendar_for("91.71")
    a = datetime(2026, 5, 4, 16, 30, tzinfo=UTC)
    b = datetime(2026, 5, 8, 3, 0, tzinfo=UTC)
    expected = jayapura.working_time(a, b)
    # Tuesday from 01:30 WIT, Wednesday, Thursday, Friday until 12:00 WIT.
    assert expected == timedelta(days=3, hours=10, minutes=30)
    for zone in (WIB, WITA, WIT, timezone(timedelta(hours=-5))):
        assert jayapura.working_time(a.astimezone(zone), b.astimezone(zone)) == expected


# --- extra dates ----------------------------------------------------------------

PROVINCE_DAY = date(2026, 2, 3)  # Tuesday
KOTA_DAY = date(2026, 2, 4)  # Wednesday
EXTRAS = {"33": [PROVINCE_DAY], "33.74": [KOTA_DAY]}


def test_province_extra_date_applies_to_its_kab_kota() -> None:
    cal = calendar_for("33.74", EXTRAS)
    assert cal.extra_dates == {PROVINCE_DAY, KOTA_DAY}
    assert not cal.is_working_day(PROVINCE_DAY)
    assert not cal.is_working_day(KOTA_DAY)
    monday = datetime(2026, 2, 2, 10, 0, tzinfo=WIB)
    assert cal.due(monday, 3) == datetime(2026, 2, 10, tzinfo=WIB)


def test_kota_extra_date_stays_local() -> None:
    province = calendar_for("33", EXTRAS)
    sibling = calendar_for("33.75", EXTRAS)
    for cal in (province, sibling):
        assert not cal.is_working_day(PROVINCE_DAY)
        assert cal.is_working_day(KOTA_DAY)


def test_calendar_for_accepts_any_region_code() -> None:
    cal = calendar_for("33.74.01.1001", EXTRAS)
    assert cal.pemda == "33.74"
    assert cal.tz is WIB
    assert cal == calendar_for("33.74", EXTRAS)


# --- working time examples --------------------------------------------------------


def test_working_time_examples() -> None:
    fri = datetime(2026, 2, 6, 20, 0, tzinfo=WIB)
    mon = datetime(2026, 2, 9, 6, 0, tzinfo=WIB)
    assert SEMARANG.working_time(fri, mon) == timedelta(hours=10)
    assert SEMARANG.working_time(mon, fri) == timedelta(0)
    assert SEMARANG.working_time(fri, fri) == timedelta(0)
    sat = datetime(2026, 2, 7, 1, 0, tzinfo=WIB)
    sun = datetime(2026, 2, 8, 23, 0, tzinfo=WIB)
    assert SEMARANG.working_time(sat, sun) == timedelta(0)


def test_add_working_time_stops_at_the_end_of_a_working_day() -> None:
    thu = datetime(2026, 2, 5, 10, 0, tzinfo=WIB)
    # Rest of Thursday plus all of Friday ends at Friday's end, not Monday's start.
    u = SEMARANG.add_working_time(thu, timedelta(hours=14) + DAY)
    assert u == datetime(2026, 2, 7, tzinfo=WIB)
    assert SEMARANG.add_working_time(thu, timedelta(hours=14, seconds=1) + DAY) == (
        datetime(2026, 2, 9, 0, 0, 1, tzinfo=WIB)
    )


def test_paused_clock_resumes_with_its_remaining_budget() -> None:
    received = datetime(2026, 2, 2, 10, 0, tzinfo=WIB)  # Monday
    due = SEMARANG.due(received, 5)
    assert due == datetime(2026, 2, 10, tzinfo=WIB)  # end of Monday 9 Feb
    paused = datetime(2026, 2, 4, 12, 0, tzinfo=WIB)  # Wednesday noon
    resumed = datetime(2026, 2, 12, 15, 0, tzinfo=WIB)  # Thursday 15:00
    remaining = SEMARANG.working_time(paused, due)
    assert remaining == timedelta(days=3, hours=12)
    # 9h left on Thursday 12 Feb and all of Friday; Monday 16 and Tuesday
    # 17 Feb are the Lunar New Year holidays; Wednesday and Thursday are
    # whole; the last 3h fall on Friday 20 Feb.
    new_due = SEMARANG.add_working_time(resumed, remaining)
    assert new_due == datetime(2026, 2, 20, 3, 0, tzinfo=WIB)


# --- laws ----------------------------------------------------------------------------

PROPERTY = settings(deadline=None, max_examples=300)

_ZONES = [UTC, WIB, WITA, WIT, timezone(timedelta(hours=-5, minutes=-30))]
_PEMDAS = ["33.74", "31.71", "73.71", "64.01", "94.71", "91.71"]

_any_instant = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2028, 10, 31),
    timezones=st.sampled_from(_ZONES),
)
# Local midnights and whole hours are where off-by-one-day bugs live.
_midnight_instant = st.builds(
    lambda d, tz: datetime.combine(d, time(), tzinfo=tz),
    st.dates(date(2024, 1, 1), date(2028, 10, 31)),
    st.sampled_from([WIB, WITA, WIT]),
)
instants = st.one_of(
    _any_instant,
    _any_instant.map(lambda t: t.replace(minute=0, second=0, microsecond=0)),
    _midnight_instant,
)
calendars = st.builds(
    lambda pemda, own, province: calendar_for(pemda, {pemda: own, pemda[:2]: province}),
    st.sampled_from(_PEMDAS),
    st.frozensets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=8),
    st.frozensets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=8),
)
budgets = st.integers(min_value=0, max_value=40)
amounts = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))


def _is_local_midnight(u: datetime, cal: WorkingCalendar) -> bool:
    return u.tzinfo is cal.tz and u.timetz() == time(tzinfo=cal.tz)


@PROPERTY
@given(cal=calendars, t=instants, n=st.integers(min_value=1, max_value=40))
def test_due_is_the_end_of_the_nth_working_day_after(cal: WorkingCalendar, t: datetime, n: int) -> None:
    u = cal.due(t, n)
    assert _is_local_midnight(u, cal)
    last = u.date() - DAY
    assert cal.is_working_day(last)
    first = cal.local(t).date() + DAY
    assert cal.working_days_between(first, last + DAY) == n
    assert u > t


@PROPERTY
@given(cal=calendars, t=instants, n=budgets)
def test_due_is_strictly_monotonic_in_budget(cal: WorkingCalendar, t: datetime, n: int) -> None:
    assert cal.due(t, n) < cal.due(t, n + 1)


@PROPERTY
@given(cal=calendars, t=instants, n=budgets)
def test_working_time_until_due(cal: WorkingCalendar, t: datetime, n: int) -> None:
    local = cal.local(t)
    today = local.date()
    # The due counts whole days after t's date; t's own day adds its rest.
    rest_of_today = _midnight(today + DAY, cal) - local if cal.is_working_day(today) else timedelta(0)
    expected = n * DAY + rest_of_today if n else timedelta(0)
    assert cal.working_time(t, cal.due(t, n)) == expected


@PROPERTY
@given(cal=calendars, t=instants, n=st.integers(min_value=1, max_value=40))
def test_resuming_with_full_budget_reproduces_the_due(cal: WorkingCalendar, t: datetime, n: int) -> None:
    due = cal.due(t, n)
    assert cal.add_working_time(t, cal.working_time(t, due)) == due


@PROPERTY
@given(cal=calendars, t=instants, x=amounts)
def test_add_working_time_adds_exactly(cal: WorkingCalendar, t: datetime, x: timedelta) -> None:
    u = cal.add_working_time(t, x)
    assert u >= t
    assert cal.working_time(t, u) == x
    if x:
        # Earliest such instant: one microsecond earlier is not enough.
        assert cal.working_time(t, u - timedelta(microseconds=1)) < x


@PROPERTY
@given(cal=calendars, r=instants, u=instants)
def test_add_working_time_after_working_time(cal: WorkingCalendar, r: datetime, u: datetime) -> None:
    r, u = min(r, u), max(r, u)
    v = cal.add_working_time(r, cal.working_time(r, u))
    assert v <= u
    assert cal.working_time(v, u) == timedelta(0)
    local_u = cal.local(u)
    if cal.is_working_day(local_u.date()) and local_u.time() != time():
        assert v == u


@PROPERTY
@given(cal=calendars, a=instants, b=instants, c=instants)
def test_working_time_is_additive(cal: WorkingCalendar, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    assert cal.working_time(a, b) + cal.working_time(b, c) == cal.working_time(a, c)


@PROPERTY
@given(cal=calendars, a=instants, b=instants, zone=st.sampled_from(_ZONES))
def test_working_time_is_bounded_and_offset_independent(
    cal: WorkingCalendar, a: datetime, b: datetime, zone: tzinfo
) -> None:
    wt = cal.working_time(a, b)
    assert timedelta(0) <= wt <= max(b - a, timedelta(0))
    assert cal.working_time(a.astimezone(zone), b.astimezone(zone)) == wt


@PROPERTY
@given(
    cal=calendars,
    start=st.dates(date(2024, 1, 1), date(2028, 12, 31)),
    days=st.integers(min_value=-3, max_value=800),
)
def test_working_days_between_counts_like_stepping(cal: WorkingCalendar, start: date, days: int) -> None:
    expected = sum(cal.is_working_day(start + i * DAY) for i in range(max(days, 0)))
    assert cal.working_days_between(start, start + days * DAY) == expected


# --- laws the SLA clocks rely on (issue 6) -------------------------------------------------------------


@PROPERTY
@given(cal=calendars, t=instants, x=amounts.filter(bool))
def test_a_resumed_due_never_falls_inside_a_non_working_day(
    cal: WorkingCalendar, t: datetime, x: timedelta
) -> None:
    # The last moment before the due is working time: a due is never pushed into a weekend or
    # holiday, and a due at a local midnight ends a working day.
    u = cal.add_working_time(t, x)
    assert cal.is_working_day(cal.local(u - timedelta(microseconds=1)).date())


@PROPERTY
@given(
    cal=calendars,
    start=instants,
    n=st.integers(min_value=1, max_value=40),
    pause_share=st.floats(min_value=0, max_value=1),
    gap=amounts,
)
def test_pause_and_resume_neither_gain_nor_lose_working_time(
    cal: WorkingCalendar, start: datetime, n: int, pause_share: float, gap: timedelta
) -> None:
    due = cal.due(start, n)
    paused = start + (due - start) * pause_share
    remaining = cal.working_time(paused, due)
    resumed = paused + gap
    new_due = cal.add_working_time(resumed, remaining)
    budget = cal.working_time(start, due)
    assert cal.working_time(start, paused) + cal.working_time(resumed, new_due) == budget
    assert new_due >= due


@PROPERTY
@given(
    cal=calendars,
    t=instants,
    n=budgets,
    extra=st.frozensets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=8),
)
def test_extra_dates_never_bring_a_due_forward(
    cal: WorkingCalendar, t: datetime, n: int, extra: frozenset[date]
) -> None:
    more = WorkingCalendar(cal.pemda, cal.tz, cal.extra_dates | extra)
    assert more.due(t, n) >= cal.due(t, n)
    assert more.working_time(t, cal.due(t, n)) <= cal.working_time(t, cal.due(t, n))


def test_an_instant_is_shown_in_the_regions_own_zone() -> None:
    instant = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert local_text(instant, "33.74") == "07-12-2026 06:30 WIB"
    assert local_text(instant, "73.71") == "07-12-2026 07:30 WITA"
    assert local_text(instant.replace(tzinfo=None), "91.71", seconds=True) == "07-12-2026 08:30:00 WIT"
