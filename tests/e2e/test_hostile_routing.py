"""Hostile text through the running services (issue 15, items 1 and 2): a description of 4,000
``@`` — 44 s of routing's consumer before, with every other complaint waiting — is routed to the
coordinator's triage like any complaint the classifier cannot place, and the unauthenticated
explain endpoint answers it with the right decision. (The stall figures are in bench/hostile.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devtools.services import ServiceSet
from tests.e2e.test_routing_flow import COORDINATOR, Staff, submit

pytestmark = pytest.mark.e2e

ATS = "@" * 4000  # the largest description intake accepts


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def test_a_description_of_at_signs_goes_to_triage_and_the_next_complaint_is_routed(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    hostile = await submit(services, http, category=None, title="Tolong dicek", description=ATS)
    after = await submit(services, http)  # a normal complaint right behind it
    await Staff(services, http, after).reach("assigned")
    await Staff(services, http, hostile).reach("triage", COORDINATOR)


async def test_explain_answers_a_description_of_at_signs(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    probe = {"region_code": "33.74.01.1001", "title": "Tolong dicek", "description": ATS}

    async def explained() -> dict[str, Any]:
        async with http.post(f"{services.url('routing')}/api/v1/routing/explain", json=probe) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
            return body

    body = await explained()  # within the session's 15 s (2,000 characters took 2.75 s of CPU before)
    assert body["category"] is None and body["rule"] == "uncategorised:below-threshold"
    async with http.get(f"{services.url('routing')}/healthz") as r:
        assert r.status == 200
