"""Real Kafka and a real MongoDB-wire server on a machine without Docker (DESIGN §7).

Installs each server once into a cache outside the clone, starts it as a child process with its
data under the project's run folder, waits until it answers a real client request, and stops it by
the PID it recorded. Used by `make run`, by `make test` (through the test fixtures) and by the
benchmarks, so every one of them runs against the same servers.

- Kafka 4.3.1: the broker's jars from Maven Central (`kafka-pom.xml`), single-node KRaft.
- SecantusDB `secantusd-rs`: built with cargo from crates.io. It is GPL-2.0, so it only ever runs
  as a separate process; nothing of it is linked or vendored.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("devtools.infra")

KAFKA_VERSION = "4.3.1"
SECANTUS_CRATE = "secantus-mdb"
SECANTUS_VERSION = "0.5.3-beta.196"
REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_POM = Path(__file__).resolve().parent / "kafka-pom.xml"


class InfraError(RuntimeError):
    """A server could not be installed, started or reached; the message says what to look at."""


def cache_dir() -> Path:
    """Where installed servers live: outside the clone, so a fresh clone reuses them."""
    base = os.environ.get("PENGADUAN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pengaduan"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_dir(profile: str) -> Path:
    """Data, logs and PID files of one stack (`run` or `test`), under the ignored `.run/`."""
    path = REPO_ROOT / ".run" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- installation -----------------------------------------------------------------------------


def new_cluster_id() -> str:
    """A KRaft cluster id (base64url of 16 random bytes). One starting with `-` would be read as
    an option by StorageTool (about 1 start in 64), so draw again."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def ensure_kafka_jars() -> Path:
    """The broker's classpath folder, downloaded by Maven on first use (~45 jars, ~45 MB)."""
    lib = cache_dir() / f"kafka-{KAFKA_VERSION}" / "lib"
    marker = lib / ".complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None:
        raise InfraError("Maven (mvn) is needed once to fetch the Kafka jars")
    log.info("fetching Kafka %s jars from Maven Central into %s", KAFKA_VERSION, lib)
    shutil.rmtree(lib, ignore_errors=True)
    subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(KAFKA_POM),
            "dependency:copy-dependencies", f"-DoutputDirectory={lib}",
        ],
        check=True,
    )  # fmt: skip
    if not any(lib.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        raise InfraError(f"Maven finished but {lib} has no kafka_2.13-{KAFKA_VERSION}.jar")
    marker.touch()
    return lib


def secantus_binary() -> Path:
    return cache_dir() / f"secantus-{SECANTUS_VERSION}" / "bin" / "secantusd-rs"


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> Path:
    """Debian's chromium for the dashboard's browser test (DESIGN §7; `playwright install`
    cannot download its own browser on these machines). Installed with apt when missing."""
    return _debian_package("chromium", CHROMIUM)


DOCKER_COMPOSE = Path("/usr/bin/docker-compose")


def ensure_docker_compose() -> Path:
    """Debian's docker-compose (1.29), which validates docker-compose.yml without a Docker engine
    (`docker-compose config -q`, tests/unit/test_deploy_files.py). Installed with apt when missing."""
    return _debian_package("docker-compose", DOCKER_COMPOSE)


PROMTOOL = Path("/usr/bin/promtool")


def ensure_promtool() -> Path:
    """Debian's promtool (package `prometheus`), which checks deploy/monitoring's configuration
    and alert rules (tests/unit/test_deploy_files.py). Installed with apt when missing."""
    return _debian_package("prometheus", PROMTOOL)


# What the tests fetch from npm — axe-core and oidc-provider, every transitive package pinned with
# its integrity hash in devtools/npm/package-lock.json — installed once per lock with `npm ci
# --ignore-scripts` (exactly the locked tree, no install scripts run) into the cache.
NPM_LOCK = Path(__file__).parent / "npm"


def _npm_tree(needed_for: str) -> Path:
    """The locked npm packages' `node_modules`, installed once into the cache."""
    lock = (NPM_LOCK / "package-lock.json").read_bytes()
    digest = hashlib.sha256(lock + (NPM_LOCK / "package.json").read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"npm-{digest}"
    if (target / "node_modules").is_dir():
        return target / "node_modules"
    if shutil.which("npm") is None:
        raise InfraError(f"npm is needed once to fetch the packages of devtools/npm for {needed_for}")
    building = cache_dir() / f"npm-{digest}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(NPM_LOCK / name, building / name)
    log.info("installing devtools/npm's locked packages with npm ci (once)")
    done = subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=building,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise InfraError(f"npm ci in devtools/npm failed:\n{done.stderr[-2000:]}")
    with contextlib.suppress(OSError):  # another process finished first: theirs is the same tree
        building.rename(target)
    shutil.rmtree(building, ignore_errors=True)
    return target / "node_modules"


def ensure_axe() -> Path:
    """axe-core's browser script (from npm, locked), which the page tests inject to find
    accessibility faults."""
    return _npm_tree("the page tests") / "axe-core" / "axe.min.js"


def ensure_oidc_provider() -> Path:
    """panva's `oidc-provider` (from npm, locked; certified by the OpenID Foundation), the real
    OpenID Connect provider the staff sign-in tests run (tests/oidc/provider.mjs). Its module's
    path."""
    return _npm_tree("the staff sign-in tests") / "oidc-provider" / "lib" / "index.js"


def _debian_package(package: str, path: Path) -> Path:
    if path.exists():
        return path
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise InfraError(f"{path} is missing: install Debian's {package} (apt-get install {package})")
    log.info("installing %s with apt-get (once)", package)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(
            command, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        )
        if done.returncode != 0:
            raise InfraError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    if not path.exists():
        raise InfraError(f"apt-get installed {package} but {path} is still missing")
    return path


def ensure_secantus() -> Path:
    """The `secantusd-rs` binary, built once with cargo (about 7–8 minutes on 2 cores)."""
    binary = secantus_binary()
    if binary.exists():
        return binary
    if shutil.which("cargo") is None:
        raise InfraError("cargo is needed once to build secantusd-rs")
    root = binary.parent.parent
    log.info("building %s %s with cargo (once, ~8 min) into %s", SECANTUS_CRATE, SECANTUS_VERSION, root)
    # The crate declares a newer Rust than this machine's 1.95; DESIGN §7 verified it builds anyway.
    subprocess.run(
        [
            "cargo", "install", SECANTUS_CRATE, "--version", SECANTUS_VERSION,
            "--locked", "--ignore-rust-version", "--root", str(root),
        ],
        check=True,
    )  # fmt: skip
    if not binary.exists():
        raise InfraError(f"cargo finished but {binary} is missing")
    return binary


# --- processes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    kafka: int
    kafka_controller: int
    mongo: int


RUN_PORTS = Ports(kafka=9092, kafka_controller=9093, mongo=27017)
TEST_PORTS = Ports(kafka=29092, kafka_controller=29093, mongo=28017)


def test_slot() -> int:
    """`PENGADUAN_TEST_SLOT=N` (0–9) gives a test run its own ports and data dir, so several runs
    (e.g. two developers' checkouts on one machine) never stop each other's servers."""
    slot = int(os.environ.get("PENGADUAN_TEST_SLOT", "0"))
    if not 0 <= slot <= 9:
        raise InfraError(f"PENGADUAN_TEST_SLOT={slot}: use 0–9")
    return slot


def test_profile() -> str:
    slot = test_slot()
    return "test" if slot == 0 else f"test{slot}"


def test_ports() -> Ports:
    offset = 100 * test_slot()
    return Ports(TEST_PORTS.kafka + offset, TEST_PORTS.kafka_controller + offset, TEST_PORTS.mongo + offset)


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    mongo_uri: str


def endpoints(ports: Ports, brokers: int = 1) -> Endpoints:
    return Endpoints(
        kafka_bootstrap=",".join(f"127.0.0.1:{kafka_node_ports(ports, n)[0]}" for n in range(1, brokers + 1)),
        mongo_uri=f"mongodb://127.0.0.1:{ports.mongo}/?directConnection=true",
    )


@dataclass
class Server:
    """A server process this module started, known by its PID file."""

    name: str
    pidfile: Path
    logfile: Path

    @property
    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # A zombie child still answers kill(0): reap it if it is ours.
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return False
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait for the process to go, SIGKILL if it does not; then forget the PID."""
        pid = self.pid
        if pid is not None and self.alive():
            log.info("stopping %s (pid %s)", self.name, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.alive():
                log.warning("%s did not stop in %.0fs; killing it", self.name, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                while self.alive():
                    time.sleep(0.05)
        self.pidfile.unlink(missing_ok=True)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _spawn(server: Server, argv: list[str], ports: list[int]) -> None:
    server.stop()  # a stale process of an earlier, interrupted run of the same stack
    busy = [p for p in ports if not _port_free(p)]
    if busy:
        raise InfraError(f"{server.name}: port(s) {busy} already in use by another process")
    server.logfile.parent.mkdir(parents=True, exist_ok=True)
    with server.logfile.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
        )
    server.pidfile.write_text(str(proc.pid))
    log.info("started %s (pid %s), log %s", server.name, proc.pid, server.logfile)


def kafka_node_ports(ports: Ports, node: int) -> tuple[int, int]:
    """(listener, controller) ports of broker `node` (1-based) of a stack: the first broker's are
    the stack's own, the others' follow two by two (a slot's space is 100 ports wide)."""
    return ports.kafka + 2 * (node - 1), ports.kafka_controller + 2 * (node - 1)


def _kafka_properties(ports: Ports, data: Path, node: int = 1, brokers: int = 1) -> str:
    """A KRaft node that is broker and controller at once; with `brokers` > 1 one of a cluster
    whose every node votes (a static quorum), the internal topics replicated on three (or all)
    of them and `min.insync.replicas` 2: the layout the project's topics get from
    KAFKA_REPLICATION_FACTOR / KAFKA_MIN_INSYNC_REPLICAS, so that one broker may be lost."""
    listener, controller = kafka_node_ports(ports, node)
    voters = ",".join(f"{n}@127.0.0.1:{kafka_node_ports(ports, n)[1]}" for n in range(1, brokers + 1))
    replicas = min(brokers, 3)
    min_isr = 2 if brokers > 1 else 1
    return f"""\
process.roles=broker,controller
node.id={node}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{listener},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{listener}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
# Topics are created by the project with explicit partition counts (shared.topics).
auto.create.topics.enable=false
num.partitions=1
default.replication.factor={replicas}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
"""


_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {logfile}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
"""


def kafka_name(node: int = 1) -> str:
    """A broker's name in a stack: `kafka`, then `kafka-2`, `kafka-3` in a cluster."""
    return "kafka" if node == 1 else f"kafka-{node}"


def kafka_server(profile: str, node: int = 1) -> Server:
    """The profile's broker `node`, by its PID and log files (started or not)."""
    base = run_dir(profile) / kafka_name(node)
    return Server(kafka_name(node), base / "kafka.pid", base / "stdout.log")


def mongo_server(profile: str) -> Server:
    """The profile's database server, by its PID and log files (started or not)."""
    base = run_dir(profile) / "secantus"
    return Server("secantusd-rs", base / "secantusd.pid", base / "server.log")


def start_kafka(profile: str, ports: Ports, heap: str = "768m", *, node: int = 1, brokers: int = 1) -> Server:
    """Broker `node` of the profile's `brokers` (one: the single broker of `make run`)."""
    lib = ensure_kafka_jars()
    java = shutil.which("java")
    if java is None:
        raise InfraError("java (17+) is needed to run the Kafka broker")
    base = run_dir(profile) / kafka_name(node)
    data = base / "data"
    base.mkdir(parents=True, exist_ok=True)
    props = base / "server.properties"
    props.write_text(_kafka_properties(ports, data, node, brokers))
    log4j = base / "log4j2.properties"
    log4j.write_text(_LOG4J2.format(logfile=base / "server.log"))
    classpath = f"{lib}/*"
    jvm = [java, "-Xms256m", f"-Xmx{heap}", "-XX:+UseG1GC", f"-Dlog4j2.configurationFile={log4j}"]
    if not (data / "meta.properties").exists():
        cluster_id = new_cluster_id() if brokers == 1 else _cluster_id(profile)
        subprocess.run(
            [*jvm, "-cp", classpath, "kafka.tools.StorageTool", "format",
             "-t", cluster_id, "-c", str(props)],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    server = kafka_server(profile, node)
    _spawn(server, [*jvm, "-cp", classpath, "kafka.Kafka", str(props)], list(kafka_node_ports(ports, node)))
    return server


def _cluster_id(profile: str) -> str:
    """The id every broker of the profile's cluster is formatted with (kept beside their data)."""
    path = run_dir(profile) / "kafka-cluster.id"
    if not path.exists():
        path.write_text(new_cluster_id())
    return path.read_text().strip()


def start_mongo(profile: str, ports: Ports, cache_size: str = "1G", *, sync_on_commit: bool = True) -> Server:
    """The profile's secantusd-rs. Without `sync_on_commit` (`--sync-on-commit`: fsync of its log
    on every commit) it acknowledges a `j: true` write before its log is on disk, and a SIGKILL
    loses the last writes it acknowledged (measured: tens of the last 200 inserts, once a whole
    new collection); every stack of the project runs with it."""
    binary = ensure_secantus()
    base = run_dir(profile) / "secantus"
    storage = base / "data"
    storage.mkdir(parents=True, exist_ok=True)
    server = mongo_server(profile)
    argv = [
        str(binary),
        "--host",
        "127.0.0.1",
        "--port",
        str(ports.mongo),
        "--storage-path",
        str(storage),
        "--cache-size",
        cache_size,
        # A write acknowledged with j:true is on disk (fsync of the log at each commit): without
        # it the server acknowledges before the log reaches the disk, and a SIGKILL loses the
        # last tens of milliseconds of acknowledged writes (measured: bench/chaos.py found a
        # citizen's view stuck, an update answered then gone).
        *(["--sync-on-commit"] if sync_on_commit else []),
    ]
    _spawn(server, argv, [ports.mongo])
    return server


# --- readiness: by connecting with the real clients, never by sleeping a fixed time ------------


def _accepts_tcp(addresses: str) -> bool:
    """Any of the comma-separated `host:port` accepts a connection."""
    for address in addresses.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=1.0):
                return True
        except OSError:
            continue
    return False


async def _kafka_answers(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    if not _accepts_tcp(bootstrap):  # spares the client's connection-error log while it boots
        return False
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    try:
        await admin.start()
        await admin.describe_cluster()
        return True
    except Exception:  # any failure to connect just means "not yet"
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def _mongo_answers(uri: str) -> bool:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=1000)
    try:
        await client.admin.command("ping")
        return True
    except Exception:  # connection refused / selection timeout: not yet
        return False
    finally:
        await client.close()


async def wait_until_ready(server: Server | None, check: object, target: str, timeout: float) -> None:
    """Poll `check(target)` until it answers; fail early with the log if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if await check(target):  # type: ignore[operator]
            return
        if server is not None and not server.alive():
            raise InfraError(f"{server.name} exited during start-up; its log ends:\n{server.log_tail()}")
        if time.monotonic() > deadline:
            tail = server.log_tail() if server is not None else ""
            raise InfraError(f"{target} not ready after {timeout:.0f}s\n{tail}")
        await asyncio.sleep(0.2)  # poll interval between connection attempts


async def wait_kafka(bootstrap: str, server: Server | None = None, timeout: float = 90.0) -> None:
    await wait_until_ready(server, _kafka_answers, bootstrap, timeout)


# Runtime parameters of the database server; they do not survive its restart, so `wait_mongo`
# sets them each time it has seen the server answer. A transaction whose client died (a service
# SIGKILLed mid-transaction) holds what it wrote until the server ends it: by default after 60 s,
# during which a citizen retrying with the same Idempotency-Key is refused (bench/chaos.py saw it).
# Every transaction of the services is bounded well below this (intake 2 s, sla's reports 8 s).
SERVER_PARAMETERS = {"transactionLifetimeLimitSeconds": 10}


async def wait_mongo(uri: str, server: Server | None = None, timeout: float = 60.0) -> None:
    """Wait until the database answers, then set SERVER_PARAMETERS on it."""
    await wait_until_ready(server, _mongo_answers, uri, timeout)
    await set_server_parameters(uri)


async def set_server_parameters(uri: str) -> None:
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        await client.admin.command({"setParameter": 1, **SERVER_PARAMETERS})
    except Exception as exc:  # e.g. a server whose user may not: it keeps its defaults
        log.warning("database %s: parameters %s not set: %s", uri, SERVER_PARAMETERS, exc)
    finally:
        await client.close()


def stop_stale(profile: str) -> None:
    """Stop every process a killed run of `profile` left behind, by the PID files it wrote."""
    for pidfile in sorted(run_dir(profile).rglob("*.pid")):
        Server(pidfile.stem, pidfile, Path(os.devnull)).stop()


@contextlib.contextmanager
def stack_lock(profile: str) -> Iterator[None]:
    """Hold the profile's stack for this process; InfraError if a live process holds it.

    Without it a second `make run` (or benchmark) of the same profile would take the first one's
    servers for the leftovers of a killed run — their PID files look the same — stop them and
    start its own under the running services. An flock dies with its process, so a killed run
    never blocks the next one."""
    path = run_dir(profile) / "stack.lock"
    with path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "?"
            raise InfraError(
                f"the {profile!r} stack is already running (pid {owner}): stop that one first"
                " (Ctrl-C in its terminal), or use it as it is"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def native_stack(profile: str, ports: Ports, fresh: bool = False, brokers: int = 1) -> Iterator[Endpoints]:
    """Start Kafka (one broker, or a KRaft cluster of `brokers`) and the database, yield their
    endpoints once all answer, stop them after.

    `fresh` wipes the profile's data first (the test stack always starts empty). One live stack
    per profile (`stack_lock`).
    """
    with stack_lock(profile):
        yield from _native_stack(profile, ports, fresh, brokers)


def _native_stack(profile: str, ports: Ports, fresh: bool, brokers: int) -> Iterator[Endpoints]:
    if fresh:
        stop_stale(profile)
        for sub in ("kafka", "kafka-2", "kafka-3", "kafka-cluster.id", "secantus"):
            target = run_dir(profile) / sub
            if target.is_file():
                target.unlink()
            shutil.rmtree(target, ignore_errors=True)
    ends = endpoints(ports, brokers)
    servers: list[Server] = []
    try:
        servers.append(start_mongo(profile, ports))
        # A smaller heap each when three share the machine.
        heap = "768m" if brokers == 1 else "384m"
        for node in range(1, brokers + 1):
            servers.append(start_kafka(profile, ports, heap, node=node, brokers=brokers))
        asyncio.run(_wait_all(ends, ports, servers))
        yield ends
    finally:
        for server in reversed(servers):
            server.stop()


async def _wait_all(ends: Endpoints, ports: Ports, servers: list[Server]) -> None:
    mongo, *kafkas = servers
    await asyncio.gather(
        wait_mongo(ends.mongo_uri, mongo),
        *(
            wait_kafka(f"127.0.0.1:{kafka_node_ports(ports, node)[0]}", kafka)
            for node, kafka in enumerate(kafkas, start=1)
        ),
    )
    if len(kafkas) > 1:
        await wait_until_ready(None, _cluster_complete(len(kafkas)), ends.kafka_bootstrap, 90.0)


def _cluster_complete(brokers: int) -> object:
    """A check that every one of `brokers` is registered with the cluster (topics of replication
    factor 3 can be created only then)."""

    async def check(bootstrap: str) -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            return len(cluster["brokers"]) >= brokers
        except Exception:  # not yet
            return False
        finally:
            with contextlib.suppress(Exception):
                await admin.close()

    return check
