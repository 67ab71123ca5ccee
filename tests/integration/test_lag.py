"""Consumer lag measured against the real broker: records a group has still to process."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from ggzy.runtime.consumer import Subscription
from ggzy.runtime.lag import LagWatch, measure
from ggzy.runtime.metrics import Metrics
from ggzy.runtime.service import ensure_topics
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually, publish
from tests.conftest import isolated_settings


async def test_lag_counts_what_a_group_has_not_committed_and_reaches_the_gauge(
        infra: Infra) -> None:
    settings = isolated_settings(infra, "lagcheck")
    topic, group = f"{settings.topic_prefix}.lag.v1", f"{settings.topic_prefix}.lag-group"
    await ensure_topics(settings, [topic])
    for n in range(7):
        await publish(infra.kafka_bootstrap, topic, b"{}", key=f"k{n}")
    sub = Subscription(group=group, topics=[topic], handlers={}, dead_letter_topic="-",
                       categories=frozenset())
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    offsets = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    await offsets.start()
    member = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, group_id=group,
                              enable_auto_commit=False)
    await member.start()
    try:
        async def measured() -> dict[tuple[str, str, int], int] | None:
            return await measure(admin, offsets, [sub]) or None  # a new broker: no coordinator
        before = await eventually(measured, within=30)
        assert sorted(before) == [(group, topic, 0), (group, topic, 1)]
        assert sum(before.values()) == 7  # nothing committed: every record is still to do
        tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
        ends = await offsets.end_offsets([tp0, tp1])
        member.assign([tp0, tp1])  # a member of the group, committing as the runtime does
        await member.commit({tp0: OffsetAndMetadata(ends[tp0], "")})  # partition 0 done
        after = await measure(admin, offsets, [sub])
        assert after[(group, topic, 0)] == 0 and after[(group, topic, 1)] == ends[tp1]
        metrics = Metrics()
        watch = LagWatch(infra.kafka_bootstrap, [sub], metrics.consumer_lag, interval_s=0.2)
        watch.start()
        await member.commit({tp1: OffsetAndMetadata(ends[tp1] - 1, "")})  # one left

        def sampled() -> float | None:
            return metrics.registry.get_sample_value(
                "ggzy_consumer_lag", {"group": group, "topic": topic, "partition": "1"})
        assert await eventually(lambda: sampled() == 1, within=15)
        await watch.stop()
    finally:
        await member.stop()
        await offsets.stop()
        await admin.close()
