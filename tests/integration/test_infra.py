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
    # Inside this slot's range (the e2e stack takes +50…+70, the cluster +80): a fixed port was
    # the next slot's database.
    ports = infra.Ports(kafka=0, kafka_controller=0, mongo=infra.test_ports().mongo + 90)
    server = infra.start_mongo(f"{infra.test_profile()}-infra", ports)
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


async def test_a_write_the_database_acknowledged_survives_a_sigkill() -> None:
    """Journaled acknowledgement means on disk: updates acknowledged (j:true, as every service
    writes) up to the instant the server is SIGKILLed are all there after its restart. Without
    `--sync-on-commit` the server acknowledged before its log reached the disk and lost the last
    tens of acknowledged updates (seen as a citizen's view stuck in bench/chaos.py)."""
    import asyncio
    import shutil
    import signal

    from shared.mongo import mongo_client
    from tests.waiting import eventually

    profile = f"{infra.test_profile()}-durable"
    ports = infra.Ports(kafka=0, kafka_controller=0, mongo=infra.test_ports().mongo + 8)
    uri = infra.endpoints(ports).mongo_uri
    infra.stop_stale(profile)
    shutil.rmtree(infra.run_dir(profile) / "secantus", ignore_errors=True)
    server = infra.start_mongo(profile, ports, cache_size="128M")
    try:
        await infra.wait_mongo(uri, server, timeout=30)
        client = mongo_client(uri)
        acknowledged = -1

        async def write_on() -> None:
            nonlocal acknowledged
            n = 0
            while True:
                await client.t.counter.update_one({"_id": "n"}, {"$set": {"n": n}}, upsert=True)
                acknowledged = n
                n += 1

        writer = asyncio.create_task(write_on())

        async def many_acknowledged() -> bool:
            return acknowledged >= 300

        await eventually(many_acknowledged, what="300 acknowledged updates")
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        last = acknowledged  # nothing is acknowledged after the kill
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        await client.close()

        async def gone() -> bool:
            return not server.alive()

        await eventually(gone, what="the database gone")
        server = infra.start_mongo(profile, ports, cache_size="128M")
        await infra.wait_mongo(uri, server, timeout=30)
        client = mongo_client(uri)
        try:
            stored = await client.t.counter.find_one({"_id": "n"})
        finally:
            await client.close()
        assert stored is not None and stored["n"] >= last, (stored, last)
    finally:
        server.stop()
