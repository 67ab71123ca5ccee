"""Following topics on every replica, for live push to this replica's own clients.

A consumer group hands each partition to one replica, which is right for state and
wrong for live push: a client connected to replica B must hear of what replica A
wrote. A ``Follower`` reads every partition of its topics with no group, from their
end at start, commits nothing, and decides by the record's key alone (bytes, no
decoding) whether anyone here is listening, so a replica with few clients pays
little for a busy topic. It never carries state: what happened while it was down
is in the store, which a client reads when it (re)connects. It starts with the
first client (``start`` is idempotent), so a replica nobody watches reads nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiokafka import AIOKafkaConsumer

log = logging.getLogger("ggzy.follow")

Wants = Callable[[bytes], bool]
"""Whether a record's key concerns a client connected here."""

Handle = Callable[[str, str, bytes], Awaitable[None]]
"""Called with the key, the CloudEvents type (``ce_type``) and the value."""


class Follower:
    """Reads ``topics`` from their end on this replica, for ``handle`` where ``wants``."""

    def __init__(self, bootstrap: str, topics: list[str], wants: Wants, handle: Handle,
                 *, max_wait_ms: int = 100) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.wants = wants
        self.handle = handle
        self.max_wait_ms = max_wait_ms
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set once it knows the end of every partition
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Start following (once: later calls return at once, or when the first is done),
        at the end of every partition: a record written after this returns is seen."""
        async with self._starting:
            if self._consumer is None:
                await self._start()

    async def _start(self) -> None:
        consumer = AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap,
                                    group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="latest",
                                    fetch_max_wait_ms=self.max_wait_ms)
        await consumer.start()
        self._consumer = consumer
        await self._at_end(consumer)
        self._task = asyncio.create_task(self._run(consumer), name="follower")

    async def _at_end(self, consumer: AIOKafkaConsumer, within_s: float = 10.0) -> None:
        """Wait until every partition is assigned and its end looked up, so that a record
        written after ``start`` returns is seen (a client connecting then hears of it)."""
        deadline = asyncio.get_running_loop().time() + within_s
        while not consumer.assignment():
            if asyncio.get_running_loop().time() > deadline:
                log.warning("no partitions to follow yet", extra={"topics": self.topics})
                return
            await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)
        self.ready.set()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
                for records in batches.values():
                    for record in records:
                        await self._one(record.key, record.headers, record.value)
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup: the consumer reconnects on its own
                log.exception("following failed; going on")
                await asyncio.sleep(1)

    async def _one(self, key: bytes | None, headers: object, value: bytes | None) -> None:
        if key is None or value is None or not self.wants(key):
            return
        ce_type = ""
        for name, raw in headers or ():  # type: ignore[attr-defined]
            if name == "ce_type":
                ce_type = raw.decode()
                break
        try:
            await self.handle(key.decode(), ce_type, value)
        except Exception:  # one client's push must not stop the others'
            log.exception("live push failed", extra={"ce_type": ce_type})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


class Clients:
    """The live WebSocket clients of this replica, by the key of the records that concern
    them (a recipient, a sale): what a ``Follower``'s ``wants`` asks."""

    def __init__(self) -> None:
        self._by_key: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def listening(self, key: bytes) -> bool:
        """Whether a record with this (raw) key concerns a client connected here."""
        return bool(self._by_key) and key.decode() in self._by_key

    def of(self, key: str) -> list[web.WebSocketResponse]:
        return list(self._by_key.get(key, ()))

    def join(self, key: str, ws: web.WebSocketResponse) -> None:
        self._by_key[key].add(ws)

    def leave(self, key: str, ws: web.WebSocketResponse) -> bool:
        """Forget a client; True when it was the key's last."""
        clients = self._by_key.get(key)
        if clients is None:
            return False
        clients.discard(ws)
        if clients:
            return False
        del self._by_key[key]
        return True

    async def close(self) -> None:
        for clients in list(self._by_key.values()):
            for ws in list(clients):
                await ws.close()
