"""Reading and writing topics in tests: wait on conditions with a deadline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


@dataclass(frozen=True)
class Record:
    """A record read back from a topic."""

    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes

    def json(self) -> Any:
        return json.loads(self.value)


async def read_topic(bootstrap: str, topic: str, until: Callable[[list[Record]], bool],
                     within: float = 30.0) -> list[Record]:
    """Read ``topic`` from the start until ``until(records)`` holds or the deadline passes."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    records: list[Record] = []
    try:
        deadline = time.monotonic() + within
        parts: set[int] | None = None
        while parts is None and time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic) or None
            if parts is None:
                await consumer._client.force_metadata_update()  # topic may be new
                await asyncio.sleep(0.1)
        consumer.assign([TopicPartition(topic, p) for p in parts or ()])
        await consumer.seek_to_beginning()
        while not until(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(_record(m) for m in msgs)
    finally:
        await consumer.stop()
    return records


def _record(m: Any) -> Record:
    headers = {k: v.decode(errors="replace") for k, v in (m.headers or [])}
    return Record(m.topic, m.key.decode() if m.key else None, headers, m.value or b"")


async def publish(bootstrap: str, topic: str, value: bytes, key: str | None = None,
                  headers: dict[str, str] | None = None) -> None:
    """Publish one record with acks=all, as a partner system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode() if key else None,
                                     headers=[(k, v.encode()) for k, v in (headers or {}).items()])
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Any], within: float = 30.0,
                     interval: float = 0.1) -> Any:
    """Poll an async or sync ``check`` until it returns a truthy value (deadline, no sleeps)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s (last: {last!r})")
