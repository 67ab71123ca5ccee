"""The consumer's dispatch logic: category filter, retries, dead letters (no broker)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka.message import KafkaAckableMessage
from faststream.kafka.parser import AioKafkaBatchParser

from contracts.categories import Category
from contracts.credit import EntityReinstated
from contracts.envelope import Envelope
from ggzy.runtime.consumer import (
    BATCH_WAIT_MS,
    IDLE_FETCH_WAIT_MS,
    LINGER_BYTES,
    Dispatcher,
    Incoming,
    Subscription,
    _batch_message,
    subscribe,
)
from ggzy.runtime.errors import DomainError
from ggzy.runtime.metrics import Metrics
from ggzy.testing.data import new_uscc

USCC = new_uscc()


class RecordingBroker:
    """Stands in for the broker: records what would be dead-lettered."""

    def __init__(self) -> None:
        self.published: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, *, key: Any, headers: dict[str, str]
                      ) -> None:
        self.published.append((value, topic, headers))


def record(category: Category | None = None, value: bytes | None = None) -> ConsumerRecord[
        bytes, bytes]:
    event = EntityReinstated(uscc=USCC, restriction_id="R1")
    env = Envelope.new(type=event.type_name(), source="/t", subject=USCC, category=category)
    body = value if value is not None else json.dumps(event.model_dump(mode="json")).encode()
    headers = [(k, v.encode()) for k, v in env.headers().items()]
    return ConsumerRecord("topic", 0, 7, 0, 0, USCC.encode(), body, None, len(body), 0, headers)


def dispatcher(handler: Any, categories: frozenset[Category] = frozenset(Category)
               ) -> tuple[Dispatcher, RecordingBroker]:
    broker = RecordingBroker()
    sub = Subscription("g", ["topic"], {EntityReinstated: handler}, "dlq", categories,
                       attempts=3, backoff_s=0)
    return Dispatcher(sub, broker, Metrics()), broker  # type: ignore[arg-type]


async def test_messages_of_categories_not_served_are_skipped() -> None:
    calls: list[Incoming[Any]] = []

    async def handler(msg: Incoming[Any]) -> None:
        calls.append(msg)

    d, _ = dispatcher(handler, frozenset({Category.LAND}))
    assert await d.handle(record(Category.CONSTRUCTION)) == "skipped_category"
    assert await d.handle(record(Category.LAND)) == "handled"
    assert len(calls) == 1 and calls[0].message.uscc == USCC


async def test_a_passing_failure_is_retried_and_then_handled() -> None:
    attempts: list[int] = []

    async def flaky(msg: Incoming[Any]) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("store briefly unreachable")

    d, broker = dispatcher(flaky)
    assert await d.handle(record()) == "handled"
    assert len(attempts) == 3 and broker.published == []


async def test_a_lasting_failure_is_dead_lettered_after_the_bounded_attempts() -> None:
    async def broken(msg: Incoming[Any]) -> None:
        raise RuntimeError("bug")

    d, broker = dispatcher(broken)
    assert await d.handle(record()) == "dead_letter"
    [(value, topic, headers)] = broker.published
    assert topic == "dlq" and headers["dlq_reason"] == "handler_failed"
    assert headers["dlq_attempts"] == "3" and headers["dlq_offset"] == "7"
    assert json.loads(value)["uscc"] == USCC  # the original message is kept


async def test_a_refusal_is_dead_lettered_at_once_with_its_code() -> None:
    calls: list[int] = []

    async def refuse(msg: Incoming[Any]) -> None:
        calls.append(1)
        raise DomainError("restriction_unknown", "no such restriction")

    d, broker = dispatcher(refuse)
    assert await d.handle(record()) == "dead_letter"
    assert calls == [1] and broker.published[0][2]["dlq_reason"] == "restriction_unknown"


class SubscribingBroker:
    """Stands in for the broker at registration: records the subscriber's options."""

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    def subscriber(self, *topics: str, **options: Any) -> Any:
        self.options = options
        return lambda consume: consume


def fetch_options(linger_ms: int) -> tuple[int, int]:
    broker = SubscribingBroker()
    sub = Subscription("g", ["topic"], {}, "dlq", frozenset(Category), linger_ms=linger_ms)
    subscribe(broker, sub, Metrics())  # type: ignore[arg-type]
    return broker.options["fetch_min_bytes"], broker.options["fetch_max_wait_ms"]


def test_a_lingering_fetch_waits_for_a_batch_up_to_the_linger() -> None:
    assert fetch_options(10) == (LINGER_BYTES, 10)


def test_without_a_linger_a_fetch_returns_with_the_first_record_and_an_idle_one_waits() -> None:
    assert fetch_options(0) == (1, IDLE_FETCH_WAIT_MS)


def test_the_wait_after_an_empty_fetch_is_the_subscriptions_own() -> None:
    waits = []
    for sub in (Subscription("g", ["t"], {}, "dlq", frozenset(Category)),
                Subscription("g", ["t"], {}, "dlq", frozenset(Category), idle_wait_ms=100)):
        broker = SubscribingBroker()
        subscribe(broker, sub, Metrics())  # type: ignore[arg-type]
        waits.append(broker.options["batch_timeout_ms"])
    assert waits == [BATCH_WAIT_MS, 100]


async def test_outcomes_are_counted_per_type_on_one_labelled_counter() -> None:
    async def handler(msg: Incoming[EntityReinstated]) -> None:
        pass

    d, _ = dispatcher(handler)
    for _ in range(3):
        await d.handle(record())
    assert d.metrics.registry.get_sample_value("ggzy_events_consumed_total", {
        "group": "g", "type": EntityReinstated.type_name(), "outcome": "handled"}) == 3


async def test_a_batchs_framework_message_is_faststreams_own_for_the_whole_batch() -> None:
    """The consumer's parser gives FastStream the message its batch parser would (records,
    bodies, id, what an ack or a nack works on), without a header dictionary per record."""
    parser = AioKafkaBatchParser(msg_class=KafkaAckableMessage, regex=None)
    records = (record(Category.LAND), replace(record(Category.LAND, b'{"x": 1}'), offset=8),
               replace(record(), offset=9, timestamp=5))
    ours = await _batch_message(records, parser.parse_batch)
    theirs = await parser.parse_batch(records)
    assert ours.raw_message is records
    for attr in ("body", "message_id", "headers", "content_type", "reply_to", "path",
                 "committed"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.consumer is theirs.consumer
