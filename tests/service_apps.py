"""The three services' real apps (`create_app`) served in this process on the test servers, each in
a database and consumer groups of its own, for the tests that go over every route: the OpenAPI
fuzzer (tests/integration/test_fuzz_openapi.py) and the authorisation matrix
(tests/integration/test_authz_matrix.py).

- intake: `tests/intake_app.py`'s `running_intake`.
- sla: `create_app(settings)` with its supervisor reports, its groups renamed to fresh ones.
- routing: `create_app(settings)` with its stores, relay and finisher, but without its webhook
  pusher (see NOT_RUN) and its Kafka consumers: its groups are fixed names (`routing`,
  `routing-dues`), and a fresh group would route every submission other tests ever published.
  The test feeds it what it needs through `handle_routing_batch`, as its consumer would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from unittest import mock

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver
from aiohttp.test_utils import TestClient, TestServer
from pymongo.asynchronous.database import AsyncDatabase
from ulid import ULID

import services.routing.bootstrap as routing_app
import services.sla.bootstrap as sla_app
from devtools.infra import Endpoints
from services.routing.entrypoints.edge import GUARD, ROUTING
from services.routing.entrypoints.staff_pages import PAGE_SETTINGS
from services.routing.handlers import handle_routing_batch
from services.routing.settings import RoutingSettings, StaffMailSettings
from services.sla.settings import SlaSettings
from shared.auth import mint
from shared.envelope import Envelope
from shared.kafka import ensure_topics
from shared.mongo import mongo_client
from shared.runtime import INFRA, Background, ConsumerSpec, attach_infra, open_infra, with_consumers
from shared.topics import COMPLAINTS_SUBMITTED, TopicSpec, dlq
from tests.intake_app import running_intake
from tests.topics import messages_for
from tests.waiting import eventually

Client = TestClient[aiohttp.web.Request, aiohttp.web.Application]


@dataclass
class Apps:
    intake: Client
    routing: Client
    sla: Client
    intake_db: AsyncDatabase[dict[str, Any]]
    routing_db: AsyncDatabase[dict[str, Any]]
    sla_db: AsyncDatabase[dict[str, Any]]


def _prefix() -> str:
    return f"t{str(ULID()).lower()[-10:]}_"


# The webhook pusher is not run: the fuzzer registers webhooks at addresses it makes up, and tests
# send traffic to loopback only (tests/integration/test_webhooks.py covers deliveries). Nor is the
# staff mailer: a test with routing's mail on sends with a mailer of its own, when it chooses.
NOT_RUN = {"routing-webhooks", "routing-staff-mailer"}


def _without_consumers(
    app: web.Application,
    settings: Any,
    consumers: Sequence[ConsumerSpec],
    background: Sequence[tuple[str, Background]] = (),
) -> Any:
    """`with_consumers` that builds each consumer's stores and runs the background loops, but
    starts no consumer (and leaves out the loops in NOT_RUN)."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with open_infra(
            kafka_bootstrap=settings.kafka_bootstrap, mongo_uri=settings.mongo_uri, db_name=settings.mongo_db
        ) as infra:
            attach_infra(app, infra)
            for spec in consumers:
                await spec.build(infra)
            async with contextlib.AsyncExitStack() as stack:
                for name, loop in background:
                    if name not in NOT_RUN:
                        await stack.enter_async_context(_cancelling(loop(infra)))
                yield

    async def ready() -> dict[str, bool]:
        return await app[INFRA].ready()

    app.cleanup_ctx.append(lifecycle)
    return ready


@contextlib.asynccontextmanager
async def _cancelling(coro: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(coro)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _NoDns(AbstractResolver):
    async def resolve(self, host: str, port: int = 0, family: Any = 0) -> list[Any]:
        raise OSError(f"no DNS lookups in tests: {host}")

    async def close(self) -> None:
        return None


@contextlib.asynccontextmanager
async def running_apps(
    endpoints: Endpoints, *, routing_mail: StaffMailSettings | None = None, **intake_settings: Any
) -> AsyncIterator[Apps]:
    """The three apps; `intake_settings` override intake's (see `running_intake`); `routing_mail`:
    routing's staff e-mail settings (its pages stage what they tell; no mailer task runs)."""
    prefix = _prefix()
    mongo = mongo_client(endpoints.mongo_uri)
    routing_settings = RoutingSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{prefix}routing",
        mail=routing_mail or StaffMailSettings(),
    )
    with mock.patch.object(routing_app, "with_consumers", _without_consumers):
        routing = routing_app.create_app(routing_settings)
    # Webhook hosts the fuzzer makes up are never looked up in the machine's DNS (tests send no
    # traffic beyond loopback): every name is "unresolvable", IP literals are judged as usual.
    routing[GUARD] = replace(routing[GUARD], resolver=_NoDns())

    sla_groups: list[str] = []

    def fresh_groups(
        app: web.Application,
        settings: Any,
        consumers: Sequence[ConsumerSpec],
        background: Sequence[tuple[str, Background]] = (),
    ) -> Any:
        renamed = [replace(c, group=f"{prefix}{c.group}") for c in consumers]
        sla_groups.extend(c.group for c in renamed)
        return with_consumers(app, settings, renamed, background)

    sla_settings = SlaSettings(
        kafka_bootstrap=endpoints.kafka_bootstrap,
        mongo_uri=endpoints.mongo_uri,
        mongo_db=f"{prefix}sla",
        consumer_group="sla",
        refresh_every=1.0,
    )
    with mock.patch.object(sla_app, "with_consumers", fresh_groups):
        sla = sla_app.create_app(sla_settings)
    await ensure_topics(endpoints.kafka_bootstrap, [TopicSpec(dlq(g), 1) for g in sla_groups])

    async with running_intake(endpoints, **intake_settings) as (intake, intake_db):
        # the workbench asks this intake for attachments (read when routing starts, just below)
        intake_url = str(intake.make_url("/")).rstrip("/")
        routing[PAGE_SETTINGS] = routing[PAGE_SETTINGS].model_copy(update={"intake_url": intake_url})
        routing_client: Client = TestClient(TestServer(routing))
        sla_client: Client = TestClient(TestServer(sla))
        await routing_client.start_server()
        await sla_client.start_server()
        try:
            yield Apps(
                intake=intake,
                routing=routing_client,
                sla=sla_client,
                intake_db=intake_db,
                routing_db=mongo[routing_settings.mongo_db],
                sla_db=mongo[sla_settings.mongo_db],
            )
        finally:
            await routing_client.close()
            await sla_client.close()
            for name in (routing_settings.mongo_db, sla_settings.mongo_db):
                await mongo.drop_database(name)
            await mongo.close()


# --- complaints through the real path ------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    id: str
    access_token: str
    opd_id: str


async def seed_complaint(
    apps: Apps, bootstrap: str, *, category: str, region_code: str, **fields: Any
) -> Seeded:
    """A complaint submitted to intake, routed (routing's consumer step, called here) and seen by
    intake's view and sla's clocks and reports; `fields` add to or replace the submitted body's."""
    response = await apps.intake.post(
        "/api/v1/complaints",
        json={
            "title": "Pengaduan uji kewenangan",
            "description": "Pengaduan ini dibuat oleh uji matriks kewenangan staf.",
            "category": category,
            "region_code": region_code,
            "reporter": {"name": "Uji"},
            **fields,
        },
    )
    assert response.status == 202, await response.text()
    created = await response.json()
    complaint_id, token = created["id"], created["access_token"]

    async def submitted() -> list[Envelope]:
        return await messages_for(bootstrap, COMPLAINTS_SUBMITTED, complaint_id)

    envelopes = await eventually(submitted, what=f"{complaint_id} on {COMPLAINTS_SUBMITTED}")
    assert isinstance(apps.routing.server, TestServer)
    rejected = await handle_routing_batch(envelopes, apps.routing.server.app[ROUTING])
    assert not rejected, rejected

    async def assigned_in_intake() -> str | None:
        r = await apps.intake.get(f"/api/v1/complaints/{complaint_id}", headers=_bearer(token))
        opd: str | None = (await r.json()).get("opd_id") if r.status == 200 else None
        return opd

    opd_id = await eventually(assigned_in_intake, within=120, what=f"{complaint_id} assigned in intake")
    admin = _bearer(mint("admin"))

    async def known_to_sla() -> bool:
        r = await apps.sla.get(f"/api/v1/supervisor/complaints/{complaint_id}/clocks", headers=admin)
        return r.status == 200

    await eventually(known_to_sla, within=120, what=f"{complaint_id} in sla's reports")
    return Seeded(complaint_id, token, opd_id)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
