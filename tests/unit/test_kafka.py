"""The producer's partitioner: the same partition as the Java client and aiokafka's default, so a
complaint's events stay in order on one partition whatever produced them; and the consumers'
assignor, so a complaint's partitions of every topic a group reads go to one process."""

from __future__ import annotations

from typing import Any

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.partitioner import DefaultPartitioner
from ulid import ULID

from shared.kafka import ASSIGNORS, key_partitioner
from shared.topics import COMPLAINT_PARTITIONS, GROUP_TOPICS, ROUTING_GROUP


def test_keys_land_where_the_default_partitioner_puts_them() -> None:
    default = DefaultPartitioner()
    keys = [str(ULID()).encode() for _ in range(500)] + [b"33.74/dinas-pupr", b"", b"\xff" * 40]
    for count in (1, 3, 6, 12):
        partitions = list(range(count))
        for key in keys:
            expected = default(key, partitions, partitions)
            assert key_partitioner(key, partitions, partitions) == expected
            assert key_partitioner(key, partitions, partitions) == expected  # memoised: same answer


def test_a_message_without_a_key_goes_to_an_available_partition() -> None:
    assert key_partitioner(None, [0, 1, 2], [2]) == 2
    assert key_partitioner(None, [0, 1, 2], []) in (0, 1, 2)


class _Cluster:
    """What an assignor reads of the cluster: each topic's partition numbers."""

    def __init__(self, partitions: dict[str, int]) -> None:
        self._partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self._partitions[topic]))


def _assignment(assignor: Any, members: int, topics: tuple[str, ...]) -> dict[str, dict[str, list[int]]]:
    cluster = _Cluster({topic: COMPLAINT_PARTITIONS for topic in topics})
    metadata = {f"member-{i}": assignor.metadata(topics) for i in range(members)}
    return {
        member: {topic: sorted(parts) for topic, parts in given.assignment}
        for member, given in assignor.assign(cluster, metadata).items()
    }


def test_a_complaints_topics_reach_the_same_process_whatever_the_number_of_processes() -> None:
    """Every group reading two complaint-keyed topics gets the same partition numbers of both in
    each process, so one complaint's submission and commands are handled in order by one process."""
    assert len(ASSIGNORS) == 1 and ASSIGNORS[0] is RangePartitionAssignor  # shared/kafka.py says why
    for group, topics in GROUP_TOPICS.items():
        if len(topics) < 2:
            continue
        for members in range(1, COMPLAINT_PARTITIONS + 2):
            for member, parts in _assignment(ASSIGNORS[0], members, topics).items():
                assert len({tuple(parts.get(topic, [])) for topic in topics}) == 1, (group, members, member)


def test_round_robin_would_split_a_complaint_across_processes() -> None:
    """Why the default assignor is not used: with four routing processes it gives partition 2 of
    the submissions and partition 2 of the commands to different members."""
    split = _assignment(RoundRobinPartitionAssignor, 4, GROUP_TOPICS[ROUTING_GROUP])
    assert any(len({tuple(parts[t]) for t in parts}) > 1 for parts in split.values())
