"""When the fast lane may skip reading whether a notification was delivered (no broker)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts.envelope import Envelope
from contracts.notify import NotificationQueued
from ggzy.runtime.consumer import Dispatcher, Incoming, Subscription, leave_to_batch
from ggzy.runtime.metrics import Metrics
from services.notify.lanes import FastLane

TOPIC = "t.notify.deliveries.v1"


async def ends(partitions: Collection[TopicPartition]) -> dict[TopicPartition, int]:
    return {tp: 10 for tp in partitions}


def lane(end_offsets: Any = ends, known_lanes: int = 100) -> FastLane:
    none = cast(Any, None)
    return FastLane(none, none, none, {}, none, end_offsets=end_offsets,
                    known_lanes=known_lanes)


def at(offset: int, partition: int = 0) -> Incoming[NotificationQueued]:
    env = Envelope.new(type=NotificationQueued.type_name(), source="/ggzy/notify", subject="l")
    return Incoming(env, cast(NotificationQueued, None), b"", offset, TOPIC, partition)


async def test_a_record_below_the_end_at_assignment_or_seen_here_is_checked() -> None:
    fast = lane()
    assert not fast._unseen(at(12), "a")  # nothing assigned yet: every record is checked
    await fast.listener.on_partitions_assigned({TopicPartition(TOPIC, 0)})
    assert not fast._unseen(at(9), "a")  # the previous owner may have handled it
    assert fast._unseen(at(10), "a")
    assert not fast._unseen(at(10), "a")  # handled here already: a batch handled again
    assert fast._unseen(at(11), "a")
    assert fast._unseen(at(12), "b")
    assert not fast._unseen(at(13, partition=1), "c")  # a partition not assigned here
    await fast.listener.on_partitions_revoked({TopicPartition(TOPIC, 0)})
    assert not fast._unseen(at(14), "a")  # forgotten when partitions move


async def test_without_the_end_offsets_every_record_is_checked() -> None:
    async def down(partitions: Collection[TopicPartition]) -> dict[TopicPartition, int]:
        raise OSError("broker unreachable")

    fast = lane(end_offsets=down)
    await fast.listener.on_partitions_assigned({TopicPartition(TOPIC, 0)})
    assert not fast._unseen(at(50), "a")


async def test_a_lane_forgotten_raises_its_partitions_mark_past_what_it_handled() -> None:
    fast = lane(known_lanes=1)
    await fast.listener.on_partitions_assigned({TopicPartition(TOPIC, 0)})
    assert fast._unseen(at(20), "a")
    assert fast._unseen(at(21), "b")  # "a" is forgotten: offsets up to 20 are checked again
    assert not fast._unseen(at(20), "a")
    assert fast._unseen(at(22), "a")


async def test_a_batch_fails_when_what_a_handler_left_to_it_fails() -> None:
    failing: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def handler(msg: Incoming[Any]) -> None:
        assert leave_to_batch(failing)
        failing.set_exception(OSError("not acknowledged"))

    sub = Subscription(group="g", topics=[TOPIC], handlers={NotificationQueued: handler},
                       dead_letter_topic="dlq", categories=frozenset())
    dispatcher = Dispatcher(sub, cast(Any, None), Metrics())
    dispatcher._prepare = lambda record: at(record.offset)  # type: ignore[method-assign]
    record = ConsumerRecord(TOPIC, 0, 3, 0, 0, b"k", b"{}", None, 0, 0, [])
    with pytest.raises(OSError, match="not acknowledged"):
        await dispatcher.handle_batch((record,))
    assert not leave_to_batch(failing)  # outside a batch the caller waits itself
