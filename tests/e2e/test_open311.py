"""Open311 GeoReport v2 against the running services, read with a real client from PyPI
(`georeport`): a spec-conformant form POST with a key issued by the admin command, read back by
the client in JSON and XML; tokens; confidential requests never public; the spec's errors; routing
and sla filling `agency_responsible` and `expected_datetime`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
import requests
import xmltodict
from georeport import GeoReport
from ulid import ULID

from devtools.infra import Endpoints
from devtools.services import ServiceSet
from shared import clock
from shared.categories import CATEGORIES
from shared.mongo import mongo_client
from tests.e2e.conftest import DB_PREFIX
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

FORM = {
    "service_code": "jalan-jembatan",
    "lat": "-6.9932",
    "long": "110.4203",
    "address_string": "Jl. Pemuda No. 12, Semarang",
    "region_code": "33.74.01.1001",
    "description": "Lubang besar di depan SD Negeri 2 sudah dua minggu membahayakan pengendara motor.",
    "first_name": "Sari",
    "last_name": "Wulandari",
    "phone": "0812-3456-7890",
    "email": "sari@example.id",
}


async def admin(endpoints: Endpoints, *args: str) -> str:
    """`python -m services.intake.apikeys …` on the running intake's database, as an admin runs it."""
    env = {**os.environ, "INTAKE_MONGO_URI": endpoints.mongo_uri, "INTAKE_MONGO_DB": f"{DB_PREFIX}intake"}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.intake.apikeys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
async def api_key(services: ServiceSet, endpoints: Endpoints) -> str:
    key = await admin(endpoints, "issue", "--name", f"gateway-{ULID()}")
    assert key.startswith("o311_")
    return key


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


def root(services: ServiceSet) -> str:
    return services.url("intake") + "/open311/v2"


async def post(
    http: aiohttp.ClientSession, services: ServiceSet, form: dict[str, str], fmt: str = "json", **kwargs: Any
) -> tuple[int, Any]:
    """A form-encoded POST requests.{fmt}, as the spec has it."""
    async with http.post(f"{root(services)}/requests.{fmt}", data=form, **kwargs) as resp:
        body = await resp.read()
        return resp.status, (xmltodict.parse(body) if fmt == "xml" else await resp.json())


async def test_the_georeport_client_lists_services_and_reads_back_a_posted_request(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str
) -> None:
    status, answer = await post(http, services, {**FORM, "api_key": api_key})
    assert status == 201, answer
    request_id = answer[0]["service_request_id"]
    assert answer[0]["token"] and answer[0]["access_token"]

    for fmt in ("json", "xml"):
        client = GeoReport(root(services), output_format=fmt)
        listed = await asyncio.to_thread(client.get_service_list)
        assert [s["service_code"] for s in listed] == list(CATEGORIES)
        definition = await asyncio.to_thread(client.get_service_definition, "jalan-jembatan")
        attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        assert any(a["code"] == "region_code" for a in attributes)
        read = await asyncio.to_thread(client.get_service_request, request_id)
        if fmt == "xml":  # xmltodict gives the one <request> itself
            assert isinstance(read, dict)
        assert read["service_request_id"] == request_id
        assert read["service_code"] == "jalan-jembatan"
        assert read["status"] == "open"
        assert read["region_code"] == "33.74"
        assert datetime.fromisoformat(read["requested_datetime"]) <= clock.now()
        by_id = await asyncio.to_thread(client.get_service_requests, service_request_id=request_id)
        items = by_id if isinstance(by_id, list) else [by_id]
        assert [i["service_request_id"] for i in items] == [request_id]
        found = await asyncio.to_thread(
            client.get_service_requests,
            service_code="jalan-jembatan,air-minum",
            status="open",
            start_date=(clock.now() - timedelta(hours=1)).isoformat(),
        )
        found = found if isinstance(found, list) else [found]
        assert request_id in {i["service_request_id"] for i in found}
        assert all(i["service_code"] in ("jalan-jembatan", "air-minum") for i in found)


async def test_a_standard_client_needs_none_of_our_codes(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str
) -> None:
    """What a GeoReport v2 client sends as the spec has it — service_code, lat, long, description,
    email — is accepted: the region is the province of the point (no default pemda here), whose
    coordinator triages it; the georeport client reads it back."""
    spec_only = {k: FORM[k] for k in ("service_code", "lat", "long", "description", "email")}
    status, answer = await post(http, services, {**spec_only, "api_key": api_key})
    assert status == 201, answer
    created = answer[0]
    assert (created["region_code"], created["region_source"]) == ("33", "lat/long")  # Jawa Tengah
    client = GeoReport(root(services), jurisdiction="33")
    read = await asyncio.to_thread(client.get_service_request, created["service_request_id"])
    assert read["region_code"] == "33" and read["service_code"] == "jalan-jembatan"

    status, answer = await post(http, services, {**spec_only, "jurisdiction_id": "33.74", "api_key": api_key})
    assert status == 201 and answer[0]["region_code"] == "33.74", answer

    async def triaged() -> dict[str, Any] | None:
        headers = {"Authorization": f"Bearer {created['access_token']}"}
        async with http.get(created["status_url"], headers=headers) as resp:
            view: dict[str, Any] = await resp.json()
        return view if view["status"] == "triage" else None

    await eventually(triaged, within=60, what="the province's coordinator holding it (triage)")

    # An address alone, with no default pemda: nothing says where; the 400 names what is missing.
    no_place = {**{k: FORM[k] for k in ("service_code", "description", "address_string")}, "api_key": api_key}
    status, body = await post(http, services, no_place)
    assert status == 400
    assert [e["description"].split(":", 1)[0] for e in body] == ["region_code"]
    assert "jurisdiction_id" in body[0]["description"] and "lat" in body[0]["description"]


async def test_discovery_lists_the_jurisdictions_served(
    services: ServiceSet, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{root(services)}/discovery.json") as resp:
        assert resp.status == 200
        found = await resp.json()
    served = {j["jurisdiction_id"]: j for j in found["jurisdictions"]}
    assert served["33.74"]["name"] == "Kota Semarang" and served["64"]["level"] == "provinsi"
    assert len(served) == 552


async def test_no_reporter_identity_reaches_any_open311_read(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str
) -> None:
    form = {**FORM, "api_key": api_key, "attribute[anonymous]": "true"}
    status, answer = await post(http, services, form)
    assert status == 201
    request_id = answer[0]["service_request_id"]
    for path in (f"requests/{request_id}", "requests"):
        for fmt in ("json", "xml"):
            async with http.get(f"{root(services)}/{path}.{fmt}") as resp:
                text = await resp.text()
                assert resp.status == 200
                assert request_id in text or path == "requests"
            for secret in (
                "Sari",
                "Wulandari",
                "0812-3456-7890",
                "81234567890",
                "sari@example.id",
                "Jl. Pemuda",
                "110.4203",
                "33.74.01",
            ):
                assert secret not in text


async def test_the_token_gives_back_the_request_id_and_a_retried_post_replays(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str
) -> None:
    key = {"Idempotency-Key": str(ULID())}
    status, answer = await post(http, services, {**FORM, "api_key": api_key}, headers=key)
    assert status == 201
    again = await post(http, services, {**FORM, "api_key": api_key}, headers=key)
    assert again == (201, answer)  # the same id and the same token, no second complaint
    request_id, token = answer[0]["service_request_id"], answer[0]["token"]
    async with http.get(f"{root(services)}/tokens/{token}.json") as resp:
        assert resp.status == 200
        assert await resp.json() == [{"service_request_id": request_id, "token": token}]
    async with http.get(f"{root(services)}/tokens/{token}.xml") as resp:
        parsed = xmltodict.parse(await resp.read())["service_requests"]["request"]
        assert parsed == {"service_request_id": request_id, "token": token}
    async with http.get(f"{root(services)}/tokens/nope.json") as resp:
        assert resp.status == 404
        assert (await resp.json())[0]["code"] == 404


async def test_a_confidential_request_is_never_public_but_its_reporter_can_follow_it(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str
) -> None:
    form = {**FORM, "api_key": api_key, "attribute[confidential]": "true"}
    status, answer = await post(http, services, form, fmt="xml")
    assert status == 201
    created = answer["service_requests"]["request"]
    request_id = created["service_request_id"]
    for fmt in ("json", "xml"):
        async with http.get(f"{root(services)}/requests/{request_id}.{fmt}") as resp:
            assert resp.status == 404
    client = GeoReport(root(services))
    with pytest.raises(requests.HTTPError):
        await asyncio.to_thread(client.get_service_request, request_id)
    assert await asyncio.to_thread(client.get_service_requests, service_request_id=request_id) == []
    recent = await asyncio.to_thread(client.get_service_requests, service_code="jalan-jembatan")
    assert request_id not in {r["service_request_id"] for r in recent}
    headers = {"Authorization": f"Bearer {created['access_token']}"}
    async with http.get(created["status_url"], headers=headers) as resp:
        assert resp.status == 200
        assert (await resp.json())["id"] == request_id


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_bad_keys_and_fields_answer_the_spec_error_list(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str, fmt: str
) -> None:
    def errors(body: Any) -> list[dict[str, Any]]:
        if fmt == "json":
            return list(body)
        found = body["errors"]["error"]
        return found if isinstance(found, list) else [found]

    status, body = await post(http, services, FORM, fmt)
    assert status == 403 and errors(body)[0]["description"].startswith("api_key")
    status, body = await post(http, services, {**FORM, "api_key": "o311_salah"}, fmt)
    assert status == 403
    bad = {**FORM, "api_key": api_key, "region_code": "99", "service_code": "jalan", "phone": "123"}
    status, body = await post(http, services, bad, fmt)
    assert status == 400
    named = {str(e["description"]).split(":", 1)[0] for e in errors(body)}
    assert named == {"region_code", "service_code", "phone"}
    assert {str(e["code"]) for e in errors(body)} == {"400"}
    async with http.get(f"{root(services)}/services/tidak-ada.{fmt}") as resp:
        assert resp.status == 404
    async with http.get(f"{root(services)}/requests.{fmt}", params={"status": "pending"}) as resp:
        assert resp.status == 400


async def test_routing_and_sla_fill_the_agency_and_the_expected_datetime(
    services: ServiceSet, http: aiohttp.ClientSession, api_key: str
) -> None:
    status, answer = await post(http, services, {**FORM, "api_key": api_key})
    assert status == 201
    request_id = answer[0]["service_request_id"]
    client = GeoReport(root(services))

    async def routed() -> dict[str, Any] | None:
        read: dict[str, Any] = await asyncio.to_thread(client.get_service_request, request_id)
        return read if read["agency_responsible"] and read["expected_datetime"] else None

    read = await eventually(routed, within=60, what="the request routed with a response due")
    assert read["agency_responsible"] == "33.74/dinas-pupr"
    due = datetime.fromisoformat(read["expected_datetime"])
    assert due.utcoffset() == timedelta(hours=7)  # the pemda's local time (WIB)
    assert due > datetime.fromisoformat(read["requested_datetime"])


async def test_keys_are_stored_hashed_and_a_revoked_key_is_refused(
    services: ServiceSet, http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    name = f"sms-gateway-{ULID()}"
    key = await admin(endpoints, "issue", "--name", name)
    mongo = mongo_client(endpoints.mongo_uri)
    try:
        stored = await mongo[f"{DB_PREFIX}intake"]["api_keys"].find({"name": name}).to_list()
    finally:
        await mongo.close()
    assert len(stored) == 1 and key not in str(stored)
    assert (await post(http, services, {**FORM, "api_key": key}))[0] == 201
    await admin(endpoints, "revoke", "--name", name)
    assert f"{name}\trevoked" in await admin(endpoints, "list")
    status, body = await post(http, services, {**FORM, "api_key": key})
    assert status == 403 and body[0]["code"] == 403
