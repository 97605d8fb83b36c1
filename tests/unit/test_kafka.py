"""The producer's partitioner: the same partition as the Java client and aiokafka's default, so a
complaint's events stay in order on one partition whatever produced them."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from ulid import ULID

from shared.kafka import key_partitioner


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
