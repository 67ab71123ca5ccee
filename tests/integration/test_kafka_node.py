"""The dev launcher runs a real Kafka broker that aiokafka can use (ggzy/dev/kafka.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from ggzy.dev.kafka import KafkaNode, read_state, stop_pid
from ggzy.testing.kafka import eventually

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("java") is None or shutil.which("mvn") is None,
        reason="needs Java 17+ and Maven",
    ),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaNode]:
    kafka = KafkaNode.start(ROOT, tmp_path_factory.mktemp("kafka"))
    try:
        yield kafka
    finally:
        kafka.stop()


async def test_topic_produce_consume(node: KafkaNode) -> None:
    topic = "ggzy.test.node"
    admin = AIOKafkaAdminClient(bootstrap_servers=node.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        async def partitions() -> int:
            # the controller creates the topic; its metadata reaches the broker shortly after
            described = await admin.describe_topics([topic])
            return len(described[0]["partitions"]) if described else 0

        async def three() -> bool:
            return await partitions() == 3

        assert await eventually(three, within=30)
    finally:
        await admin.close()

    sent = {f"key-{i}": {"n": i} for i in range(30)}
    producer = AIOKafkaProducer(
        bootstrap_servers=node.bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for key, value in sent.items():
            await producer.send(topic, json.dumps(value).encode(), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()

    received: dict[str, dict[str, int]] = {}
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=node.bootstrap,
        group_id="ggzy-test-node",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        assert record.key is not None and record.value is not None
                        received[record.key.decode()] = json.loads(record.value)
                await consumer.commit()
        partitions = consumer.assignment()
        committed = sum([await consumer.committed(tp) or 0 for tp in partitions])
    finally:
        await consumer.stop()
    assert received == sent
    assert len(partitions) == 3
    assert committed == len(sent)


def test_node_runs_the_serial_collector(node: KafkaNode) -> None:
    """The dev node collects garbage in its VM thread: no G1 worker, refinement or
    marking threads spend the small machine's CPU (bench/README.md, notify session 12)."""
    names = []
    for task in Path(f"/proc/{node.pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:  # a thread that ended meanwhile
            continue
    assert "VM Thread" in names
    assert not [name for name in names if name.startswith("G1 ")], names


def test_state_file_finds_and_stops_a_node(tmp_path: Path) -> None:
    kafka = KafkaNode.start(ROOT, tmp_path / "kafka")
    try:
        kafka.write_state(tmp_path / "kafka.json")
        state = read_state(tmp_path / "kafka.json")
        assert state.pid == kafka.pid and state.bootstrap == kafka.bootstrap
        assert stop_pid(state.pid)
        assert kafka.process.wait(5) is not None
        assert not stop_pid(state.pid)
    finally:
        kafka.stop()
