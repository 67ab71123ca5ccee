"""The delivery worker: claims due lanes and delivers their notifications in order.

One claimer takes as many due lanes as worker slots are free (see ``queue``:
one read of the candidates, one conditional write each, group-committed); each
worker delivers its lane's deliveries by number, reading them a window at a time
(one read per number, all lanes' reads in one round trip), until the lane is
empty, blocked (a retry is not due yet, the endpoint's breaker is open, an
earlier number is still being written) or its batch is done, and gives the lane
back with the time it is due again. Up to ``workers`` lanes are worked at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.notify import Channel
from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.errors import Conflict
from services.notify.channels import DeliveryError
from services.notify.domain.policy import CLOSED, Breaker, Breakers, RetryPolicy
from services.notify.queue import PENDING, DeliveryQueue, Spec

log = logging.getLogger("ggzy.notify.courier")
Send = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[None]]
Push = Callable[[str, dict[str, Any]], Awaitable[None]]


class NotifyMetrics:
    """Deliveries, failures, retries and queue age per channel."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.delivered = Counter("ggzy_notify_deliveries", "Notifications delivered",
                                 ["channel"], registry=r)
        self.failed = Counter("ggzy_notify_failures", "Notifications given up after their "
                              "bounded attempts", ["channel"], registry=r)
        self.retries = Counter("ggzy_notify_retries", "Failed attempts to be retried",
                               ["channel", "reason"], registry=r)
        self.held = Counter("ggzy_notify_breaker_held", "Attempts held back by an open "
                            "circuit breaker", ["channel"], registry=r)
        self.age = Histogram("ggzy_notify_queue_age_seconds", "From enqueue to the final "
                             "outcome", ["channel"], registry=r,
                             buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
        self.claims = Counter("ggzy_notify_claim_reads", "Reads of due lanes to claim",
                              registry=r)
        self.claimed = Counter("ggzy_notify_lanes_claimed", "Lanes claimed (each worked once "
                               "per claim)", registry=r)
        self.head_age = Gauge("ggzy_notify_head_age_seconds", "Age of the last notification "
                              "taken up, per channel", ["channel"], registry=r)
        self._per_channel: dict[str, tuple[Any, Any]] = {}

    def of_channel(self, channel: str) -> tuple[Any, Any]:
        """The delivered counter and the age histogram of a channel (looked up once)."""
        found = self._per_channel.get(channel)
        if found is None:
            found = self._per_channel[channel] = (self.delivered.labels(channel),
                                                  self.age.labels(channel))
        return found


@dataclass(frozen=True)
class Later:
    """The lane must wait until ``due_ms`` (a retry, an open breaker, a gap)."""

    due_ms: int
    gap: tuple[int, int] = (0, 0)


class Courier:
    """Runs the delivery loops of this replica."""

    def __init__(self, queue: DeliveryQueue, senders: dict[Channel, Send], push: Push, *,
                 policy: RetryPolicy, breakers: Breakers, metrics: NotifyMetrics,
                 workers: int = 8, lease_ms: int = 60_000, grace_ms: int = 2000,
                 batch: int = 200, interval_s: float = 0.2, window: int = 16) -> None:
        self.queue, self.senders, self.push = queue, senders, push
        self.policy, self.breakers, self.metrics = policy, breakers, metrics
        self.workers, self.lease_ms, self.grace_ms = workers, lease_ms, grace_ms
        self.batch, self.interval_s, self.window = batch, interval_s, max(1, window)
        self.rng = random.Random()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # a worker slot was freed
        self._held: dict[str, set[str]] = {}  # lanes held back per endpoint (open breaker)
        self._chores: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._working: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Something was queued: look now."""
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._dispatch(), name="courier")]

    async def stop(self) -> None:
        """Stop claiming; lanes in hand finish their current delivery and are given back."""
        self._stopping = True
        self._wake.set()
        self._room.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._working:
            await asyncio.gather(*self._working, return_exceptions=True)
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)

    async def _dispatch(self) -> None:
        """One claimer: takes as many due lanes as worker slots are free in one read and
        one group-committed write, else waits to be woken (one poll per interval when
        idle, not one per worker)."""
        owner = uuid.uuid4().hex
        while not self._stopping:
            free = self.workers - len(self._working)
            if free <= 0:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                lanes = await self.queue.claim(owner, self.lease_ms, free)
            except Exception:
                log.exception("claiming lanes failed")
                lanes = []
            self.metrics.claims.inc()
            self.metrics.claimed.inc(len(lanes))
            for lane in lanes:
                task = asyncio.create_task(self._work(lane, owner))
                self._working.add(task)
                task.add_done_callback(self._done)
            if len(lanes) < free:  # nothing more is due now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval_s)
                self._wake.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._working.discard(task)
        self._room.set()

    async def _work(self, lane: Doc, owner: str) -> None:
        try:
            if await self.work(lane, owner):
                self.wake()  # given back with more to do: claim it again now
        except Exception:
            log.exception("delivery cycle failed")  # the lease runs out; the lane is retaken

    async def work(self, lane: Doc, owner: str) -> bool:
        """Deliver a claimed lane's notifications in order, then give it back; True when
        it was given back due now (its batch was used up, or a number was taken since)."""
        lane_id, done = lane["_id"], int(lane.get("done_seq", 0))
        last = int(lane.get("next_seq", 0))  # the last number taken, as read
        until, left = now_ms() + self.lease_ms // 2, self.batch
        while left > 0 and not self._stopping and now_ms() <= until:
            if done >= last:  # every number known is done: park it, unless one was taken
                if await self.queue.idle(lane_id, owner, last):
                    return False
                fresh = await self.queue.lane(lane_id)
                last = int((fresh or {}).get("next_seq", last))
                if done >= last:
                    break  # released below, due now
                continue
            high = min(last, done + min(left, self.window))
            found = await self.queue.window(lane_id, done + 1, high)
            for seq in range(done + 1, high + 1):
                delivery = found.get(seq)
                if delivery is None and await self.queue.settled(lane_id, seq,
                                                                 self.grace_ms / 1000):
                    found.update(await self.queue.window(lane_id, seq, high))  # written now
                    delivery = found.get(seq)
                if delivery is None:
                    outcome = await self._missing(lane, seq)
                elif delivery["state"] != PENDING:
                    outcome = seq  # finished (or void) already: a stale done number
                else:
                    outcome = await self.attempt(delivery)
                    left -= 1
                if isinstance(outcome, Later):
                    await self.queue.release(lane_id, owner, outcome.due_ms, done, outcome.gap)
                    return False
                done = outcome
                if self._stopping:
                    break
        await self.queue.release(lane_id, owner, now_ms(), done)
        return True

    async def _missing(self, lane: Doc, seq: int) -> int | Later:
        """Number ``seq`` was taken but its delivery is not written: wait for it a grace,
        then void it."""
        now = now_ms()
        since = int(lane["gap_ms"]) if lane.get("gap_seq") == seq else now
        if now - since < self.grace_ms:
            return Later(now + max(20, self.grace_ms // 10), (seq, since))
        await self.queue.void(lane["_id"], seq)
        return seq

    async def attempt(self, delivery: Doc) -> int | Later:
        """One attempt at a due delivery: its number when finished, else when to retry."""
        now, channel = now_ms(), Channel(delivery["channel"])
        if int(delivery.get("due_ms", 0)) > now:
            return Later(int(delivery["due_ms"]))
        breaker = self.breakers.of(delivery["endpoint"]) if channel != Channel.INBOX else None
        if breaker is not None and not breaker.allow(now):
            self.metrics.held.labels(channel.value).inc()
            self._held.setdefault(delivery["endpoint"], set()).add(delivery["lane"])
            return Later(breaker.retry_at(now))
        self.metrics.head_age.labels(channel.value).set((now - int(delivery["created_ms"])) / 1000)
        attempts = int(delivery.get("attempts", 0)) + 1
        try:
            await self.senders[channel](delivery["_id"], delivery["target"], delivery["payload"])
        except DeliveryError as exc:
            if breaker is not None:  # a refused mailbox: the relay itself answered
                if exc.endpoint_fault:
                    breaker.failed(now_ms())
                else:
                    self.succeeded(delivery["endpoint"], breaker)
            return await self._failed(delivery, channel, attempts, exc.reason)
        if breaker is not None:
            self.succeeded(delivery["endpoint"], breaker)
        await self._finished(self.queue.delivered(delivery, attempts), delivery)
        self.metrics.delivered.labels(channel.value).inc()
        if channel == Channel.INBOX:
            await self.push(delivery["recipient"], {"type": "notification",
                                                    "id": delivery["_id"],
                                                    **delivery["payload"]})
        return int(delivery["seq"])

    async def delivered_now(self, spec: Spec, queued_ms: int) -> None:
        """A delivery made outside the store queue (the fast lane): count it, push it."""
        delivered, age = self.metrics.of_channel(spec.channel.value)
        delivered.inc()
        age.observe(max(0, now_ms() - queued_ms) / 1000)
        if spec.channel == Channel.INBOX:
            await self.push(spec.recipient, {"type": "notification",
                                             "id": spec.notification_id, **spec.payload})

    def succeeded(self, endpoint: str, breaker: Breaker) -> None:
        """The endpoint answered: close its breaker, and if it was open, make the lanes
        it held back due now instead of at the end of their cool-down."""
        recovered = breaker.state != CLOSED
        breaker.succeeded()
        held = self._held.pop(endpoint, None)
        if recovered and held:
            task = asyncio.create_task(self._recover(sorted(held)))
            self._chores.add(task)
            task.add_done_callback(self._chores.discard)

    async def _recover(self, lane_ids: list[str]) -> None:
        try:
            if await self.queue.due_now(lane_ids):
                self.wake()
        except Exception:
            log.exception("making recovered lanes due failed")  # they come at their time

    async def _failed(self, delivery: Doc, channel: Channel, attempts: int,
                      reason: str) -> int | Later:
        if self.policy.exhausted(attempts):
            await self._finished(self.queue.failed(delivery, attempts, reason), delivery)
            self.metrics.failed.labels(channel.value).inc()
            log.warning("notification failed", extra={"event_id": delivery["source_event_id"],
                                                      "reason": reason})
            return int(delivery["seq"])
        due = now_ms() + self.policy.delay_ms(attempts, self.rng)
        await self.queue.retry_later(delivery, attempts, due, reason)
        self.metrics.retries.labels(channel.value, reason).inc()
        return Later(due)

    async def _finished(self, write: Awaitable[None], delivery: Doc) -> None:
        with contextlib.suppress(Conflict):  # another replica finished it (a lease ran out)
            await write
        age = (now_ms() - int(delivery["created_ms"])) / 1000
        self.metrics.age.labels(delivery["channel"]).observe(age)
