"""Consumer lag: how many records each of this service's groups has still to process.

Every ``interval_s`` the watch reads each group's committed offsets (the runtime commits
after processing, so a committed offset is work done) and the partitions' end offsets,
and sets ``ggzy_consumer_lag{group, topic, partition}``. A partition the group has not
committed on yet counts from its first record (the groups start at the earliest). Every
replica of a service reports the same figure for a group: alert on ``max``, not ``sum``
(deploy/prometheus/alerts.yml). The work is a few metadata requests per interval, off
the consumers' path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from ggzy.runtime.consumer import Subscription

log = logging.getLogger("ggzy.lag")

Lag = dict[tuple[str, str, int], int]  # (group, topic, partition) -> records behind


async def topic_partitions(admin: AIOKafkaAdminClient, topics: Sequence[str]
                           ) -> dict[str, list[int]]:
    """The partitions of each of ``topics`` that exists (the others are left out)."""
    described = await admin.describe_topics(sorted(set(topics)))
    return {d["topic"]: sorted(p["partition"] for p in d["partitions"]) for d in described
            if not d.get("error_code")}


async def measure(admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer,
                  subscriptions: Sequence[Subscription]) -> Lag:
    """Each group's lag on each partition of its topics, now."""
    parts = await topic_partitions(admin, [t for sub in subscriptions for t in sub.topics])
    out: Lag = {}
    for sub in subscriptions:
        tps = [TopicPartition(t, p) for t in sub.topics for p in parts.get(t, ())]
        if not tps:
            continue
        try:
            committed = await admin.list_consumer_group_offsets(sub.group, partitions=tps)
        except KafkaError as exc:  # e.g. no coordinator yet on a new broker: next time
            log.info("consumer lag not measured", extra={"group": sub.group,
                                                         "reason": repr(exc)})
            continue
        ends = await offsets.end_offsets(tps)
        fresh = [tp for tp in tps if committed.get(tp) is None or committed[tp].offset < 0]
        starts = await offsets.beginning_offsets(fresh) if fresh else {}
        for tp in tps:
            done = starts[tp] if tp in starts else committed[tp].offset
            out[(sub.group, tp.topic, tp.partition)] = max(0, ends[tp] - done)
    return out


class LagWatch:
    """Publishes ``measure`` into a gauge every ``interval_s`` until stopped."""

    def __init__(self, bootstrap: str, subscriptions: Sequence[Subscription], gauge: Gauge,
                 interval_s: float) -> None:
        self.bootstrap, self.subscriptions = bootstrap, list(subscriptions)
        self.gauge, self.interval_s = gauge, interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.subscriptions and self.interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="ggzy-lag-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        offsets = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        try:
            await admin.start()
            await offsets.start()
            while True:
                try:
                    for (group, topic, partition), lag in (
                            await measure(admin, offsets, self.subscriptions)).items():
                        self.gauge.labels(group, topic, str(partition)).set(lag)
                except (KafkaError, OSError) as exc:  # the next interval tries again
                    log.warning("consumer lag not measured", extra={"reason": repr(exc)})
                await asyncio.sleep(self.interval_s)
        finally:
            await offsets.stop()
            await admin.close()
