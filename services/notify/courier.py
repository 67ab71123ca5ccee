"""The delivery worker: claims due lanes and delivers their notifications in order.

Each of ``workers`` loops claims one due lane at a time (see ``queue``), delivers
its deliveries by number until the lane is empty, blocked (a retry is not due
yet, the endpoint's breaker is open, an earlier number is still being written)
or its batch is done, and gives the lane back with the time it is due again.
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
from services.notify.domain.policy import Breakers, RetryPolicy
from services.notify.queue import PENDING, DeliveryQueue

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
        self.head_age = Gauge("ggzy_notify_head_age_seconds", "Age of the last notification "
                              "taken up, per channel", ["channel"], registry=r)


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
                 batch: int = 200, interval_s: float = 0.2) -> None:
        self.queue, self.senders, self.push = queue, senders, push
        self.policy, self.breakers, self.metrics = policy, breakers, metrics
        self.workers, self.lease_ms, self.grace_ms = workers, lease_ms, grace_ms
        self.batch, self.interval_s = batch, interval_s
        self.rng = random.Random()
        self._wake = asyncio.Event()
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
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._working:
            await asyncio.gather(*self._working, return_exceptions=True)

    async def _dispatch(self) -> None:
        """One claimer: takes due lanes while a worker slot is free, else waits to be woken
        (one poll per interval when idle, not one per worker)."""
        owner, slots = uuid.uuid4().hex, asyncio.Semaphore(self.workers)
        while not self._stopping:
            await slots.acquire()
            try:
                lane = await self.queue.claim(owner, self.lease_ms)
            except Exception:
                log.exception("claiming a lane failed")
                lane = None
            if lane is None:
                slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval_s)
                self._wake.clear()
                continue
            task = asyncio.create_task(self._work(lane, owner, slots))
            self._working.add(task)
            task.add_done_callback(self._working.discard)

    async def _work(self, lane: Doc, owner: str, slots: asyncio.Semaphore) -> None:
        try:
            await self.work(lane, owner)
        except Exception:
            log.exception("delivery cycle failed")  # the lease runs out; the lane is retaken
        finally:
            slots.release()

    async def work(self, lane: Doc, owner: str) -> None:
        """Deliver a claimed lane's notifications in order, then give it back."""
        lane_id, done = lane["_id"], int(lane.get("done_seq", 0))
        until = now_ms() + self.lease_ms // 2
        for _ in range(self.batch):
            if self._stopping or now_ms() > until:
                break
            outcome = await self._next(lane, owner, done)
            if isinstance(outcome, Later):
                await self.queue.release(lane_id, owner, outcome.due_ms, done, outcome.gap)
                return
            if outcome is None:
                return  # parked: nothing left
            done = outcome
        await self.queue.release(lane_id, owner, now_ms(), done)

    async def _next(self, lane: Doc, owner: str, done: int) -> int | Later | None:
        """Handle number done+1: the new done number, a wait, or None when parked."""
        seq = done + 1
        delivery = await self.queue.at(lane["_id"], seq)
        if delivery is None:
            return await self._missing(lane, owner, seq)
        if delivery["state"] != PENDING:
            return seq  # finished (or void) already: a stale done number
        return await self.attempt(delivery)

    async def _missing(self, lane: Doc, owner: str, seq: int) -> int | Later | None:
        fresh = await self.queue.lane(lane["_id"]) or lane
        if seq > int(fresh.get("next_seq", 0)):
            if await self.queue.idle(lane["_id"], owner, int(fresh.get("next_seq", 0))):
                return None
            return Later(now_ms())  # a number was taken meanwhile: look again
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
            return Later(breaker.retry_at(now))
        self.metrics.head_age.labels(channel.value).set((now - int(delivery["created_ms"])) / 1000)
        attempts = int(delivery.get("attempts", 0)) + 1
        try:
            await self.senders[channel](delivery["_id"], delivery["target"], delivery["payload"])
        except DeliveryError as exc:
            if breaker is not None:  # a refused mailbox: the relay itself answered
                breaker.failed(now_ms()) if exc.endpoint_fault else breaker.succeeded()
            return await self._failed(delivery, channel, attempts, exc.reason)
        if breaker is not None:
            breaker.succeeded()
        await self._finished(self.queue.delivered(delivery, attempts), delivery)
        self.metrics.delivered.labels(channel.value).inc()
        if channel == Channel.INBOX:
            await self.push(delivery["recipient"], {"type": "notification",
                                                    "id": delivery["_id"],
                                                    **delivery["payload"]})
        return int(delivery["seq"])

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
