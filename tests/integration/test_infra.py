"""devtools.infra: the servers it starts answer real clients, and stop by their own PIDs."""

from __future__ import annotations

import os

import pytest

from devtools import infra

pytestmark = pytest.mark.integration


async def test_the_session_servers_answer_real_clients(endpoints: infra.Endpoints) -> None:
    assert await infra._kafka_answers(endpoints.kafka_bootstrap)
    assert await infra._mongo_answers(endpoints.mongo_uri)


async def test_a_database_server_starts_waits_ready_and_stops_by_its_pid(endpoints: infra.Endpoints) -> None:
    if infra.secantus_binary().exists() is False:
        pytest.skip("secantusd-rs is not built on this machine (docker mode)")
    ports = infra.Ports(kafka=0, kafka_controller=0, mongo=28117)
    server = infra.start_mongo("test-infra", ports)
    pid = server.pid
    assert pid is not None
    try:
        await infra.wait_mongo(
            f"mongodb://127.0.0.1:{ports.mongo}/?directConnection=true", server, timeout=30
        )
        assert server.alive()
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert server.pid is None  # the PID file is gone
    assert not await infra._mongo_answers(f"mongodb://127.0.0.1:{ports.mongo}/?directConnection=true")


async def test_waiting_on_a_process_that_died_fails_fast_with_its_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    log = tmp_path / "dead.log"
    log.write_text("fatal: cannot bind\n")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: ASYNC220 - a child that exits at once
    proc.wait()
    pidfile = tmp_path / "dead.pid"
    pidfile.write_text(str(proc.pid))
    dead = infra.Server("dead", pidfile, log)
    with pytest.raises(infra.InfraError, match="cannot bind"):
        await infra.wait_mongo("mongodb://127.0.0.1:1/?directConnection=true", dead, timeout=10)
