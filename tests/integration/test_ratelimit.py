"""Submit rate limits on the real intake in process (real broker and database), with its limits
and its Open311 key taken from the environment as a deployment sets them: the N+1-th submit from
one address within the window gets 429 with Retry-After — on the JSON API and on Open311 alike —
and a refused submit stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import xmltodict
from aiohttp.test_utils import TestClient
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

from devtools.infra import Endpoints
from services.intake.adapters import apikeys
from tests.intake_app import running_intake
from tests.integration.test_listing import SUBMISSION

pytestmark = pytest.mark.integration

LIMIT = 3
API_KEY = f"o311_{ULID()}"
FORM = {
    "api_key": API_KEY,
    "service_code": "kependudukan",
    "address_string": "Kantor Kelurahan",
    "region_code": "33.74.01.1001",
    "description": "Pembuatan KTP-el sudah tiga bulan belum selesai padahal dijanjikan dua minggu.",
}


@dataclass
class Intake:
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    db: AsyncDatabase[dict[str, Any]]


@pytest.fixture
async def intake(endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Intake]:
    monkeypatch.setenv("INTAKE_RATE_SUBMIT_PER_MINUTE", str(LIMIT))
    monkeypatch.setenv("OPEN311_API_KEY", API_KEY)
    async with running_intake(endpoints) as (client, db):
        yield Intake(client, db)


async def test_the_submit_after_the_limit_gets_429_with_retry_after_and_stores_nothing(
    intake: Intake,
) -> None:
    assert await apikeys.client_of(intake.db, API_KEY) is not None  # seeded from OPEN311_API_KEY
    # Every attempt spends a token, also one refused later for its body or its key; an Open311
    # POST counts against the same address as the JSON API.
    attempts = [
        intake.http.post("/api/v1/complaints", json={**SUBMISSION, "title": "x"}),
        intake.http.post("/open311/v2/requests.json", data={**FORM, "api_key": "o311_salah"}),
        intake.http.post("/api/v1/complaints", json={**SUBMISSION, "region_code": "99"}),
    ]
    assert [(await a).status for a in attempts] == [422, 403, 422]

    refused = await intake.http.post("/api/v1/complaints", json=SUBMISSION)
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 // LIMIT
    assert (await refused.json())["status"] == 429

    refused = await intake.http.post("/open311/v2/requests.xml", data=FORM)
    assert refused.status == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60 // LIMIT
    error = xmltodict.parse(await refused.read())["errors"]["error"]
    assert error["code"] == "429"

    # No trusted proxy is configured: a forged X-Forwarded-For is not a new client.
    forged = await intake.http.post(
        "/api/v1/complaints", json=SUBMISSION, headers={"X-Forwarded-For": "198.51.100.23"}
    )
    assert forged.status == 429
    assert await intake.db["complaints"].count_documents({}) == 0
