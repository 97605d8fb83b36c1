"""A lost database (issue on faults, item 2): while it is down, intake's submits (with and without
an Idempotency-Key), a reporter's command, a staff action in routing and sla's supervisor API are
answered 503 with Retry-After and a problem naming the database — at once, from the driver's own
view of the servers (shared/mongo.py `database_down`, shared/http.py), not after a server
selection times out — never 500; the probes and the documents still answer, and /readyz says the
database is down. Once it is back, the same requests succeed, without restarting a service.

How long the 503 takes is measured by bench/dbdown.py (timing is a benchmark's, not a test's).

This test kills a database server, so it runs its own: a secantusd-rs on a port of this slot's
block that no other test uses, with its data kept across the kill (the same database comes back).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from ulid import ULID

from devtools import infra
from services.routing.entrypoints.edge import ROUTING
from services.routing.handlers import handle_routing_batch
from shared.auth import mint
from shared.topics import COMPLAINTS_SUBMITTED
from tests.e2e.test_one_complaint import SUBMISSION
from tests.service_apps import Apps, running_apps
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = pytest.mark.integration

PROFILE_SUFFIX = "-db-down"


def lone_mongo_ports() -> infra.Ports:
    # The slot's database port + 5: unused by the slot's stack and by its other lone servers.
    return infra.Ports(kafka=0, kafka_controller=0, mongo=infra.test_ports().mongo + 5)


def _start(profile: str) -> infra.Server:
    # Killed with SIGKILL, secantusd-rs keeps the writes it acknowledged only when it syncs its
    # log on every commit (devtools.infra.start_mongo): without it, the view routing's events made
    # could be lost and the reporter's command refused after the restart (409, not yet recorded).
    return infra.start_mongo(profile, lone_mongo_ports(), cache_size="128M", sync_on_commit=True)


@pytest.fixture
async def lone_mongo() -> AsyncIterator[tuple[str, str, infra.Server]]:
    """(profile, uri, server) of a fresh database server of its own; stopped at the end in any case."""
    profile = f"{infra.test_profile()}{PROFILE_SUFFIX}"
    infra.stop_stale(profile)
    shutil.rmtree(infra.run_dir(profile) / "secantus", ignore_errors=True)
    uri = infra.endpoints(lone_mongo_ports()).mongo_uri
    server = _start(profile)
    try:
        await infra.wait_mongo(uri, server, timeout=30)
        yield profile, uri, server
    finally:
        infra.stop_stale(profile)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _routed_complaint(apps: Apps, bootstrap: str) -> dict[str, Any]:
    """A complaint submitted to intake and recorded by routing (its consumer step, called here),
    and assigned in intake's view, so that the reporter may send commands."""
    response = await apps.intake.post("/api/v1/complaints", json=SUBMISSION)
    assert response.status == 202, await response.text()
    created: dict[str, Any] = await response.json()

    async def submitted() -> list[Any]:
        return await messages_for(bootstrap, COMPLAINTS_SUBMITTED, created["id"])

    envelopes = await eventually(submitted, what=f"{created['id']} on {COMPLAINTS_SUBMITTED}")
    assert not await handle_routing_batch(envelopes, apps.routing.server.app[ROUTING])

    async def assigned_in_intake() -> bool:
        view = await apps.intake.get(
            f"/api/v1/complaints/{created['id']}", headers=_bearer(created["access_token"])
        )
        return view.status == 200 and (await view.json()).get("status") == "assigned"

    # Routing's events reach intake's view (its consumer): the reporter may send commands.
    await eventually(assigned_in_intake, within=120, what=f"{created['id']} assigned in intake's view")
    return created


async def _answered_while_down(apps: Apps, requests: dict[str, Any]) -> None:
    async def down_known() -> bool:
        ready = await apps.intake.get("/readyz")
        body = await ready.json()
        return ready.status == 503 and body["checks"]["database"] is False

    await eventually(down_known, what="intake's /readyz to say the database is down")
    for name, send in requests.items():
        response: aiohttp.ClientResponse = await send()
        text = await response.text()
        assert response.status == 503, f"{name}: {response.status} {text}"
        assert response.headers.get("Retry-After", "").isdigit(), name
        assert response.content_type == "application/problem+json", name
        problem = await response.json(content_type=None)
        assert problem["status"] == 503, name
        # Answered for the database known down, not after an operation tried it and failed.
        assert "Basis data" in problem["detail"], f"{name}: {problem}"
    for client in (apps.intake, apps.routing, apps.sla):  # the probes and documents answer
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/openapi.json")).status == 200
        assert (await client.get("/docs")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["checks"]["database"] is False
    assert (await apps.sla.get("/dashboard/")).status == 200


async def test_a_lost_database_is_a_prompt_503_everywhere_and_its_return_is_noticed(
    lone_mongo: tuple[str, str, infra.Server], endpoints: infra.Endpoints
) -> None:
    profile, uri, server = lone_mongo
    lone = infra.Endpoints(kafka_bootstrap=endpoints.kafka_bootstrap, mongo_uri=uri)
    admin = _bearer(mint("admin"))
    async with running_apps(lone) as apps:
        first = await _routed_complaint(apps, endpoints.kafka_bootstrap)
        key = str(ULID())
        command_key = str(ULID())
        # Each request as a client sends it (sent again, unchanged, after the outage).
        requests: dict[str, Any] = {
            "submit": lambda: apps.intake.post("/api/v1/complaints", json=SUBMISSION),
            "submit with key": lambda: apps.intake.post(
                "/api/v1/complaints", json=SUBMISSION, headers={"Idempotency-Key": key}
            ),
            "reporter command": lambda: apps.intake.post(
                f"/api/v1/complaints/{first['id']}/withdraw",
                json={"reason": "sudah diperbaiki warga"},
                headers={**_bearer(first["access_token"]), "Idempotency-Key": command_key},
            ),
            "staff note": lambda: apps.routing.post(
                f"/api/v1/staff/complaints/{first['id']}/notes",
                json={"text": "Tim lapangan dijadwalkan besok."},
                headers=admin,
            ),
            "supervisor report": lambda: apps.sla.get("/api/v1/supervisor/compliance", headers=admin),
        }

        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)

        try:
            await _answered_while_down(apps, requests)
        finally:  # back before anything else, also when an assertion failed: cleanup needs it
            _start(profile)  # the same data
            await infra.wait_mongo(uri, timeout=30)
        expected = {
            "submit": 202,
            "submit with key": 202,
            "reporter command": 202,
            "staff note": 201,
            "supervisor report": 200,
        }
        for name, send in requests.items():

            async def succeeded(send: Any = send) -> int | None:
                response = await send()
                return response.status if response.status < 500 else None

            status = await eventually(succeeded, within=60, what=f"{name} to succeed after the restart")
            assert status == expected[name], name

        submitted = await apps.intake_db["idempotency_keys"].count_documents({})
        assert submitted == 2  # the keyed submit and the command, each once
