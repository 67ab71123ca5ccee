"""The fast lane: notifications queued on Kafka, delivered by their partition's owner.

The fan-out (``handlers.Notify``) publishes one NotificationQueued per (event,
recipient, channel) on notify's deliveries topic, keyed by its lane (recipient and
channel). One lane is thus one partition's, in order, and one replica at a time
delivers a partition (its consumer group's member): the lane has a single writer.
The runtime's consumer handles one key's records in order and different keys
concurrently, and commits a batch after all of it was handled.

For each queued notification:

- **inbox** (written by the fan-out itself, without this hop: an inbox delivery is
  never retried or held, so it needs no single writer): the write is the delivery.
  It is inserted delivered under its notification id (a redelivered event finds it
  there and does nothing more), pushed live to connected clients, and its receipt
  published.
- **webhook and e-mail**, while the lane has nothing unfinished in the store queue
  (``queue.DeliveryQueue``): unless it was recorded already (a redelivery), it is
  sent once, recorded delivered, and its receipt published. If the attempt fails,
  or the endpoint's circuit breaker is open, it goes to the store queue with its
  attempt counted, and so does every later one of the lane until the courier has
  finished them all: order per lane holds, and retries with backoff, the breaker,
  the failure record and NotificationFailed are the queue's, as before.

What this replica knows about its lanes (caught up, or not) is forgotten when its
partitions are assigned or revoked: a lane another replica may have queued to since
is read again.

Once a notification is sent, the lane's next one goes on while it is recorded and
its receipt published: the consumed batch waits for every record and receipt before
it is committed, and fails (comes again) if one failed. The receipts of the deliveries
recorded in one turn of the event loop (one store round trip's) go out in one
publication (``Receipts``), each its own event. Receipts go under an id derived
from the notification id: when a delivery recorded is redelivered before its offset
was committed, the same receipt goes out again under the same id, which consumers
deduplicate. A webhook sent and not yet
recorded when a replica dies, or whose record failed, is sent again (the receiver
recognises it by its signed notification id; its first copy arrived in order): at
least once, as any delivery over a network can only be.

Whether a webhook or e-mail notification was recorded already is read only when it
may have been: when its event was handled before (the fan-out's inbox write for the
recipient was not new: the record is not ``first``), when its offset is below the
partition's end as it was when this replica was assigned it (the previous owner may
have handled it and died before committing), or when this replica handled the lane
at that offset or later (a batch handled again after a failure). A record queued by
the first handling of its event, written after the partition came here, and not seen
here before cannot have been delivered by anyone: it is sent without the read.

Store use per notification: an inbox one is one insert; a webhook or e-mail one is
an insert (and the read above, where a copy may have gone before), group-committed
with the others of the batch (and the recipient's current webhook, as of at most 2 s ago, which the
fan-out read anyway: ``NotifyStore.recipients_by_id``); the store queue only for
lanes in trouble.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from pymongo.errors import DuplicateKeyError

from contracts.notify import Channel, NotificationQueued
from ggzy.runtime.aggregates import Cause, Outgoing, now_ms
from ggzy.runtime.batching import settled
from ggzy.runtime.consumer import Incoming, leave_to_batch
from services.notify.channels import DeliveryError
from services.notify.courier import Courier, Send
from services.notify.domain.recipients import RecipientId
from services.notify.queue import DELIVERED, FAST, DeliveryQueue, Spec, Tried, receipt
from services.notify.store import NotifyStore

log = logging.getLogger("ggzy.notify.lanes")
RECEIPTS = uuid.UUID("5a0c6f2e-9d43-4b8e-a1f7-0c3d2b9e6a51")  # namespace of receipt ids
Publish = Callable[[list[tuple[Outgoing, str]], Cause], Awaitable[None]]
PublishAll = Callable[[list[tuple[list[tuple[Outgoing, str]], Cause]]], Awaitable[None]]
EndOffsets = Callable[[Collection[TopicPartition]], Awaitable[dict[TopicPartition, int]]]
Partition = tuple[str, int]  # topic and partition


def receipt_id(notification_id: str) -> str:
    """The envelope id of a delivery's receipt: the same however often it is published."""
    return str(uuid.uuid5(RECEIPTS, f"{notification_id}:delivered"))


def queued_id(notification_id: str) -> str:
    """The envelope id of a queued notification (a redelivered event queues it again
    under the same id)."""
    return str(uuid.uuid5(RECEIPTS, f"{notification_id}:queued"))


class FastLane:
    """The handler of notify's deliveries topic (group ``notify.deliveries``)."""

    def __init__(self, queue: DeliveryQueue, courier: Courier, store: NotifyStore,
                 senders: dict[Channel, Send], publish_all: PublishAll, *,
                 end_offsets: EndOffsets | None = None,
                 known_lanes: int = 100_000, recheck_ms: int = 500) -> None:
        self.queue, self.courier, self.store = queue, courier, store
        self.senders = senders
        self.receipts = Receipts(publish_all)
        self._inbox_order = 0  # the last order an inbox notification was written with
        # lanes with nothing unfinished in the store queue, as this replica last saw while
        # it owned their partition (bounded; forgotten on every rebalance)
        self._clear: dict[str, None] = {}
        # lanes this replica queued to (or found not caught up), and when it last looked
        self._blocked: dict[str, int] = {}
        self._known_lanes, self.recheck_ms = known_lanes, recheck_ms
        # per partition, its end offset when it was assigned here (none known: every
        # record is checked); per lane, the partition and the last offset handled here
        self._fresh_from: dict[Partition, int] = {}
        self._handled: dict[str, tuple[Partition, int]] = {}
        # notifications this replica sent (their record and receipt may be on their way;
        # one whose recording failed is dropped from here: it is read again)
        self._sent: dict[str, None] = {}
        self.listener = _Forget(self, self._clear, self._blocked, self._fresh_from,
                                self._handled)
        self.end_offsets = end_offsets

    async def on_queued(self, msg: Incoming[NotificationQueued]) -> None:
        q = msg.message
        cause = Cause(message_id=msg.envelope.id, correlation_id=msg.envelope.correlationid)
        order = msg.offset + 1  # monotone per lane: a lane is one partition's
        if q.channel == Channel.INBOX:  # the fan-out writes those itself; taken all the same
            await self.inbox(_spec(q, dict(q.target)), cause, q.queued_ms)
            return
        current = await self._with_secret(q)
        if current is None:
            await self.queue.record_failed(_spec(q, dict(q.target)), order, 1,
                                           "channel_removed", cause)
            self.courier.metrics.failed.labels(q.channel.value).inc()
            return
        spec = current
        unseen = self._unseen(msg, q.lane) and q.first
        if q.notification_id in self._sent:  # sent here: its record is here or on its way
            return
        if not await self._caught_up(q.lane):
            await self._to_queue(spec, cause)  # behind what the courier still holds
            return
        known = None if unseen else await self.queue.known(q.notification_id)
        if known is not None:  # a redelivery: delivered here (its receipt again) or queued
            if known.get("state") == DELIVERED and known.get("via") == FAST:
                await self._receipt(spec, cause)  # the store queue's went by its outbox
            return
        await self._deliver(spec, order, cause, q.queued_ms)

    async def inbox(self, spec: Spec, cause: Cause, queued_ms: int) -> None:
        """Deliver to the inbox (``write_inbox``), then publish its receipt."""
        await self.write_inbox(spec, cause, queued_ms)
        await self._receipt(spec, cause)

    async def write_inbox(self, spec: Spec, cause: Cause, queued_ms: int) -> bool:
        """Deliver to the inbox: the write is the delivery (once: a redelivered event finds
        it written), then the live push; True when it was written now (not before). Never
        retried or held, so it needs no lane: the fan-out calls it directly, sorted by the
        time of writing. Its receipt is ``receipt_of(spec)``, for the caller to publish."""
        if not await self.queue.record_delivered(spec, time.time_ns() // 1000, cause):
            return False
        await self.courier.delivered_now(spec, queued_ms)
        return True

    async def write_inboxes(self, specs: list[Spec], queued_ms: int) -> list[bool | Exception]:
        """``write_inbox`` for many at once, their inserts queued together: for each, True
        when written now, False when written before, or why it could not be written."""
        now, pending = time.time_ns() // 1000, []
        for spec in specs:  # sorts the recipient's inbox: by the time of writing, in order
            self._inbox_order = max(now, self._inbox_order + 1)
            pending.append(self.queue.inbox_soon(spec, self._inbox_order))
        written = await settled(pending)
        out: list[bool | Exception] = []
        for spec, result in zip(specs, written, strict=True):
            if result is None:
                await self.courier.delivered_now(spec, queued_ms)
                out.append(True)
            elif isinstance(result, DuplicateKeyError):
                out.append(False)
            else:
                out.append(result if isinstance(result, Exception) else RuntimeError(result))
        return out

    def _unseen(self, msg: Incoming[NotificationQueued], lane: str) -> bool:
        """Whether no one can have handled this record before: its offset is at or past
        its partition's end when this replica was assigned it, and past the last one of
        its lane handled here. Remembers it as handled (a bounded memory: a lane
        forgotten raises its partition's mark past what it had handled)."""
        where = (msg.topic, msg.partition)
        fresh_from = self._fresh_from.get(where)
        last = self._handled.pop(lane, None)
        self._handled[lane] = (where, msg.offset)
        while len(self._handled) > self._known_lanes:
            old, (at, offset) = next(iter(self._handled.items()))
            del self._handled[old]
            if at in self._fresh_from:
                self._fresh_from[at] = max(self._fresh_from[at], offset + 1)
        return (fresh_from is not None and msg.offset >= fresh_from
                and (last is None or msg.offset > last[1]))

    async def assigned(self, partitions: Collection[TopicPartition]) -> None:
        """Note where each partition assigned here ended when it came: below that, a
        record may have been handled by its previous owner. Without it (no way to ask,
        or the broker did not answer), every record of the partition is checked."""
        if self.end_offsets is None or not partitions:
            return
        try:
            ends = await self.end_offsets(partitions)
        except Exception as exc:  # checked record by record instead
            log.warning("end offsets not known", extra={"reason": repr(exc)})
            return
        self._fresh_from.update({(tp.topic, tp.partition): end for tp, end in ends.items()})

    async def _deliver(self, spec: Spec, order: int, cause: Cause, queued_ms: int) -> None:
        courier, now = self.courier, now_ms()
        breaker = courier.breakers.of(spec.endpoint)
        if not breaker.allow(now):
            courier.metrics.held.labels(spec.channel.value).inc()
            await self._to_queue(spec, cause)
            return
        try:
            await self.senders[spec.channel](spec.notification_id, spec.target, spec.payload)
        except DeliveryError as exc:
            if not exc.endpoint_fault:
                courier.succeeded(spec.endpoint, breaker)
            else:
                breaker.failed(now_ms())
            await self._failed(spec, order, cause, exc.reason)
            return
        courier.succeeded(spec.endpoint, breaker)
        self._sent[spec.notification_id] = None
        while len(self._sent) > self._known_lanes:
            del self._sent[next(iter(self._sent))]
        # the lane's next notification goes on while this one is recorded: the batch
        # waits for the record and the receipt before it is committed
        recording = asyncio.ensure_future(self._record(spec, order, cause, queued_ms))
        if not leave_to_batch(recording):
            await recording

    async def _record(self, spec: Spec, order: int, cause: Cause, queued_ms: int) -> None:
        """Record a delivery made, then publish its receipt. If either fails, the batch
        comes again and the notification is read again (and sent again if it was not
        recorded: at least once, behind the later ones already sent)."""
        try:
            await self.queue.record_delivered(spec, order, cause)
            await self.courier.delivered_now(spec, queued_ms)
            await self.receipts.publish(receipt_of(spec), cause)
        except BaseException:
            self._sent.pop(spec.notification_id, None)
            raise

    async def _failed(self, spec: Spec, order: int, cause: Cause, reason: str) -> None:
        """The first attempt failed: the store queue retries it (the lane waits behind
        it), or it fails for good when no attempt is left."""
        courier = self.courier
        if courier.policy.exhausted(1):
            await self.queue.record_failed(spec, order, 1, reason, cause)
            courier.metrics.failed.labels(spec.channel.value).inc()
            return
        due = now_ms() + courier.policy.delay_ms(1, courier.rng)
        await self._to_queue(spec, cause, Tried(1, due, reason))
        courier.metrics.retries.labels(spec.channel.value, reason).inc()

    async def _to_queue(self, spec: Spec, cause: Cause, tried: Tried | None = None) -> None:
        self._clear.pop(spec.lane, None)
        self._blocked.setdefault(spec.lane, now_ms())
        await self.queue.enqueue(spec, cause, tried=tried)
        self.courier.wake()

    async def _caught_up(self, lane: str) -> bool:
        """Whether the lane has nothing left in the store queue. A lane this replica
        queued to is read again at most every ``recheck_ms`` (until then its later
        notifications follow it into the queue, which is always in order)."""
        if lane in self._clear:
            return True
        since = self._blocked.get(lane)
        if since is not None and now_ms() - since < self.recheck_ms:
            return False
        if not await self.queue.caught_up(lane):
            self._blocked[lane] = now_ms()
            return False
        self._blocked.pop(lane, None)
        self._clear[lane] = None
        for known in (self._clear, self._blocked):
            while len(known) > self._known_lanes:
                del known[next(iter(known))]
        return True

    async def _with_secret(self, q: NotificationQueued) -> Spec | None:
        """The spec with the recipient's current webhook secret; None when the channel
        was removed since the notification was queued."""
        if q.channel != Channel.WEBHOOK:
            return _spec(q, dict(q.target))
        doc = (await self.store.recipients_by_id([RecipientId(q.recipient)])).get(
            q.recipient) or {}
        hook = doc.get("webhook") or {}
        if not hook.get("url") or not hook.get("enabled", True):
            return None
        return _spec(q, {"url": hook["url"], "secret": hook["secret"]})

    async def _receipt(self, spec: Spec, cause: Cause) -> None:
        """Publish a receipt; its acknowledgement is left to the consumed batch."""
        acked = self.receipts.publish(receipt_of(spec), cause)
        if not leave_to_batch(acked):
            await acked


class Receipts:
    """Publishes the receipts of deliveries recorded in one turn of the event loop
    together, each its own event under its own id and cause: one publication (built
    into batches by the producer's relay path) instead of one per receipt. Deliveries
    recorded in one store round trip all finish in the same turn."""

    def __init__(self, publish_all: PublishAll) -> None:
        self.publish_all = publish_all
        self._groups: list[tuple[list[tuple[Outgoing, str]], Cause]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    def publish(self, event: tuple[Outgoing, str], cause: Cause) -> asyncio.Future[None]:
        """Queue one receipt; what is returned completes once it is acknowledged (or
        fails as its publication did)."""
        loop = asyncio.get_running_loop()
        if not self._groups:
            self._task = loop.create_task(self._flush())
        acked: asyncio.Future[None] = loop.create_future()
        self._groups.append(([event], cause))
        self._waiting.append(acked)
        return acked

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the receipts of the same turn join
        groups, waiting = self._groups, self._waiting
        self._groups, self._waiting = [], []
        try:
            await self.publish_all(groups)
        except BaseException as exc:
            for acked in waiting:
                if acked.done():
                    continue
                if isinstance(exc, Exception):
                    acked.set_exception(exc)
                else:
                    acked.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for acked in waiting:
            if not acked.done():
                acked.set_result(None)


def receipt_of(spec: Spec) -> tuple[Outgoing, str]:
    """A delivery's receipt, under its id (the same however often it is published)."""
    return Outgoing(receipt(spec, 1)), receipt_id(spec.notification_id)


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """Forgets what was known about lanes whenever partitions move, and notes where the
    partitions assigned ended."""

    def __init__(self, lane: FastLane, *known: dict[Any, Any]) -> None:
        self.lane, self.known = lane, known

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for known in self.known:
            known.clear()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        for known in self.known:
            known.clear()
        await self.lane.assigned(assigned)


def _spec(q: NotificationQueued, target: dict[str, Any]) -> Spec:
    return Spec(q.notification_id, q.lane, q.recipient, q.channel, q.about, q.endpoint,
                target, q.payload, q.source_event_id, q.source_event_type)


def queued(spec: Spec, first: bool = False) -> NotificationQueued:
    """What the fan-out publishes for a delivery (without any secret); ``first``: by the
    first handling of its event (no copy of it was queued before)."""
    return NotificationQueued(
        notification_id=spec.notification_id, lane=spec.lane, recipient=spec.recipient,
        channel=spec.channel, about=spec.kind, endpoint=spec.endpoint,
        target={k: str(v) for k, v in spec.target.items() if k != "secret"},
        payload=spec.payload, source_event_id=spec.source_event_id,
        source_event_type=spec.source_event_type, queued_ms=now_ms(), first=first)
