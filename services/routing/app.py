"""Routing's process: the submissions consumer and the HTTP API."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from services.routing import ratelimit, staff, webhooks
from services.routing.adapters import FeedStore, MongoComplaintStore, ensure_indexes
from services.routing.classify import TooCostly
from services.routing.deciding import decide_off_loop
from services.routing.domain import UnknownCategory, with_overrides
from services.routing.handlers import handle_dues_batch, handle_routing_batch
from services.routing.service import Lifecycle
from services.routing.settings import RoutingSettings
from services.routing.staff import FEED, LIFECYCLE
from shared.auth import STAFF_AUTH, StaffAuth
from shared.calendar import pemda_of, province_of
from shared.envelope import Envelope
from shared.http import (
    FieldError,
    ProblemError,
    add_standard_routes,
    json_response,
    openapi_document,
    problem_middleware,
    read_json,
)
from shared.kafka import BatchHandler, Rejected
from shared.regions import lookup
from shared.runtime import REPLAYING, ConsumerSpec, Infra, with_consumers
from shared.topics import (
    COMPLAINTS_COMMANDS,
    COMPLAINTS_SUBMITTED,
    ROUTING_DUES_GROUP,
    ROUTING_GROUP,
    SLA_EVENTS,
)


class ExplainRequest(BaseModel):
    """The body of a submit; only what routing decides on is read, the rest is accepted."""

    model_config = ConfigDict(extra="ignore")
    category: str | None = None
    region_code: str
    title: str = ""
    description: str = ""


async def explain(request: web.Request) -> web.Response:
    body = await read_json(request, ExplainRequest)
    if lookup(body.region_code) is None:
        raise ProblemError(
            422, errors=[FieldError(field="region_code", message="kode wilayah tidak dikenal")]
        )
    try:
        # Off the event loop, within a CPU budget (services/routing/deciding.py).
        decision = await decide_off_loop((body.category, body.region_code, body.title, body.description))
        overrides = await request.app[LIFECYCLE].store.overrides(
            [decision.pemda, pemda_of(body.region_code), province_of(body.region_code)]
        )
        decision = with_overrides(decision, overrides)
    except UnknownCategory:
        raise ProblemError(
            422, errors=[FieldError(field="category", message="kategori tidak dikenal")]
        ) from None
    except TooCostly:
        raise ProblemError(
            422, errors=[FieldError(field="description", message="teks terlalu berat untuk diklasifikasi")]
        ) from None
    return json_response(
        {
            "category": decision.category,
            "confidence": round(decision.confidence, 3),
            "level": decision.level,
            "pemda": decision.pemda,
            "opd_id": decision.opd_id,
            "rule": decision.rule,
        }
    )


OPENAPI = openapi_document(
    "Pengaduan — routing",
    "0.1.0",
    "Klasifikasi dan disposisi pengaduan ke OPD yang berwenang.",
    {
        "/api/v1/routing/explain": {
            "post": {
                "summary": "Jelaskan ke OPD mana sebuah pengaduan akan didisposisikan",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": ExplainRequest.model_json_schema(),
                            "example": {"category": "kependudukan", "region_code": "64.01.03.2001"},
                        }
                    }
                },
                "responses": {
                    "200": {
                        "description": "Keputusan disposisi",
                        "content": {
                            "application/json": {
                                "example": {
                                    "category": "kependudukan",
                                    "confidence": 1.0,
                                    "level": "kabkota",
                                    "pemda": "64.01",
                                    "opd_id": "64.01/disdukcapil",
                                    "rule": "table:kependudukan",
                                }
                            }
                        },
                    },
                    "422": {"$ref": "#/components/responses/Problem"},
                },
            }
        }
    },
)


def create_app(settings: RoutingSettings) -> web.Application:
    app = web.Application(middlewares=[problem_middleware])
    app[STAFF_AUTH] = StaffAuth()
    guard = webhooks.TargetGuard(webhooks.parse_networks(settings.webhook_allowed_networks))
    app[webhooks.GUARD] = guard

    async def lifecycle_of(infra: Infra) -> Lifecycle:
        """The one Lifecycle both groups use. A dead-letter replay (no finisher task running)
        finishes each change at once instead of handing it to the finisher."""
        if LIFECYCLE not in app:
            await ensure_indexes(infra.db)
            lifecycle = Lifecycle(
                MongoComplaintStore(infra.db),
                FeedStore(infra.db),
                infra.publish,
                max_transfers=settings.max_transfers,
                lease_minutes=settings.lease_minutes,
                finish_later=not app.get(REPLAYING, False),
            )
            app[LIFECYCLE] = lifecycle
            app[FEED] = lifecycle.feed
        return app[LIFECYCLE]

    async def build(infra: Infra) -> BatchHandler:
        lifecycle = await lifecycle_of(infra)

        async def on_batch(batch: list[Envelope]) -> list[Rejected]:
            return await handle_routing_batch(batch, lifecycle)

        return on_batch

    async def build_dues(infra: Infra) -> BatchHandler:
        lifecycle = await lifecycle_of(infra)

        async def on_clock_events(batch: list[Envelope]) -> list[Rejected]:
            return await handle_dues_batch(batch, lifecycle)

        return on_clock_events

    async def relay(infra: Infra) -> None:
        await app[LIFECYCLE].relay()

    async def finisher(infra: Infra) -> None:
        await app[LIFECYCLE].finisher()

    async def push_webhooks(infra: Infra) -> None:
        await webhooks.run(infra.db, guard, settings.webhook_interval_seconds)

    ready = with_consumers(
        app,
        settings,
        [
            ConsumerSpec(ROUTING_GROUP, [COMPLAINTS_SUBMITTED, COMPLAINTS_COMMANDS], build),
            # Clock events (several per complaint) in their own group, so keeping the queues'
            # dues never delays routing a submission or deciding a command.
            ConsumerSpec(ROUTING_DUES_GROUP, [SLA_EVENTS], build_dues),
        ],
        background=[
            ("routing-relay", relay),
            ("routing-finisher", finisher),
            ("routing-webhooks", push_webhooks),
        ],
    )
    OPENAPI["paths"].update(staff.openapi_paths())
    OPENAPI.setdefault("components", {})["securitySchemes"] = {
        "staffJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    add_standard_routes(app, ready_check=ready, openapi=OPENAPI)
    app.router.add_post("/api/v1/routing/explain", explain)
    ratelimit.install(app)
    staff.add_routes(app)
    return app
