"""`make run`'s supervisor with real processes: a SIGKILLed database server is started again and
answers; a process that keeps dying is left stopped and reported; `pengaduan status` shows it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import infra, ops
from devtools.supervise import Supervisor
from shared import clock
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _status(path: Path) -> dict[str, dict[str, object]]:
    return {row["name"]: row for row in json.loads(path.read_text())["processes"]}


async def test_a_killed_database_is_started_again_and_answers(tmp_path: Path) -> None:
    profile = f"{infra.test_profile()}-supervised"
    ports = infra.Ports(kafka=0, kafka_controller=0, mongo=infra.test_ports().mongo + 7)
    uri = infra.endpoints(ports).mongo_uri
    infra.stop_stale(profile)
    shutil.rmtree(infra.run_dir(profile) / "secantus", ignore_errors=True)
    supervisor = Supervisor(tmp_path / "status.json", backoff_s=(0.1,))
    try:
        supervisor.start("database", lambda: infra.start_mongo(profile, ports, cache_size="128M"))
        await infra.wait_mongo(uri, timeout=30)
        first = supervisor.children["database"].server
        first_pid = first.pid if first is not None else None
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)

        async def restarted() -> bool:
            supervisor.tick()
            child = supervisor.children["database"]
            return child.restarts == 1 and child.state == "running"

        await eventually(restarted, what="the database started again")
        await infra.wait_mongo(uri, timeout=30)  # and it answers
        row = _status(tmp_path / "status.json")["database"]
        assert row["state"] == "running" and row["restarts"] == 1 and row["pid"] != first_pid
        shown = ops.render_status(json.loads((tmp_path / "status.json").read_text()), _now())
        [line] = [line for line in shown.splitlines() if line.startswith("database")]
        assert line.split()[:3] == ["database", "running", str(row["pid"])] and line.split()[-1] == "1"
    finally:
        supervisor.stop_all()


def _now() -> float:
    return clock.wall().timestamp()


def _crashing(tmp_path: Path) -> infra.Server:
    server = infra.Server("crasher", tmp_path / "crasher.pid", tmp_path / "crasher.log")
    with server.logfile.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "print('configuration broken'); raise SystemExit(3)"], stdout=out
        )
    server.pidfile.write_text(str(proc.pid))
    return server


async def test_a_process_that_keeps_dying_is_left_stopped_and_reported(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "status.json", max_crashes=3, window_s=60, backoff_s=(0.05,))
    supervisor.start("crasher", lambda: _crashing(tmp_path))

    async def given_up() -> bool:
        supervisor.tick()
        return supervisor.children["crasher"].state == "fatal"

    await eventually(given_up, what="the crash loop noticed")
    row = _status(tmp_path / "status.json")["crasher"]
    assert row["state"] == "fatal" and row["restarts"] == 2 and row["pid"] is None
    shown = ops.render_status(json.loads((tmp_path / "status.json").read_text()), _now())
    assert "left stopped after repeated crashes: crasher" in shown
    for _ in range(3):  # and it stays stopped
        supervisor.tick()
    assert supervisor.children["crasher"].restarts == 2
    assert (tmp_path / "crasher.log").read_text().count("configuration broken") == 3


def test_pengaduan_status_says_when_the_stack_is_not_running(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops.status(profile="never-started-here") == 3
    assert "has not been started" in capsys.readouterr().out
