"""Durable timers: deadlines stored in MongoDB and claimed atomically.

A timer (bid deadline, end of a publicity period, contract due date) is one
document with a deterministic id, so scheduling it twice creates it once. Any
replica may fire it: a claim is one ``find_one_and_update`` that takes a lease,
so a second replica or a restart neither loses nor doubles a timer. The handler
runs after the claim and the timer is marked done only after it succeeded; a
handler must be idempotent (the runtime passes the timer id as the cause), since
a crash between the effect and "done" fires it again after the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.metrics import Metrics

T = TypeVar("T")

log = logging.getLogger("ggzy.timers")
PENDING, DONE, FAILED = 0, 1, 2


@dataclass(frozen=True)
class Timer:
    """A due timer handed to its handler."""

    timer_id: str
    kind: str
    due_ms: int
    payload: dict[str, Any]
    attempt: int


TimerHandler = Callable[[Timer], Awaitable[None]]


class Timers:
    """Schedules and fires the durable timers of one service."""

    def __init__(self, collection: AsyncCollection[Doc], *, interval_s: float = 0.2,
                 lease_s: float = 30.0, max_attempts: int = 5,
                 metrics: Metrics | None = None) -> None:
        self.collection = collection
        self.metrics = metrics
        self.handlers: dict[str, TimerHandler] = {}
        self.interval_s = interval_s
        self.lease_ms = int(lease_s * 1000)
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def on(self, kind: str, handler: TimerHandler) -> None:
        """Register the handler of one kind of timer."""
        self.handlers[kind] = handler

    async def schedule(self, timer_id: str, kind: str, due_ms: int,
                       payload: Mapping[str, Any] | None = None) -> None:
        """Create a timer once (idempotent by id); an existing one keeps its due time."""
        await self.collection.update_one({"_id": timer_id}, {"$setOnInsert": {
            "kind": kind, "due_ms": due_ms, "payload": dict(payload or {}), "state": PENDING,
            "lease_ms": 0, "attempts": 0}}, upsert=True)
        self._wake.set()

    async def armed_for(self, timer_id: str, kind: str, due_ms: int | None,
                        payload: Mapping[str, Any], write: Callable[[], Awaitable[T]]) -> T:
        """``write`` with the timer it needs armed first (none when ``due_ms`` is None): a
        crash after the write cannot leave it without one, and a write that fails takes
        its timer back (a timer left by a crash in between finds nothing to do: its
        handler checks the state)."""
        if due_ms is None:
            return await write()
        await self.schedule(timer_id, kind, due_ms, payload)
        try:
            return await write()
        except Exception:
            await self.cancel(timer_id)
            raise

    async def reschedule(self, timer_id: str, due_ms: int) -> bool:
        """Move a pending timer (e.g. a postponed bid deadline)."""
        result = await self.collection.update_one({"_id": timer_id, "state": PENDING},
                                                  {"$set": {"due_ms": due_ms}})
        self._wake.set()
        return result.matched_count == 1

    async def cancel(self, timer_id: str) -> None:
        """Drop a pending timer."""
        await self.collection.delete_one({"_id": timer_id, "state": PENDING})

    async def start(self) -> None:
        """Index the due times and start firing in the background."""
        await self.collection.create_index([("state", 1), ("due_ms", 1)])
        self._task = asyncio.create_task(self._run(), name="timers")

    async def stop(self) -> None:
        """Stop firing (a claimed timer in progress finishes first)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                fired = await self.fire_due()
            except Exception:
                log.exception("timer cycle failed")
                fired = 0
            if not fired and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), await self._sleep_s())
                self._wake.clear()

    async def _sleep_s(self) -> float:
        nxt = await self.collection.find_one({"state": PENDING}, sort=[("due_ms", 1)])
        if nxt is None:
            return self.interval_s
        return max(0.0, min(self.interval_s, (int(nxt["due_ms"]) - now_ms()) / 1000))

    async def fire_due(self) -> int:
        """Fire every timer due now; return how many fired."""
        fired = 0
        while not self._stopping:
            doc = await self._claim()
            if doc is None:
                return fired
            await self._fire(doc)
            fired += 1
        return fired

    async def _claim(self) -> Doc | None:
        now = now_ms()
        doc: Doc | None = await self.collection.find_one_and_update(
            {"state": PENDING, "due_ms": {"$lte": now}, "lease_ms": {"$lt": now}},
            {"$set": {"lease_ms": now + self.lease_ms}, "$inc": {"attempts": 1}},
            sort=[("due_ms", 1)], return_document=ReturnDocument.AFTER)
        return doc

    async def _fire(self, doc: Doc) -> None:
        timer = Timer(doc["_id"], doc["kind"], int(doc["due_ms"]), doc.get("payload") or {},
                      int(doc["attempts"]))
        handler = self.handlers.get(timer.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for timers of kind {timer.kind!r}")
            await handler(timer)
        except Exception as exc:
            final = timer.attempt >= self.max_attempts
            log.exception("timer failed", extra={"event_id": timer.timer_id,
                                                 "reason": repr(exc)})
            update: Doc = {"$set": {"last_error": repr(exc)[:500]}}
            if final:  # kept with its error for operators; alerted on (GgzyTimerFailed)
                update["$set"]["state"] = FAILED
            if self.metrics is not None:
                self.metrics.timer_failures.labels(timer.kind, str(final).lower()).inc()
            await self.collection.update_one({"_id": timer.timer_id}, update)
            return
        await self.collection.update_one({"_id": timer.timer_id}, {"$set": {"state": DONE}})
