"""The durable delivery queue: one document per (event, recipient, channel), in lanes.

Since the fast lane (``services.notify.lanes``) this queue holds only lanes in
trouble: a webhook or e-mail notification whose first attempt failed, or whose
endpoint's breaker was open, comes here with its attempt counted, and so does every
later one of its lane until the lane is caught up again; the rest never touch it.

A *delivery* has a deterministic id (sha256 of the source event id, the recipient
and the channel) and is an aggregate with its outbox, so its outcome and its
receipt (NotificationDelivered / NotificationFailed) are one atomic write, and a
replayed event inserts nothing twice.

A *lane* is the ordered queue of one recipient on one channel. Enqueueing takes
the lane's next number and then inserts the delivery with it. The number is a
conditional write on the last number this replica knows (``next_seq: n`` ->
``n+1``, under an in-process lock per lane), which makes a parked lane due and
leaves the due time of any other alone (a lane blocked until later on an earlier
number is not woken by a later one); another replica having taken one
since makes it match nothing, and the lane is read again. A first delivery
creates its lane holding number 1. There is no existence check: a redelivered
event's insert fails on the deterministic id, and the number taken for it is
voided at once. A worker claims due lanes under a lease (a read of candidates,
then one conditional write each), then delivers the lane's deliveries strictly
by number, reading a window of numbers at once, each by its unique ``slot``
(lane and number): n+1 never goes before n is delivered or finally failed. A
number whose delivery is not there yet (a concurrent enqueue still writing it)
is waited for in place when this replica is writing it, else it holds the lane
for a short grace; then the number is voided by a placeholder
holding its slot, so a writer that was only slow fails on the unique index and
takes a new number: its delivery is still made, once.

Every single-document operation goes through the runtime's group-commit store,
so the replica's concurrent lanes and enqueues share round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from contracts.notify import Channel, NotificationDelivered, NotificationFailed
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Doc, Outgoing, now_ms
from ggzy.runtime.batching import Store
from ggzy.runtime.errors import Conflict

PENDING, DELIVERED, FAILED, VOID = "pending", "delivered", "failed", "void"
FAST = "lane"  # ``via`` of a record the fast lane (or the fan-out's inbox) made
IDLE_MS = 2**62  # the due time of a lane with nothing to deliver
HIDDEN = {"outbox": 0, "processed": 0}
_PAYLOAD_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Queued(enum.Enum):
    """What enqueueing did."""

    QUEUED = "queued"  # for the courier to deliver
    DUPLICATE = "duplicate"  # it existed already (a redelivered event)


@dataclass(frozen=True)
class Tried:
    """An attempt made before the delivery was queued, and when to try again."""

    attempts: int
    due_ms: int
    reason: str


@dataclass(frozen=True)
class Spec:
    """A delivery to enqueue."""

    notification_id: str
    lane: str
    recipient: str
    channel: Channel
    kind: str
    endpoint: str  # what the circuit breaker guards: the webhook URL, the SMTP relay
    target: dict[str, Any]  # where to: url and secret, or the e-mail address
    payload: dict[str, Any]  # what the recipient receives
    source_event_id: str
    source_event_type: str


class DeliveryQueue:
    """Lanes and deliveries in MongoDB; single-field queries only.

    Every single-document read and write goes through the runtime's group-commit
    ``Store`` (the deliveries' ``Aggregates.store``), so the concurrent lanes and
    enqueues of a replica share round trips (one bulkWrite, one ``$in`` find).
    """

    def __init__(self, deliveries: Aggregates, lanes: AsyncCollection[Doc],
                 known_lanes: int = 100_000) -> None:
        self.deliveries = deliveries
        self.lanes = lanes
        # the webhook and e-mail deliveries the fast lane made: one plain document each
        # under the notification id, with no index but ``_id`` (see ``record_delivered``)
        self.sent: AsyncCollection[Doc] = lanes.database["sent"]
        # the inbox: one document per inbox notification, indexed by recipient only (those
        # the store queue delivered before the fast lane carry ``inbox_of`` in deliveries)
        self.inbox_docs: AsyncCollection[Doc] = lanes.database["inbox"]
        self.store: Store = deliveries.store
        # The last number this replica took per lane (bounded, oldest dropped): the
        # next one is a conditional write on it, no read. A stale entry (another
        # replica took a number since) costs one failed write and one read.
        self._next: dict[str, int] = {}
        self._known_lanes = known_lanes
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._inflight: dict[str, asyncio.Event] = {}  # slots being written here
        self._parked: set[str] = set()  # lanes last seen parked here (a hint only)

    async def setup(self) -> None:
        coll = self.deliveries.collection
        await coll.create_index("slot", unique=True)
        await coll.create_index("inbox_of")
        await coll.create_index("state")
        await coll.create_index("outbox_pending")  # the relay's claim, on a single field
        # the relay reads what it claimed by owner: without this index, nx-27017 scans
        # every delivery (finished ones stay, for the inbox) on each flush
        await coll.create_index("relay_owner")
        await self.lanes.create_index("due_ms")
        await self.inbox_docs.create_index("inbox_of")

    # enqueueing ------------------------------------------------------------------
    async def enqueue(self, spec: Spec, cause: Cause, attempts: int = 5,
                      tried: Tried | None = None) -> Queued:
        """Queue a delivery once: QUEUED, or DUPLICATE when it exists already (a
        redelivered event). ``tried``: an attempt made already (by the fast lane), due
        again at its time.

        No existence check first: the deterministic id's duplicate key tells it, and
        the number taken for it is then voided at once (the lane does not wait). One
        the fast lane delivered (``sent``) is a duplicate too."""
        if await self.store.find_one(self.sent, spec.notification_id, {"_id": 1}) is not None:
            return Queued.DUPLICATE
        for _ in range(attempts):
            seq = await self._number(spec)
            state = _state(spec, seq)
            if tried is not None:
                state.update(attempts=tried.attempts, due_ms=tried.due_ms,
                             last_error=tried.reason)
            try:
                with self._writing(spec.lane, seq):
                    applied = await self.deliveries.create(
                        spec.notification_id, state, [], cause)
            except Conflict:
                # the id exists (queued before, under another cause), or the courier
                # voided our number because we were slow: then take a new one
                if await self.deliveries.get(spec.notification_id) is not None:
                    await self.void(spec.lane, seq)
                    return Queued.DUPLICATE
                continue
            if applied.duplicate:
                await self.void(spec.lane, seq)
                return Queued.DUPLICATE
            return Queued.QUEUED
        raise Conflict("lane_busy", f"could not queue {spec.notification_id}; try again")

    async def enqueue_all(self, specs: list[Spec], cause: Cause) -> list[Queued]:
        """Queue several deliveries (of one event) concurrently, each as ``enqueue``.

        Specs of one lane keep their order (numbers are taken under the lane's lock)."""
        results = await asyncio.gather(*(self.enqueue(spec, cause) for spec in specs),
                                       return_exceptions=True)
        out: list[Queued] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result  # the event is handled again; what was queued stays once
            out.append(result)
        return out

    async def _number(self, spec: Spec, attempts: int = 20) -> int:
        """Take the lane's next number: a conditional write on the last one known."""
        async with self._lane_lock(spec.lane):
            for _ in range(attempts):
                known = self._next.pop(spec.lane, None)
                parked = spec.lane in self._parked
                if known is None:
                    read = await self._create_or_read(spec)
                    if read is None:  # created it, with number 1 taken
                        self._remember(spec.lane, 1)
                        return 1
                    known, parked = read
                for as_parked in (parked, not parked):
                    if await self._take(spec.lane, known, as_parked):
                        self._remember(spec.lane, known + 1)
                        self._parked.discard(spec.lane)
                        return known + 1
                # another replica took a number since: read the lane again
        raise Conflict("lane_busy", f"could not number a delivery of {spec.lane}; try again")

    async def _take(self, lane_id: str, known: int, parked: bool) -> bool:
        """Number ``known + 1``, if ``known`` is the lane's last and it is parked (then it
        becomes due) or not (then its due time stays: it is due already, or blocked
        until then on an earlier number, which a later one cannot unblock)."""
        if parked:
            matched = await self.store.update_one(
                self.lanes, {"_id": lane_id, "next_seq": known, "due_ms": {"$gte": IDLE_MS}},
                {"$set": {"next_seq": known + 1, "due_ms": now_ms()}})
        else:
            matched = await self.store.update_one(
                self.lanes, {"_id": lane_id, "next_seq": known, "due_ms": {"$lt": IDLE_MS}},
                {"$set": {"next_seq": known + 1}})
        return matched == 1

    async def _create_or_read(self, spec: Spec) -> tuple[int, bool] | None:
        """The lane's last number and whether it is parked, read; or None when it did
        not exist and was created holding number 1."""
        lane = await self.store.find_one(self.lanes, spec.lane)
        if lane is None:
            try:
                await self.store.insert_one(self.lanes, {
                    "_id": spec.lane, "next_seq": 1, "done_seq": 0, "lease_ms": 0,
                    "due_ms": now_ms(), "channel": spec.channel.value})
                return None
            except DuplicateKeyError:  # created concurrently by another replica
                lane = await self.store.find_one(self.lanes, spec.lane)
                assert lane is not None
        return int(lane.get("next_seq", 0)), int(lane.get("due_ms", 0)) >= IDLE_MS

    def _remember(self, lane_id: str, seq: int) -> None:
        self._next[lane_id] = seq
        while len(self._next) > self._known_lanes:
            del self._next[next(iter(self._next))]
        while len(self._parked) > self._known_lanes:
            self._parked.pop()

    @contextlib.contextmanager
    def _writing(self, lane_id: str, seq: int) -> Iterator[None]:
        """Mark number ``seq`` of the lane as being written by this replica."""
        slot = f"{lane_id}#{seq}"
        done = self._inflight[slot] = asyncio.Event()
        try:
            yield
        finally:
            del self._inflight[slot]
            done.set()

    async def settled(self, lane_id: str, seq: int, within_s: float) -> bool:
        """Wait (up to ``within_s``) for this replica's write of number ``seq``, if one is
        under way; True if there was one (then read the number again)."""
        done = self._inflight.get(f"{lane_id}#{seq}")
        if done is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), within_s)
        return True

    @contextlib.asynccontextmanager
    async def _lane_lock(self, lane_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(lane_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[lane_id]

    # working a lane ----------------------------------------------------------------
    async def claim(self, owner: str, lease_ms: int, limit: int = 1) -> list[Doc]:
        """Take up to ``limit`` due lanes that no live lease holds: one read of the
        candidates, then one conditional write each (group-committed)."""
        now = now_ms()
        candidates: list[Doc] = await self.lanes.find(
            {"due_ms": {"$lte": now}, "lease_ms": {"$lt": now}}
        ).sort("due_ms", 1).limit(limit).to_list(None)
        if not candidates:
            return []
        lease = {"lease_ms": now + lease_ms, "owner": owner}
        matched = await asyncio.gather(*(self.store.update_one(
            self.lanes, {"_id": c["_id"], "lease_ms": {"$lt": now},
                         "done_seq": c.get("done_seq", 0)}, {"$set": lease})
            for c in candidates))
        return [{**c, **lease} for c, m in zip(candidates, matched, strict=True) if m == 1]

    async def due_now(self, lane_ids: list[str]) -> int:
        """Make lanes waiting for a later time due now (their endpoint recovered);
        return how many were."""
        now = now_ms()
        matched = await asyncio.gather(*(self.store.update_one(
            self.lanes, {"_id": lane_id, "due_ms": {"$gt": now, "$lt": IDLE_MS}},
            {"$set": {"due_ms": now}}) for lane_id in lane_ids))
        return sum(matched)

    async def lane(self, lane_id: str) -> Doc | None:
        return await self.store.find_one(self.lanes, lane_id)

    async def at(self, lane_id: str, seq: int) -> Doc | None:
        """The delivery holding number ``seq`` of the lane, if written."""
        return (await self.window(lane_id, seq, seq)).get(seq)

    async def window(self, lane_id: str, first: int, last: int) -> dict[int, Doc]:
        """The deliveries (and voided numbers) written for numbers first..last, by number:
        one read by ``slot`` each, all in one ``$in`` find with the other lanes'."""
        seqs = range(first, last + 1)
        found = await asyncio.gather(*(self.store.find_by(
            self.deliveries.collection, "slot", f"{lane_id}#{seq}") for seq in seqs))
        return {seq: docs[0] for seq, docs in zip(seqs, found, strict=True) if docs}

    async def void(self, lane_id: str, seq: int) -> None:
        """Make a number never written final: no delivery can take it any more."""
        slot = f"{lane_id}#{seq}"
        with contextlib.suppress(DuplicateKeyError):  # taken after all, or voided already
            await self.store.insert_one(self.deliveries.collection, {
                "_id": f"{VOID}:{slot}", "slot": slot, "state": VOID, "voided_ms": now_ms()})

    async def release(self, lane_id: str, owner: str, due_ms: int, done_seq: int,
                      gap: tuple[int, int] = (0, 0)) -> None:
        """Give the lane back, to be claimed again at ``due_ms``; ``gap`` is the missing
        number being waited for, and since when."""
        await self.store.update_one(self.lanes, {"_id": lane_id, "owner": owner}, {"$set": {
            "lease_ms": 0, "due_ms": due_ms, "done_seq": done_seq, "gap_seq": gap[0],
            "gap_ms": gap[1]}})

    async def idle(self, lane_id: str, owner: str, next_seq: int) -> bool:
        """Park an empty lane, unless a number was taken since it was read."""
        matched = await self.store.update_one(
            self.lanes, {"_id": lane_id, "owner": owner, "next_seq": next_seq},
            {"$set": {"lease_ms": 0, "due_ms": IDLE_MS, "done_seq": next_seq}})
        if matched == 1 and lane_id in self._next:
            self._parked.add(lane_id)
        return matched == 1

    async def retry_later(self, delivery: Doc, attempts: int, due_ms: int, reason: str) -> None:
        await self.store.update_one(
            self.deliveries.collection, {"_id": delivery["_id"], "state": PENDING},
            {"$set": {"attempts": attempts, "due_ms": due_ms, "last_error": reason}})

    async def delivered(self, delivery: Doc, attempts: int) -> None:
        """Mark it delivered and queue its receipt, in one write."""
        sets: Doc = {"state": DELIVERED, "attempts": attempts, "finished_ms": now_ms()}
        if delivery["channel"] == Channel.INBOX.value:
            sets.update(inbox_of=delivery["recipient"], read=0)
        event = NotificationDelivered(**_about(delivery, attempts),
                                      delivered_at=datetime.now(UTC))
        await self._finish(delivery, sets, event)

    async def failed(self, delivery: Doc, attempts: int, reason: str) -> None:
        """Give it up for good: a failure record for operators and NotificationFailed."""
        sets: Doc = {"state": FAILED, "attempts": attempts, "last_error": reason,
                     "finished_ms": now_ms()}
        event = NotificationFailed(**_about(delivery, attempts), reason=reason,
                                   failed_at=datetime.now(UTC))
        await self._finish(delivery, sets, event)

    async def _finish(self, delivery: Doc, sets: Doc, event: Any) -> None:
        """The outcome and its receipt in one write. A delivery read with its version
        (from its lane's window) is written conditionally on that version, without a
        re-read; if it changed since, it is read again and decided anew."""
        change = Change(set=sets, events=[Outgoing(event)])
        # the write Aggregates.update does after its read: same filter, same outbox
        known = "version" in delivery and delivery.get("state") == PENDING
        if known and await self.deliveries.write_on(delivery, change, Cause()) is not None:
            return

        def decide(state: Doc, version: int) -> Change:
            if state["state"] != PENDING:
                raise Conflict("delivery_finished", f"{delivery['_id']} is {state['state']}")
            return change

        await self.deliveries.update(delivery["_id"], decide)

    # what the fast lane records (services.notify.lanes) --------------------------------
    async def caught_up(self, lane_id: str) -> bool:
        """Whether the lane has nothing unfinished here (every number taken is done),
        or does not exist."""
        lane = await self.store.find_one(self.lanes, lane_id)
        return lane is None or int(lane.get("done_seq", 0)) >= int(lane.get("next_seq", 0))

    async def known(self, nid: str) -> Doc | None:
        """The delivery of this id, if recorded: queued here, delivered or failed (both
        places read in one round trip)."""
        queued, sent = await asyncio.gather(
            self.store.find_soon(self.deliveries.collection, nid),
            self.store.find_soon(self.sent, nid))
        return queued or sent

    async def record_delivered(self, spec: Spec, order: int, cause: Cause) -> bool:
        """Record a delivery the fast lane made (its receipt goes out apart); False when
        it was recorded before. ``order`` sorts the recipient's inbox.

        Each is one plain insert under the notification id, outside ``deliveries`` (whose
        six indexes the store keeps for every document, for the store queue and its
        relay): an inbox one in ``inbox`` (the inbox itself, indexed by recipient), a
        webhook or e-mail one in ``sent`` (that it went, once: no payload, no target,
        no outbox, as its receipt is published apart)."""
        inbox = spec.channel == Channel.INBOX
        try:
            await self.store.insert_one(self.inbox_docs if inbox else self.sent,
                                        _inboxed(spec, order) if inbox else _sent(spec))
        except DuplicateKeyError:  # recorded before (a redelivery)
            return False
        return True

    def inbox_soon(self, spec: Spec, order: int) -> asyncio.Future[None]:
        """``record_delivered`` of an inbox notification, queued at once (no coroutine):
        its future fails with DuplicateKeyError when it was recorded before."""
        return self.store.insert_soon(self.inbox_docs, _inboxed(spec, order))

    async def record_failed(self, spec: Spec, order: int, attempts: int, reason: str,
                            cause: Cause) -> None:
        """Give up a delivery the fast lane could not make (no attempt left, or nowhere
        to send it): the failure record and NotificationFailed, in one write."""
        state = _finished(spec, order, FAILED, attempts=attempts, last_error=reason)
        event = NotificationFailed(**_of_spec(spec, attempts), reason=reason,
                                   failed_at=datetime.now(UTC))
        with contextlib.suppress(Conflict):  # recorded before (a redelivery)
            await self.deliveries.create(spec.notification_id, state, [Outgoing(event)], cause)

    # reads ------------------------------------------------------------------------
    async def inbox(self, recipient: str, unread_only: bool, limit: int) -> list[Doc]:
        """The recipient's newest inbox notifications: the fast lane's and any the store
        queue delivered (in ``deliveries``), by their order."""
        query: Doc = {"inbox_of": recipient, **({"read": 0} if unread_only else {})}
        fields = {"payload": 1, "payload_json": 1, "read": 1, "seq": 1, "finished_ms": 1}
        found = await asyncio.gather(*(
            coll.find(query, fields).sort("seq", -1).limit(limit).to_list(None)
            for coll in (self.inbox_docs, self.deliveries.collection)))
        newest = sorted(found[0] + found[1], key=lambda d: -int(d.get("seq", 0)))[:limit]
        return [_payload_of(doc) for doc in newest]

    async def inbox_item(self, recipient: str, nid: str) -> Doc | None:
        """One notification of the recipient's inbox by its id, or None."""
        for coll in (self.inbox_docs, self.deliveries.collection):
            doc = await coll.find_one({"_id": nid, "inbox_of": recipient},
                                      {"payload": 1, "payload_json": 1})
            if doc is not None:
                return _payload_of(doc)
        return None

    async def mark_read(self, recipient: str, nid: str) -> bool:
        for coll in (self.inbox_docs, self.deliveries.collection):
            result = await coll.update_one({"_id": nid, "inbox_of": recipient},
                                           {"$set": {"read": 1}})
            if result.matched_count == 1:
                return True
        return False

    async def failures(self, limit: int) -> list[Doc]:
        return await self.deliveries.collection.find(
            {"state": FAILED}, {**HIDDEN, "target": 0}
        ).sort("finished_ms", -1).limit(limit).to_list(None)


def _state(spec: Spec, seq: int) -> Doc:
    return {"lane": spec.lane, "seq": seq, "slot": f"{spec.lane}#{seq}", "state": PENDING,
            "recipient": spec.recipient, "channel": spec.channel.value, "kind": spec.kind,
            "endpoint": spec.endpoint, "target": spec.target, "payload": spec.payload,
            "source_event_id": spec.source_event_id,
            "source_event_type": spec.source_event_type,
            "attempts": 0, "due_ms": 0, "created_ms": now_ms()}


def receipt(spec: Spec, attempts: int) -> NotificationDelivered:
    """The receipt of a delivery made."""
    return NotificationDelivered(**_of_spec(spec, attempts), delivered_at=datetime.now(UTC))


def _finished(spec: Spec, order: int, state: str, **fields: Any) -> Doc:
    """A record the fast lane writes finished: under a slot of its own, without the
    target's secret."""
    return {**_state(spec, order), "slot": f"{spec.lane}@{spec.notification_id}",
            "state": state, "target": {k: v for k, v in spec.target.items() if k != "secret"},
            "attempts": 1, "finished_ms": now_ms(), **fields}


def _inboxed(spec: Spec, order: int) -> Doc:
    """An inbox notification, delivered (``order`` sorts the recipient's inbox). Its
    payload is kept as its JSON text (``payload_json``): the inbox reads it whole and
    nothing queries inside it, and the store copies, serializes and checks one string
    for much less than the nested document (``inbox`` gives it back as ``payload``)."""
    return {"_id": spec.notification_id, "state": DELIVERED, "via": FAST, "seq": order,
            "finished_ms": now_ms(), "inbox_of": spec.recipient, "read": 0,
            "payload_json": _PAYLOAD_JSON.encode(spec.payload)}


def _sent(spec: Spec) -> Doc:
    """The record of a webhook or e-mail delivery the fast lane made: that it went, and
    when. What it was (recipient, channel, kind, source event) is in its receipt; the
    store's cost of an insert grows with every field it holds."""
    return {"_id": spec.notification_id, "state": DELIVERED, "via": FAST,
            "finished_ms": now_ms()}


def _payload_of(doc: Doc) -> Doc:
    """An inbox document with its payload as a document (whichever way it was kept)."""
    text = doc.pop("payload_json", None)
    if text is not None:
        doc["payload"] = json.loads(text)
    return doc


def _of_spec(spec: Spec, attempts: int) -> dict[str, Any]:
    return {"notification_id": spec.notification_id, "source_event_id": spec.source_event_id,
            "source_event_type": spec.source_event_type, "about": spec.kind,
            "recipient": spec.recipient, "channel": spec.channel,
            "attempts": max(1, attempts)}


def _about(delivery: Doc, attempts: int) -> dict[str, Any]:
    return {"notification_id": delivery["_id"], "source_event_id": delivery["source_event_id"],
            "source_event_type": delivery["source_event_type"], "about": delivery["kind"],
            "recipient": delivery["recipient"], "channel": Channel(delivery["channel"]),
            "attempts": max(1, attempts)}
