"""What a service counts and measures, served on `/metrics` for Prometheus (prometheus-client).

The counters move where the work happens (this module's middleware for HTTP, `shared.kafka` for
messages, the database client's command listener for database operations, routing's webhook
pusher); what only a query can tell (consumer lag, outbox backlog, parked complaints, sla's
breaches, escalations and detection lag) is read when Prometheus scrapes, by the sources a
service registers with `add_source`, each bounded in time so that a slow database never makes a
scrape hang.

HTTP series are labelled by the route as registered (`/api/v1/complaints/{complaint_id}`), never
by the raw path, and by the standard methods only (any other is `OTHER`): a stranger's requests
must not create series. The metrics carry no identity.
`/metrics` answers without the database, and only to callers on the networks of `METRICS_ALLOW`
(private and loopback addresses by default: where Prometheus runs beside the services); anyone
else gets 404, as if there were nothing there. The peer's own address counts, never a forwarded
header.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from pydantic_settings import BaseSettings
from pymongo import monitoring

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "pengaduan_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "pengaduan_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)
CONSUMED = Counter(
    "pengaduan_kafka_messages_consumed", "Messages read by a consumer group", ["group", "topic"]
)
PRODUCED = Counter("pengaduan_kafka_messages_produced", "Messages acknowledged by Kafka", ["topic"])
FAILED = Counter(
    "pengaduan_kafka_batch_failures",
    "Batches whose handler raised (retried), by group and kind",
    ["group", "kind"],
)
DEAD_LETTERED = Counter(
    "pengaduan_kafka_messages_dead_lettered",
    "Messages a group set aside on its dead-letter topic",
    ["group", "topic"],
)
CONSUMER_LAG = Gauge(
    "pengaduan_kafka_consumer_lag",
    "Messages on a partition not yet read by this process's consumer (high watermark - position)",
    ["group", "topic", "partition"],
)
STALLED = Gauge(
    "pengaduan_kafka_consumer_stalled", "1 while a group waits on the database or Kafka", ["group"]
)
DB_LATENCY = Histogram(
    "pengaduan_mongodb_command_duration_seconds",
    "Database commands, by command name",
    ["command"],
    buckets=_LATENCY_BUCKETS,
)
DB_PING = Gauge(
    "pengaduan_mongodb_ping_seconds", "How long the database took to answer a ping, at the scrape"
)
DB_FAILED = Counter("pengaduan_mongodb_command_failures", "Database commands that failed", ["command"])
OUTBOX_BACKLOG = Gauge(
    "pengaduan_outbox_backlog", "Documents whose messages are not yet on Kafka", ["collection"]
)
OUTBOX_REFUSED = Gauge(
    "pengaduan_outbox_refused", "Documents set aside because Kafka refused their messages", ["collection"]
)
PARKED = Gauge("pengaduan_parked_complaints", "Complaints holding events after a gap in seq", ["service"])
SLA_OPEN_BREACHES = Gauge("pengaduan_sla_open_breaches", "Clocks past their due and not yet stopped")
SLA_BREACHES_TODAY = Gauge("pengaduan_sla_breaches_today", "Clocks that fell due today (WIB) and breached")
SLA_ESCALATIONS = Gauge("pengaduan_sla_escalations", "Open complaints escalated, by level", ["level"])
SLA_DETECTION_LAG = Gauge(
    "pengaduan_sla_detection_lag_seconds",
    "How long the oldest warning, due or escalation waits for the detector (0 when none waits)",
)
WEBHOOK_DELIVERIES = Counter(
    "pengaduan_webhook_deliveries", "Webhook pushes to OPD systems, by outcome", ["outcome"]
)
SOURCE_FAILURES = Counter(
    "pengaduan_metrics_source_failures", "Scrape-time sources that failed or ran out of time", ["source"]
)


class MetricsSettings(BaseSettings):
    """METRICS_ALLOW: comma-separated networks whose callers may read /metrics.
    METRICS_DB_COMMANDS: time every database command (a histogram by command name); off by default,
    as pymongo's command monitoring costs every command its events."""

    # Networks (CIDRs, comma-separated) whose callers may read /metrics; others get 404.
    metrics_allow: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    # Time every database command into a histogram by command name (costs about a third of intake's
    # submit rate).
    metrics_db_commands: bool = False

    def networks(self) -> tuple[IPNetwork, ...]:
        return tuple(
            ipaddress.ip_network(part.strip()) for part in self.metrics_allow.split(",") if part.strip()
        )


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOWED = web.AppKey("metrics_allowed", tuple)
Source = Callable[[], Awaitable[None]]
SOURCES = web.AppKey("metric_sources", list)
SOURCE_TIMEOUT_S = 2.0


def watch_parked(app: web.Application, service: str, collection: str) -> None:
    """Report how many complaints `collection` holds events of after a gap in seq (an indexed
    count: the collections keep a partial index on `parked_count`)."""
    from shared.runtime import INFRA  # the runtime imports this module

    async def source() -> None:
        infra = app.get(INFRA)
        if infra is not None:
            PARKED.labels(service).set(
                await infra.db[collection].count_documents({"parked_count": {"$gt": 0}})
            )

    add_source(app, f"parked:{service}", source)


def add_source(app: web.Application, name: str, source: Source) -> None:
    """Run `source` (it sets gauges) before each scrape of `app`'s /metrics."""
    app.setdefault(SOURCES, []).append((name, source))


async def _run_source(name: str, source: Source) -> None:
    try:
        await asyncio.wait_for(source(), SOURCE_TIMEOUT_S)
    except Exception as exc:  # a scrape still answers, with this source's gauges as they were
        SOURCE_FAILURES.labels(name).inc()
        log.warning("metrics source %s: %r", name, exc)


def _allowed(request: web.Request) -> bool:
    try:
        peer = ipaddress.ip_address(request.remote or "")
    except ValueError:  # a Unix socket or an unknown peer
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in network for network in request.app[ALLOWED])


async def metrics_view(request: web.Request) -> web.Response:
    if not _allowed(request):
        raise web.HTTPNotFound()
    sources = [_run_source(name, source) for name, source in request.app.get(SOURCES, [])]
    sources.append(_run_source("kafka_lag", consumer_lag))
    await asyncio.gather(*sources)
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_of(request: web.Request) -> str:
    return request.method if request.method in METHODS else "OTHER"


def route_of(request: web.Request) -> str:
    """The route as registered, or one label for every path no route matched."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(unmatched)"


@web.middleware
async def http_metrics(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route, method = route_of(request), method_of(request)
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


def install(app: web.Application, settings: MetricsSettings | None = None) -> None:
    """Serve /metrics on `app` and count its requests (outermost, so problems are counted too)."""
    app[ALLOWED] = (settings or MetricsSettings()).networks()
    app.middlewares.insert(0, http_metrics)
    app.router.add_get("/metrics", metrics_view)
    add_source(app, "database_ping", lambda: _ping(app))


async def _ping(app: web.Application) -> None:
    from shared.runtime import INFRA  # the runtime imports this module

    infra = app.get(INFRA)
    if infra is None:  # not started yet
        return
    started = time.perf_counter()
    await infra.mongo.admin.command("ping")
    DB_PING.set(time.perf_counter() - started)


class Watched(Protocol):
    """A consumer of this process (shared.kafka.CommittingConsumer)."""

    stalled: tuple[float, str] | None

    @property
    def group(self) -> str: ...

    async def lag(self) -> dict[tuple[str, int], int]: ...


# Read for their lag at each scrape; weakly held, so a stopped consumer goes away.
_consumers: weakref.WeakSet[Watched] = weakref.WeakSet()


def watch_consumer(consumer: Watched) -> None:
    _consumers.add(consumer)


async def consumer_lag() -> None:
    """Lag per group and partition as this process's consumers see it: what Kafka holds past
    each one's position (as of its last fetch); and whether each group waits on the database or
    Kafka. Partitions another process owns are in its own /metrics; `pengaduan status` shows the
    committed lag of the whole group."""
    CONSUMER_LAG.clear()
    for consumer in list(_consumers):
        STALLED.labels(consumer.group).set(0 if consumer.stalled is None else 1)
        for (topic, partition), lag in (await consumer.lag()).items():
            CONSUMER_LAG.labels(consumer.group, topic, str(partition)).set(lag)


class CommandLatency(monitoring.CommandListener):
    """Database command durations as the driver measures them (round trip, server time included)."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        return None

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        DB_LATENCY.labels(event.command_name).observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        DB_LATENCY.labels(event.command_name).observe(event.duration_micros / 1e6)
        DB_FAILED.labels(event.command_name).inc()
