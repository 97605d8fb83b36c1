"""Intake's view consumer on the real database: a batch of lifecycle, clock, escalation and
calendar events applied once (a redelivery changes nothing), unknown complaints refused, and the
pemdas' calendars kept at their newest revision."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from services.intake.adapters.store import MongoComplaintStore, ensure_indexes
from services.intake.handlers import handle_view_events
from shared.calendar import CalendarBook
from shared.envelope import Envelope, new_event
from shared.events import CalendarChanged, ClockStarted, EscalationRaised, InformationRequested
from shared.kafka import Outgoing
from shared.mongo import mongo_client
from tests.unit.test_intake_views import assigned, doc, lifecycle, received

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client = mongo_client(endpoints.mongo_uri)
    await ensure_indexes(client[f"{db_prefix}intake"])
    yield client[f"{db_prefix}intake"]
    await client.drop_database(f"{db_prefix}intake")
    await client.close()


def calendar_changed(revision: int, dates: list[date]) -> Envelope:
    return new_event(
        CalendarChanged(pemda="33", extra_dates=dates, holidays_version="0.108", revision=revision),
        producer="sla",
        complaint_id=None,
    )


async def test_a_batch_applies_once_and_a_redelivery_changes_nothing(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoComplaintStore(db)
    await store.insert(doc(_id="C1"))
    clock = new_event(
        ClockStarted(
            clock_id="C1:response:1", clock="response", opd_id="33.74/dinas-pupr", pemda="33.74",
            started_at=T0, due_at=T0 + timedelta(days=5), budget_seconds=5 * 86400, state="running",
            at=T0, version=1,
        ),
        producer="sla", complaint_id="C1", seq=2,
    )  # fmt: skip
    escalation = new_event(
        EscalationRaised(level=1, opd_id=None, reason="x", at=T0), producer="sla", complaint_id="C1", seq=2
    )
    wed = date(2026, 3, 25)
    batch = [
        lifecycle(1, received()),
        lifecycle(2, assigned()),
        clock,
        escalation,
        calendar_changed(2, [wed]),
    ]
    stranger = new_event(received(), producer="routing", complaint_id="NOT-OURS", seq=1)
    book = CalendarBook()
    sent: list[Outgoing] = []

    async def publish(messages: Any) -> None:
        sent.extend(messages)

    rejected = await handle_view_events([*batch, stranger], store, book, publish)
    assert [r.envelope.complaint_id for r in rejected] == ["NOT-OURS"]
    assert sent == []  # an unknown id without a tombstone is refused, not withdrawn
    after = await db["complaints"].find_one({"_id": "C1"})
    assert after is not None
    assert (after["status"], after["opd_id"], after["last_seq"], after["escalation_level"]) == (
        "assigned",
        "33.74/dinas-pupr",
        2,
        1,
    )
    assert list(after["deadlines"]) == ["C1:response:1"] and len(after["timeline"]) == 3
    assert not book.calendar_for("33.74").is_working_day(wed)

    await handle_view_events(batch, store, book, publish)
    assert await db["complaints"].find_one({"_id": "C1"}) == after


async def test_lifecycle_events_after_a_missing_seq_wait_in_the_view_until_it_arrives(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoComplaintStore(db)
    await store.insert(doc(_id="C1"))
    asked = InformationRequested(opd_id="33.74/dinas-pupr", handler="h", message="Kirim foto lokasi")
    first, second, third = lifecycle(1, received()), lifecycle(2, assigned()), lifecycle(3, asked)
    await handle_view_events([first, third], store)  # seq 2 dead-lettered upstream, say
    held = await db["complaints"].find_one({"_id": "C1"})
    assert held is not None and (held["last_seq"], held["status"], held["parked_count"]) == (1, "received", 1)
    await handle_view_events([third], store)  # a redelivery of the held one: nothing new
    assert await db["complaints"].find_one({"_id": "C1"}) == held
    await handle_view_events([second], store)  # the missing one (a replayed dead letter)
    after = await db["complaints"].find_one({"_id": "C1"})
    assert after is not None and (after["last_seq"], after["status"], after["parked"]) == (
        3,
        "waiting_reporter",
        [],
    )
    assert [t["type"] for t in after["timeline"]] == [
        "ComplaintReceived",
        "ComplaintAssigned",
        "InformationRequested",
    ]


async def test_calendars_keep_the_newest_revision_and_a_new_instance_loads_them(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoComplaintStore(db)
    wed, thu = date(2026, 3, 25), date(2026, 3, 26)
    await store.save_calendar("33", 3, [wed, thu])
    await store.save_calendar("33", 2, [])  # older: ignored
    assert await store.calendars() == [("33", 3, [wed, thu])]
    fresh = CalendarBook()
    for pemda, revision, dates in await store.calendars():
        fresh.learn(pemda, revision, dates)
    assert not fresh.calendar_for("33.74.01.1001").is_working_day(thu)


async def test_pengaduan_status_counts_the_views_held_after_a_gap(
    db: AsyncDatabase[dict[str, Any]], endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools import ops

    store = MongoComplaintStore(db)
    await store.insert(doc(_id="C1"))  # the id the helpers' events carry
    await handle_view_events([lifecycle(1, received()), lifecycle(3, assigned())], store)
    monkeypatch.setenv("INTAKE_MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("INTAKE_MONGO_DB", db.name)
    assert await ops.parked_complaints("intake") == (1, ["C1"])
