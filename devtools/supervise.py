"""`make run`'s supervisor: what dies is started again, with backoff; a crash loop is reported.

Each supervised process (Kafka, the database, each service) is checked twice a second. One that
is gone is started again after a backoff that doubles (1 s, 2 s, … 30 s); the others stay up and
reconnect by themselves. A process that dies `max_crashes` times within `window_s` is left
stopped and reported (state `fatal`): restarting a broken process forever hides it. The state of
every process — pid, state, since when, restarts — is written to a status file that
`pengaduan status` reads (devtools/ops.py).

Why not supervisord: it keeps no restart count, counts only exits within `startsecs` as a crash
loop (a service that dies after a minute would be restarted forever), and cannot start the
services only once Kafka and the database answer, which `make run` does before handing over.
This module reuses the stack's own start functions (devtools/infra.py, devtools/services.py).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.infra import Server
from shared import clock

log = logging.getLogger("devtools.supervise")

Spawn = Callable[[], Server]
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)


@dataclass
class Child:
    name: str
    spawn: Spawn
    server: Server | None = None
    state: str = "starting"  # running | backoff | fatal | stopped
    since: float = 0.0  # wall time (epoch) of the current state
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)  # monotonic instants of recent deaths
    retry_at: float = 0.0

    def row(self) -> dict[str, Any]:
        server = self.server
        return {
            "name": self.name,
            "state": self.state,
            "pid": server.pid if server is not None and self.state == "running" else None,
            "since": self.since,
            "restarts": self.restarts,
            "log": str(server.logfile) if server is not None else None,
        }


class Supervisor:
    def __init__(
        self,
        status_path: Path,
        *,
        max_crashes: int = 5,
        window_s: float = 300.0,
        backoff_s: tuple[float, ...] = BACKOFF_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.status_path = status_path
        self.children: dict[str, Child] = {}
        self._max_crashes = max_crashes
        self._window_s = window_s
        self._backoff_s = backoff_s
        self._monotonic = monotonic

    def adopt(self, name: str, server: Server, spawn: Spawn) -> None:
        """Supervise a process already started (by `spawn`, which starts it again)."""
        self.children[name] = Child(name, spawn, server, "running", _epoch())
        self.write_status()

    def start(self, name: str, spawn: Spawn) -> None:
        self.adopt(name, spawn(), spawn)

    def tick(self) -> None:
        """One round: notice deaths, start what is due again. Call it every fraction of a second."""
        now = self._monotonic()
        changed = False
        for child in self.children.values():
            if child.state == "running" and (child.server is None or not child.server.alive()):
                changed = True
                child.crashes = [t for t in child.crashes if now - t < self._window_s] + [now]
                tail = child.server.log_tail(5) if child.server else ""
                if len(child.crashes) >= self._max_crashes:
                    child.state, child.since = "fatal", _epoch()
                    log.error(
                        "%s died %d times within %.0f s: left stopped; its log ends:\n%s",
                        child.name, len(child.crashes), self._window_s, tail,
                    )  # fmt: skip
                    continue
                delay = self._backoff_s[min(len(child.crashes) - 1, len(self._backoff_s) - 1)]
                child.state, child.since, child.retry_at = "backoff", _epoch(), now + delay
                log.warning(
                    "%s died; starting it again in %.0f s; its log ends:\n%s", child.name, delay, tail
                )
            elif child.state == "backoff" and now >= child.retry_at:
                changed = True
                try:
                    child.server = child.spawn()
                except Exception as exc:  # e.g. its port still taken: count it as one more death
                    log.warning("%s did not start: %s", child.name, exc)
                    child.state, child.server = "running", None
                    continue
                child.state, child.since = "running", _epoch()
                child.restarts += 1
                log.warning("%s started again (restart %d)", child.name, child.restarts)
        if changed:
            self.write_status()

    def stop_all(self) -> None:
        for child in reversed(list(self.children.values())):
            if child.server is not None:
                child.server.stop(timeout=15)
            child.state, child.since = "stopped", _epoch()
        self.write_status()

    def write_status(self) -> None:
        status = {
            "supervisor_pid": os.getpid(),
            "written_at": _epoch(),
            "processes": [c.row() for c in self.children.values()],
        }
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.status_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(status, indent=1))
        temporary.replace(self.status_path)


def _epoch() -> float:
    return clock.wall().timestamp()  # uptime is the machine's, whatever day the stack runs on
