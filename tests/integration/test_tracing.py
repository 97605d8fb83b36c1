"""Tracing (shared/tracing.py) against real servers: intake's app served here with tracing on,
exporting over OTLP/HTTP to a small collector this test starts, the real database and Kafka.

A submit carrying a caller's `traceparent` gives one trace: the request's server span, the
database commands it ran, the Kafka message it sent — and the span of a consumer reading that
message joins the same trace through the message's headers. No span carries a query string or
the reporter's identity."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import SpanKind

from devtools.infra import Endpoints
from shared import tracing
from shared.topics import COMPLAINTS_SUBMITTED
from tests.intake_app import running_intake
from tests.waiting import eventually

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
REPORTER = {"name": "Kurniawati Handayani", "phone": "0812-7777-1234"}


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver in a thread of its own (the exporter sends from its own thread
    and the test's event loop may be waiting for it): every span it was sent, decoded."""

    spans: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest.FromString(body)
        for resource in export.resource_spans:
            service = next(
                a.value.string_value for a in resource.resource.attributes if a.key == "service.name"
            )
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: str(a.value).strip() for a in span.attributes}
                    found = {
                        "service": service,
                        "trace": span.trace_id.hex(),
                        "kind": span.kind,
                        "name": span.name,
                    }
                    self.spans.append({**found, "attributes": attributes})
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    spans: list[dict[str, Any]] = []
    handler = type("Receiver", (Collector,), {"spans": spans})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield spans
    server.shutdown()
    thread.join()


@pytest.fixture
def traced(collector: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    provider = tracing.configure("intake")
    assert provider is not None
    yield collector
    tracing.shutdown()


async def test_a_submit_is_one_trace_through_the_database_and_kafka_to_its_consumer(
    endpoints: Endpoints, traced: list[dict[str, Any]]
) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=endpoints.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(COMPLAINTS_SUBMITTED, p) for p in range(6)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)  # fixed now: only what this test sends is read
        async with running_intake(endpoints) as (client, _db):
            headers = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
            body = {
                "title": "Sampah menumpuk",
                "description": "Sampah menumpuk di pasar sejak tiga hari.",
                "category": "persampahan-lingkungan",
                "region_code": "33.74.01.1001",
                "reporter": REPORTER,
            }
            resp = await client.post(
                "/api/v1/complaints?utm_source=secret-campaign", json=body, headers=headers
            )
            assert resp.status == 202, await resp.text()
            complaint_id = (await resp.json())["id"]

            async def read_it() -> bool:
                batch = await consumer.getmany(timeout_ms=500)
                return any(m.key == complaint_id.encode() for records in batch.values() for m in records)

            await eventually(read_it, within=30, what="the submission on complaints.submitted")
    finally:
        await consumer.stop()
    tracing.shutdown()  # flushes every span to the collector

    ours = [s for s in traced if s["trace"] == TRACE_ID]
    kinds = {s["kind"] for s in ours}
    wanted = {
        SpanKind.SERVER.value + 1,
        SpanKind.CLIENT.value + 1,
        SpanKind.PRODUCER.value + 1,
        SpanKind.CONSUMER.value + 1,
    }
    assert wanted <= kinds, [(s["kind"], s["name"]) for s in ours]  # OTLP numbers kinds from 1
    assert {s["service"] for s in ours} == {"pengaduan-intake"}
    everything = repr(traced)
    assert "secret-campaign" not in everything
    # The whole values (a 4-digit piece of the phone can be part of any id, offset or port).
    for value in (REPORTER["name"], "Kurniawati", "81277771234", "0812-7777-1234"):
        assert value not in everything
