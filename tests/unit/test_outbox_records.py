"""The relay's Kafka records: an outbox entry's headers encoded once, and a pass's
records appended to the open batch of their partition (no broker: a stand-in producer
with aiokafka's own batch builder)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from contracts.credit import CreditChanged, SubjectKind
from contracts.envelope import Envelope
from ggzy.runtime.aggregates import Cause, Outgoing, entry_of, stamp
from ggzy.runtime.outbox import KeyPartitioner, _Batches, _record
from ggzy.testing.data import new_uscc


def entry(subject: str) -> dict[str, Any]:
    event = CreditChanged(subject_kind=SubjectKind.ENTITY, subject_id=subject, reason="r",
                          score=90, level="B", changed_at=datetime.now(UTC))
    out = Outgoing(event)
    return entry_of(out, stamp(out, Cause("m1", "c1"), "/ggzy/credit"), "", 1000, 1)


def test_a_records_headers_are_the_envelopes_as_bytes_whatever_their_values() -> None:
    e = entry(new_uscc())
    topic, key, value, headers = _record(e)
    assert (topic, key, value) == (e["topic"], e["key"].encode(), e["value"].encode())
    assert headers == [(k, v.encode()) for k, v in e["headers"].items()]
    assert Envelope.from_headers(headers).headers() == e["headers"]
    # a value that is not text (an entry not written by entry_of) is written as str() of it
    mixed = {**e, "headers": {**e["headers"], "x_count": 3}}
    assert _record(mixed)[3] == [*headers, ("x_count", b"3")]


class Producer:
    """What ``_Batches`` uses of aiokafka's producer; batches small enough to fill."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[str, int, int]] = []  # topic, partition, records

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *,
                         partition: int) -> asyncio.Future[Any]:
        self.sent.append((topic, partition, batch.record_count()))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_an_entry_is_appended_at_once_only_to_an_open_batch_with_room() -> None:
    producer = Producer(batch_size=2000)
    batches = _Batches(producer, KeyPartitioner())  # type: ignore[arg-type]
    subject = new_uscc()
    first, second = entry(subject), entry(subject)
    assert batches.append(first) is None  # the topic's partitions not known yet
    opened = await batches.add(first)
    assert batches.append(second) is opened and opened.count == 2  # same key, same batch
    while batches.append(entry(subject)) is not None:  # until the batch is full
        pass
    full = opened.count
    again = await batches.add(entry(subject))  # the full one goes, the next one opens
    assert again is not opened and again.count == 1
    await batches.close()
    assert producer.sent == [(first["topic"], opened.partition, full),
                             (first["topic"], opened.partition, 1)]
