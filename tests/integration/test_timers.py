"""Durable timers: fired once at their time, even with two replicas or a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from ggzy.runtime.aggregates import now_ms
from ggzy.runtime.metrics import Metrics
from ggzy.runtime.timers import DONE, FAILED, Timer, Timers
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually


@pytest.fixture
async def coll(infra: Infra) -> AsyncIterator[Any]:
    name = "t" + uuid.uuid4().hex[:10]
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    yield client[name]["timers"]
    await client.drop_database(name)
    await client.close()


async def test_each_timer_fires_once_across_two_replicas(coll: Any) -> None:
    fired: list[str] = []

    async def handler(timer: Timer) -> None:
        fired.append(timer.timer_id)
        await asyncio.sleep(0.01)

    replicas = [Timers(coll, interval_s=0.05), Timers(coll, interval_s=0.05)]
    for r in replicas:
        r.on("deadline", handler)
    due = now_ms() + 300
    for i in range(10):
        await replicas[i % 2].schedule(f"t-{i}", "deadline", due, {"n": i})
        await replicas[0].schedule(f"t-{i}", "deadline", due + 99999)  # idempotent: kept
    for r in replicas:
        await r.start()
    await eventually(lambda: len(fired) >= 10, within=20)
    await asyncio.sleep(0.3)  # a grace period in which a double fire would show up
    for r in replicas:
        await r.stop()
    assert sorted(fired) == sorted(f"t-{i}" for i in range(10))
    assert await coll.count_documents({"state": DONE}) == 10


async def test_timer_does_not_fire_before_its_time_and_can_be_postponed(coll: Any) -> None:
    fired: list[int] = []

    async def handler(timer: Timer) -> None:
        fired.append(now_ms())

    timers = Timers(coll, interval_s=0.05)
    timers.on("deadline", handler)
    await timers.schedule("d", "deadline", now_ms() + 200)
    assert await timers.reschedule("d", now_ms() + 800)
    moved_to = now_ms() + 800
    await timers.start()
    await eventually(lambda: fired, within=10)
    await timers.stop()
    assert fired[0] >= moved_to - 5


async def test_a_failing_handler_is_retried_after_its_lease_then_marked_failed(
        coll: Any) -> None:
    attempts: list[int] = []

    async def handler(timer: Timer) -> None:
        attempts.append(timer.attempt)
        raise RuntimeError("boom")

    metrics = Metrics()
    timers = Timers(coll, interval_s=0.05, lease_s=0.1, max_attempts=3, metrics=metrics)
    timers.on("deadline", handler)
    await timers.schedule("f", "deadline", now_ms())
    await timers.start()
    await eventually(lambda: len(attempts) >= 3, within=10)
    await eventually(lambda: coll.count_documents({"_id": "f", "state": FAILED}), within=5)
    await timers.stop()
    assert attempts == [1, 2, 3]
    failures = metrics.timer_failures
    assert failures.labels("deadline", "false")._value.get() == 2  # retried after its lease
    assert failures.labels("deadline", "true")._value.get() == 1  # then kept, and alerted on
    doc = await coll.find_one({"_id": "f"})
    assert "boom" in doc["last_error"]
