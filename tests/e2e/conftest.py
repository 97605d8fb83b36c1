"""The three services as real processes (`python -m services.<name>`) on test ports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from devtools import infra
from devtools.prepare import prepare
from devtools.services import ServiceSet, start_services, wait_ready

E2E_PORTS = {
    name: port + 10 * infra.test_slot()
    for name, port in {"intake": 18081, "routing": 18082, "sla": 18083}.items()
}
DB_PREFIX = "e2e_"


@pytest.fixture(scope="session")
def services(endpoints: infra.Endpoints) -> Iterator[ServiceSet]:
    # The same preparation `make run` does: topics, then the OPD catalog routing checks against.
    asyncio.run(prepare(endpoints.kafka_bootstrap, endpoints.mongo_uri, routing_db=f"{DB_PREFIX}routing"))
    # The suite submits far more than a citizen would from one address; the limits themselves
    # are tested in tests/integration/test_ratelimit.py.
    os.environ.update(INTAKE_RATE_SUBMIT_PER_MINUTE="0", INTAKE_RATE_SUBMIT_PER_MINUTE_PER_KEY="0")
    logs = infra.run_dir(infra.test_profile()) / "services"
    running = start_services(endpoints, E2E_PORTS, logs, db_prefix=DB_PREFIX)
    try:
        asyncio.run(wait_ready(running, timeout=90))
        yield running
    finally:
        running.stop()
