"""Test infrastructure: a real Kafka broker and a real MongoDB-wire server for the integration
and end-to-end tiers, started once per session and only when a test asks for them.

Which servers, decided automatically, overridable with `PENGADUAN_TEST_INFRA`:
- `native` (the default on a machine without Docker): the project's own Kafka 4.3.1 and
  secantusd-rs, through `devtools.infra`, on the test ports with fresh data dirs under
  `.run/test` (`PENGADUAN_TEST_SLOT=N` moves both),
  so it runs beside a `make run` stack;
- `docker`: testcontainers (Kafka, MongoDB 8), chosen when a Docker engine answers;
- `external`: servers already running at `PENGADUAN_TEST_KAFKA` and `PENGADUAN_TEST_MONGO`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from ulid import ULID

from devtools import infra
from shared import clock


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no client library, no socket, no engine: all mean "no Docker here"
        return False


def infra_mode() -> str:
    mode = os.environ.get("PENGADUAN_TEST_INFRA", "auto")
    if mode == "auto":
        return "docker" if _docker_engine_answers() else "native"
    if mode not in ("native", "docker", "external"):
        raise pytest.UsageError(f"PENGADUAN_TEST_INFRA={mode!r}: use auto, native, docker or external")
    return mode


@contextlib.contextmanager
def _containers() -> Iterator[infra.Endpoints]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    with (
        KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka,
        MongoDbContainer("mongo:8") as mongo,
    ):
        yield infra.Endpoints(
            kafka_bootstrap=kafka.get_bootstrap_server(), mongo_uri=mongo.get_connection_url()
        )


@pytest.fixture(scope="session")
def endpoints() -> Iterator[infra.Endpoints]:
    from shared.kafka import ensure_topics

    mode = infra_mode()
    if mode == "external":
        stack: contextlib.AbstractContextManager[infra.Endpoints] = contextlib.nullcontext(
            infra.Endpoints(os.environ["PENGADUAN_TEST_KAFKA"], os.environ["PENGADUAN_TEST_MONGO"])
        )
    elif mode == "docker":
        stack = _containers()
    else:
        stack = infra.native_stack(infra.test_profile(), infra.test_ports(), fresh=True)
    with stack as ends:
        import asyncio

        asyncio.run(ensure_topics(ends.kafka_bootstrap))
        yield ends


@pytest.fixture
def db_prefix() -> str:
    """A database-name prefix of one test, so tests never see each other's data."""
    return f"t{str(ULID()).lower()[-10:]}_"


@pytest.fixture(params=["fake", "mongo"])
def contract_mongo_uri(request: pytest.FixtureRequest) -> str | None:
    """The store contract suites run each case twice: None for the fakes; the test database
    server's address for the Mongo adapters (started here, outside the event loop, only when a
    Mongo case runs)."""
    if request.param == "fake":
        return None
    ends: infra.Endpoints = request.getfixturevalue("endpoints")
    return ends.mongo_uri


# --- the days a date-sensitive test runs on ------------------------------------------------------

WIB = ZoneInfo("Asia/Jakarta")
# Each is the instant the process clock (shared/clock.py) starts at; it ticks on from there. No
# test takes the wall clock's day for what it asserts (tests/unit/test_clock.py).
DAYS = {
    "saturday": datetime(2026, 6, 13, 10, tzinfo=WIB),
    # Idul Fitri 1448 H: Wed 10 Mar 2027, inside the cuti bersama of 9-15 Mar (holidays 0.108).
    "idul-fitri": datetime(2027, 3, 10, 10, tzinfo=WIB),
    # 22:30 WIB on 31 Dec is already 1 Jan 00:30 in WIT (Papua): two pemda, two different days.
    "year-end": datetime(2026, 12, 31, 22, 30, tzinfo=WIB),
    "new-year": datetime(2027, 1, 1, 9, tzinfo=WIB),  # a national holiday, then a weekend
}


@pytest.fixture(scope="session", autouse=True)
def session_day() -> Iterator[datetime]:
    """Every test runs on a chosen day, never the wall clock's: DAYS' Saturday unless it asks for
    `day` (each of DAYS) or, in the e2e tier, the stack's day (tests/e2e/conftest.py)."""
    with clock.pinned(DAYS["saturday"]):
        yield DAYS["saturday"]


@pytest.fixture(params=list(DAYS))
def day(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """Run the test once on each of DAYS: the process clock starts at that instant, which is
    returned (microseconds zero, WIB)."""
    start: datetime = DAYS[request.param]
    with clock.pinned(start):
        yield start


@pytest.fixture
def one_day() -> Iterator[datetime]:
    """One chosen day, for tests whose subject is not the calendar (DAYS' Saturday)."""
    with clock.pinned(DAYS["saturday"]):
        yield DAYS["saturday"]
