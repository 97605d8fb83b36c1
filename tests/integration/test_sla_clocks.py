"""The sla service in process on the real broker and database: lifecycle events published to
`complaints.events` become stored clocks; the detector announces warnings, breaches, escalations
and the `reporter_reply` expiry on `sla.events` / `complaints.commands`; a replay into an empty
database gives the same clocks; a restart mid-stream loses and doubles nothing; an admin's
calendar change recomputes dues and corrects breaches.

Each app runs in its own database and consumer group, so it never takes partitions from the e2e
tier's sla. The expected clocks come from the same domain applied in memory (`Story`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.sla.adapters.clock_store import COLLECTION, MongoClockStore, from_doc
from services.sla.bootstrap import create_app, mongo_sla
from services.sla.domain.clock import Clock
from services.sla.domain.complaint import ComplaintClocks
from services.sla.entrypoints.edge import RULES
from services.sla.settings import SlaSettings
from shared import clock
from shared.auth import mint
from shared.calendar import calendar_for
from shared.envelope import Envelope, decode
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.mongo import mongo_client
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_EVENTS, SLA_EVENTS, TopicSpec, dlq
from tests.topics import messages_for
from tests.unit.test_sla_domain import DINKES, PUPR, Story, wib
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SEMARANG = calendar_for("33.74")
FAST_OPD = "33.74/dinas-kilat"  # a service standard gives it a 0-HK response: its due is its start


@dataclass
class Sla:
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    db: AsyncDatabase[dict[str, Any]]
    bootstrap: str

    async def clocks(self, complaint_id: str) -> ComplaintClocks | None:
        doc = await self.db[COLLECTION].find_one({"_id": complaint_id})
        return from_doc(doc).clocks if doc else None

    async def settled(self, story: Story, within: float = 30.0) -> ComplaintClocks:
        """The stored clocks once every event is applied and nothing is due any more."""

        async def probe() -> ComplaintClocks | None:
            doc = await self.db[COLLECTION].find_one({"_id": story.complaint_id})
            if doc is None or doc["last_seq"] < len(story.events) or doc.get("outbox_since") is not None:
                return None
            due = doc.get("next_check")
            if due is not None and due <= clock.now():
                return None
            return from_doc(doc).clocks

        return await eventually(probe, within=within, what=f"{story.complaint_id} settled")


async def start_sla(endpoints: Endpoints, prefix: str) -> tuple[TestClient[Any, Any], SlaSettings]:
    group = f"{prefix}sla"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    settings = SlaSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{prefix}sla",
        consumer_group=group,
        relay_after=3.0,
        refresh_every=0.2,
    )
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings, reports=False)))
    await client.start_server()
    return client, settings


@pytest.fixture(scope="module")
async def sla(endpoints: Endpoints) -> AsyncIterator[Sla]:
    prefix = f"t{str(ULID()).lower()[-10:]}_"
    client, settings = await start_sla(endpoints, prefix)
    mongo = mongo_client(endpoints.mongo_uri)
    try:
        yield Sla(client, mongo[settings.mongo_db], endpoints.kafka_bootstrap)
    finally:
        await client.close()
        await mongo.drop_database(settings.mongo_db)
        await mongo.close()


async def send(bootstrap: str, events: Sequence[Envelope], topic: str = COMPLAINTS_EVENTS) -> None:
    producer = durable_producer(bootstrap)
    await producer.start()
    try:
        await publish(producer, [Outgoing.of(topic, e.complaint_id or "", e) for e in events])
    finally:
        await producer.stop()


def outcome(clock: Clock) -> tuple[Any, ...]:
    """A clock as the replay must reproduce it (versions may differ after a correction)."""
    return (
        clock.clock_id,
        clock.opd_id,
        clock.pemda,
        clock.state,
        clock.started_at,
        clock.due_at,
        clock.stopped_at,
        clock.budget_ms,
        clock.remaining_ms,
        clock.warned_at,
        clock.breached_at,
        clock.end_reason,
    )


def new_story(**changes: Any) -> Story:
    return Story(complaint_id=f"SLA{ULID()}", **changes)


# --- detection ---------------------------------------------------------------------------------------


async def test_lifecycle_events_become_clocks_and_a_past_due_is_breached_and_escalated(
    day: datetime, sla: Sla
) -> None:
    s = new_story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.claimed(wib(2026, 2, 3, 9))
    await send(sla.bootstrap, s.events)
    stored = await sla.settled(s)

    async def breached() -> list[Envelope]:
        found = await messages_for(sla.bootstrap, SLA_EVENTS, s.complaint_id)
        return found if {e.type for e in found} >= {"SlaBreached", "EscalationRaised"} else []

    announced = await eventually(breached, what="breach and escalation on sla.events")
    breaches = {e.payload.clock: e for e in announced if e.type == "SlaBreached"}  # type: ignore[attr-defined]
    assert set(breaches) == {"response", "resolution"}
    assert breaches["response"].occurred_at == wib(2026, 2, 10)  # the due itself, not when it was seen
    assert breaches["response"].payload.due_at.isoformat() == "2026-02-10T00:00:00+07:00"  # type: ignore[attr-defined]
    levels = sorted(e.payload.level for e in announced if e.type == "EscalationRaised")  # type: ignore[attr-defined]
    assert levels == [1, 2, 3]  # submitted in February: long past 5 HK and 60 days
    warnings = [e for e in announced if e.type == "SlaWarning"]
    assert {e.payload.clock for e in warnings} == {"response", "resolution"}  # type: ignore[attr-defined]
    # The stored clocks are exactly what the domain computes from the same events.
    s.time(clock.now())
    assert [outcome(c) for c in stored.clocks] == [outcome(c) for c in s.clocks.clocks]
    assert stored.escalation.level == 3 and [f.kind for f in stored.history] == [
        "ComplaintReceived",
        "ComplaintAssigned",
    ]
    doc = await sla.db[COLLECTION].find_one({"_id": s.complaint_id})
    assert doc is not None and doc["accountability"][0]["breaches"] == 2 and doc["escalation_level"] == 3
    # Each version of each clock was announced by one event (a redelivery repeats its event id).
    versions: dict[str, dict[int, set[str]]] = {}
    for e in announced:
        if e.type not in ("EscalationRaised", "EscalationRetracted"):
            by_version = versions.setdefault(e.payload.clock_id, {})  # type: ignore[attr-defined]
            by_version.setdefault(e.payload.version, set()).add(e.event_id)  # type: ignore[attr-defined]
    for clock_id, by_version in versions.items():
        assert sorted(by_version) == list(range(1, len(by_version) + 1)), clock_id
        assert all(len(ids) == 1 for ids in by_version.values()), (clock_id, by_version)


async def test_a_due_in_the_near_past_is_breached_at_its_own_instant(day: datetime, sla: Sla) -> None:
    await sla.db["service_standards"].insert_one({"clock": "response", "hk": 0, "opd_id": FAST_OPD})
    rules = sla.http.server.app[RULES]

    async def standard_loaded() -> bool:
        return (
            rules.target_hk("response", pemda="33.74", opd_id=FAST_OPD, category=None, tier="normatif") == 0
        )

    await eventually(standard_loaded, what="the service standard reloaded")
    s = new_story()
    now = clock.now().replace(microsecond=0)
    s.received(now - timedelta(seconds=2))
    s.assigned(now - timedelta(seconds=1), opd=FAST_OPD)
    await send(sla.bootstrap, s.events)

    async def breach() -> Envelope | None:
        found = await messages_for(sla.bootstrap, SLA_EVENTS, s.complaint_id)
        return next((e for e in found if e.type == "SlaBreached"), None)

    seen = await eventually(breach, what="the response breach")
    assert seen.payload.clock == "response" and seen.payload.opd_id == FAST_OPD  # type: ignore[attr-defined]
    assert seen.occurred_at == now - timedelta(seconds=1) == seen.payload.at  # type: ignore[attr-defined]
    stored = await sla.clocks(s.complaint_id)
    assert stored is not None and stored.escalation.level == 1
    assert stored.clocks[2].clock == "resolution" and stored.clocks[2].state == "running"


async def test_an_expired_reporters_window_asks_routing_to_close(day: datetime, sla: Sla) -> None:
    s = new_story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    s.answered(wib(2026, 2, 2, 11))
    s.resolved(wib(2026, 2, 3, 10))
    await send(sla.bootstrap, s.events)

    async def close_command() -> Envelope | None:
        found = await messages_for(sla.bootstrap, COMPLAINTS_COMMANDS, s.complaint_id)
        return found[0] if found else None

    command = await eventually(close_command, what="CloseExpired on complaints.commands")
    assert command.type == "CloseExpired" and command.seq is None and command.complaint_id == s.complaint_id
    assert command.payload.clock_id == f"{s.complaint_id}/reporter_reply/1"  # type: ignore[attr-defined]
    stored = await sla.settled(s)
    reply = stored.clocks[-1]
    assert (reply.clock, reply.state, reply.end_reason, reply.stopped_at) == (
        "reporter_reply",
        "met",
        "expired",
        wib(2026, 2, 20),
    )
    sla_events = await messages_for(sla.bootstrap, SLA_EVENTS, s.complaint_id)
    assert not [e for e in sla_events if e.type in ("SlaBreached", "EscalationRaised")]
    # routing's close arrives as the next lifecycle event: nothing more moves, nothing is sent again.
    s.closed(clock.now(), "expired")
    await send(sla.bootstrap, s.events[-1:])
    await sla.settled(s)
    assert len(await messages_for(sla.bootstrap, COMPLAINTS_COMMANDS, s.complaint_id)) == 1


async def test_an_unconfirmed_outbox_is_published_again_by_the_relay(one_day: datetime, sla: Sla) -> None:
    s = new_story()
    s.received(clock.now())  # nothing due for days: only the relay will touch it
    store = MongoClockStore(sla.db)
    clocks = ComplaintClocks(s.complaint_id)
    [started] = clocks.apply(s.events[0], calendar_for)
    from services.sla.handlers import announce

    await store.load([s.complaint_id])
    # Stored, then "crashed" before the publish: the document stays pending.
    await store.save([(clocks, announce([started], s.complaint_id, 1))])

    async def relayed() -> list[Envelope]:
        return [
            e
            for e in await messages_for(sla.bootstrap, SLA_EVENTS, s.complaint_id)
            if e.type == "ClockStarted"
        ]

    [event] = await eventually(relayed, what="the relayed ClockStarted")
    stored = await sla.db[COLLECTION].find_one({"_id": s.complaint_id})
    assert stored is not None and decode(bytes(stored["outbox"][0]["value"])).event_id == event.event_id


# --- replay and restart ----------------------------------------------------------------------------------


def _stories() -> list[Story]:
    a = new_story()  # triaged, disposed late, paused, resumed, tier changed, transferred, resolved
    a.received(wib(2026, 2, 2, 10))
    a.triaged(wib(2026, 2, 2, 10))
    a.assigned(wib(2026, 2, 9, 9), via="disposition")
    a.info_requested(wib(2026, 2, 10, 11))
    a.info_added(wib(2026, 2, 19, 9, 30))
    a.tier(wib(2026, 2, 19, 10), "ringan")
    a.transferred(wib(2026, 2, 24, 10), to=DINKES)
    a.resolved(wib(2026, 3, 6, 10), opd=DINKES)
    a.reopened(wib(2026, 3, 9, 10), opd=DINKES)
    b = new_story(pemda="64.01")  # WITA, withdrawn while waiting
    b.received(datetime(2026, 6, 1, 2, tzinfo=UTC))
    b.assigned(datetime(2026, 6, 1, 3, tzinfo=UTC), opd="64.01/dinas-pupr")
    b.info_requested(datetime(2026, 6, 2, 3, tzinfo=UTC), opd="64.01/dinas-pupr")
    b.closed(datetime(2026, 6, 3, 3, tzinfo=UTC), "withdrawn")
    c = new_story()  # answered on time, still open
    c.received(clock.now() - timedelta(hours=2))
    c.assigned(clock.now() - timedelta(hours=1))
    c.answered(clock.now() - timedelta(minutes=30))
    return [a, b, c]


async def test_replay_into_an_empty_database_and_a_restart_mid_stream_give_the_same_clocks(
    day: datetime, sla: Sla, endpoints: Endpoints
) -> None:
    stories = _stories()
    half = {s.complaint_id: len(s.events) // 2 for s in stories}
    await send(sla.bootstrap, [e for s in stories for e in s.events[: half[s.complaint_id]]])

    # A second sla with an empty database reads the topic from the beginning; it is stopped once it
    # has the first halves, the second halves are published, and it is started again (same group,
    # same database). Meanwhile both detectors run, so late events meet applied breaches.
    prefix = f"t{str(ULID()).lower()[-10:]}_"
    mongo = mongo_client(endpoints.mongo_uri)
    client, settings = await start_sla(endpoints, prefix)
    db = mongo[settings.mongo_db]
    try:

        async def half_way() -> bool:
            docs = [await db[COLLECTION].find_one({"_id": cid}) for cid in half]
            return all(d is not None and d["last_seq"] >= half[d["_id"]] for d in docs)

        await eventually(half_way, what="the replay half-way")
        await client.close()  # a stop mid-stream (graceful: a crash is the relay test's case)
        await send(sla.bootstrap, [e for s in stories for e in s.events[half[s.complaint_id] :]])
        live = {s.complaint_id: await sla.settled(s) for s in stories}
        client, _ = await start_sla(endpoints, prefix)
        replica = Sla(client, db, endpoints.kafka_bootstrap)
        for s in stories:
            replayed = await replica.settled(s)
            original = live[s.complaint_id]
            assert [outcome(c) for c in replayed.clocks] == [outcome(c) for c in original.clocks]
            assert replayed.escalation == original.escalation
            assert replayed.accountability() == original.accountability()
            assert replayed.history == original.history
            # And both are what the domain computes in memory from the same events.
            s.time(clock.now())
            assert [outcome(c) for c in original.clocks] == [outcome(c) for c in s.clocks.clocks]
    finally:
        await client.close()
        await mongo.drop_database(settings.mongo_db)
        await mongo.close()
    a = live[stories[0].complaint_id]
    assert [c.clock_id.split("/", 1)[1] for c in a.clocks] == [
        "verification/1",
        "response/1",
        "resolution/1",
        "response/2",
        "resolution/2",
        "reporter_reply/1",
        "response/3",
        "resolution/3",
    ]
    assert {acc.opd_id: acc.transfers_out for acc in a.accountability()} == {PUPR: 1, DINKES: 0}
    assert live[stories[1].complaint_id].clocks[-1].state == "cancelled"


# --- recompute -------------------------------------------------------------------------------------------


def _latest_working_day_before_today(now: datetime) -> date:
    day = SEMARANG.local(now).date() - timedelta(days=1)
    while not SEMARANG.is_working_day(day):
        day -= timedelta(days=1)
    return day


def _working_days_back(day: date, n: int) -> date:
    while n:
        day -= timedelta(days=1)
        n -= SEMARANG.is_working_day(day)
    return day


async def test_an_admins_extra_date_moves_dues_retracts_a_breach_and_removing_it_brings_it_back(
    day: datetime,
    sla: Sla,
) -> None:
    # A complaint whose 5-HK dues ended at the latest working day's midnight: breached by now.
    last = _latest_working_day_before_today(clock.now())
    start = _working_days_back(last, 5)
    s = new_story()
    s.received(datetime.combine(start, datetime.min.time(), tzinfo=SEMARANG.tz) + timedelta(hours=10))
    s.assigned(datetime.combine(start, datetime.min.time(), tzinfo=SEMARANG.tz) + timedelta(hours=11))
    await send(sla.bootstrap, s.events)
    before = await sla.settled(s)
    assert before.clocks[1].breached_at == SEMARANG.due(s.clocks.clocks[1].started_at, 5)
    assert before.escalation.level == 1

    admin = {"Authorization": f"Bearer {mint('admin', sub='admin-1')}"}
    url = "/api/v1/admin/calendar/33/extra-dates"  # the province's day off binds Semarang too
    current = await sla.http.get(url, headers=admin)  # the module's app: an earlier day's test changed it
    revision = (await current.json())["revision"]
    assert (await current.json())["extra_dates"] == []
    resp = await sla.http.put(url, json={"dates": [last.isoformat()], "reason": "cuti daerah"}, headers=admin)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["revision"] == revision + 1 and body["extra_dates"] == [last.isoformat()]
    assert body["recomputed"]["complaints"] >= 1 and body["recomputed"]["corrected"] >= 1

    after = await sla.clocks(s.complaint_id)
    assert after is not None and after.clocks[1].breached_at is None and after.escalation.level == 0
    assert after.clocks[1].due_at is not None and after.clocks[1].due_at > clock.now()
    announced = await messages_for(sla.bootstrap, SLA_EVENTS, s.complaint_id)
    assert [e.payload.clock for e in announced if e.type == "BreachRetracted"] == ["response", "resolution"]  # type: ignore[attr-defined]
    assert [e.payload.level for e in announced if e.type == "EscalationRetracted"] == [0]  # type: ignore[attr-defined]
    changes = [e for e in await messages_for(sla.bootstrap, SLA_EVENTS, "33") if e.type == "CalendarChanged"]
    assert len(changes) == revision + 1  # one per revision (earlier days' runs made the others)
    changed = changes[-1]
    assert changed.payload.extra_dates == [last] and changed.complaint_id is None  # type: ignore[attr-defined]
    audit = await sla.db["audit"].find_one({"target": "33", "after": [last.isoformat()]})
    assert audit is not None and audit["who"]["sub"] == "admin-1" and audit["after"] == [last.isoformat()]
    # The calendar answers over HTTP include the extra date now.
    due = await sla.http.get(
        "/api/v1/calendar/33.74/due", params={"from": s.events[1].occurred_at.isoformat(), "hk": "5"}
    )
    assert (await due.json())["due"] == after.clocks[1].due_at.astimezone(SEMARANG.tz).isoformat()

    # Removing the date again: the breaches come back at their original instants.
    resp = await sla.http.put(url, json={"dates": []}, headers=admin)
    assert resp.status == 200 and (await resp.json())["revision"] == revision + 2
    again = await sla.clocks(s.complaint_id)
    assert again is not None and again.clocks[1].breached_at == before.clocks[1].breached_at
    assert again.escalation.level == 1
    announced = await messages_for(sla.bootstrap, SLA_EVENTS, s.complaint_id)
    assert [e.type for e in announced].count("SlaBreached") == 4  # two breaches, each announced twice


async def test_the_admin_calendar_api_checks_role_pemda_and_body(sla: Sla) -> None:
    url = "/api/v1/admin/calendar/{}/extra-dates"
    handler = {"Authorization": f"Bearer {mint('handler', opd=PUPR)}"}
    admin = {"Authorization": f"Bearer {mint('admin')}"}
    assert (await sla.http.put(url.format("33.74"), json={"dates": []})).status == 401
    assert (await sla.http.put(url.format("33.74"), json={"dates": []}, headers=handler)).status == 403
    assert (await sla.http.put(url.format("99.99"), json={"dates": []}, headers=admin)).status == 404
    bad = await sla.http.put(url.format("33.74"), json={"dates": ["2026-02-30"], "x": 1}, headers=admin)
    assert bad.status == 422 and bad.content_type == "application/problem+json"
    assert {e["field"] for e in (await bad.json())["errors"]} == {"dates.0", "x"}
    read = await sla.http.get(url.format("31.71"), headers=handler)
    assert read.status == 200 and (await read.json())["extra_dates"] == []


async def test_a_new_holidays_pin_recomputes_what_was_computed_with_the_old_one(
    one_day: datetime, sla: Sla
) -> None:
    from services.sla.handlers import recompute_holidays
    from shared.calendar import HOLIDAYS_VERSION

    s = new_story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 10))
    await send(sla.bootstrap, s.events)
    before = await sla.settled(s)
    await sla.db[COLLECTION].update_one({"_id": s.complaint_id}, {"$set": {"holidays_version": "0.1"}})
    producer = durable_producer(sla.bootstrap)
    await producer.start()
    try:
        adapters = mongo_sla(sla.db, lambda m: publish(producer, m), sla.http.server.app[RULES])
        result = await recompute_holidays(adapters)
    finally:
        await producer.stop()
    assert result.complaints >= 1 and result.announced == 0  # same holidays here: nothing moved
    doc = await sla.db[COLLECTION].find_one({"_id": s.complaint_id})
    assert doc is not None and doc["holidays_version"] == HOLIDAYS_VERSION
    assert from_doc(doc).clocks.clocks == before.clocks


async def test_events_after_a_missing_seq_wait_in_the_database_until_it_arrives(
    one_day: datetime, sla: Sla
) -> None:
    s = new_story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 11))
    s.info_requested(wib(2026, 2, 3, 9))
    s.info_added(wib(2026, 2, 4, 9))
    await send(sla.bootstrap, [s.events[0], s.events[2], s.events[3]])  # seq 2 dead-lettered upstream

    async def waiting() -> dict[str, Any] | None:
        doc = await sla.db[COLLECTION].find_one({"_id": s.complaint_id})
        return doc if doc is not None and doc.get("parked_count") == 2 else None

    doc = await eventually(waiting, what="two events held after the gap")
    assert doc["last_seq"] == 1 and [decode(bytes(v)).seq for v in doc["parked"]] == [3, 4]
    assert await sla.db[COLLECTION].count_documents({"parked_count": {"$gt": 0}}) >= 1

    await send(sla.bootstrap, [s.events[1]])  # the missing one, e.g. replayed from the dead letters
    stored = await sla.settled(s)
    s.time(clock.now())
    assert [outcome(c) for c in stored.clocks] == [outcome(c) for c in s.clocks.clocks]
    after = await sla.db[COLLECTION].find_one({"_id": s.complaint_id})
    assert after is not None and after["parked"] == [] and after["parked_count"] == 0


async def test_pengaduan_status_counts_the_complaints_held_after_a_gap(
    one_day: datetime, sla: Sla, endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools import ops

    s = new_story()
    s.received(wib(2026, 2, 2, 10))
    s.assigned(wib(2026, 2, 2, 11))
    s.answered(wib(2026, 2, 3, 9))
    await send(sla.bootstrap, [s.events[0], s.events[2]])

    async def held() -> bool:
        doc = await sla.db[COLLECTION].find_one({"_id": s.complaint_id})
        return doc is not None and doc.get("parked_count") == 1

    await eventually(held, what="the event after the gap held")
    monkeypatch.setenv("SLA_MONGO_URI", endpoints.mongo_uri)
    monkeypatch.setenv("SLA_MONGO_DB", sla.db.name)
    found = await ops.parked_complaints("sla", limit=1000)
    assert found is not None and found[0] >= 1 and s.complaint_id in found[1]
