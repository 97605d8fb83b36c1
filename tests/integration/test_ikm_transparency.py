"""The SKM survey and the public transparency page on the real servers (Kafka and the database
the fixtures start, the three apps): submit → resolve → rate → survey → the IKM in the supervisor
API and its CSV; the public page's JSON, CSV and HTML against counters seeded in the database; a
redelivered event changes no counter; a confidential complaint is only ever a count."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from devtools.infra import Endpoints
from services.routing.entrypoints.edge import ROUTING
from services.routing.handlers import handle_commands
from services.sla.entrypoints.openapi.public import IkmAnswer, TransparencyAnswer
from services.sla.entrypoints.transparency import PUBLIC_CACHE
from shared.auth import mint
from shared.envelope import Envelope, new_event
from shared.events import ReopenComplaint, SurveySubmitted
from shared.survey import CURRENT
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_EVENTS
from tests.service_apps import Apps, Seeded, running_apps, seed_complaint
from tests.topics import messages_for
from tests.waiting import eventually

# A pemda no other test uses: the public counters of a fresh sla read every complaint the suite
# published, and this test counts its pemda's exactly.
OPD = "63.72/dinas-pupr"
PEMDA = "63.72"
SECRET_TITLE = "Rahasia: pungutan liar di loket perizinan"
SECRET_TEXT = "Petugas loket meminta uang tambahan tanpa kuitansi; saya takut dilaporkan balik."
ANSWERS = dict(zip(CURRENT.codes, [4, 3, 4, 4, 3, 4, 4, 3, 4], strict=True))  # IKM 91.67 (A)
ADMIN = {"Authorization": f"Bearer {mint('admin')}"}
SUPERVISOR = {"Authorization": f"Bearer {mint('supervisor', pemda=PEMDA, sub='ikm-supervisor')}"}


def reporter(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class World:
    apps: Apps
    bootstrap: str
    done: Seeded  # resolved, rated and surveyed
    secret: Seeded  # confidential, still open


async def run_commands(world_apps: Apps, bootstrap: str, complaint_id: str, seen: set[str]) -> None:
    """Routing's command consumer step for this complaint's commands not yet handled here."""

    async def new_commands() -> list[Envelope]:
        found = await messages_for(bootstrap, COMPLAINTS_COMMANDS, complaint_id)
        return [c for c in found if c.event_id not in seen]

    commands = await eventually(new_commands, what=f"a command of {complaint_id}")
    seen.update(c.event_id for c in commands)
    assert await handle_commands(commands, world_apps.routing.server.app[ROUTING]) == []


async def intake_status(apps: Apps, seeded: Seeded) -> dict[str, Any]:
    r = await apps.intake.get(f"/api/v1/complaints/{seeded.id}", headers=reporter(seeded.access_token))
    assert r.status == 200
    body: dict[str, Any] = await r.json()
    return body


@pytest.fixture(scope="module")
async def world(endpoints: Endpoints) -> AsyncIterator[World]:
    async with running_apps(endpoints) as apps:
        bootstrap = endpoints.kafka_bootstrap
        done = await seed_complaint(apps, bootstrap, category="jalan-jembatan", region_code="63.72.02.1003")
        secret = await seed_complaint(
            apps,
            bootstrap,
            category="jalan-jembatan",
            region_code="63.72.02.1003",
            title=SECRET_TITLE,
            description=SECRET_TEXT,
            confidential=True,
        )
        assert done.opd_id == OPD == secret.opd_id
        # Before the OPD resolved it, the survey is refused at once.
        early = await apps.intake.post(
            f"/api/v1/complaints/{done.id}/survey",
            json={"version": CURRENT.version, "answers": ANSWERS},
            headers=reporter(done.access_token),
        )
        assert early.status == 409, await early.text()
        handler = {"Authorization": f"Bearer {mint('handler', opd=OPD, sub='ikm-handler')}"}
        resolved = await apps.routing.post(
            f"/api/v1/staff/complaints/{done.id}/resolve",
            json={"answer": "Jalan sudah ditambal."},
            headers=handler,
        )
        assert resolved.status < 300, await resolved.text()

        async def status_is(wanted: str) -> bool:
            return (await intake_status(apps, done))["status"] == wanted

        await eventually(lambda: status_is("resolved"), what="resolved in intake")
        seen: set[str] = set()
        rated = await apps.intake.post(
            f"/api/v1/complaints/{done.id}/feedback", json={"rating": 5}, headers=reporter(done.access_token)
        )
        assert rated.status == 202, await rated.text()
        await run_commands(apps, bootstrap, done.id, seen)
        await eventually(lambda: status_is("closed"), what="closed in intake")
        survey = await apps.intake.post(
            f"/api/v1/complaints/{done.id}/survey",
            json={"version": CURRENT.version, "answers": ANSWERS},
            headers=reporter(done.access_token),
        )
        assert survey.status == 202, await survey.text()
        await run_commands(apps, bootstrap, done.id, seen)
        yield World(apps, bootstrap, done, secret)


async def ikm_of(world: World, query: str = f"opd={OPD}") -> dict[str, Any]:
    r = await world.apps.sla.get(f"/api/v1/supervisor/ikm?{query}", headers=SUPERVISOR)
    assert r.status == 200, await r.text()
    body: dict[str, Any] = await r.json()
    return body


async def test_the_survey_reaches_the_ikm_of_the_resolving_opd_in_the_api_and_its_csv(world: World) -> None:
    async def answered() -> dict[str, Any] | None:
        body = await ikm_of(world)
        return body if body["total"]["respondents"] == 1 else None

    body = await eventually(answered, within=60, what="the survey in the IKM")
    IkmAnswer.model_validate(body)
    (row,) = body["items"]
    assert row["scope"] == OPD and row["questionnaire"] == CURRENT.version
    # (3.5+… per element = the answers themselves) Σ 33 / 9 × 25 = 91.666… → 91.67, grade A.
    assert (row["ikm"], row["grade"], row["label"]) == (91.67, "A", "Sangat baik")
    assert row["elements"] == {k: float(v) for k, v in ANSWERS.items()}
    r = await world.apps.sla.get(f"/api/v1/supervisor/ikm?opd={OPD}&format=csv", headers=SUPERVISOR)
    rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert [(x["OPD/Pemda"], x["Jumlah responden"], x["IKM"], x["Mutu pelayanan"]) for x in rows] == [
        (OPD, "1", "91.67", "A")
    ]
    # The 1–5 rating is reported apart, under its own name.
    sat = await world.apps.sla.get(f"/api/v1/supervisor/satisfaction?opd={OPD}", headers=SUPERVISOR)
    assert (await sat.json())["total"]["ratings"] == 1


async def test_a_second_survey_or_a_wrong_one_is_refused_with_the_reason(world: World) -> None:
    async def surveyed() -> bool:
        timeline = (await intake_status(world.apps, world.done)).get("timeline", [])
        return any(t["type"] == "SurveySubmitted" for t in timeline)

    await eventually(surveyed, what="the survey in the reporter's timeline")
    url = f"/api/v1/complaints/{world.done.id}/survey"
    token = reporter(world.done.access_token)
    again = await world.apps.intake.post(
        url, json={"version": CURRENT.version, "answers": ANSWERS}, headers=token
    )
    assert again.status == 409 and "sudah diisi" in (await again.json())["detail"]
    wrong = await world.apps.intake.post(
        url, json={"version": CURRENT.version, "answers": {**ANSWERS, "u3": 5}}, headers=token
    )
    assert wrong.status == 422
    assert [e["field"] for e in (await wrong.json())["errors"]] == ["answers.u3"]
    # The public never sees that a survey was answered (the reporter's own timeline does).
    public = await world.apps.intake.get(f"/api/v1/complaints/{world.done.id}")
    assert all(t["type"] != "SurveySubmitted" for t in (await public.json())["timeline"])


async def test_a_redelivered_survey_event_changes_no_counter(world: World) -> None:
    await test_the_survey_reaches_the_ikm_of_the_resolving_opd_in_the_api_and_its_csv(world)
    db = world.apps.sla_db
    # This module's pemda and OPD only: the group is still reading other tests' events for others.
    mine = {"scope": {"$in": [PEMDA, OPD]}}
    before = await db["report_monthly"].find(mine).sort("_id").to_list()
    events = await messages_for(world.bootstrap, COMPLAINTS_EVENTS, world.done.id)
    (survey,) = [e for e in events if isinstance(e.payload, SurveySubmitted)]
    producer = AIOKafkaProducer(bootstrap_servers=world.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(COMPLAINTS_EVENTS, survey.to_bytes(), key=world.done.id.encode())
    finally:
        await producer.stop()
    # Something after it on the same partition (same key): a command routing refuses, whose
    # `CommandRejected` takes the next seq. Once sla's reports have it, the copy was read before.
    refused = new_event(
        ReopenComplaint(reason="uji kirim ulang"), producer="intake", complaint_id=world.done.id
    )
    assert await handle_commands([refused], world.apps.routing.server.app[ROUTING]) == []
    last = max(e.seq or 0 for e in events) + 1

    async def caught_up() -> bool:
        doc = await db["report_complaints"].find_one({"_id": world.done.id})
        return bool(doc and doc["last_seq"] >= last)

    await eventually(caught_up, within=60, what="the reports past the redelivered event")
    assert await db["report_monthly"].find(mine).sort("_id").to_list() == before


# --- the public page ------------------------------------------------------------------------------

SEEDED_PEMDA = "33.71"  # Kota Magelang: counters written straight into the database
MONTHS = ("2025-11", "2025-12")


def _doc(scope: str, month: str, **counts: Any) -> dict[str, Any]:
    level = "opd" if "/" in scope else "pemda"
    return {
        "_id": f"{scope}|{month}",
        "level": level,
        "scope": scope,
        "pemda": SEEDED_PEMDA,
        "month": month,
        **counts,
    }


def _seeded_docs() -> list[dict[str, Any]]:
    ikm = {CURRENT.version: {"n": 2, **dict.fromkeys(CURRENT.codes, 7)}}  # averages 3.5 → IKM 87.50 (B)
    return [
        _doc(SEEDED_PEMDA, "2025-11", received=10, open=2, overdue=1, answered=8, answered_on_time=6,
             rt_hk={"0": 2, "1": 4, "3": 2}, ikm=ikm),
        _doc(SEEDED_PEMDA, "2025-12", received=4, open=4, overdue=0, answered=0, answered_on_time=0),
        _doc(f"{SEEDED_PEMDA}/dlh", "2025-11", received=3, answered=3, answered_on_time=3, rt_hk={"0": 3}),
    ]  # fmt: skip


async def test_the_public_page_json_csv_and_html_show_the_seeded_counters(world: World) -> None:
    await world.apps.sla_db["report_monthly"].insert_many(_seeded_docs())
    query = f"pemda={SEEDED_PEMDA}&from={MONTHS[0]}&to={MONTHS[1]}"
    r = await world.apps.sla.get(f"/api/v1/public/transparency?{query}")
    assert r.status == 200, await r.text()
    body = await r.json()
    TransparencyAnswer.model_validate(body)
    rows = {(i["scope"], i["month"]): i for i in body["items"]}
    nov = rows[(SEEDED_PEMDA, "2025-11")]
    # median of [0,0,1,1,1,1,3,3]: rank 4 falls in bucket 1 (after 2), (4−2)/4 into it → 1.5 HK
    assert (nov["received"], nov["answered_on_time_pct"], nov["median_response_hk"]) == (10, 75.0, 1.5)
    assert (nov["open"], nov["overdue"], nov["ikm"], nov["ikm_grade"]) == (2, 1, 87.5, "B")
    dec = rows[(SEEDED_PEMDA, "2025-12")]
    assert (dec["received"], dec["answered_on_time_pct"], dec["median_response_hk"], dec["ikm"]) == (
        4, None, None, None
    )  # fmt: skip
    assert rows[(f"{SEEDED_PEMDA}/dlh", "2025-12")]["received"] == 0  # every month, zeros included
    totals = {t["scope"]: t for t in body["totals"]}
    assert (totals[SEEDED_PEMDA]["received"], totals[SEEDED_PEMDA]["open"]) == (14, 6)
    # CSV: the same rows.
    r = await world.apps.sla.get(f"/api/v1/public/transparency?{query}&format=csv")
    table = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert len(table) == len(body["items"]) == 4
    (nov_csv,) = [t for t in table if t["Kode"] == SEEDED_PEMDA and t["Bulan"] == "2025-11"]
    assert (nov_csv["Pengaduan diterima"], nov_csv["Persen sesuai standar"], nov_csv["IKM"]) == (
        "10",
        "75.0",
        "87.5",
    )
    # HTML: the period's summary, the chart, no script anywhere, the policy forbids any.
    r = await world.apps.sla.get(f"/transparansi?{query}")
    html = await r.text()
    assert r.status == 200 and "script-src" not in r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in r.headers["Content-Security-Policy"] and "<script" not in html
    assert re.search(r'id="sum-received">14<', html) and re.search(r'id="sum-open">6<', html)
    assert re.search(r'id="sum-ikm">87.50 \(B\)<', html) and "<svg" in html and html.count('class="bar"') == 2
    css = await world.apps.sla.get("/transparansi/transparansi.css")
    assert css.status == 200 and "text/css" in css.headers["Content-Type"]


async def test_every_pemda_is_a_row_and_the_page_sums_them_month_by_month(world: World) -> None:
    # Months nobody else writes: the national view of them is these two pemdas alone.
    months = ("2024-01", "2024-02")
    ikm = {CURRENT.version: {"n": 1, **dict.fromkeys(CURRENT.codes, 4)}}  # IKM 100.00 (A)
    docs = [
        _doc("33.72", "2024-01", received=5, open=1, answered=4, answered_on_time=4, rt_hk={"0": 4}),
        _doc("33.72", "2024-02", received=2, answered=2, answered_on_time=1, rt_hk={"2": 2}, ikm=ikm),
        _doc("33.73", "2024-01", received=7, overdue=2, answered=2, answered_on_time=0, rt_hk={"4": 2}),
        _doc("33.73/dlh", "2024-01", received=7),  # an OPD row: not in the every-pemda view
    ]  # fmt: skip
    await world.apps.sla_db["report_monthly"].insert_many([{**d, "pemda": d["scope"][:5]} for d in docs])
    query = f"from={months[0]}&to={months[1]}"
    body = await (await world.apps.sla.get(f"/api/v1/public/transparency?{query}")).json()
    TransparencyAnswer.model_validate(body)
    totals = {t["scope"]: t for t in body["totals"]}
    assert set(totals) == {"33.72", "33.73"} and {i["level"] for i in body["items"]} == {"pemda"}
    assert (totals["33.72"]["received"], totals["33.72"]["answered_on_time_pct"]) == (7, 83.3)
    # 33.72's answers took 0,0,0,0,2,2 working days: rank 3 falls 3/4 into bucket 0
    assert (totals["33.72"]["median_response_hk"], totals["33.72"]["ikm"]) == (0.8, 100.0)
    assert (totals["33.73"]["overdue"], totals["33.73"]["median_response_hk"]) == (2, 4.5)
    # The page's summary and chart add every pemda up, month by month: January 5 + 7, February 2.
    html = await (await world.apps.sla.get(f"/transparansi?{query}")).text()
    assert re.search(r'id="sum-received">14<', html) and re.search(r'id="sum-overdue">2<', html)
    assert "<title>2024-01: 12 diterima</title>" in html and "<title>2024-02: 2 diterima</title>" in html
    # answers 0,0,0,0,2,2,4,4: rank 4 is the last of bucket 0 → 1.0 HK
    assert re.search(r'id="sum-median">1.0 hari kerja<', html)
    assert re.search(r'id="sum-on-time">62.5 %<', html)  # 5 of 8 answers within the standard


async def test_answers_are_cached_with_an_etag(world: World) -> None:
    query = f"/api/v1/public/transparency?pemda={PEMDA}&from=2020-01&to=2020-02"
    cache = world.apps.sla.server.app[PUBLIC_CACHE]
    first = await world.apps.sla.get(query)
    reads = cache.reads
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = await world.apps.sla.get(query)
    assert again.headers["ETag"] == etag and cache.reads == reads  # from the process's cache
    unchanged = await world.apps.sla.get(query, headers={"If-None-Match": etag})
    assert unchanged.status == 304 and await unchanged.read() == b""
    bad = await world.apps.sla.get("/api/v1/public/transparency?from=2026-13")
    assert bad.status == 422 and (await bad.json())["errors"][0]["field"] == "from"


async def test_a_burst_of_cold_requests_reads_the_counters_once(world: World) -> None:
    query = f"/api/v1/public/transparency?pemda={PEMDA}&from=2020-03&to=2020-04"
    cache = world.apps.sla.server.app[PUBLIC_CACHE]
    cache.entries.clear()
    reads = cache.reads
    answers = await asyncio.gather(*(world.apps.sla.get(query) for _ in range(8)))
    assert [r.status for r in answers] == [200] * 8
    assert len({r.headers["ETag"] for r in answers}) == 1
    assert cache.reads == reads + 1 and cache.making == {}


async def test_a_confidential_complaint_is_only_a_count(world: World) -> None:
    query = f"pemda={PEMDA}"

    async def both_counted() -> dict[str, Any] | None:
        world.apps.sla.server.app[PUBLIC_CACHE].entries.clear()
        r = await world.apps.sla.get(f"/api/v1/public/transparency?{query}")
        body: dict[str, Any] = await r.json()
        totals = {t["scope"]: t for t in body["totals"]}
        return body if totals.get(PEMDA, {}).get("received") == 2 else None

    body = await eventually(both_counted, within=60, what="both complaints counted")
    assert {t["scope"]: t["open"] for t in body["totals"]} == {PEMDA: 1, OPD: 1}
    answers = [str(body)]
    for path in (f"/api/v1/public/transparency?{query}&format=csv", f"/transparansi?{query}"):
        answers.append((await (await world.apps.sla.get(path)).read()).decode("utf-8-sig"))
    for text in answers:
        for secret in (world.secret.id, SECRET_TITLE, SECRET_TEXT, "Uji", world.done.id):
            assert secret not in text
