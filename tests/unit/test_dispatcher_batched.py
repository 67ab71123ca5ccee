"""The consumer's batch path (Batched): which records go together, and what becomes of
each one's outcome: applied, dead-lettered, or handed to its own handler (no broker)."""

from __future__ import annotations

import json
from typing import Any, TypeAlias

from aiokafka.structs import ConsumerRecord

from contracts.categories import Category
from contracts.credit import EntityReinstated, ExpertReinstated
from contracts.envelope import Envelope
from ggzy.runtime.consumer import Batched, Dispatcher, Incoming, Subscription
from ggzy.runtime.errors import DomainError
from ggzy.runtime.metrics import Metrics
from ggzy.testing.data import new_uscc
from tests.unit.test_dispatcher import RecordingBroker

Record: TypeAlias = ConsumerRecord[bytes, bytes]


def record(key: str, offset: int, restriction: str = "R1", value: bytes | None = None,
           env: Envelope | None = None) -> Record:
    event = EntityReinstated(uscc=key, restriction_id=restriction)
    env = env or Envelope.new(type=event.type_name(), source="/t", subject=key,
                              category=Category.CONSTRUCTION)
    body = value if value is not None else json.dumps(event.model_dump(mode="json")).encode()
    headers = [(k, v.encode()) for k, v in env.headers().items()]
    rec: Record = ConsumerRecord("topic", 0, offset, 0, 0, key.encode(), body, None,
                                 len(body), 0, headers)
    return rec


def other(key: str, offset: int) -> Record:
    """A record of a type the batched handler does not take, on the same key."""
    event = ExpertReinstated(expert_id=key, restriction_id="R9")
    env = Envelope.new(type=event.type_name(), source="/t", subject=key)
    body = json.dumps(event.model_dump(mode="json")).encode()
    headers = [(k, v.encode()) for k, v in env.headers().items()]
    rec: Record = ConsumerRecord("topic", 0, offset, 0, 0, key.encode(), body, None,
                                 len(body), 0, headers)
    return rec


class Recorder:
    """A batched handler and the per-record ones: what each was given, and outcomes set
    per restriction id (an exception to return for it)."""

    def __init__(self, failing: dict[str, Exception] | None = None) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.alone: list[tuple[str, str]] = []
        self.failing = failing or {}

    async def together(self, msgs: list[Incoming[Any]]) -> list[Exception | None]:
        self.batches.append([(m.message.uscc, m.message.restriction_id) for m in msgs])
        return [self.failing.get(m.message.restriction_id) for m in msgs]

    async def one(self, msg: Incoming[Any]) -> None:
        self.alone.append((msg.message.aggregate_id(), msg.message.restriction_id))


def dispatcher(rec: Recorder) -> tuple[Dispatcher, RecordingBroker]:
    broker = RecordingBroker()
    sub = Subscription("g", ["topic"], {EntityReinstated: rec.one, ExpertReinstated: rec.one},
                       "dlq", frozenset(Category), attempts=2, backoff_s=0,
                       batched=Batched(frozenset({EntityReinstated}), rec.together))
    return Dispatcher(sub, broker, Metrics()), broker  # type: ignore[arg-type]


async def test_a_batch_mixing_poison_redelivered_and_one_aggregates_records_goes_in_one_call(
        ) -> None:
    a, b = new_uscc(), new_uscc()
    again = Envelope.new(type=EntityReinstated.type_name(), source="/t", subject=a,
                         category=Category.CONSTRUCTION)
    rec = Recorder()
    d, broker = dispatcher(rec)
    await d.handle_batch((record(a, 1, "R1", env=again), record(b, 2, value=b"{not json"),
                          record(a, 3, "R2"), record(a, 4, "R1", env=again),
                          record(b, 5, "R3")))
    # one call, in the order consumed; the poison record dead-lettered with its reason
    assert rec.batches == [[(a, "R1"), (a, "R2"), (a, "R1"), (b, "R3")]]
    assert rec.alone == []
    [(value, _, headers)] = broker.published
    assert value == b"{not json" and headers["dlq_reason"] == "invalid_json"
    assert d.metrics.registry.get_sample_value("ggzy_events_consumed_total", {
        "group": "g", "type": EntityReinstated.type_name(), "outcome": "handled"}) == 4


async def test_a_refusal_in_a_batch_is_dead_lettered_and_a_failure_goes_to_its_own_handler(
        ) -> None:
    a = new_uscc()
    rec = Recorder({"R2": DomainError("restriction_unknown", "no such restriction"),
                    "R3": ConnectionError("store briefly unreachable")})
    d, broker = dispatcher(rec)
    await d.handle_batch((record(a, 1, "R1"), record(a, 2, "R2"), record(a, 3, "R3")))
    assert rec.batches == [[(a, "R1"), (a, "R2"), (a, "R3")]]
    assert rec.alone == [(a, "R3")]  # retried alone, with its own handler's attempts
    [(_, _, headers)] = broker.published
    assert headers["dlq_reason"] == "restriction_unknown" and headers["dlq_offset"] == "2"


async def test_a_batched_handler_that_raises_leaves_each_record_to_its_own_handler() -> None:
    a, b = new_uscc(), new_uscc()
    rec = Recorder()

    async def down(msgs: list[Incoming[Any]]) -> list[Exception | None]:
        raise ConnectionError("store down")

    d, broker = dispatcher(rec)
    d.sub.batched = Batched(frozenset({EntityReinstated}), down)
    await d.handle_batch((record(a, 1, "R1"), record(b, 2, "R2"), record(a, 3, "R3")))
    assert sorted(rec.alone) == sorted([(a, "R1"), (b, "R2"), (a, "R3")])
    assert [r for r in rec.alone if r[0] == a] == [(a, "R1"), (a, "R3")]  # in order
    assert broker.published == []


async def test_an_aggregate_with_a_record_of_another_type_is_handled_record_by_record() -> None:
    a, b = new_uscc(), new_uscc()
    rec = Recorder()
    d, _ = dispatcher(rec)
    await d.handle_batch((record(a, 1, "R1"), other(a, 2), record(a, 3, "R3"),
                          record(b, 4, "R4"), record(b, 5, "R5")))
    assert rec.batches == [[(b, "R4"), (b, "R5")]]
    assert rec.alone == [(a, "R1"), (a, "R9"), (a, "R3")]  # in order, one by one


def on(partition: int, rec: Record) -> Record:
    """``rec`` as consumed from another partition of its topic."""
    moved: Record = ConsumerRecord(rec.topic, partition, rec.offset, 0, 0, rec.key, rec.value,
                                   None, rec.serialized_key_size, rec.serialized_value_size,
                                   rec.headers)
    return moved


async def test_only_the_chain_with_another_type_goes_record_by_record_poison_in_its_order(
        ) -> None:
    a, b = new_uscc(), new_uscc()
    rec = Recorder()
    d, broker = dispatcher(rec)
    # a's records on partition 0 hold another type; a's on partition 1 and b's do not
    await d.handle_batch((record(a, 1, "R1"), record(b, 2, "R2"), on(1, record(a, 3, "R3")),
                          record(a, 4, "R4", value=b"{not json"), other(a, 5),
                          record(a, 6, "R6"), record(b, 7, "R7")))
    assert rec.batches == [[(b, "R2"), (a, "R3"), (b, "R7")]]
    assert rec.alone == [(a, "R1"), (a, "R9"), (a, "R6")]  # in order, one by one
    [(value, _, headers)] = broker.published  # the poison record of a's chain, dead-lettered
    assert value == b"{not json" and headers["dlq_offset"] == "4"
    assert headers["dlq_reason"] == "invalid_json"


async def test_a_batch_of_one_record_goes_to_its_own_handler() -> None:
    a = new_uscc()
    rec = Recorder()
    d, _ = dispatcher(rec)
    await d.handle_batch((record(a, 1, "R1"),))
    assert rec.batches == [] and rec.alone == [(a, "R1")]
