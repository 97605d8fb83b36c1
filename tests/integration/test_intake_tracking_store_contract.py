"""One contract for intake's TrackingStore port (services/intake/ports.py), run over the Mongo store
and the fake the unit tests use (tests/intake_fakes.py): codes, the wrong-PIN count and its delay,
and sessions behave the same in both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from devtools.infra import Endpoints
from services.intake.adapters import tracking
from services.intake.domain.tracking import Backoff, normal_code
from services.intake.ports import TrackingStore
from shared import clock
from shared.mongo import mongo_client
from tests.intake_fakes import FakeTrackingStore

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

BACKOFF = Backoff(free_tries=2, first_delay=10.0, max_delay=60.0)


@pytest.fixture(params=["fake", "mongo"])
async def store(
    request: pytest.FixtureRequest, db_prefix: str, endpoints: Endpoints
) -> AsyncIterator[TrackingStore]:
    if request.param == "fake":
        yield FakeTrackingStore()
        return
    client = mongo_client(endpoints.mongo_uri)
    db = client[f"{db_prefix}intake"]
    await tracking.ensure_indexes(db)
    yield tracking.MongoTrackingStore(db)
    await client.drop_database(db.name)
    await client.close()


async def test_a_code_is_reserved_with_its_pin_hash_and_released(store: TrackingStore) -> None:
    code = await store.reserve_code("C1", lambda c: f"hash-of-{c}")
    assert normal_code(code) == code
    found = await store.code(code)
    assert found is not None and (found["complaint_id"], found["pin_hash"]) == ("C1", f"hash-of-{code}")
    assert (found["failures"], found["retry_at"]) == (0, None)
    await store.release_code(code)
    assert await store.code(code) is None


async def test_each_try_is_counted_once_and_the_delay_holds_until_it_passes(store: TrackingStore) -> None:
    code = await store.reserve_code("C1", lambda c: "h")
    now = clock.now()
    assert (await store.take_try(code, 0, now, BACKOFF) or {}).get("failures") == 1
    assert await store.take_try(code, 0, now, BACKOFF) is None  # a stale count: another try came first
    taken = await store.take_try(code, 1, now, BACKOFF)
    assert taken is not None  # the database keeps milliseconds
    assert abs(taken["retry_at"] - (now + timedelta(seconds=10))) < timedelta(milliseconds=1)
    assert await store.take_try(code, 2, now + timedelta(seconds=9), BACKOFF) is None  # still waiting
    assert await store.take_try(code, 2, now + timedelta(seconds=10), BACKOFF) is not None
    await store.right_pin(code)
    found = await store.code(code)
    assert found is not None and (found["failures"], found["retry_at"]) == (0, None)


async def test_a_session_names_its_complaint_until_it_expires(store: TrackingStore) -> None:
    await store.open_session("s" * 43, "C1", timedelta(hours=1))
    assert await store.session_complaint("s" * 43) == "C1"
    assert await store.session_complaint("t" * 43) is None
    await store.open_session("u" * 43, "C2", timedelta(seconds=-1))  # already over
    assert await store.session_complaint("u" * 43) is None


async def test_a_trusted_device_counts_on_its_own_until_its_trust_expires(store: TrackingStore) -> None:
    code = await store.reserve_code("C1", lambda c: "h")
    now = clock.now()
    assert await store.device("d" * 64) is None
    await store.trust_device("d" * 64, timedelta(days=1))
    await store.trust_device("d" * 64, timedelta(days=1))  # renewed, not doubled
    found = await store.device("d" * 64)
    assert found is not None and (found["failures"], found["retry_at"]) == (0, None)
    for failures in (0, 1):
        assert await store.take_try("d" * 64, failures, now, BACKOFF, device=True) is not None
    assert await store.take_try("d" * 64, 2, now, BACKOFF, device=True) is None  # its own delay
    code_doc = await store.code(code)
    assert code_doc is not None and code_doc["failures"] == 0  # the code's shared count untouched
    await store.right_pin("d" * 64, device=True)
    found = await store.device("d" * 64)
    assert found is not None and (found["failures"], found["retry_at"]) == (0, None)
    await store.trust_device("e" * 64, timedelta(seconds=-1))  # already over
    assert await store.device("e" * 64) is None
