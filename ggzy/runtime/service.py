"""The composition of one service: app, broker, store, relay, lifecycle.

A service module provides ``build(runtime) -> Parts`` (its routes, aggregate
collections, subscriptions, topics and start hooks); this module wires them
into an aiohttp application whose lifespan opens and closes every connection,
and serves it until SIGTERM/SIGINT with a graceful shutdown (stop consuming,
finish in-flight messages and commit, flush the outbox, close).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from aiohttp.log import access_logger
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient

from contracts.categories import Category
from contracts.topics import Stage, dead_letter_topic, retry_topic, topic_name
from ggzy.runtime.addresses import client_address, networks
from ggzy.runtime.aggregates import Aggregates, Cause, Doc, Outgoing, entry_of, now_ms, stamp
from ggzy.runtime.auth import Principal, Role, TokenVerifier, bearer, require_role
from ggzy.runtime.batching import Store
from ggzy.runtime.consumer import Batched, Handler, Subscription, leave_to_batch, subscribe
from ggzy.runtime.errors import Unauthorized
from ggzy.runtime.http import Api, error_middleware, json_response
from ggzy.runtime.lag import LagWatch
from ggzy.runtime.metrics import Metrics
from ggzy.runtime.outbox import MAX_MESSAGE_BYTES, OutboxRelay, new_producer
from ggzy.runtime.settings import Settings
from ggzy.runtime.timers import Timers

log = logging.getLogger("ggzy.service")
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
Hook = Callable[[], Awaitable[None]]


@dataclass
class Parts:
    """What a service contributes to the runtime."""

    api: Api
    subscriptions: list[Subscription] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    on_start: list[Hook] = field(default_factory=list)
    on_stop: list[Hook] = field(default_factory=list)
    # The cyclic garbage collector's thresholds for this service (None: CPython's 700, 10,
    # 10). A consumer that keeps a fetched batch's objects alive while it decides them
    # gets them promoted and pays full passes at 700 (bench/README.md, session 7).
    gc_thresholds: tuple[int, int, int] | None = None


class Runtime:
    """Connections and shared machinery of one running service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.mongo: AsyncMongoClient[Doc] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
        self.db = self.mongo[settings.database]
        self.store = Store(self.mongo, observe=self.metrics.store_batch)
        self.broker = KafkaBroker(
            settings.kafka_bootstrap, acks="all", enable_idempotence=True, graceful_timeout=15,
            allow_auto_create_topics=False, max_request_size=MAX_MESSAGE_BYTES,
            middlewares=[KafkaPrometheusMiddleware(registry=self.metrics.registry)],
            logger=logging.getLogger(f"ggzy.{settings.service}.broker"),
        )
        self.relay = OutboxRelay([], None, self.metrics, interval_s=settings.relay_interval_s,
                                 store=self.store)
        self.timers = Timers(self.db["timers"], metrics=self.metrics)
        self.verifier: TokenVerifier | None = None
        self.trusted_proxies = networks(settings.trusted_proxies)
        self.categories: frozenset[Category] = settings.served_categories()
        self._offsets: AIOKafkaConsumer | None = None  # for end_offsets, started on first use
        self._offsets_lock = asyncio.Lock()

    def aggregates(self, collection: str, cache_size: int = 0) -> Aggregates:
        """The aggregate collection ``collection``, relayed by this service's outbox
        (``cache_size``: documents kept for ``steps.apply_many`` to write on unread)."""
        coll = self.db[collection]
        self.relay.collections.append(coll)
        return Aggregates(coll, source=f"/ggzy/{self.settings.service}",
                          topic_prefix=self.settings.topic_prefix, on_queued=self.relay.wake,
                          store=self.store, on_fresh=self.relay.offer,
                          lease_new=self.relay.lease_new, cache_size=cache_size)

    def topic(self, stage: Stage, category: Category | None = None, **kw: Any) -> str:
        """A topic name with this deployment's prefix."""
        return topic_name(stage, category, prefix=self.settings.topic_prefix, **kw)

    def subscription(self, group: str, topics: list[str], handlers: dict[Any, Handler],
                     batched: Batched | None = None,
                     listener: ConsumerRebalanceListener | None = None) -> Subscription:
        """A subscription with this deployment's retry policy and dead-letter topic; it
        also reads the group's retry topic, where an operator replays its dead letters
        (``ggzy deadletters replay``)."""
        s = self.settings
        name = f"{s.topic_prefix}.{group}" if s.topic_prefix else group
        return Subscription(group=name,
                            topics=[*topics, retry_topic(group, prefix=s.topic_prefix)],
                            handlers=handlers,
                            dead_letter_topic=dead_letter_topic(group, prefix=s.topic_prefix),
                            categories=self.categories, attempts=s.consumer_attempts,
                            linger_ms=s.consumer_linger_ms,
                            backoff_s=s.retry_backoff_s, batched=batched,
                            listener=listener)

    async def publish_now(self, events: list[tuple[Outgoing, str]], cause: Cause) -> None:
        """Publish events at once with the relay's idempotent producer (acks=all), each
        under the envelope id given, and wait until all are acknowledged.

        Not a second outbox: this is for a handler whose effect is already durable
        (a notification delivered and recorded) and that, when it runs again for the
        same input, publishes the same events under the same ids, which consumers
        deduplicate. Where an event is the only trace of a state change, use the outbox."""
        await self.relay.send_now(self._entries(events, cause))

    async def publish_all(self, groups: list[tuple[list[tuple[Outgoing, str]], Cause]]
                          ) -> None:
        """As ``publish_now`` for the events of several handlings at once, each group under
        its own cause: all handed to the producer in the order given, then waited for."""
        await self.relay.send_now([entry for events, cause in groups
                                   for entry in self._entries(events, cause)])

    async def publish_with_batch(self, events: list[tuple[Outgoing, str]], cause: Cause
                                 ) -> None:
        """As ``publish_now``, but a handler of a consumed batch does not wait for the
        acknowledgements: the batch does, before it is committed (``leave_to_batch``), so
        the handler's next record goes on meanwhile. For events whose order against the
        handler's later effects does not matter (receipts); outside a batch, it waits."""
        acked = await self.relay.send_soon(self._entries(events, cause))
        if not leave_to_batch(acked):
            await acked

    def _entries(self, events: list[tuple[Outgoing, str]], cause: Cause) -> list[Doc]:
        source, now = f"/ggzy/{self.settings.service}", now_ms()
        return [entry_of(out, stamp(out, cause, source, event_id), self.settings.topic_prefix,
                         index, now) for index, (out, event_id) in enumerate(events)]

    async def end_offsets(self, partitions: Collection[TopicPartition]
                          ) -> dict[TopicPartition, int]:
        """The partitions' end offsets now (the offset the next record written gets): a
        consumer that was assigned them knows that no member before it can have read a
        record at or after that offset. One group-less consumer, started on first use."""
        async with self._offsets_lock:
            if self._offsets is None:
                consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap,
                                            enable_auto_commit=False)
                await consumer.start()
                self._offsets = consumer
        offsets: dict[TopicPartition, int] = await self._offsets.end_offsets(list(partitions))
        return offsets

    async def close_offsets(self) -> None:
        if self._offsets is not None:
            await self._offsets.stop()
            self._offsets = None

    def principal(self, request: web.Request, *roles: Role) -> Principal:
        """The caller, who must hold one of ``roles`` (any valid token if none given)."""
        if self.verifier is None:
            raise Unauthorized("auth_unavailable", "token keys are not loaded yet")
        principal = bearer(request.headers.get("Authorization"), self.verifier)
        if roles:
            require_role(principal, *roles)
        # The source address goes into audit trails (20号令: time, operator and address of
        # every operation) and a bid's fingerprint: the client's, through trusted proxies.
        return replace(principal, address=client_address(
            request.remote, request.headers.get("X-Forwarded-For"), self.trusted_proxies))


def build_app(settings: Settings, build: Callable[[Runtime], Parts]) -> web.Application:
    """The aiohttp application of a service, with its lifespan."""
    rt = Runtime(settings)
    parts = build(rt)
    for sub in parts.subscriptions:
        subscribe(rt.broker, sub, rt.metrics)
    app = web.Application(middlewares=[error_middleware(rt.metrics)])
    app[RUNTIME] = rt
    _add_operational_routes(parts.api, rt)
    app.add_routes(parts.api.routes)
    app.cleanup_ctx.append(lambda _app: _lifespan(rt, parts))
    return app


async def _lifespan(rt: Runtime, parts: Parts) -> AsyncIterator[None]:
    await rt.mongo.admin.command("ping")
    await rt.store.start()
    dead = [sub.dead_letter_topic for sub in parts.subscriptions]
    subscribed = [t for sub in parts.subscriptions for t in sub.topics]
    await ensure_topics(rt.settings, [*parts.topics, *subscribed, *dead])
    thresholds = collector_thresholds(rt.settings.gc_thresholds, parts.gc_thresholds)
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    for hook in parts.on_start:
        await hook()
    producer = new_producer(rt.settings.kafka_bootstrap)
    await producer.start()
    rt.relay.producer = producer
    await rt.relay.start()
    await rt.broker.start()
    await rt.timers.start()
    lag = LagWatch(rt.settings.kafka_bootstrap, parts.subscriptions, rt.metrics.consumer_lag,
                   rt.settings.lag_interval_s)
    lag.start()
    log.info("service started", extra={"service": rt.settings.service})
    try:
        yield
    finally:
        await lag.stop()
        await rt.timers.stop()
        await rt.broker.stop()  # stop consuming; in-flight messages finish and commit
        for hook in parts.on_stop:
            await hook()
        await rt.relay.stop()  # last flush of what was committed
        await producer.stop()
        await rt.close_offsets()
        await rt.mongo.close()
        log.info("service stopped", extra={"service": rt.settings.service})


def _add_operational_routes(api: Api, rt: Runtime) -> None:
    async def healthz(_: web.Request) -> web.Response:
        return json_response({"status": "alive", "service": rt.settings.service})

    async def readyz(_: web.Request) -> web.Response:
        checks = {"store": await _check(rt.mongo.admin.command("ping")),
                  "broker": await _check(rt.broker.ping(timeout=2.0))}
        ok = all(v == "ok" for v in checks.values())
        return json_response({"ready": ok, "checks": checks}, 200 if ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(rt.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(_: web.Request) -> web.Response:
        return json_response(api.openapi())

    api.routes.get("/healthz")(healthz)
    api.routes.get("/readyz")(readyz)
    api.routes.get("/metrics")(metrics)
    api.routes.get("/openapi.json")(openapi)


async def _check(awaitable: Awaitable[Any]) -> str:
    try:
        result = await asyncio.wait_for(awaitable, 3.0)
    except Exception as exc:
        return f"failed: {exc!r}"
    return "ok" if result is not False else "failed"


async def ensure_topics(settings: Settings, names: list[str]) -> None:
    """Create the topics this service needs (the broker does not auto-create)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
        new = [NewTopic(n, settings.partitions, 1, topic_configs=configs)
               for n in sorted(set(names) - existing)]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # a replica was first
                await admin.create_topics(new)
    finally:
        await admin.close()


async def load_verifier(rt: Runtime, attempts: int = 30) -> None:
    """Fetch registration's public key set once at start (retrying while it starts)."""
    for _ in range(attempts):
        try:
            jwks = await asyncio.to_thread(_fetch_json, rt.settings.jwks_url)
            rt.verifier = TokenVerifier(jwks)
            return
        except OSError as exc:
            log.warning("key set not reachable yet", extra={"reason": repr(exc)})
            await asyncio.sleep(1.0)
    raise RuntimeError(f"could not load the key set from {rt.settings.jwks_url}")


def _fetch_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
        return data


def run(settings: Settings, build: Callable[[Runtime], Parts]) -> None:
    """Serve on the event loop the settings name, until SIGTERM or SIGINT.

    uvloop (libuv) runs the same asyncio code with less CPU per socket event;
    where it is not installed (e.g. Windows) the standard loop serves.
    """
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if settings.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop not installed: serving on the standard asyncio loop")
        else:
            factory = uvloop.new_event_loop
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(settings, build))


async def serve(settings: Settings, build: Callable[[Runtime], Parts]) -> None:
    """Run the service until it is told to stop."""
    app = build_app(settings, build)
    runner = web.AppRunner(app, handle_signals=True,
                           access_log=access_logger if settings.access_log else None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("listening", extra={"service": f"{settings.http_host}:{settings.http_port}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def collector_thresholds(setting: str, default: tuple[int, int, int] | None
                         ) -> tuple[int, int, int] | None:
    """The collector's thresholds: ``GGZY_GC_THRESHOLDS`` ("50000,10,10"; "python" for
    CPython's own), else the service's ``default``; a specific error for a bad setting."""
    if not setting.strip():
        return default
    if setting.strip() == "python":
        return None
    try:
        young, older, oldest = (int(part) for part in setting.split(","))
    except ValueError:
        raise ValueError(f"GGZY_GC_THRESHOLDS: {setting!r} is not three integers "
                         f"(young,older,oldest) or 'python'") from None
    if min(young, older, oldest) < 1:
        raise ValueError(f"GGZY_GC_THRESHOLDS: {setting!r}: each threshold is at least 1")
    return young, older, oldest

