"""Start the three services as processes against given infrastructure, and wait for /readyz.

With `scale` > 1 every service runs that many processes on one address: each listens with
SO_REUSEPORT (`HTTP_REUSE_PORT`), the kernel spreading connections over them, and they share
their consumer groups' partitions. Instances are named `intake`, `intake-2`, …; each has its own
log and PID file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from devtools.infra import Endpoints, InfraError, Server

SERVICES = ("intake", "routing", "sla")
RUN_HTTP_PORTS = {"intake": 8081, "routing": 8082, "sla": 8083}


def instance_name(service: str, n: int) -> str:
    """The `n`-th (1-based) process of `service`: `intake`, `intake-2`, …"""
    return service if n == 1 else f"{service}-{n}"


def service_of(instance: str) -> str:
    """`intake-2` → `intake`."""
    base, _, number = instance.rpartition("-")
    return base if base in SERVICES and number.isdigit() else instance


@dataclass
class ServiceSet:
    ports: dict[str, int]  # service → its one address's port
    servers: dict[str, Server] = field(default_factory=dict)  # instance → its process
    scale: int = 1

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[service_of(name)]}"

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop(timeout=15)


def service_env(name: str, ends: Endpoints, port: int, db_prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    prefix = name.upper()
    env.update(
        {
            f"{prefix}_KAFKA_BOOTSTRAP": ends.kafka_bootstrap,
            f"{prefix}_MONGO_URI": ends.mongo_uri,
            f"{prefix}_MONGO_DB": f"{db_prefix}{name}",
            f"{prefix}_HTTP_PORT": str(port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_service(
    name: str,
    ends: Endpoints,
    port: int,
    logs: Path,
    db_prefix: str = "",
    *,
    instance: int = 1,
    scale: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Server:
    """Spawn `python -m services.<name>` (its `instance`-th process of `scale`); its log goes to
    `logs/<instance name>.log` (appended)."""
    logs.mkdir(parents=True, exist_ok=True)
    label = instance_name(name, instance)
    server = Server(label, logs / f"{label}.pid", logs / f"{label}.log")
    server.stop()
    env = service_env(name, ends, port, db_prefix)
    env.update(extra_env or {})
    if scale > 1:
        env["HTTP_REUSE_PORT"] = "true"
    with server.logfile.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server.pidfile.write_text(str(proc.pid))
    return server


def start_services(
    ends: Endpoints,
    ports: dict[str, int],
    logs: Path,
    db_prefix: str = "",
    *,
    scale: int = 1,
    extra_env: dict[str, str] | None = None,
) -> ServiceSet:
    """Spawn `scale` processes of every service (`start_service`)."""
    result = ServiceSet(ports, scale=scale)
    # routing asks intake for a complaint's attachments (the workbench page) at intake's port here
    neighbours = {"routing": {"ROUTING_INTAKE_URL": f"http://127.0.0.1:{ports['intake']}"}}
    for name in SERVICES:
        env = {**neighbours.get(name, {}), **(extra_env or {})}
        for n in range(1, scale + 1):
            result.servers[instance_name(name, n)] = start_service(
                name, ends, ports[name], logs, db_prefix, instance=n, scale=scale, extra_env=env
            )
    return result


def listening(pid: int, port: int) -> bool:
    """Process `pid` holds a listening TCP socket on `port` (Linux: its descriptors in /proc
    against the kernel's socket tables). With SO_REUSEPORT a /readyz through the shared address
    reaches whichever process the kernel picks; this tells that each one is serving."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows)  # the header
            for row in rows:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                    return True
    return False


async def wait_ready(services: ServiceSet, timeout: float = 60.0) -> None:
    """Poll every service's /readyz until it answers 200 (Kafka and database reachable) and,
    when a service runs several processes, until each of them listens on the service's port."""
    deadline = time.monotonic() + timeout
    pending = set(services.servers) or set(services.ports)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while pending:
            for name in sorted(pending):
                server = services.servers.get(name)
                if server is not None and not server.alive():
                    raise InfraError(f"service {name} exited; its log ends:\n{server.log_tail()}")
                port = services.ports[service_of(name)]
                if services.scale > 1 and (
                    server is None or server.pid is None or not listening(server.pid, port)
                ):
                    continue
                try:
                    async with http.get(f"{services.url(name)}/readyz") as resp:
                        if resp.status == 200:
                            pending.discard(name)
                except (aiohttp.ClientError, TimeoutError):
                    pass
            if pending and time.monotonic() > deadline:
                raise InfraError(f"services not ready after {timeout:.0f}s: {sorted(pending)}")
            if pending:
                await asyncio.sleep(0.2)  # poll interval
