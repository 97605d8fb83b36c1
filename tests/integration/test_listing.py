"""The public listing in process, on the real broker and database: confidential complaints never
listed, no identity ever shown, newest first with stable cursor paging across sparse history,
filters, 422 for bad filters; and the OpenAPI document with its browsable docs page.

The app runs in its own database and consumer group (as tests/integration/test_intake_api.py):
the listing sees exactly what these tests put there. Complaints go in through the real submit;
older ones, which no submit can create, are written as view documents with ids of their instant.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints, ensure_chromium
from shared import clock
from tests.intake_app import running_intake

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]

Http = TestClient[aiohttp.web.Request, aiohttp.web.Application]
REPORTER = {"name": "Sari Wulandari", "phone": "0812-3456-7890", "email": "sari@example.id"}
SUBMISSION: dict[str, Any] = {
    "title": "Jalan berlubang di depan SD",
    "description": "Lubang besar di Jl. Pemuda depan SD Negeri 2, hubungi saya di 0813-1111-2222.",
    "category": "jalan-jembatan",
    "region_code": "33.74.01.1001",
    "reporter": REPORTER,
}


@dataclass
class Intake:
    http: Http
    db: AsyncDatabase[dict[str, Any]]

    async def submit(self, **changes: Any) -> str:
        resp = await self.http.post("/api/v1/complaints", json={**SUBMISSION, **changes})
        assert resp.status == 202, await resp.text()
        complaint_id: str = (await resp.json())["id"]
        return complaint_id

    async def seed(self, at: datetime, **changes: Any) -> str:
        """A complaint submitted at `at` as the view stores it (routing's later events are stale)."""
        doc: dict[str, Any] = {
            "_id": str(ULID.from_datetime(at)),
            "token_hash": "x",
            "reporter": REPORTER,
            "anonymous": False,
            "confidential": False,
            "category": "kesehatan",
            "region_code": "64.01.03.2001",
            "pemda": "64.01",
            "title": "Antrean puskesmas",
            "description": "Antrean di puskesmas terlalu lama sejak pagi hari.",
            "status": "in_progress",
            "opd_id": "64.01/dinas-kesehatan",
            "escalation_level": 0,
            "last_seq": 100,
            "deadlines": {},
            "timeline": [{"at": at, "type": "ComplaintReceived", "summary": "Pengaduan diterima"}],
            "submitted_at": at,
            "rev": 0,
        }
        doc.update(changes)
        await self.db["complaints"].insert_one(doc)
        return str(doc["_id"])

    async def page(self, **params: str | int) -> dict[str, Any]:
        resp = await self.http.get("/api/v1/complaints", params={k: str(v) for k, v in params.items()})
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body

    async def all_ids(self, **params: str | int) -> list[str]:
        """Every id the listing gives, following the cursor to the end."""
        ids: list[str] = []
        cursor: str | None = None
        for _ in range(100):
            page = await self.page(**params, **({"cursor": cursor} if cursor else {}))
            ids += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
        raise AssertionError("the cursor never ended")


@pytest.fixture(scope="module")
async def intake(endpoints: Endpoints) -> AsyncIterator[Intake]:
    async with running_intake(endpoints) as (client, db):
        yield Intake(client, db)


async def test_confidential_complaints_are_never_listed(intake: Intake) -> None:
    public = [await intake.submit(region_code="33.74.02.1003") for _ in range(3)]
    secret = [await intake.submit(region_code="33.74.02.1003", confidential=True) for _ in range(2)]
    listed = await intake.all_ids(region="33.74")
    assert set(public) <= set(listed)
    assert not set(secret) & set(listed)
    assert not set(secret) & set(await intake.all_ids())
    assert not set(secret) & set(await intake.all_ids(limit=1, category="jalan-jembatan"))


async def test_no_identity_and_no_text_of_any_complaint_is_listed(intake: Intake) -> None:
    anonymous = await intake.submit(region_code="35.78.01.1001", anonymous=True)
    named = await intake.submit(region_code="35.78.01.1001")
    resp = await intake.http.get("/api/v1/complaints", params={"region": "35.78"})
    text = await resp.text()
    items = {item["id"]: item for item in json.loads(text)["items"]}
    assert {anonymous, named} <= set(items)
    for secret in (*REPORTER.values(), "6281234567890", "0813-1111-2222", "Lubang besar", "35.78.01"):
        assert secret not in text
    for item in items.values():
        assert item["region_code"] == "35.78"  # kab/kota only
        assert item["title"] is None and item["description"] is None
        assert set(item) >= {"id", "status", "category", "opd_id", "deadlines", "timeline"}


async def test_pages_follow_the_cursor_newest_first_across_sparse_history(intake: Intake) -> None:
    now = clock.now()
    ages = [
        timedelta(minutes=5),
        timedelta(hours=3),
        timedelta(days=2),
        timedelta(days=45),
        timedelta(days=400),
    ]
    seeded = [await intake.seed(now - age, region_code="64.72.01.1001", pemda="64.72") for age in ages]
    older = await intake.seed(datetime(2024, 12, 31, tzinfo=UTC), region_code="64.72.01.1001", pemda="64.72")
    first = await intake.page(region="64.72", limit=2)
    assert [i["id"] for i in first["items"]] == seeded[:2]
    assert first["next_cursor"]
    listed = await intake.all_ids(region="64.72", limit=2)
    assert listed == seeded  # newest first, none twice, none missing
    assert older not in listed  # before the listing's floor (the service's start)
    # A complaint submitted meanwhile does not shift the pages below a cursor.
    await intake.seed(now - timedelta(minutes=1), region_code="64.72.01.1001", pemda="64.72")
    second = await intake.page(region="64.72", limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == seeded[2:4]


async def test_filters_by_province_kab_kota_category_and_status(intake: Intake) -> None:
    now = clock.now()
    in_city = await intake.seed(now, region_code="52.71.01.1001", pemda="52.71", status="resolved")
    in_regency = await intake.seed(now, region_code="52.01", pemda="52.01", category="air-minum")
    on_province = await intake.seed(now, region_code="52", pemda="52", category="pajak-kendaraan")
    elsewhere = await intake.seed(now, region_code="53.71", pemda="53.71", category="air-minum")
    assert set(await intake.all_ids(region="52")) == {in_city, in_regency, on_province}
    assert set(await intake.all_ids(region="52.71")) == {in_city}
    assert set(await intake.all_ids(region="52", category="air-minum")) == {in_regency}
    assert {in_regency, elsewhere} <= set(await intake.all_ids(category="air-minum"))
    resolved = await intake.page(status="resolved", limit=100)
    assert in_city in {i["id"] for i in resolved["items"]}
    assert {i["status"] for i in resolved["items"]} == {"resolved"}
    assert set(await intake.all_ids(region="52", status="resolved")) == {in_city}


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"region": "99.99"}, ["region"]),
        ({"region": "33.74.01"}, ["region"]),  # below kab/kota would reveal the village
        ({"category": "jalan"}, ["category"]),
        ({"status": "open"}, ["status"]),
        ({"limit": "0"}, ["limit"]),
        ({"limit": "sepuluh"}, ["limit"]),
        ({"cursor": "bukan-kursor"}, ["cursor"]),
        ({"regoin": "33"}, ["regoin"]),
        ({"category": "jalan", "status": "x", "limit": "1000"}, ["category", "status", "limit"]),
        ([("region", "33"), ("region", "34")], ["region"]),
    ],
)
async def test_bad_filters_are_a_422_naming_each_field(
    intake: Intake, params: dict[str, str] | list[tuple[str, str]], fields: list[str]
) -> None:
    resp = await intake.http.get("/api/v1/complaints", params=params)
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    assert sorted(e["field"] for e in (await resp.json())["errors"]) == sorted(fields)


async def test_every_listing_and_open311_endpoint_is_documented_with_examples(intake: Intake) -> None:
    document = await (await intake.http.get("/openapi.json")).json()
    paths = document["paths"]
    assert "post" in paths["/api/v1/complaints"] and "get" in paths["/api/v1/complaints"]
    listing = paths["/api/v1/complaints"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"region", "category", "status", "limit", "cursor"}
    assert listing["responses"]["200"]["content"]["application/json"]["example"]["items"]
    open311 = [p for p in paths if p.startswith("/open311/v2/")]
    assert len(open311) == 6
    for path in open311:
        for operation in paths[path].values():
            assert operation["summary"]
            examples = [
                m.get("example")
                for r in operation["responses"].values()
                for m in r.get("content", {}).values()
            ]
            assert any(e is not None for e in examples), path
    assert "/docs" in paths


async def test_the_docs_page_renders_every_operation_offline(intake: Intake) -> None:
    """Swagger UI (shared/docs.py) in a real browser: every operation of /openapi.json shown, under
    a policy that allows only the service's own files, with no policy violation or script error."""
    from playwright.async_api import async_playwright

    resp = await intake.http.get("/docs")
    assert resp.status == 200 and resp.content_type == "text/html"
    page_source = await resp.text()
    assert "https://" not in page_source  # nothing fetched from elsewhere
    # No inline script or style: the policy allows only the service's own files, and no framing.
    assert re.findall(r"<script[^>]*>", page_source) == [
        '<script src="docs/swagger-ui-bundle.js">',
        '<script src="docs/docs.js">',
    ]
    assert "<style" not in page_source
    policy = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "sha256-" not in policy
    assert "frame-ancestors 'none'" in policy
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["Referrer-Policy"]
    for path in ("/docs/docs.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"):
        served = await intake.http.get(path)
        assert served.status == 200 and served.content_type in ("text/javascript", "text/css"), path
    document = await (await intake.http.get("/openapi.json")).json()
    expected = sorted(f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops)
    url = str(intake.http.make_url("/docs"))
    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(ensure_chromium()), args=flags)
        try:
            page = await browser.new_page()
            errors: list[str] = []
            outside: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            origin = url.removesuffix("/docs")
            page.on("request", lambda r: None if r.url.startswith(origin) else outside.append(r.url))
            await page.goto(url)
            await page.wait_for_selector(".opblock")
            shown = await page.eval_on_selector_all(
                ".opblock",
                "ops => ops.map(op => op.querySelector('.opblock-summary-method').textContent + ' ' +"
                " op.querySelector('.opblock-summary-path').getAttribute('data-path'))",
            )
        finally:
            await browser.close()
    assert not errors, errors  # the policy let the served scripts run, and nothing failed
    assert not [u for u in outside if not u.startswith("data:")], outside
    assert sorted(shown) == expected
