"""The one source of "now" for every service and job.

Domain time — when a complaint was received, its dues and what remains of them, aging, a report's
"today", an incident date "not in the future" — comes from `now()`, which reads the process's
current clock. A process starts on the wall clock. The `CLOCK_START` setting (an RFC 3339 instant
with an offset; `INTAKE_CLOCK_START` and so on for one service) starts it at that instant instead,
running on at the wall clock's rate: how the e2e tests, a demo or a training stack run "on" a
chosen day (a Saturday, Idul Fitri's cuti bersama, a year end) without patching anything. Tests in
one process pin it with `pinned()`.

Time that another component measures by its own wall clock stays on `wall()`, whatever the
setting: fields a TTL index expires (the database expires them by its clock), ULID-based positions,
token lifetimes (PyJWT reads the wall clock), Kafka. Nothing else in `services/`, `shared/` or
`devtools/` reads the time (tests/unit/test_clock.py checks the sources).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Now = Callable[[], datetime]


def wall() -> datetime:
    """The machine's clock, for time another component compares with its own (see above)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ShiftedClock:
    """The wall clock moved by a fixed offset: it ticks, from a chosen instant."""

    offset: timedelta

    def __call__(self) -> datetime:
        return wall() + self.offset


@dataclass
class FixedClock:
    """A clock that stands still until a test moves it."""

    at: datetime

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


def starting_at(instant: datetime, *, when: datetime | None = None) -> ShiftedClock:
    """A ticking clock that reads `instant` at the wall instant `when` (default: now)."""
    if instant.tzinfo is None or (when is not None and when.tzinfo is None):
        raise ValueError("the clock's start needs an offset (RFC 3339)")
    return ShiftedClock(instant.astimezone(UTC) - (when or wall()))


_current: Now = wall


def now() -> datetime:
    """Domain time: the current clock of this process (UTC, aware)."""
    return _current().astimezone(UTC)


def current() -> Now:
    return _current


def install(clock: Now) -> None:
    """Make `clock` this process's time (a service's entry point does this from its settings)."""
    global _current
    _current = clock


def install_from_setting(start: datetime | None, when: datetime | None = None) -> None:
    """The `CLOCK_START` setting (None keeps the wall clock) and `CLOCK_START_WALL`, the wall
    instant it refers to (default: the process's start). Processes given the same pair share one
    clock to the millisecond, whenever each of them started."""
    if start is not None:
        install(starting_at(start, when=when))


@contextmanager
def pinned(at: datetime | Now, *, tick: bool = True) -> Iterator[Now]:
    """Run a block on a chosen clock: `at` an instant (ticking from there, or standing still with
    `tick=False`) or a clock of the caller's. The previous clock is restored afterwards."""
    clock: Now = at if not isinstance(at, datetime) else starting_at(at) if tick else FixedClock(at)
    before = _current
    install(clock)
    try:
        yield clock
    finally:
        install(before)


def install_from_environment() -> None:
    """For a job without a settings object: `CLOCK_START` / `CLOCK_START_WALL` from the
    environment, as the services read them."""
    import os

    start, when = (os.environ.get(name) for name in ("CLOCK_START", "CLOCK_START_WALL"))
    if start:
        install_from_setting(datetime.fromisoformat(start), datetime.fromisoformat(when) if when else None)
