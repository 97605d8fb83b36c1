"""`pengaduan replay GROUP`: rebuild a read model from its topics.

A read model is what a consumer group builds only from events and nothing else keeps: sla's
supervisor figures (`sla-reports`: its `report_*` collections are dropped first) and the OPD
queues' nearest dues (`routing-dues`: each clock event overwrites them, so reading again is
enough). The group's committed positions go back to the beginning of its topics (the event topics
keep everything), and the service, started again, rebuilds the model while it catches up. The other
groups keep the system of record (a complaint's lifecycle, its clocks, the reporter's view): they
are never rebuilt this way; their dead letters are replayed with `pengaduan dlq replay`.

The service that runs the group must be stopped: Kafka refuses the new positions while the group
has members, and the command says so.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

from devtools.backup import partition_counts
from shared.topics import GROUP_TOPICS, ROUTING_DUES_GROUP, SLA_REPORTS_GROUP

REBUILDABLE = (SLA_REPORTS_GROUP, ROUTING_DUES_GROUP)


class ReplayError(RuntimeError):
    """The replay cannot go on (printed, exit 1)."""


def _read_model(group: str) -> tuple[str, str, tuple[str, ...]]:
    """(mongo uri, database, collections to drop) of a group's read model."""
    if group == SLA_REPORTS_GROUP:
        from services.sla.adapters.report_store import (
            BREACHES,
            CLOCKS,
            COMPLAINTS,
            ESCALATIONS,
            GAUGES,
            MONTHLY,
            WEEKLY,
        )
        from services.sla.settings import SlaSettings

        sla = SlaSettings()
        return (
            sla.mongo_uri,
            sla.mongo_db,
            (
                COMPLAINTS,
                CLOCKS,
                BREACHES,
                ESCALATIONS,
                WEEKLY,
                MONTHLY,
                GAUGES,
            ),
        )
    from services.routing.settings import RoutingSettings

    routing = RoutingSettings()
    return routing.mongo_uri, routing.mongo_db, ()


async def replay(group: str, bootstrap: str) -> dict[str, Any]:
    """Rewind `group` to the beginning of its topics and drop its read model's collections."""
    if group not in REBUILDABLE:
        raise ReplayError(
            f"{group} keeps a system of record, not a read model: it is never rebuilt from its topics "
            f"(rebuildable: {', '.join(REBUILDABLE)}); its dead letters: pengaduan dlq replay {group}"
        )
    counts = await partition_counts(bootstrap, GROUP_TOPICS[group])
    partitions = [TopicPartition(topic, p) for topic, n in counts.items() for p in range(n)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        try:
            await consumer.commit(beginnings)
        except (CommitFailedError, IllegalGenerationError, UnknownMemberIdError, RebalanceInProgressError):
            raise ReplayError(f"{group} has running members: stop the service that runs it first") from None
    finally:
        await consumer.stop()
    uri, name, collections = _read_model(group)
    if collections:
        from shared.mongo import mongo_client

        client = mongo_client(uri)
        try:
            for collection in collections:
                await client[name].drop_collection(collection)
        finally:
            await client.close()
    return {"partitions": len(partitions), "dropped": list(collections), "database": name}
