"""Routing's consumer groups and background loops, thin: a batch goes to its handler
(handlers.py); the loops are the adapters' own (delivery's finisher, the outbox relay, webhook
push)."""

from __future__ import annotations

from services.routing import handlers
from services.routing.adapters import webhooks
from services.routing.adapters.delivery import OutboxDelivery
from services.routing.adapters.webhooks import TargetGuard
from services.routing.ports import Routing, StaffMailing
from shared.envelope import Envelope
from shared.kafka import BatchHandler, Rejected
from shared.runtime import Infra


def routing_batches(routing: Routing) -> BatchHandler:
    """Group `routing`: submissions and commands."""

    async def on_batch(batch: list[Envelope]) -> list[Rejected]:
        return await handlers.handle_routing_batch(batch, routing)

    return on_batch


def dues_batches(routing: Routing) -> BatchHandler:
    """Group `routing-dues`: sla's clock events, in a group of their own so that keeping the
    queues' dues never delays routing a submission or deciding a command."""

    async def on_clock_events(batch: list[Envelope]) -> list[Rejected]:
        return await handlers.handle_dues_batch(batch, routing)

    return on_clock_events


def transfer_batches(routing: Routing) -> BatchHandler:
    """Group `routing-transfers`: routing's own lifecycle events, for the transfers it counts
    towards rule suggestions (counted from the published events, so a transfer counts once
    whatever the retries, and a replay from the beginning rebuilds the counts)."""

    async def on_events(batch: list[Envelope]) -> list[Rejected]:
        return await handlers.count_transfers(batch, routing)

    return on_events


def staff_mail_batches(mailing: StaffMailing) -> BatchHandler:
    """Group `routing-staff-mail`: lifecycle and clock events become staff e-mails."""

    async def on_events(batch: list[Envelope]) -> list[Rejected]:
        return await handlers.stage_staff_mail(batch, mailing)

    return on_events


def delivery_of(routing: Routing) -> OutboxDelivery:
    assert isinstance(routing.delivery, OutboxDelivery), "the loops need the outbox delivery"
    return routing.delivery


async def push_webhooks(infra: Infra, guard: TargetGuard, interval: float) -> None:
    await webhooks.run(infra.db, guard, interval)
