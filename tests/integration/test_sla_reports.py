"""Supervisor reports against the real broker and database: events published on the real topics
become the API's figures; a redelivery changes nothing; poison goes to the dead-letter topic; the
role × scope matrix; paging, filters and CSV exports; the Mongo store's write contract."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from devtools.seed_reports import events_of, fixed_stories, outgoing, random_stories, reports_app, seed_store
from services.sla.adapters.report_store import GAUGES, WEEKLY, MongoReportStore, ensure_report_indexes
from services.sla.bootstrap import add_supervisor_routes, report_consumer_specs
from services.sla.domain.reports import ReportChanges
from services.sla.entrypoints.edge import reports_state
from services.sla.handlers import handle_report_events
from services.sla.settings import SlaSettings
from shared.auth import STAFF_AUTH, StaffAuth, mint
from shared.envelope import new_event
from shared.events import (
    BreachRetracted,
    ClockStarted,
    ClockStopped,
    ComplaintAssigned,
    EscalationRaised,
    SlaBreached,
)
from shared.faults import ConcurrentUpdate
from shared.http import problem_middleware
from shared.kafka import Outgoing, durable_producer, ensure_topics, publish
from shared.mongo import mongo_client
from shared.runtime import ConsumerSpec, with_consumers
from shared.topics import CATALOG_CHANGES, COMPLAINTS_EVENTS, SLA_EVENTS, TopicSpec, dlq
from tests.conftest import DAYS
from tests.topics import committed_through, ends_now
from tests.waiting import eventually

pytestmark = pytest.mark.integration

SAMARINDA, BALIKPAPAN = "64.72", "64.71"
PUPR, DLH, DUKCAPIL = (f"{SAMARINDA}/{slug}" for slug in ("dinas-pupr", "dlh", "disdukcapil"))
Json = dict[str, Any]
# Four kab/kota in the three time zones that no other test publishes events of.
PEMDA_OF_DAY = dict(zip(DAYS.values(), ("64.72", "12.71", "82.71", "13.71"), strict=True))


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}sla"]
    await client.drop_database(f"{db_prefix}sla")
    await client.close()


def bearer(role: str, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(role, **claims)}"}  # type: ignore[arg-type]


ADMIN = bearer("admin")
SUPERVISOR = bearer("supervisor", pemda=SAMARINDA)


async def get(client: TestClient[Any, Any], path: str, headers: dict[str, str], status: int = 200) -> Json:
    async with client.get(f"/api/v1/supervisor/{path}", headers=headers) as resp:
        body: Json = await resp.json(content_type=None)
        assert resp.status == status, (path, body)
        return body


def by_scope(answer: Json) -> dict[str, Json]:
    return {row["scope"]: row for row in answer["items"]}


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two answers differ, as paths with both values (pytest truncates a long diff)."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(set(before) | set(after))
        return [d for k in keys for d in differences(before.get(k), after.get(k), f"{path}.{k}")]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [d for i, (b, a) in pairs for d in differences(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} → {after!r}"]


def stable(answer: Json) -> Json:
    return {k: v for k, v in answer.items() if k != "as_of"}


# --- through the real topics ----------------------------------------------------------------------


async def _dead_letters(
    bootstrap: str, group: str, wanted: Callable[[bytes], bool], count: int
) -> list[dict[str, bytes]]:
    consumer = AIOKafkaConsumer(dlq(group), bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[dict[str, bytes]] = []
    try:

        async def probe() -> bool:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(dict(m.headers) for m in messages if wanted(m.value or b""))
            return len(found) >= count

        await eventually(probe, within=30, what=f"{count} dead letters of {group}")
    finally:
        await consumer.stop()
    return found


async def test_published_events_become_the_figures_and_a_redelivery_changes_nothing(
    day: datetime, endpoints: Endpoints, db_prefix: str, db: AsyncDatabase[dict[str, Any]]
) -> None:
    # A group of its own (and its dead-letter topic), so no other consumer shares the partitions.
    group = f"sla-reports-{db_prefix.rstrip('_')}"
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(group), 1)])
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    [spec] = report_consumer_specs(app)
    assert spec.group == "sla-reports" and set(spec.topics) == {
        SLA_EVENTS,
        COMPLAINTS_EVENTS,
        CATALOG_CHANGES,
    }
    settings = SlaSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap, mongo_uri=endpoints.mongo_uri, mongo_db=db.name
    )
    with_consumers(app, settings, [ConsumerSpec(group, spec.topics, spec.build)])
    add_supervisor_routes(app)
    reports_state(app).now = lambda: day
    # Each day's run seeds a pemda of its own: the groups of the other days' runs read the same
    # topics from the beginning, and a pemda's figures must be this run's alone.
    pemda = PEMDA_OF_DAY[day]
    pupr, dlh, dukcapil = (f"{pemda}/{slug}" for slug in ("dinas-pupr", "dlh", "disdukcapil"))
    supervisor_ = bearer("supervisor", pemda=pemda)

    messages = outgoing(events_of(fixed_stories(pemda, day, prefix=db_prefix)))
    producer = durable_producer(endpoints.kafka_bootstrap)
    await producer.start()
    try:
        async with TestClient(TestServer(app)) as client:
            await publish(producer, messages)

            # Every event applied: the group has committed all of the topics it reads (it commits
            # only after its database write). Figures read before that are partial, and the OPDs'
            # names come on catalog.changes: read before it is caught up, they differ from after.
            ends = await ends_now(endpoints.kafka_bootstrap, *spec.topics)
            await eventually(
                lambda: committed_through(endpoints.kafka_bootstrap, group, ends),
                within=60,
                what="the seeded figures",
            )
            compliance = await get(client, f"compliance?pemda={pemda}", supervisor_)
            rows = by_scope(compliance)
            assert [rows[o]["on_time_pct"] for o in (pupr, dlh, dukcapil)] == [75.0, 0.0, 100.0]
            assert rows[pupr]["response"]["answered"] == 3
            assert (rows[pupr]["assigned"], rows[pupr]["open"], rows[pupr]["breached_open"]) == (5, 5, 1)
            assert (rows[dlh]["transfers_out"], rows[dlh]["misrouted_seconds"]) == (1, 86400)
            assert compliance["total"]["on_time_pct"] == round(100 * 7 / 9, 1)
            before = [
                stable(await get(client, f"{path}?pemda={pemda}", supervisor_))
                for path in ("compliance", "breaches", "escalations", "satisfaction", "trend")
            ]

            # Redeliver everything, plus two poison messages: nothing changes, both are dead-lettered.
            # This run's own: the earlier day-runs' poison on the shared topic is dead-lettered too.
            poison = json.dumps({"not": "an envelope", "run": pemda}).encode()
            bad = new_event(
                ComplaintAssigned(
                    opd_id="99.99/tidak-ada", pemda="99.99", category="x", level="kabkota", rule="r"
                ),
                producer="routing",
                complaint_id=f"{db_prefix}BAD",
                seq=1,
            )
            await publish(
                producer,
                [
                    *messages,
                    Outgoing(COMPLAINTS_EVENTS, "x", poison),
                    Outgoing.of(COMPLAINTS_EVENTS, "x", bad),
                ],
            )
            dead = await _dead_letters(
                endpoints.kafka_bootstrap, group, lambda v: v == poison or bad.event_id.encode() in v, 2
            )
            assert {h["dlq.reason"].decode()[:9] for h in dead} >= {"envelope "}
            assert any(b"99.99" in h["dlq.reason"] for h in dead)
            ends = await ends_now(endpoints.kafka_bootstrap, *spec.topics)
            await eventually(
                lambda: committed_through(endpoints.kafka_bootstrap, group, ends),
                within=60,
                what="the group to catch up",
            )
            after = [
                stable(await get(client, f"{path}?pemda={pemda}", supervisor_))
                for path in ("compliance", "breaches", "escalations", "satisfaction", "trend")
            ]
            assert after == before, differences(before, after)
    finally:
        await producer.stop()


# --- through the store (no broker): scope, paging, filters, exports --------------------------------


@pytest.fixture
async def seeded(
    day: datetime,
    db: AsyncDatabase[dict[str, Any]],
) -> AsyncIterator[TestClient[Any, Any]]:
    stories = fixed_stories(SAMARINDA, day) + fixed_stories(BALIKPAPAN, day, prefix="B")
    stories += random_stories(SAMARINDA, day, 150, seed=3)
    await seed_store(db, events_of(stories))
    app = reports_app(MongoReportStore(db))
    reports_state(app).now = lambda: day
    async with TestClient(TestServer(app)) as client:
        yield client


LISTS = ("compliance", "breaches", "escalations", "satisfaction", "trend")


async def test_who_may_read_what(seeded: TestClient[Any, Any]) -> None:
    client = seeded
    for path in LISTS:
        await get(client, f"{path}?pemda={SAMARINDA}", {}, status=401)
        await get(client, f"{path}?pemda={SAMARINDA}", bearer("handler", opd=PUPR), status=403)
        await get(client, f"{path}?pemda={SAMARINDA}", bearer("supervisor", pemda=BALIKPAPAN), status=403)
        await get(client, f"{path}?pemda={SAMARINDA}", bearer("coordinator", pemda="64"), status=403)
        await get(client, f"{path}?pemda={SAMARINDA}", bearer("coordinator", pemda=SAMARINDA))
        await get(client, f"{path}?pemda={SAMARINDA}", ADMIN)
        own = await get(client, path, SUPERVISOR)  # the token's pemda by default
        assert own["pemda"] == SAMARINDA
        dlh_only = bearer("supervisor", opd=DLH)
        await get(client, f"{path}?opd={PUPR}", dlh_only, status=403)
        await get(client, f"{path}?pemda={BALIKPAPAN}", dlh_only, status=403)
        scoped = await get(client, path, dlh_only)
        assert scoped["opd"] == DLH
        if path in ("compliance", "breaches", "escalations", "satisfaction"):
            key = "scope" if path in ("compliance", "satisfaction") else "opd_id"
            assert {row[key] for row in scoped["items"]} <= {DLH}
    compliance = await get(client, f"compliance?pemda={SAMARINDA}", SUPERVISOR)
    assert {PUPR, DLH, DUKCAPIL} <= set(by_scope(compliance))
    assert all(row["pemda"] == SAMARINDA for row in compliance["items"])
    assert list(by_scope(await get(client, "compliance", bearer("supervisor", opd=DLH)))) == [DLH]
    national = by_scope(await get(client, "compliance", ADMIN))
    assert {SAMARINDA, BALIKPAPAN} <= set(national)
    assert national[BALIKPAPAN]["on_time_pct"] == round(100 * 7 / 9, 1)


async def test_one_complaint_shows_its_clocks_to_those_it_concerns(seeded: TestClient[Any, Any]) -> None:
    client = seeded
    await get(client, "complaints/TIDAK-ADA/clocks", SUPERVISOR, status=404)
    transferred = await get(client, "complaints/K005/clocks", SUPERVISOR)
    assert [h["opd_id"] for h in transferred["holdings"]] == [DLH, PUPR]
    assert transferred["holdings"][0]["working_seconds"] == 86400 and transferred["transfers"] == 1
    assert {(c["clock"], c["state"]) for c in transferred["clocks"]} >= {("response", "transferred")}
    assert transferred["opd_id"] == PUPR and transferred["misrouted_seconds"] == 86400
    dlh_view = await get(client, "complaints/K005/clocks", bearer("supervisor", opd=DLH))
    assert {c["opd_id"] for c in dlh_view["clocks"]} == {DLH} and len(dlh_view["holdings"]) == 1
    await get(client, "complaints/K003/clocks", bearer("supervisor", opd=DLH), status=403)
    await get(client, "complaints/K003/clocks", bearer("supervisor", pemda=BALIKPAPAN), status=403)
    await get(client, "complaints/K003/clocks", bearer("handler", opd=PUPR), status=403)
    late = await get(client, "complaints/K003/clocks", bearer("supervisor", opd=PUPR))
    response = next(c for c in late["clocks"] if c["clock"] == "response")
    assert [h["type"] for h in response["history"]] == ["ClockStarted", "SlaBreached"]
    assert late["escalation_level"] == 1 and response["due_at"].endswith("+08:00")  # WITA


async def test_breaches_come_latest_first_and_page_without_gaps(seeded: TestClient[Any, Any]) -> None:
    client = seeded
    everything = (await get(client, f"breaches?pemda={SAMARINDA}&limit=200", SUPERVISOR))["items"]
    lateness = [b["late_seconds"] for b in everything]
    assert len(everything) > 10 and lateness == sorted(lateness, reverse=True)
    assert {b["open"] for b in everything} == {True, False}
    paged: list[Json] = []
    cursor = ""
    while True:
        page = await get(client, f"breaches?pemda={SAMARINDA}&limit=7{cursor}", SUPERVISOR)
        paged += page["items"]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert [b["clock_id"] for b in paged] == [b["clock_id"] for b in everything]
    resolution = (await get(client, f"breaches?pemda={SAMARINDA}&clock=resolution&limit=200", SUPERVISOR))[
        "items"
    ]
    assert resolution and {b["clock"] for b in resolution} == {"resolution"}
    only_dlh = (await get(client, f"breaches?opd={DLH}&limit=200", SUPERVISOR))["items"]
    assert {b["opd_id"] for b in only_dlh} == {DLH}
    day = everything[0]["due_at"][:10]
    that_day = (await get(client, f"breaches?pemda={SAMARINDA}&from={day}&to={day}&limit=200", SUPERVISOR))[
        "items"
    ]
    assert that_day and {b["due_at"][:10] for b in that_day} == {day}


async def test_escalations_and_satisfaction(seeded: TestClient[Any, Any]) -> None:
    client = seeded
    escalations = (await get(client, f"escalations?pemda={SAMARINDA}&limit=200", SUPERVISOR))["items"]
    assert "K003" in {e["complaint_id"] for e in escalations}
    assert all(e["level"] >= 1 and e["level_label"] for e in escalations)
    order = [(-e["level"], e["raised_at"]) for e in escalations]
    assert order == sorted(order)
    satisfaction = await get(
        client, f"satisfaction?pemda={BALIKPAPAN}", bearer("supervisor", pemda=BALIKPAPAN)
    )
    rows = by_scope(satisfaction)
    assert rows[f"{BALIKPAPAN}/disdukcapil"]["average"] == 4.5
    assert rows[f"{BALIKPAPAN}/disdukcapil"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    trend = await get(client, f"trend?pemda={BALIKPAPAN}", bearer("supervisor", pemda=BALIKPAPAN))
    assert len(trend["items"]) == 12
    assert sum(w["met"] for w in trend["items"]) == 7 and sum(w["breached"] for w in trend["items"]) == 2


async def test_every_list_exports_csv_with_indonesian_labels(seeded: TestClient[Any, Any]) -> None:
    client = seeded
    for path, first_label in (
        ("compliance", "OPD/Pemda"),
        ("breaches", "ID pengaduan"),
        ("escalations", "ID pengaduan"),
        ("satisfaction", "OPD/Pemda"),
        ("trend", "Minggu"),
    ):
        as_json = await get(client, f"{path}?pemda={BALIKPAPAN}", ADMIN)
        for query, headers in (("&format=csv", ADMIN), ("", {**ADMIN, "Accept": "text/csv"})):
            async with client.get(
                f"/api/v1/supervisor/{path}?pemda={BALIKPAPAN}{query}", headers=headers
            ) as resp:
                assert resp.status == 200 and resp.content_type == "text/csv"
                rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
            assert rows[0][0] == first_label
            assert len(rows) - 1 == len(as_json["items"])


async def test_bad_parameters_are_named(seeded: TestClient[Any, Any]) -> None:
    client = seeded
    for query, field in (
        ("compliance?pemda=xx", "pemda"),
        ("compliance?pemda=33.74.01", "pemda"),
        ("compliance?opd=dinas-pupr", "opd"),
        (f"compliance?pemda={SAMARINDA}&opd=64.71/dlh", "opd"),
        ("compliance?from=2026-13-01", "from"),
        ("compliance?from=2026-03-10&to=2026-03-01", "to"),
        ("compliance?from=2020-01-01&to=2026-01-01", "from"),
        ("breaches?limit=0", "limit"),
        ("breaches?limit=abc", "limit"),
        ("breaches?cursor=bm9wZQ", "cursor"),
        ("breaches?clock=tenggat", "clock"),
        ("escalations?cursor=%%%", "cursor"),
        ("satisfaction?format=xml", "format"),
    ):
        problem = await get(client, query, SUPERVISOR, status=422)
        assert [e["field"] for e in problem["errors"]] == [field], query


# --- the store's write contract --------------------------------------------------------------------


async def _counters(db: AsyncDatabase[dict[str, Any]]) -> tuple[list[Json], list[Json]]:
    weekly = await db[WEEKLY].find().sort("_id").to_list()
    gauges = await db[GAUGES].find().sort("_id").to_list()
    return weekly, gauges


async def test_the_store_applies_a_batch_once(day: datetime, db: AsyncDatabase[dict[str, Any]]) -> None:
    events = events_of(random_stories(SAMARINDA, day, 60, seed=11))
    await seed_store(db, events, batch=97)
    once = await _counters(db)
    await seed_store(db, events[::-1], batch=500)
    await seed_store(db, events[100:300], batch=13)
    assert await _counters(db) == once
    assert sum(d.get("assigned", 0) for d in once[0] if d["level"] == "opd") >= 60


async def test_a_concurrent_writer_makes_the_commit_fail_and_leaves_nothing_half_done(
    day: datetime,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    await ensure_report_indexes(db)
    [story] = [s for s in fixed_stories(SAMARINDA, day) if s.complaint_id == "K000"]
    received, assigned = story.events[0], story.events[1]
    store = MongoReportStore(db)
    await handle_report_events([received], store)
    complaints, _ = await store.load(["K000"], [])
    await handle_report_events([assigned], store)  # another writer got there first
    counters = await _counters(db)
    stale = complaints["K000"]
    stale.last_seq = 9
    with pytest.raises(ConcurrentUpdate):
        await store.commit(ReportChanges(complaints=[stale], deltas=Counter({"g|64.72/x|open": 1})))
    assert await _counters(db) == counters  # the counter increment was rolled back with it


async def test_the_period_picks_the_weeks_while_open_figures_stay_current(
    day: datetime,
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    stories = fixed_stories(SAMARINDA, day - timedelta(days=90))  # older than the default 12 weeks
    await seed_store(db, events_of(stories))
    app = reports_app(MongoReportStore(db))
    reports_state(app).now = lambda: day
    async with TestClient(TestServer(app)) as client:
        recent = await get(client, f"compliance?pemda={SAMARINDA}", SUPERVISOR)
        assert all(row["met"] == 0 and row["breached"] == 0 for row in recent["items"])
        assert by_scope(recent)[PUPR]["open"] == 5  # what is open is open, whatever the period
        start = (day - timedelta(days=120)).date().isoformat()
        older = await get(client, f"compliance?pemda={SAMARINDA}&from={start}", SUPERVISOR)
        assert by_scope(older)[PUPR]["on_time_pct"] == 75.0


async def test_retracted_breaches_and_ended_escalations_leave_the_stored_lists(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    """The MongoDB store removes a breach (or escalation) entry when it no longer holds."""
    from tests.unit.test_reports import PUPR, WIB_MON, Complaint, day

    await ensure_report_indexes(db)
    store = MongoReportStore(db)
    k, calm = Complaint("RB1"), Complaint("RB2")
    due = day(7)
    raised = new_event(
        EscalationRaised(level=1, opd_id=PUPR, reason="respons terlambat", at=day(8)),
        producer="sla",
        complaint_id="RB1",
        seq=2,
        occurred_at=day(8),
    )
    first = [
        k.received(),
        k.assigned(PUPR, WIB_MON),
        k.clock(ClockStarted, "resolution", PUPR, WIB_MON, WIB_MON, "running"),
        k.clock(SlaBreached, "resolution", PUPR, WIB_MON, due, "breached"),
        raised,
        calm.received(),
        calm.assigned(PUPR, WIB_MON),
        calm.clock(ClockStarted, "resolution", PUPR, WIB_MON, WIB_MON, "running"),
    ]
    assert await handle_report_events(first, store) == []
    assert [d["_id"] async for d in db["report_breaches"].find({})] == ["RB1/resolution/1"]
    assert [d["_id"] async for d in db["report_escalations"].find({})] == ["RB1"]

    second = [
        k.clock(
            BreachRetracted, "resolution", PUPR, WIB_MON, due, "running", hk=6, reason="kalender berubah"
        ),
        k.resolved(PUPR, day(9)),
        calm.clock(ClockStopped, "resolution", PUPR, WIB_MON, day(3), "met"),
        calm.resolved(PUPR, day(3)),
    ]
    assert await handle_report_events(second, store) == []
    assert await db["report_breaches"].count_documents({}) == 0
    assert await db["report_escalations"].count_documents({}) == 0


async def test_csv_cells_that_look_like_formulas_are_exported_as_text(
    seeded: TestClient[Any, Any], db: AsyncDatabase[dict[str, Any]]
) -> None:
    """A spreadsheet opening the export must not run a cell (CSV injection): text starting with
    `=`, `+`, `-` or `@` gets a leading `'`; the JSON answer keeps the text as it is."""
    formulas = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"]
    escalated = await db["report_escalations"].find_one({"pemda": SAMARINDA})
    assert escalated is not None
    await db["report_escalations"].insert_many(
        [{**escalated, "_id": f"{escalated['_id']}-{n}", "reason": f} for n, f in enumerate(formulas)]
    )
    as_json = await get(seeded, f"escalations?pemda={SAMARINDA}", ADMIN)
    assert set(formulas) <= {row["reason"] for row in as_json["items"]}
    async with seeded.get(
        f"/api/v1/supervisor/escalations?pemda={SAMARINDA}&format=csv", headers=ADMIN
    ) as resp:
        rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    reasons = {row[rows[0].index("Alasan")] for row in rows[1:]}
    assert {"'" + f for f in formulas} <= reasons
    assert not any(r.startswith(("=", "+", "-", "@")) for r in reasons)


async def test_the_dashboard_page_runs_no_inline_script_and_sends_its_policy(
    seeded: TestClient[Any, Any],
) -> None:
    for path in ("/dashboard/", "/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css"):
        async with seeded.get(path) as resp:
            assert resp.status == 200, path
            policy = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
            assert "frame-ancestors 'none'" in policy, path
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
            assert resp.headers["Referrer-Policy"] == "no-referrer", path
    async with seeded.get("/dashboard/") as resp:
        page = await resp.text()
    assert re.findall(r"<script[^>]*>", page) == ['<script src="static/dashboard.js">']
    assert "<style" not in page and not re.search(r"\son[a-z]+\s*=", page)  # no inline handlers either
    # The script reads nothing from the address (a token there would stay in history, logs and
    # Referer); it only names the page itself as where the sign-in sends the person back.
    async with seeded.get("/dashboard/static/dashboard.js") as resp:
        text = await resp.text()
    assert "location.hash" not in text and "location.search" not in text
    assert set(re.findall(r"location\.\w+", text)) == {"location.href"}
