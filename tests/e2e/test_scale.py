"""Beyond one process and one broker (issue 19), bounded forms of bench/chaos.py:

- two processes of every service (one address each, SO_REUSEPORT; the consumer groups sharing the
  partitions) under an open-loop submit load, while one process of each pair is SIGKILLed and
  started again by the supervisor: nothing lost, doubled or stuck, and the other process of the
  pair went on accepting submits while its twin was down;
- a 3-broker KRaft cluster (replication factor 3, min.insync.replicas 2) with one broker
  SIGKILLed under load: nothing lost, doubled or stuck, submits accepted while it was down, and
  the broker back in every partition's in-sync replicas (the heal waits for it).

Only lost = duplicated = stuck = 0 and "accepted while down" > 0 are asserted; the times are
the benchmark's figures."""

from __future__ import annotations

from datetime import datetime

import pytest

from bench import chaos
from devtools import infra
from devtools.services import SERVICES
from tests.e2e.conftest import E2E_DAY

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_environment(monkeypatch: pytest.MonkeyPatch, e2e_clock: datetime) -> None:
    for name, value in chaos.without_rate_limits().items():
        monkeypatch.setenv(name, value)
    # The stack's services run on the e2e day, as the e2e stack's do.
    monkeypatch.setenv("CLOCK_START", E2E_DAY.isoformat())
    monkeypatch.setenv("CLOCK_START_WALL", e2e_clock.isoformat())


def _ports(offset: int) -> infra.Ports:
    """Ports of the slot's space no other stack of the suite uses (the chaos test's is +50)."""
    base = infra.test_ports()
    return infra.Ports(
        kafka=base.kafka + offset, kafka_controller=base.kafka_controller + offset, mongo=base.mongo + offset
    )


def _http_ports(first: int) -> dict[str, int]:
    return {name: first + 10 * infra.test_slot() + i for i, name in enumerate(SERVICES)}


def test_killing_one_process_of_each_pair_loses_doubles_and_strands_nothing(stack_environment: None) -> None:
    faults = ("intake-2", "routing", "sla-2")  # a second one, a first one: either may go
    plan = chaos.Plan(
        rate=5.0, faults=faults, warmup_s=3.0, steady_s=3.0, heal_within_s=120.0, settle_within_s=90.0
    )

    report = chaos.run(f"{infra.test_profile()}-pairs", _ports(60), _http_ports(18781), plan, scale=2)

    print(report.table())
    assert [h.fault for h in report.heals] == list(faults)
    assert report.accepted > 0
    assert (report.lost, report.duplicated, report.stuck) == (0, 0, 0), report.table()
    # The other intake process answered while its twin was down (routing's and sla's twins take
    # over their partitions; that is what lost = stuck = 0 shows for them).
    intake = next(h for h in report.heals if h.fault == "intake-2")
    assert intake.accepted_while_down > 0, report.table()


def test_one_broker_of_three_killed_under_load_loses_nothing_and_rejoins(stack_environment: None) -> None:
    plan = chaos.Plan(
        rate=5.0, faults=("kafka-2",), warmup_s=3.0, steady_s=3.0, heal_within_s=150.0, settle_within_s=90.0
    )

    report = chaos.run(f"{infra.test_profile()}-cluster", _ports(70), _http_ports(18881), plan, brokers=3)

    print(report.table())
    # Healed means restarted, answering, back in sync on every partition, every service ready.
    assert [h.fault for h in report.heals] == ["kafka-2"]
    assert report.accepted > 0
    assert (report.lost, report.duplicated, report.stuck) == (0, 0, 0), report.table()
    assert report.heals[0].accepted_while_down > 0, report.table()  # the services carried on
