"""Misrouting figures for supervisors (issue 22 item 4) on the real database: lifecycle events
folded by the reports' handler (the `sla-reports` consumer's code path) into the Mongo counters,
read through the supervisor API — transfers out of and into each OPD, the working time lost at the
OPD that transferred away, and the classifier's accuracy per month from coordinators' corrections;
a redelivered batch changes nothing; the classifier figure is a pemda's, not one OPD's."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devtools.infra import Endpoints
from devtools.seed_reports import Story, events_of, fixed_stories, reports_app, seed_store, working_morning
from services.sla.adapters.report_store import MongoReportStore
from services.sla.domain.reports import month_of
from services.sla.entrypoints.edge import reports_state
from shared.auth import mint
from shared.mongo import mongo_client

pytestmark = pytest.mark.integration

PEMDA = "64.72"
PUPR, DLH, DUKCAPIL = (f"{PEMDA}/{slug}" for slug in ("dinas-pupr", "dlh", "disdukcapil"))
SUPERVISOR = {"Authorization": f"Bearer {mint('supervisor', pemda=PEMDA)}"}
COORDINATOR = {"Authorization": f"Bearer {mint('coordinator', pemda=PEMDA)}"}


@pytest.fixture
async def db(endpoints: Endpoints, db_prefix: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = mongo_client(endpoints.mongo_uri)
    yield client[f"{db_prefix}sla"]
    await client.drop_database(f"{db_prefix}sla")
    await client.close()


def classifier_stories(now: datetime) -> tuple[list[Story], datetime]:
    """Five uncategorised or chosen-category complaints of one morning, with known outcomes:
    - the classifier was sure (kesehatan) and routed it: classified, not reviewed;
    - unsure (kesehatan), and the coordinator disposed it as kesehatan: reviewed, right;
    - unsure (air-minum), the coordinator corrected it to jalan-jembatan in triage, then disposed:
      reviewed, corrected;
    - nothing routable (lainnya), the coordinator disposed it as bantuan-sosial: corrected;
    - the reporter chose the category: the classifier did not run, not counted.
    → 4 classified, 1 routed without a coordinator, 3 reviewed, 2 corrected: 50 % accuracy."""
    at = working_morning(PEMDA, now - timedelta(days=21))
    later = at + timedelta(hours=2)
    sure = Story("C-sure", PEMDA).received(at)
    sure.assigned(f"{PEMDA}/dinas-kesehatan", at, category="kesehatan", guess="kesehatan", confidence=0.93)
    right = Story("C-right", PEMDA).received(at).triaged(at, "kesehatan", 0.41)
    right.assigned(f"{PEMDA}/dinas-kesehatan", later, "disposition", category="kesehatan")
    wrong = (
        Story("C-wrong", PEMDA).received(at).triaged(at, "air-minum", 0.38).updated("jalan-jembatan", later)
    )
    wrong.assigned(PUPR, later, "disposition", category="jalan-jembatan")
    none = Story("C-none", PEMDA).received(at).triaged(at, "lainnya", 0.2)
    none.assigned(f"{PEMDA}/dinas-sosial", later, "disposition", category="bantuan-sosial")
    chosen = Story("C-chosen", PEMDA).received(at).assigned(PUPR, at)
    return [sure, right, wrong, none, chosen], at


@pytest.fixture
async def client(
    one_day: datetime, db: AsyncDatabase[dict[str, Any]]
) -> AsyncIterator[tuple[TestClient[Any, Any], datetime]]:
    stories, classified_at = classifier_stories(one_day)
    events = events_of(fixed_stories(PEMDA, one_day) + stories)
    await seed_store(db, events)
    await seed_store(db, events)  # a redelivery of every event: counted once
    app = reports_app(MongoReportStore(db))
    reports_state(app).now = lambda: one_day
    async with TestClient(TestServer(app)) as http:
        yield http, classified_at


async def get(http: TestClient[Any, Any], path: str, headers: dict[str, str], status: int = 200) -> Any:
    async with http.get(f"/api/v1/supervisor/{path}", headers=headers) as resp:
        assert resp.status == status, await resp.text()
        return await resp.json() if resp.content_type == "application/json" else await resp.text()


async def test_transfers_per_opd_and_the_time_lost(client: tuple[TestClient[Any, Any], datetime]) -> None:
    http, _ = client
    answer = await get(http, f"misrouting?pemda={PEMDA}", SUPERVISOR)
    rows = {row["scope"]: row for row in answer["items"]}
    # DLH held one complaint for one working day and transferred it to PUPR.
    assert (rows[DLH]["transfers_out"], rows[DLH]["transfers_in"]) == (1, 0)
    assert (rows[DLH]["lost_seconds"], rows[DLH]["lost_hk"], rows[DLH]["lost_hk_per_transfer"]) == (
        86400,
        1.0,
        1.0,
    )
    assert (rows[PUPR]["transfers_out"], rows[PUPR]["transfers_in"], rows[PUPR]["lost_seconds"]) == (0, 1, 0)
    assert rows[DUKCAPIL]["transfers_out"] == rows[DUKCAPIL]["transfers_in"] == 0
    assert (answer["total"]["transfers_out"], answer["total"]["transfers_in"]) == (1, 1)
    # The compliance rows carry the transfers in too; an OPD's supervisor reads its own row only.
    compliance = await get(http, f"compliance?pemda={PEMDA}", SUPERVISOR)
    assert {r["scope"]: r["transfers_in"] for r in compliance["items"]}[PUPR] == 1
    own = await get(http, "misrouting", {"Authorization": f"Bearer {mint('supervisor', opd=DLH)}"})
    assert [r["scope"] for r in own["items"]] == [DLH]
    exported = await get(http, f"misrouting?pemda={PEMDA}&format=csv", SUPERVISOR)
    table = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert table[0][:6] == [
        "OPD/Pemda",
        "Pemda",
        "Nama pemda",
        "Penugasan",
        "Dialihkan keluar",
        "Dialihkan masuk",
    ]
    assert [next(r for r in table if r[0] == DLH)[i] for i in (0, 4, 5)] == [DLH, "1", "0"]


async def test_classifier_accuracy_per_month_from_corrections(
    client: tuple[TestClient[Any, Any], datetime],
) -> None:
    http, classified_at = client
    month = month_of(classified_at, PEMDA)
    answer = await get(http, f"classifier/{PEMDA}", COORDINATOR)
    by_month = {row["month"]: row for row in answer["items"]}
    assert by_month[month] == {
        "month": month,
        "classified": 4,
        "auto_routed": 1,
        "reviewed": 3,
        "corrected": 2,
        "accuracy_pct": 50.0,
        "reviewed_accuracy_pct": 33.3,
    }
    assert all(row["classified"] == 0 for m, row in by_month.items() if m != month)
    assert answer["total"]["classified"] == 4
    assert len(answer["items"]) == 12  # the last 12 months by default, each listed
    # A pemda's figure: its supervisor and coordinator read it, an OPD's supervisor does not.
    await get(http, f"classifier/{PEMDA}", SUPERVISOR)
    await get(
        http, f"classifier/{PEMDA}", {"Authorization": f"Bearer {mint('supervisor', opd=DLH)}"}, status=403
    )
    await get(http, "classifier/64.71", SUPERVISOR, status=403)
    await get(http, f"classifier/{PEMDA}?from=2020-01-01", SUPERVISOR, status=422)  # > 60 months
