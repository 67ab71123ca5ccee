"""The relay's partitioner: the partition Kafka's default partitioner picks for a key."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from ggzy.runtime.outbox import KeyPartitioner, murmur2


def test_murmur2_equals_aiokafkas_for_every_length_and_byte() -> None:
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(64) for _ in range(50)]
    keys += [b"", b"\xff" * 9, b"91350100M000100Y43", "甲公司".encode()]
    for key in keys:
        assert murmur2(key) == aiokafka_murmur2(key), key


def test_partitioner_picks_kafkas_partition_and_keeps_it_for_a_repeated_key() -> None:
    partitioner = KeyPartitioner(keys=2)
    partitions = [0, 1, 2, 3, 4, 5]
    for key in (b"a", b"b", b"c", b"a", b"entity:91350100M000100Y43"):
        expected = partitions[(aiokafka_murmur2(key) & 0x7FFFFFFF) % len(partitions)]
        assert partitioner(key, partitions, partitions) == expected
