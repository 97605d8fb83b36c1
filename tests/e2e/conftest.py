"""The three services as real processes (`python -m services.<name>`) on test ports."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from playwright.async_api import Browser, async_playwright

from devtools import infra
from devtools.prepare import prepare
from devtools.services import ServiceSet, start_services, wait_ready
from shared import clock
from shared.topics import GROUP_TOPICS, TOPICS
from tests.conftest import DAYS
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.smtp_server import SMTP_PASSWORD, SMTP_USER, Mailbox, smtp_server
from tests.waiting import eventually

E2E_PORTS = {
    name: port + 10 * infra.test_slot()
    for name, port in {"intake": 18081, "routing": 18082, "sla": 18083}.items()
}
DB_PREFIX = "e2e_"
# The stack runs on Idul Fitri 2027 (inside the cuti bersama), given to the processes as a setting;
# this process shares their clock (the same CLOCK_START and CLOCK_START_WALL).
E2E_DAY = DAYS["idul-fitri"]
# The Open311 key intake seeds at start-up (its `OPEN311_API_KEY` setting, as `make run` does).
E2E_OPEN311_KEY = "e2e-open311-key-for-the-test-stack-only"


@pytest.fixture(scope="session", autouse=True)
def e2e_clock() -> Iterator[datetime]:
    """Every e2e test runs on E2E_DAY; returns the wall instant the day's clock starts from."""
    anchor = clock.wall()
    before = clock.current()
    clock.install(clock.starting_at(E2E_DAY, when=anchor))
    yield anchor
    clock.install(before)


def rate_limit_variables() -> list[str]:
    """The environment variables of every service's per-minute rate limits."""
    from services.intake.settings import RateLimitSettings
    from services.routing.entrypoints.ratelimit import RoutingRateSettings
    from services.sla.entrypoints.ratelimit import SlaRateSettings

    return [
        f"{cls.model_config.get('env_prefix', '')}{name}".upper()
        for cls in (RateLimitSettings, RoutingRateSettings, SlaRateSettings)
        for name in cls.model_fields
        if "per_minute" in name
    ]


async def caught_up(bootstrap: str, timeout: float) -> None:
    """Wait until every group has committed what its topics held when this was called."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    try:
        partitions = {spec.name: spec.partitions for spec in TOPICS}
        wanted = {topic for topics in GROUP_TOPICS.values() for topic in topics}
        ends = await probe.end_offsets(
            [TopicPartition(topic, p) for topic in wanted for p in range(partitions[topic])]
        )

        async def done() -> bool:
            for group, topics in GROUP_TOPICS.items():
                committed = await admin.list_consumer_group_offsets(group)
                for tp, end in ends.items():
                    if tp.topic in topics and end > 0 and (tp not in committed or committed[tp].offset < end):
                        return False
            return True

        await eventually(done, within=timeout, what="the services' groups past the suite's backlog")
    finally:
        await probe.stop()
        await admin.close()


@pytest.fixture(scope="session")
def staff_smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mailbox, int, Path]]:
    """A real SMTP server (STARTTLS, AUTH) the stack's routing sends staff e-mail to."""
    with smtp_server(tmp_path_factory.mktemp("staff-smtp")) as server:
        yield server


def staff_mail_variables(smtp: tuple[Mailbox, int, Path]) -> dict[str, str]:
    _, port, cert = smtp
    return {
        "ROUTING_MAIL_SMTP_HOST": "127.0.0.1",
        "ROUTING_MAIL_SMTP_PORT": str(port),
        "ROUTING_MAIL_SMTP_CA_FILE": str(cert),
        "ROUTING_MAIL_SMTP_USERNAME": SMTP_USER,
        "ROUTING_MAIL_SMTP_PASSWORD": SMTP_PASSWORD,
    }


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, one per test module (tests/e2e/browser.py)."""
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


# Set once the session's service stack runs (tests/e2e/test_dashboard.py must run before it).
STACK_STARTED: list[bool] = []


@pytest.fixture(scope="session")
def services(
    endpoints: infra.Endpoints, e2e_clock: datetime, staff_smtp: tuple[Mailbox, int, Path]
) -> Iterator[ServiceSet]:
    # The same preparation `make run` does: topics, then the OPD catalog routing checks against.
    asyncio.run(prepare(endpoints.kafka_bootstrap, endpoints.mongo_uri, routing_db=f"{DB_PREFIX}routing"))
    # The suite sends far more than a citizen would from one address: every per-minute limit of
    # every service is off (0); the limits themselves are tested in tests/integration/test_ratelimit.py.
    os.environ.update(dict.fromkeys(rate_limit_variables(), "0"))
    os.environ.update(CLOCK_START=E2E_DAY.isoformat(), CLOCK_START_WALL=e2e_clock.isoformat())
    # One log line per request too: the observability and privacy tests read the logs.
    os.environ["ACCESS_LOG"] = "true"
    before_key = os.environ.get("OPEN311_API_KEY")
    os.environ["OPEN311_API_KEY"] = E2E_OPEN311_KEY
    logs = infra.run_dir(infra.test_profile()) / "services"
    for old in logs.glob("*.log"):  # this session's lines only: the tests read the logs
        old.unlink()
    mail = staff_mail_variables(staff_smtp)  # routing's staff e-mail (tests/e2e/test_workbench.py)
    running = start_services(endpoints, E2E_PORTS, logs, db_prefix=DB_PREFIX, extra_env=mail)
    STACK_STARTED.append(True)
    try:
        asyncio.run(wait_ready(running, timeout=90))
        # The services' groups read every topic from the beginning: the integration tier's events
        # (thousands, some poison) come first. Tests start once that backlog is behind them, so
        # their own bounded waits measure the services, not the suite's history.
        asyncio.run(caught_up(endpoints.kafka_bootstrap, timeout=240))
        yield running
    finally:
        running.stop()
        for name in ("CLOCK_START", "CLOCK_START_WALL", "ACCESS_LOG"):
            os.environ.pop(name, None)
        os.environ.pop("OPEN311_API_KEY", None)
        if before_key is not None:
            os.environ["OPEN311_API_KEY"] = before_key
