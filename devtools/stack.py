"""The whole local stack under supervision: Kafka, the database and the three services, each
started again by `devtools.supervise.Supervisor` when it dies. `make run` uses it on its ports;
`bench/chaos.py` (and its bounded form in the tests) on their own, to kill processes and watch the
stack heal by itself.

Options beyond one machine's minimum (issue 19): `scale` processes of every service on one
address each (`devtools.services`), and `brokers` = 3 for a KRaft cluster whose topics are
replicated three times with `min.insync.replicas` 2 (`devtools.infra`). Every process, each
broker and each service instance, is supervised on its own: `kafka-2`, `intake-2`, …"""

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
from devtools.services import SERVICES, ServiceSet, instance_name, start_service, start_services
from devtools.supervise import Supervisor
from shared.settings import KafkaLayoutSettings

log = logging.getLogger("devtools.stack")
TICK_S = 0.5  # how often the supervisor looks at its processes


@dataclass
class Stack:
    profile: str
    ends: infra.Endpoints
    services: ServiceSet
    supervisor: Supervisor
    ports: infra.Ports = infra.RUN_PORTS
    brokers: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def broker_bootstrap(self, name: str) -> str:
        """The address of one broker (`kafka`, `kafka-2`, …) alone."""
        node = 1 if name == "kafka" else int(name.rpartition("-")[2])
        return f"127.0.0.1:{infra.kafka_node_ports(self.ports, node)[0]}"

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


def cluster_layout(brokers: int) -> KafkaLayoutSettings:
    """The topics' layout on `brokers`: 3 replicas and 2 in sync on a cluster, 1 and 1 alone."""
    if brokers == 1:
        return KafkaLayoutSettings(replication_factor=1, min_insync_replicas=1)
    return KafkaLayoutSettings(replication_factor=min(brokers, 3), min_insync_replicas=2)


def layout_env(layout: KafkaLayoutSettings) -> dict[str, str]:
    """The services' settings (shared/settings.py) for `layout`: they check the topics against it."""
    return {
        "KAFKA_REPLICATION_FACTOR": str(layout.replication_factor),
        "KAFKA_MIN_INSYNC_REPLICAS": str(layout.min_insync_replicas),
    }


@contextlib.contextmanager
def supervised_stack(
    profile: str,
    ports: infra.Ports,
    http_ports: dict[str, int],
    *,
    fresh: bool = False,
    scale: int = 1,
    brokers: int = 1,
) -> Iterator[Stack]:
    """Start everything (topics and the catalog prepared), supervise it, stop it all after.

    The services are spawned with this process's environment (and, on a cluster, its topic
    layout), then and at every restart. The caller ticks the supervisor (`Stack.tick`, or
    `ticking`)."""
    with infra.native_stack(profile, ports, fresh=fresh, brokers=brokers) as ends:
        layout = cluster_layout(brokers)
        extra = layout_env(layout) if brokers > 1 else {}
        asyncio.run(prepare(ends.kafka_bootstrap, ends.mongo_uri, layout=layout if brokers > 1 else None))
        logs = infra.run_dir(profile) / "services"
        services = start_services(ends, http_ports, logs, scale=scale, extra_env=extra)
        supervisor = Supervisor(status_path(profile))
        try:
            # Kafka and the database were started (and awaited) by native_stack; from here on
            # the supervisor starts whatever dies again, the rest staying up.
            supervisor.adopt(
                "database", infra.mongo_server(profile), functools.partial(_database, profile, ports)
            )
            for node in range(1, brokers + 1):
                heap = "768m" if brokers == 1 else "384m"
                supervisor.adopt(
                    infra.kafka_name(node),
                    infra.kafka_server(profile, node),
                    functools.partial(infra.start_kafka, profile, ports, heap, node=node, brokers=brokers),
                )
            for name in SERVICES:
                for n in range(1, scale + 1):
                    spawn = functools.partial(
                        start_service, name, ends, http_ports[name], logs,
                        instance=n, scale=scale, extra_env=extra,
                    )  # fmt: skip
                    label = instance_name(name, n)
                    supervisor.adopt(label, services.servers[label], spawn)
            yield Stack(profile, ends, services, supervisor, ports, brokers)
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
