"""The whole local stack under supervision: Kafka, the database and the three services, each
started again by `devtools.supervise.Supervisor` when it dies. `make run` uses it on its ports;
`bench/chaos.py` (and its bounded form in the tests) on their own, to kill processes and watch the
stack heal by itself."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from devtools import infra
from devtools.ops import status_path
from devtools.prepare import prepare
from devtools.services import SERVICES, ServiceSet, start_service, start_services
from devtools.supervise import Supervisor

log = logging.getLogger("devtools.stack")
TICK_S = 0.5  # how often the supervisor looks at its processes


@dataclass
class Stack:
    profile: str
    ends: infra.Endpoints
    services: ServiceSet
    supervisor: Supervisor
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tick(self) -> None:
        with self._lock:
            self.supervisor.tick()

    def pid(self, name: str) -> int | None:
        server = self.supervisor.children[name].server
        return server.pid if server is not None else None

    def kill(self, name: str) -> int:
        """SIGKILL one supervised process (`database`, `kafka`, or a service); its pid."""
        with self._lock:
            pid = self.pid(name)
            if pid is None:
                raise RuntimeError(f"{name} has no process to kill")
            os.kill(pid, signal.SIGKILL)
            return pid

    def restarts(self, name: str) -> int:
        return self.supervisor.children[name].restarts

    def state(self, name: str) -> str:
        return self.supervisor.children[name].state


@contextlib.contextmanager
def supervised_stack(
    profile: str, ports: infra.Ports, http_ports: dict[str, int], *, fresh: bool = False
) -> Iterator[Stack]:
    """Start everything (topics and the catalog prepared), supervise it, stop it all after.

    The services are spawned with this process's environment, then and at every restart. The
    caller ticks the supervisor (`Stack.tick`, or `ticking`)."""
    with infra.native_stack(profile, ports, fresh=fresh) as ends:
        asyncio.run(prepare(ends.kafka_bootstrap, ends.mongo_uri))
        logs = infra.run_dir(profile) / "services"
        services = start_services(ends, http_ports, logs)
        supervisor = Supervisor(status_path(profile))
        try:
            # Kafka and the database were started (and awaited) by native_stack; from here on
            # the supervisor starts whatever dies again, the rest staying up.
            supervisor.adopt(
                "database", infra.mongo_server(profile), functools.partial(_database, profile, ports)
            )
            supervisor.adopt(
                "kafka", infra.kafka_server(profile), functools.partial(infra.start_kafka, profile, ports)
            )
            for name in SERVICES:
                spawn = functools.partial(start_service, name, ends, http_ports[name], logs)
                supervisor.adopt(name, services.servers[name], spawn)
            yield Stack(profile, ends, services, supervisor)
        finally:
            supervisor.stop_all()
            services.stop()


def _database(profile: str, ports: infra.Ports) -> infra.Server:
    """Start the database again; once it answers, set its runtime parameters (a thread of its
    own: the supervisor does not wait)."""
    server = infra.start_mongo(profile, ports)

    def configure() -> None:
        try:
            asyncio.run(infra.wait_mongo(infra.endpoints(ports).mongo_uri, server, timeout=120))
        except Exception as exc:  # it died again: the supervisor sees to that
            log.warning("database not configured after its start: %s", exc)

    threading.Thread(target=configure, name="database-parameters", daemon=True).start()
    return server


@contextlib.contextmanager
def ticking(stack: Stack) -> Iterator[None]:
    """Tick the supervisor on a thread of its own while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(TICK_S):
            stack.tick()

    thread = threading.Thread(target=loop, name="supervisor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
