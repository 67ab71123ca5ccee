"""Idempotent consumption: contract in, one handler call, offsets after processing.

Every subscriber has an explicit group and commits only after its handlers have
finished (FastStream's NACK_ON_ERROR: never ACK_FIRST). It consumes in batches
(FastStream's batch subscriber: what one fetch returned, up to ``MAX_RECORDS``)
and commits once per batch: the records of one aggregate (one partition and
key) are handled one after the other, in order, and those of different
aggregates concurrently, so their store writes are group-committed
(``batching.Store``). If any record of a batch cannot be settled (its dead
letter cannot be published), the whole batch is redelivered, which handlers
absorb because they are idempotent. A message that cannot be
processed (bad envelope, invalid data, a refusal, or a failure that outlived
its bounded retries) goes to the group's dead-letter topic with the original
value and headers and the reason, and its partition moves on. Handlers make
their effect idempotent (the message id is recorded with the effect).
A subscription may also hand the messages of some types to one call per batch
(``Batched``: one decision loop and one write batch instead of a coroutine chain
per record); what that call cannot settle goes to the per-record path above.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from aiokafka import ConsumerRebalanceListener
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from contracts.base import Message
from contracts.categories import Category
from contracts.envelope import Envelope, EnvelopeError
from ggzy.runtime.errors import DomainError
from ggzy.runtime.logs import correlation_id
from ggzy.runtime.metrics import Metrics
from ggzy.runtime.outbox import MAX_MESSAGE_BYTES

log = logging.getLogger("ggzy.consumer")
MAX_RECORDS = 500  # records per batch (per fetch)
LINGER_BYTES = 64 * 1024  # a fetch returns at once when it has this much, else after linger_ms
IDLE_FETCH_WAIT_MS = 500  # without linger: a fetch returns any record at once, else after this
BATCH_WAIT_MS = 20  # an empty fetch waits this long (and FastStream as long again) before the next
M = TypeVar("M", bound=Message)
# What the handlers of the batch being handled left to it: awaited after them, before
# the batch is committed (``leave_to_batch``).
_left: contextvars.ContextVar[list[asyncio.Future[Any]] | None] = contextvars.ContextVar(
    "left_to_batch", default=None)


def leave_to_batch(pending: asyncio.Future[Any]) -> bool:
    """Leave the wait for ``pending`` (a publication's acknowledgement) to the consumed
    batch being handled: it is awaited after the batch's handlers and before its offsets
    are committed, and its failure fails the batch (which comes again). False, and
    nothing taken, outside a batch: the caller waits itself."""
    left = _left.get()
    if left is None:
        return False
    left.append(pending)
    return True


@dataclass(frozen=True, slots=True)
class Incoming(Generic[M]):
    """A consumed message: its envelope, its validated data, and the raw value."""

    envelope: Envelope
    message: M
    value: bytes
    offset: int = -1  # its offset in its partition (monotone per partition)
    topic: str = ""  # where it was consumed from
    partition: int = -1


Handler = Callable[[Incoming[Any]], Awaitable[None]]
# Many messages in one call: each one's outcome, None when it was applied.
BatchHandler = Callable[[list[Incoming[Any]]], Awaitable[list[Exception | None]]]


@dataclass(frozen=True)
class Batched:
    """Messages of ``types`` a fetched batch hands to ``handle`` together (one decision
    loop, one write batch) rather than one handler call each. An outcome that is a
    DomainError dead-letters its message; any other error sends the message to its
    own handler, with its retries. ``handle`` applies each aggregate's effects in the
    order given, and stops an aggregate's at its first failure."""

    types: frozenset[type[Message]]
    handle: BatchHandler


class DeadLetter(Exception):
    """Raised inside the pipeline: the message goes to the dead-letter topic."""

    def __init__(self, reason: str, detail: str, attempts: int = 1) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.attempts = attempts


# A consumed record, and what it was found to be: its message, its outcome already
# (skipped, ignored), why it goes to the dead-letter topic, or not looked at yet.
Prepared = tuple[ConsumerRecord[bytes, bytes], "Incoming[Any] | str | DeadLetter | None"]


@dataclass
class Subscription:
    """One consumer group's handlers for the message types it consumes."""

    group: str
    topics: list[str]
    handlers: Mapping[type[Message], Handler]
    dead_letter_topic: str
    categories: frozenset[Category]
    attempts: int = 3
    backoff_s: float = 0.2
    # The broker holds a fetch up to this long to fill a batch (64 KiB). 0: a fetch returns
    # any record at once, an idle one after 500 ms. A linger makes idle consumers poll the
    # broker every linger_ms (bidding's three idle consumers and the broker spent ~5x more
    # CPU with 10 ms than with none), and at 500 events/s it saved nothing measurable.
    linger_ms: int = 0
    batched: Batched | None = None  # types also handled many at once (see Batched)
    # After an empty fetch, the wait before the next (FastStream's batch timeout: the fetch
    # itself waits as long for a record). An idle consumer polls every 2 x this; a first
    # record after a quiet spell may wait up to this long.
    idle_wait_ms: int = BATCH_WAIT_MS
    # told when partitions are assigned or revoked (a handler that keeps per-partition
    # knowledge in memory forgets it there)
    listener: ConsumerRebalanceListener | None = None


class Dispatcher:
    """Turns one Kafka record into one handler call, or one dead letter."""

    def __init__(self, sub: Subscription, broker: KafkaBroker, metrics: Metrics) -> None:
        self.sub = sub
        self.broker = broker
        self.metrics = metrics
        self.by_type = {cls.type_name(): (cls, h) for cls, h in sub.handlers.items()}
        self._counters: dict[tuple[str, str], Any] = {}  # the labelled children, looked up once

    async def handle_batch(self, records: tuple[ConsumerRecord[bytes, bytes], ...]) -> None:
        """Handle a fetched batch: in order per aggregate, concurrently across them; then
        wait for what its handlers left to it (``leave_to_batch``)."""
        left: list[asyncio.Future[Any]] = []
        token = _left.set(left)
        try:
            await self._handle_batch(records)
        finally:
            _left.reset(token)
            outcomes = []
            while left:  # what was left may leave more
                pending, left[:] = list(left), []
                outcomes += await asyncio.gather(*pending, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # the batch is not committed, and comes again

    async def _handle_batch(self, records: tuple[ConsumerRecord[bytes, bytes], ...]) -> None:
        if self.sub.batched is not None and len(records) > 1:
            rest = await self._together(records, self.sub.batched)
        else:
            rest = _chains([(record, None) for record in records])
        if len(rest) <= 1:
            for chain in rest:
                await self._chain(chain)
            return
        results = await asyncio.gather(*(self._chain(chain) for chain in rest),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result  # the batch is not committed, and comes again

    async def _together(self, records: tuple[ConsumerRecord[bytes, bytes], ...],
                        batched: Batched) -> list[list[Prepared]]:
        """Handle the records of every chain whose records are all of a batched type (or
        skipped, or dead) in one call; return the other chains, for one handler call per
        record. A batch of batched types only (the common case) is read in one pass,
        without a list per chain."""
        types = batched.types
        prepared: list[Prepared] = [(record, self._prepare(record)) for record in records]
        # the chains (topic, partition, key) holding a message of another type
        mixed = {(record.topic, record.partition, record.key) for record, p in prepared
                 if isinstance(p, Incoming) and type(p.message) not in types}
        rest: list[list[Prepared]] = []
        if mixed:
            rest = _chains([(record, p) for record, p in prepared
                            if (record.topic, record.partition, record.key) in mixed])
            prepared = [(record, p) for record, p in prepared
                        if (record.topic, record.partition, record.key) not in mixed]
        together: list[tuple[ConsumerRecord[bytes, bytes], Incoming[Any]]] = []
        for record, p in prepared:
            if isinstance(p, Incoming):
                together.append((record, p))
            elif isinstance(p, DeadLetter):
                await self._dead_letter(record, p)
        correlation_id.set(None)
        if together:
            await self._handle_together(together, batched)
        return rest

    async def _handle_together(
            self, together: list[tuple[ConsumerRecord[bytes, bytes], Incoming[Any]]],
            batched: Batched) -> None:
        """One call for the messages; then each one that failed, in the order consumed."""
        try:
            outcomes = await batched.handle([msg for _, msg in together])
        except Exception as exc:  # each goes to its own handler, with its retries
            outcomes = [exc] * len(together)
        handled: dict[str, tuple[Envelope, int]] = {}  # counted once per type
        for (record, msg), outcome in zip(together, outcomes, strict=True):
            if outcome is None:
                env = msg.envelope
                known = handled.get(env.type)
                handled[env.type] = (env, 1) if known is None else (env, known[1] + 1)
            else:  # each aggregate's in the order consumed
                await self._after_batch(record, msg, outcome)
        for env, count in handled.values():
            self._count(env, "handled", count)

    async def _after_batch(self, record: ConsumerRecord[bytes, bytes], msg: Incoming[Any],
                           outcome: Exception | None) -> None:
        correlation_id.set(msg.envelope.correlationid)
        try:
            if isinstance(outcome, DomainError):
                raise DeadLetter(outcome.code, outcome.message) from outcome
            _, handler = self.by_type[msg.envelope.type]
            await self._attempt(handler, msg)
            self._count(msg.envelope, "handled")
        except DeadLetter as dead:
            await self._dead_letter(record, dead)
        finally:
            correlation_id.set(None)

    async def _chain(self, records: list[Prepared]) -> None:
        for record, prepared in records:
            await self.handle(record, prepared)

    async def handle(self, record: ConsumerRecord[bytes, bytes],
                     prepared: Incoming[Any] | str | DeadLetter | None = None) -> str:
        """Process one record (``prepared`` already, or not yet); return the outcome label."""
        try:
            outcome = await self._process(record, prepared)
        except DeadLetter as dead:
            await self._dead_letter(record, dead)
            outcome = "dead_letter"
        finally:
            correlation_id.set(None)
        return outcome

    async def _process(self, record: ConsumerRecord[bytes, bytes],
                       prepared: Incoming[Any] | str | DeadLetter | None) -> str:
        if prepared is None:
            prepared = self._prepare(record)
        else:
            correlation_id.set(prepared.envelope.correlationid
                               if isinstance(prepared, Incoming) else None)
        if isinstance(prepared, DeadLetter):
            raise prepared
        if isinstance(prepared, str):
            return prepared
        _, handler = self.by_type[prepared.envelope.type]
        await self._attempt(handler, prepared)
        return self._count(prepared.envelope, "handled")

    def _prepare(self, record: ConsumerRecord[bytes, bytes]) -> Incoming[Any] | str | DeadLetter:
        """The record's envelope and validated message; or its outcome already (skipped,
        ignored), or why it goes to the dead-letter topic."""
        try:
            envelope = Envelope.from_headers(record.headers or [])
        except EnvelopeError as exc:
            return _dead(DeadLetter(exc.code, str(exc)), exc)
        correlation_id.set(envelope.correlationid)
        if envelope.category is not None and envelope.category not in self.sub.categories:
            return self._count(envelope, "skipped_category")
        entry = self.by_type.get(envelope.type)
        if entry is None:
            return self._count(envelope, "ignored")
        try:
            message = _parse(entry[0], record.value)
        except DeadLetter as dead:
            return dead
        return Incoming(envelope, message, record.value or b"", record.offset, record.topic,
                        record.partition)

    async def _attempt(self, handler: Handler, incoming: Incoming[Any]) -> None:
        envelope = incoming.envelope
        for attempt in range(1, self.sub.attempts + 1):
            try:
                await handler(incoming)
                return
            except DomainError as exc:
                raise DeadLetter(exc.code, exc.message, attempt) from exc
            except Exception as exc:
                if attempt == self.sub.attempts:
                    raise DeadLetter("handler_failed", repr(exc), attempt) from exc
                self.metrics.retries.labels(self.sub.group).inc()
                log.warning("handler failed, retrying", extra={"event_id": envelope.id,
                                                               "reason": repr(exc)})
                await asyncio.sleep(self.sub.backoff_s * 2 ** (attempt - 1))

    def _count(self, envelope: Envelope, outcome: str, times: int = 1) -> str:
        key = (envelope.type, outcome)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.consumed.labels(
                self.sub.group, envelope.type, outcome)
        counter.inc(times)
        return outcome

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], dead: DeadLetter) -> None:
        headers = {k: v.decode(errors="replace") for k, v in (record.headers or [])}
        headers.update({
            "dlq_reason": dead.reason,
            "dlq_detail": dead.detail[:2000],
            "dlq_group": self.sub.group,
            "dlq_topic": record.topic,
            "dlq_partition": str(record.partition),
            "dlq_offset": str(record.offset),
            "dlq_attempts": str(dead.attempts),
            "dlq_time": datetime.now(UTC).isoformat(),
        })
        # Raises if the dead-letter topic is unreachable: then the offset is not
        # committed and the message is redelivered, never silently dropped.
        await self.broker.publish(record.value or b"", self.sub.dead_letter_topic,
                                  key=record.key, headers=headers)
        self.metrics.dead_letters.labels(self.sub.group, dead.reason).inc()
        log.error("message dead-lettered", extra={"reason": dead.reason, "topic": record.topic})


def _chains(records: list[Prepared]) -> list[list[Prepared]]:
    """The records of each aggregate (topic, partition, key), in the order consumed."""
    chains: dict[tuple[str, int, bytes | None], list[Prepared]] = {}
    for pair in records:
        record = pair[0]
        chains.setdefault((record.topic, record.partition, record.key), []).append(pair)
    return list(chains.values())


def _dead(dead: DeadLetter, cause: Exception) -> DeadLetter:
    dead.__cause__ = cause
    return dead


def _parse(cls: type[Message], value: bytes | None) -> Message:
    try:  # parsed and validated in one pass by pydantic-core
        return cast(Message, cls.__pydantic_validator__.validate_json(value or b""))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise DeadLetter("invalid_json", f"value is not JSON: {errors[0]['msg']}") from exc
        raise DeadLetter("invalid_data", exc.json(include_url=False)) from exc


async def _batch_message(records: tuple[ConsumerRecord[bytes, bytes], ...],
                         parse: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's message for a fetched batch, as its batch parser makes it, without its
    header dictionary per record (the dispatcher reads each record's headers itself):
    its parse of the first record, then given the batch's records (what a nack rewinds),
    bodies and id."""
    msg = await parse(records[:1])
    msg.raw_message = records
    msg.body = [record.value or b"" for record in records]
    msg.message_id = f"{records[0].offset}-{records[-1].offset}-{records[0].timestamp}"
    return msg


async def _raw_body(msg: Any) -> bytes:
    """Leave decoding to the dispatcher: a body that is not JSON must reach the
    dead-letter topic with its reason, not fail inside the framework."""
    body: bytes = msg.body
    return body


def subscribe(broker: KafkaBroker, sub: Subscription, metrics: Metrics) -> Dispatcher:
    """Register the subscription on the broker (before it starts)."""
    dispatcher = Dispatcher(sub, broker, metrics)

    async def consume(msg: KafkaMessage) -> None:
        await dispatcher.handle_batch(msg.raw_message)

    consume.__name__ = f"consume_{sub.group.replace('.', '_').replace('-', '_')}"
    broker.subscriber(
        *sub.topics,
        group_id=sub.group,
        decoder=_raw_body,
        parser=_batch_message,
        batch=True,
        max_records=MAX_RECORDS,
        batch_timeout_ms=sub.idle_wait_ms,
        fetch_min_bytes=LINGER_BYTES if sub.linger_ms else 1,
        fetch_max_wait_ms=sub.linger_ms or IDLE_FETCH_WAIT_MS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
        title=sub.group,
        listener=sub.listener,
    )(consume)
    return dispatcher
