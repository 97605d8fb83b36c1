"""Start the three services as processes against given infrastructure, and wait for /readyz."""

from __future__ import annotations

import asyncio
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


@dataclass
class ServiceSet:
    ports: dict[str, int]
    servers: dict[str, Server] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

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


def start_service(name: str, ends: Endpoints, port: int, logs: Path, db_prefix: str = "") -> Server:
    """Spawn `python -m services.<name>`; its log goes to `logs/<name>.log` (appended)."""
    logs.mkdir(parents=True, exist_ok=True)
    server = Server(name, logs / f"{name}.pid", logs / f"{name}.log")
    server.stop()
    with server.logfile.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            env=service_env(name, ends, port, db_prefix),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server.pidfile.write_text(str(proc.pid))
    return server


def start_services(ends: Endpoints, ports: dict[str, int], logs: Path, db_prefix: str = "") -> ServiceSet:
    """Spawn every service (`start_service`)."""
    result = ServiceSet(ports)
    for name in SERVICES:
        result.servers[name] = start_service(name, ends, ports[name], logs, db_prefix)
    return result


async def wait_ready(services: ServiceSet, timeout: float = 60.0) -> None:
    """Poll every service's /readyz until it answers 200 (Kafka and database reachable)."""
    deadline = time.monotonic() + timeout
    pending = set(services.ports)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while pending:
            for name in sorted(pending):
                server = services.servers.get(name)
                if server is not None and not server.alive():
                    raise InfraError(f"service {name} exited; its log ends:\n{server.log_tail()}")
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
