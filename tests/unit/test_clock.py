"""The one `now` provider (shared/clock.py): how a process gets a chosen day, how tests pin it, and a
check that no product code or test reads the time any other way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from services.routing.settings import RoutingSettings
from services.sla.settings import SlaSettings
from shared import clock
from tests.conftest import DAYS

ROOT = Path(__file__).resolve().parents[2]
WIT = ZoneInfo("Asia/Jayapura")

# Reading the time any other way than shared.clock: the wall clock's day would leak into what a
# service computes, or into what a test asserts.
WALL_READS = re.compile(
    r"datetime\.now\(|datetime\.utcnow\(|date\.today\(|\btime\.time(_ns)?\(|\bULID\(\)\.datetime"
)


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_product_code_reads_the_time_only_through_the_clock() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _sources("services", "shared", "devtools")
        if path != ROOT / "shared" / "clock.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if WALL_READS.search(line)
    ]
    assert offenders == []


def test_tests_never_take_the_wall_clocks_day() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _sources("tests")
        if path != Path(__file__)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if WALL_READS.search(line)
    ]
    assert offenders == []


def test_a_shifted_clock_starts_at_the_chosen_instant_and_ticks() -> None:
    start = datetime(2027, 3, 10, 10, tzinfo=ZoneInfo("Asia/Jakarta"))
    shifted = clock.starting_at(start)
    first = shifted()
    assert first.tzinfo is not None and abs(first - start) < timedelta(seconds=5)
    assert shifted() >= first  # it runs on at the wall clock's rate
    with pytest.raises(ValueError, match="offset"):
        clock.starting_at(datetime(2027, 3, 10, 10))


def test_pinned_replaces_the_process_clock_and_restores_it() -> None:
    before = clock.current()
    instant = datetime(2026, 12, 31, 23, 59, 59, tzinfo=WIT)
    with clock.pinned(instant, tick=False) as pinned:
        assert clock.now() == instant and clock.now().tzinfo == UTC
        assert isinstance(pinned, clock.FixedClock)
        pinned.advance(timedelta(seconds=1))
        assert clock.now().astimezone(WIT) == datetime(2027, 1, 1, tzinfo=WIT)
    assert clock.current() is before


def test_the_days_fixture_pins_each_chosen_day(day: datetime) -> None:
    assert day in DAYS.values()
    assert abs(clock.now() - day) < timedelta(seconds=5)


@pytest.mark.parametrize("settings_class", [IntakeSettings, RoutingSettings, SlaSettings])
def test_every_service_takes_its_clock_from_a_setting(
    settings_class: type[IntakeSettings | RoutingSettings | SlaSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOCK_START", "2027-01-01T09:00:00+07:00")
    settings = settings_class()
    assert settings.clock_start == datetime(2027, 1, 1, 2, tzinfo=UTC)
    monkeypatch.setenv("CLOCK_START", "2027-01-01T09:00:00")  # no offset: which day would it be?
    with pytest.raises(ValidationError, match=r"clock_start|CLOCK_START"):
        settings_class()
    monkeypatch.delenv("CLOCK_START")
    assert settings_class().clock_start is None


def test_installing_from_an_unset_setting_keeps_the_current_clock() -> None:
    before = clock.current()
    clock.install_from_setting(None)
    assert clock.current() is before


def test_a_test_that_asks_for_no_day_runs_on_the_sessions_day() -> None:
    assert timedelta(0) <= clock.now() - DAYS["saturday"] < timedelta(hours=2)
