"""The durable delivery queue: one document per (event, recipient, channel), in lanes.

A *delivery* has a deterministic id (sha256 of the source event id, the recipient
and the channel) and is an aggregate with its outbox, so its outcome and its
receipt (NotificationDelivered / NotificationFailed) are one atomic write, and a
replayed event inserts nothing twice.

A *lane* is the ordered queue of one recipient on one channel. Enqueueing takes
the lane's next number (one ``$inc``) and then inserts the delivery with it. A
worker claims a due lane with one ``find_one_and_update`` that takes a lease (as
the runtime's timers and relay do), then delivers the lane's deliveries strictly
by number, each found by its unique ``slot`` (lane and number): n+1 never goes
before n is delivered or finally failed. A number whose delivery is not there yet
(a concurrent enqueue still writing it) holds the lane for a short grace; then
the number is voided by a placeholder holding its slot, so a writer that was only
slow fails on the unique index and takes a new number: its delivery is still
made, once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from contracts.notify import Channel, NotificationDelivered, NotificationFailed
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Doc, Outgoing, now_ms
from ggzy.runtime.errors import Conflict

PENDING, DELIVERED, FAILED, VOID = "pending", "delivered", "failed", "void"
IDLE_MS = 2**62  # the due time of a lane with nothing to deliver
HIDDEN = {"outbox": 0, "processed": 0}


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
    """Lanes and deliveries in MongoDB; single-field queries only."""

    def __init__(self, deliveries: Aggregates, lanes: AsyncCollection[Doc]) -> None:
        self.deliveries = deliveries
        self.lanes = lanes
        self._known: set[str] = set()  # lanes known to exist

    async def setup(self) -> None:
        coll = self.deliveries.collection
        await coll.create_index("slot", unique=True)
        await coll.create_index("inbox_of")
        await coll.create_index("state")
        await coll.create_index("outbox_pending")  # the relay's claim, on a single field
        await self.lanes.create_index("due_ms")

    # enqueueing ------------------------------------------------------------------
    async def enqueue(self, spec: Spec, cause: Cause, attempts: int = 5) -> bool:
        """Queue a delivery once; False when it exists already (a redelivered event)."""
        for _ in range(attempts):
            if await self.deliveries.get(spec.notification_id) is not None:
                return False
            seq = await self._number(spec)
            try:
                applied = await self.deliveries.create(
                    spec.notification_id, _state(spec, seq), [], cause)
            except Conflict:
                continue  # written concurrently (then found above), or its number was voided
            return not applied.duplicate
        raise Conflict("lane_busy", f"could not queue {spec.notification_id}; try again")

    async def _number(self, spec: Spec) -> int:
        if spec.lane not in self._known:
            # $setOnInsert beside $inc in one upsert is not applied by every
            # MongoDB-compatible store (nx-27017): create the lane on its own, once
            await self.lanes.update_one({"_id": spec.lane}, {"$setOnInsert": {
                "next_seq": 0, "done_seq": 0, "lease_ms": 0, "due_ms": IDLE_MS,
                "channel": spec.channel.value}}, upsert=True)
            self._known.add(spec.lane)
        lane = await self.lanes.find_one_and_update(
            {"_id": spec.lane}, {"$inc": {"next_seq": 1}, "$set": {"due_ms": now_ms()}},
            return_document=ReturnDocument.AFTER)
        assert lane is not None  # created above
        return int(lane["next_seq"])

    # working a lane ----------------------------------------------------------------
    async def claim(self, owner: str, lease_ms: int) -> Doc | None:
        """Take a due lane that no live lease holds."""
        now = now_ms()
        doc: Doc | None = await self.lanes.find_one_and_update(
            {"due_ms": {"$lte": now}, "lease_ms": {"$lt": now}},
            {"$set": {"lease_ms": now + lease_ms, "owner": owner}},
            sort=[("due_ms", 1)], return_document=ReturnDocument.AFTER)
        return doc

    async def lane(self, lane_id: str) -> Doc | None:
        return await self.lanes.find_one({"_id": lane_id})

    async def at(self, lane_id: str, seq: int) -> Doc | None:
        """The delivery holding number ``seq`` of the lane, if written."""
        return await self.deliveries.collection.find_one({"slot": f"{lane_id}#{seq}"}, HIDDEN)

    async def void(self, lane_id: str, seq: int) -> None:
        """Make a number never written final: no delivery can take it any more."""
        slot = f"{lane_id}#{seq}"
        with contextlib.suppress(DuplicateKeyError):  # taken after all, or voided already
            await self.deliveries.collection.insert_one(
                {"_id": f"{VOID}:{slot}", "slot": slot, "state": VOID, "voided_ms": now_ms()})

    async def release(self, lane_id: str, owner: str, due_ms: int, done_seq: int,
                      gap: tuple[int, int] = (0, 0)) -> None:
        """Give the lane back, to be claimed again at ``due_ms``; ``gap`` is the missing
        number being waited for, and since when."""
        await self.lanes.update_one({"_id": lane_id, "owner": owner}, {"$set": {
            "lease_ms": 0, "due_ms": due_ms, "done_seq": done_seq, "gap_seq": gap[0],
            "gap_ms": gap[1]}})

    async def idle(self, lane_id: str, owner: str, next_seq: int) -> bool:
        """Park an empty lane, unless a number was taken since it was read."""
        result = await self.lanes.update_one(
            {"_id": lane_id, "owner": owner, "next_seq": next_seq},
            {"$set": {"lease_ms": 0, "due_ms": IDLE_MS, "done_seq": next_seq}})
        return result.matched_count == 1

    async def retry_later(self, delivery: Doc, attempts: int, due_ms: int, reason: str) -> None:
        await self.deliveries.collection.update_one(
            {"_id": delivery["_id"], "state": PENDING},
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
        def decide(state: Doc, version: int) -> Change:
            if state["state"] != PENDING:
                raise Conflict("delivery_finished", f"{delivery['_id']} is {state['state']}")
            return Change(set=sets, events=[Outgoing(event)])

        await self.deliveries.update(delivery["_id"], decide)

    # reads ------------------------------------------------------------------------
    async def inbox(self, recipient: str, unread_only: bool, limit: int) -> list[Doc]:
        query: Doc = {"inbox_of": recipient, **({"read": 0} if unread_only else {})}
        return await self.deliveries.collection.find(
            query, {"payload": 1, "read": 1, "seq": 1, "finished_ms": 1}
        ).sort("seq", -1).limit(limit).to_list(None)

    async def mark_read(self, recipient: str, nid: str) -> bool:
        result = await self.deliveries.collection.update_one(
            {"_id": nid, "inbox_of": recipient}, {"$set": {"read": 1}})
        return result.matched_count == 1

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


def _about(delivery: Doc, attempts: int) -> dict[str, Any]:
    return {"notification_id": delivery["_id"], "source_event_id": delivery["source_event_id"],
            "source_event_type": delivery["source_event_type"], "about": delivery["kind"],
            "recipient": delivery["recipient"], "channel": Channel(delivery["channel"]),
            "attempts": max(1, attempts)}
