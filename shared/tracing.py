"""Traces across the services (OpenTelemetry), off unless an OTLP endpoint is configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, a service sends
its spans over OTLP/HTTP (the standard OTEL_* variables tune the exporter) as
`pengaduan-<service>`: one span per HTTP request (the contrib aiohttp-server middleware, which
continues a caller's `traceparent`), per database command (pymongo's instrumentation: the
command's name, never its documents) and per Kafka message sent or read (aiokafka's, which carries
the context in the message headers, so routing's and sla's handling of a complaint joins the
trace of the citizen's request that submitted it).

What a span may not carry: a query string (it can hold a token or an API key) is cut from every
URL attribute when the span starts; request and response headers are not recorded (the contrib
default); no reporter identity is ever an attribute (only ids and names of routes and commands).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor, create_aiohttp_middleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.query")

_provider: TracerProvider | None = None
_MIDDLEWARE_MODULE = create_aiohttp_middleware.__module__


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


class WithoutQuery(SpanProcessor):
    """Cuts the query string out of a span's URL attributes as it starts (before any export)."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        attributes = span.attributes or {}
        for name in URL_ATTRIBUTES:
            value = attributes.get(name)
            if isinstance(value, str) and "?" in value:
                span.set_attribute(name, value.split("?", 1)[0])
        if "url.query" in attributes:
            span.set_attribute("url.query", "")

    def on_end(self, span: ReadableSpan) -> None:
        return None


def configure(service: str, *, exporter: Any | None = None) -> TracerProvider | None:
    """Start tracing this process as `pengaduan-<service>` when an endpoint is configured (or an
    `exporter` is given); None when tracing stays off. Call before the database clients exist."""
    global _provider
    if exporter is None and not enabled():
        return None
    if _provider is not None:
        return _provider
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"pengaduan-{service}"}))
    provider.add_span_processor(WithoutQuery())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    AIOKafkaInstrumentor().instrument(tracer_provider=provider)
    PymongoInstrumentor().instrument(tracer_provider=provider)
    _provider = provider
    return provider


def shutdown() -> None:
    """Send what is left and stop (at the process's end)."""
    global _provider
    if _provider is None:
        return
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    _provider.shutdown()
    AIOKafkaInstrumentor().uninstrument()
    PymongoInstrumentor().uninstrument()
    AioHttpServerInstrumentor().uninstrument()
    _provider = None


def install(app: web.Application) -> None:
    """A span per request of `app` when tracing is on. The middleware reads the global provider
    when a request comes, so `configure` may run after the app is built. The instrumentor is
    started here only for the settings its middleware reads (tracer, meters, excluded URLs): it
    also swaps `web.Application` for a subclass of its own (which aiohttp warns against), and that
    swap is undone at once; each application gets the middleware from this function, once."""
    if not enabled():
        return
    instrumentor = AioHttpServerInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        application = web.Application
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Inheritance class", DeprecationWarning)
            instrumentor.instrument()
        web.Application = application  # type: ignore[misc]
    if not any(getattr(m, "__module__", "") == _MIDDLEWARE_MODULE for m in app.middlewares):
        app.middlewares.insert(0, create_aiohttp_middleware())
