"""A reporter's command that routing's group dead-letters is shown to the reporter as rejected
(never pending for ever), and the real outcome replaces that once an operator replays the letter
after the fix. Real broker and database: intake's app with its dead-letter follower, routing's
app, and routing's handler run as a real consumer group that dead-letters (a group of this test's
own, so that its dead-letter topic holds only what this test sends)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from ulid import ULID

from devtools.infra import Endpoints
from services.intake.entrypoints.edge import ADAPTERS
from services.intake.handlers import DEAD_LETTER_REASON, command_id_of, reject_dead_commands
from services.routing.entrypoints.edge import ROUTING
from services.routing.handlers import handle_routing_batch
from shared.deadletters import read_letters, replay
from shared.envelope import Envelope
from shared.kafka import BatchConsumer, durable_producer, ensure_topics
from shared.runtime import running
from shared.topics import COMPLAINTS_COMMANDS, COMPLAINTS_SUBMITTED, TOPICS, TopicSpec, dlq
from tests.e2e.test_one_complaint import SUBMISSION
from tests.service_apps import running_apps
from tests.topics import messages_for
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_day")]


async def _start_at_the_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit `group`'s offsets at `topic`'s current end: the group reads only what comes next
    (not every command other tests ever sent)."""
    count = next(s.partitions for s in TOPICS if s.name == topic)
    partitions = [TopicPartition(topic, p) for p in range(count)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await consumer.stop()


async def test_a_command_routing_dead_letters_is_rejected_for_the_reporter_until_a_replay_decides_it(
    endpoints: Endpoints,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    routing_group = f"it-routing-{str(ULID()).lower()}"
    await ensure_topics(bootstrap, [TopicSpec(dlq(routing_group), 1)])
    await _start_at_the_end(bootstrap, routing_group, COMPLAINTS_COMMANDS)
    producer = durable_producer(bootstrap)
    await producer.start()
    try:
        # Letters intake must skip without stopping: not an envelope, and not a command.
        def headers(topic: str) -> list[tuple[str, bytes]]:
            return [("dlq.reason", b"not JSON"), ("dlq.topic", topic.encode()), ("dlq.group", b"routing")]

        await producer.send_and_wait(
            dlq(routing_group), value=b"\xff{broken", headers=headers(COMPLAINTS_COMMANDS)
        )
        await producer.send_and_wait(
            dlq(routing_group), value=b'{"event_id": "x"}', headers=headers(COMPLAINTS_SUBMITTED)
        )
        async with running_apps(endpoints, routing_group=routing_group) as apps:
            lifecycle = apps.routing.server.app[ROUTING]

            async def routing(batch: list[Envelope]) -> Any:
                return await handle_routing_batch(batch, lifecycle)

            # Submitted to intake, but routing has not recorded it (its submission lost on the way):
            # intake's view has routing's first event, so the reporter may withdraw.
            submitted = await apps.intake.post("/api/v1/complaints", json=SUBMISSION)
            assert submitted.status == 202
            created = await submitted.json()
            cid, bearer = created["id"], {"Authorization": f"Bearer {created['access_token']}"}
            await apps.intake_db["complaints"].update_one(
                {"_id": cid}, {"$set": {"last_seq": 1, "status": "received"}, "$inc": {"rev": 1}}
            )
            sent = await apps.intake.post(
                f"/api/v1/complaints/{cid}/withdraw", json={"reason": "salah kirim"}, headers=bearer
            )
            assert sent.status == 202, await sent.text()
            command_id = (await sent.json())["command_id"]
            status_url = f"/api/v1/complaints/{cid}/commands/{command_id}"

            async def status(wanted: str) -> dict[str, Any] | None:
                body: dict[str, Any] = await (await apps.intake.get(status_url, headers=bearer)).json()
                return body if body["status"] == wanted else None

            # Routing's group: the command names a complaint it does not know → dead-lettered.
            group = BatchConsumer(
                bootstrap=bootstrap,
                group=routing_group,
                topics=[COMPLAINTS_COMMANDS],
                handler=routing,
                producer=producer,
            )
            async with running(group, "test-routing-consumer"):
                rejected = await eventually(lambda: status("rejected"), within=60, what="the dead command")
            assert rejected["reason"] == DEAD_LETTER_REASON  # nothing internal: no group, no cause
            record = await apps.intake_db["commands"].find_one({"_id": command_id})
            assert record is not None and record["dead_lettered"] is True
            letters = await read_letters(bootstrap, routing_group)
            [letter] = [x for x in letters if command_id_of(x.value) == command_id]
            assert letter.reason == "command for a complaint routing does not know"
            assert record["dead_letter"]["group"] == routing_group
            assert record["dead_letter"]["offset"] == letter.offset

            # The same letter again (a redelivery to intake's follower): nothing changes.
            await reject_dead_commands([letter], apps.intake.server.app[ADAPTERS].complaints)
            assert await apps.intake_db["commands"].find_one({"_id": command_id}) == record

            # The fix: routing records the complaint; the operator replays the dead letter into
            # routing's handler (as `pengaduan dlq replay` does); routing's real answer replaces
            # the rejection.
            envelopes = await eventually(
                lambda: messages_for(bootstrap, COMPLAINTS_SUBMITTED, cid), what="the submission"
            )
            assert await routing(envelopes) == []
            replayed = await replay([letter], routing, apps.routing_db)
            assert replayed.replayed == [letter.key], replayed
            accepted = await eventually(lambda: status("accepted"), within=60, what="the replayed command")
            assert accepted["reason"] is None
            settled = await apps.intake_db["commands"].find_one({"_id": command_id})
            assert settled is not None and settled["dead_lettered"] is False
            mine = await (await apps.intake.get(f"/api/v1/complaints/{cid}", headers=bearer)).json()
            assert mine["status"] == "closed"  # withdrawn by the reporter
    finally:
        await producer.stop()
