"""Intake's submit against the running services: Idempotency-Key replays, problem responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient
from ulid import ULID

from devtools.infra import Endpoints
from devtools.services import ServiceSet
from shared.mongo import mongo_client
from tests.e2e.conftest import DB_PREFIX
from tests.e2e.test_one_complaint import SUBMISSION

pytestmark = pytest.mark.e2e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


@pytest.fixture
async def intake_db(endpoints: Endpoints) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = mongo_client(endpoints.mongo_uri)
    yield client[f"{DB_PREFIX}intake"]
    await client.close()


async def _submit(
    http: aiohttp.ClientSession, services: ServiceSet, body: dict[str, Any], key: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Idempotency-Key": key} if key else {}
    async with http.post(services.url("intake") + "/api/v1/complaints", json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_a_retried_submit_replays_the_original_answer_and_creates_nothing(
    services: ServiceSet, http: aiohttp.ClientSession, intake_db: Any
) -> None:
    key = str(ULID())
    first = await _submit(http, services, SUBMISSION, key)
    before = await intake_db["complaints"].count_documents({})
    again = await _submit(http, services, SUBMISSION, key)
    assert first[0] == again[0] == 202
    assert again[1] == first[1]  # same id and the same access token
    assert await intake_db["complaints"].count_documents({}) == before


async def test_the_same_key_with_another_body_is_refused(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    key = str(ULID())
    assert (await _submit(http, services, SUBMISSION, key))[0] == 202
    status, problem = await _submit(
        http, services, {**SUBMISSION, "title": "Judul yang lain sama sekali"}, key
    )
    assert status == 422
    assert problem["errors"][0]["field"] == "Idempotency-Key"


async def test_unreadable_and_unsupported_bodies_get_problem_responses(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    url = services.url("intake") + "/api/v1/complaints"
    cases = [
        ({"data": b"{oops", "headers": {"Content-Type": "application/json"}}, 400),
        ({"data": b"title=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415),
        ({"data": b"[1]", "headers": {"Content-Type": "application/json"}}, 422),
        (
            {"data": b'{"title": "' + b"x" * 70000 + b'"}', "headers": {"Content-Type": "application/json"}},
            413,
        ),
    ]
    for kwargs, expected in cases:
        async with http.post(url, **kwargs) as resp:
            assert resp.status == expected
            assert resp.content_type == "application/problem+json"
            assert (await resp.json(content_type=None))["status"] == expected


async def _get(http: aiohttp.ClientSession, url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_public_view_shows_kabkota_and_confidential_needs_the_token(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    _, open_one = await _submit(http, services, SUBMISSION)
    status, public = await _get(http, open_one["status_url"])
    assert status == 200 and public["region_code"] == "33.74"
    assert (await _get(http, open_one["status_url"], open_one["access_token"]))[1][
        "region_code"
    ] == "33.74.01.1001"
    assert (await _get(http, open_one["status_url"], "not-the-token"))[0] == 401

    _, secret = await _submit(http, services, {**SUBMISSION, "confidential": True})
    assert (await _get(http, secret["status_url"]))[0] == 404
    assert (await _get(http, secret["status_url"], "not-the-token"))[0] == 404
    assert (await _get(http, secret["status_url"], secret["access_token"]))[0] == 200
