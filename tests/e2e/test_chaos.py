"""The kill suite, bounded (bench/chaos.py): a supervised stack of its own under an open-loop
submit load while intake, routing, sla, Kafka and the database are SIGKILLed in turn and started
again by the supervisor alone; every complaint answered 202 is then routed exactly once, has its
clocks and is seen by its citizen. Only lost = duplicated = stuck = 0 is asserted: the times and
the share of citizens never answered 202 are the benchmark's figures, not a test's."""

from __future__ import annotations

from datetime import datetime

import pytest

from bench import chaos
from devtools import infra
from tests.e2e.conftest import E2E_DAY

pytestmark = pytest.mark.e2e


def test_killing_each_process_in_turn_loses_doubles_and_strands_no_complaint(
    monkeypatch: pytest.MonkeyPatch, e2e_clock: datetime
) -> None:
    for name, value in chaos.without_rate_limits().items():
        monkeypatch.setenv(name, value)
    # The stack's services run on the e2e day, as the e2e stack's do.
    monkeypatch.setenv("CLOCK_START", E2E_DAY.isoformat())
    monkeypatch.setenv("CLOCK_START_WALL", e2e_clock.isoformat())
    base = infra.test_ports()
    ports = infra.Ports(
        kafka=base.kafka + 50, kafka_controller=base.kafka_controller + 50, mongo=base.mongo + 50
    )
    http_ports = {
        name: 18581 + 10 * infra.test_slot() + i for i, name in enumerate(("intake", "routing", "sla"))
    }
    plan = chaos.Plan(rate=5.0, warmup_s=3.0, steady_s=3.0, heal_within_s=120.0, settle_within_s=90.0)

    report = chaos.run(f"{infra.test_profile()}-chaos", ports, http_ports, plan)

    print(report.table())
    assert [h.fault for h in report.heals] == list(chaos.FAULTS)  # every process was killed and healed
    assert report.accepted > 0
    assert (report.lost, report.duplicated, report.stuck) == (0, 0, 0), report.table()
