"""Syndication to upper platforms (上连国家: the provincial and national platforms' 数据交换).

A provincial platform hands every public notice on to the platforms above it
(国办发〔2015〕63号: 省级平台...与国家平台互联互通, 按规定交换信息). An operator registers
each upper platform as a *target* (its URL, and the categories it takes, or all); the
announcement service then pushes the public feed to it, oldest first, in signed
batches (``ggzy.runtime.signing``: HMAC-SHA256 with the secret given once at
registration; the batch's id in ``X-Ggzy-Delivery-Id``).

What a target receives, and what it can rely on:
- every public notice of its categories, exactly the feed's public view, in publication
  order (``seq``); a batch is sent only up to the feed's watermark, so no notice written
  later can take a number below one already sent: **nothing is skipped**;
- a batch is sent again, identical and under the same delivery id, until the target
  answers 2xx: **at least once**; a target deduplicates on the delivery id or on the
  notices' ids (a crash between the answer and the cursor's write resends one batch);
- a target that fails is retried with exponential backoff (``backoff_base_ms`` doubling
  up to ``backoff_max_ms``); its lag, failures and last error are on
  ``GET /v1/syndication/targets`` and on /metrics.

With several replicas each target is pushed by one at a time: a replica takes a lease on
the target before it reads the feed, and every write on the target (the lease, the
cursor, a failure, the release) is conditional on the version it read (the optimistic
check of every aggregate), so a replica that lost the lease moves nothing.
Only public addresses are called unless ``allow_private`` (a local platform, tests), as
for notify's webhooks (``ggzy.runtime.outbound``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.categories import Category
from ggzy.runtime import signing
from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.errors import Conflict, DomainError, NotFound
from ggzy.runtime.outbound import PublicResolver, body_of, forbidden_target
from services.announcement.store import NoticeStore, public

log = logging.getLogger("ggzy.announcement.syndication")
TARGETS = "syndication_targets"


class SyndicationSettings(BaseSettings):
    """Announcement's syndication (prefix ``GGZY_SYNDICATION_``).

    | variable | meaning | default |
    |---|---|---|
    | GGZY_SYNDICATION_INTERVAL_S | how often due targets are looked for | 1 |
    | GGZY_SYNDICATION_BATCH | notices per push | 100 |
    | GGZY_SYNDICATION_TIMEOUT_S | per push | 10 |
    | GGZY_SYNDICATION_LEASE_S | how long a replica holds a target it pushes | 30 |
    | GGZY_SYNDICATION_BACKOFF_BASE_MS / _MAX_MS | a failing target's retries | 1000 / 300000 |
    | GGZY_SYNDICATION_ALLOW_PRIVATE | targets may be loopback/private addresses | false |
    """

    model_config = SettingsConfigDict(env_prefix="GGZY_SYNDICATION_", extra="ignore")

    interval_s: float = Field(default=1.0, gt=0)
    batch: int = Field(default=100, ge=1, le=1000)
    timeout_s: float = Field(default=10.0, gt=0)
    lease_s: float = Field(default=30.0, gt=0)
    backoff_base_ms: int = Field(default=1000, ge=1)
    backoff_max_ms: int = Field(default=300_000, ge=1)
    allow_private: bool = False


def backoff_ms(failures: int, base_ms: int, max_ms: int) -> int:
    """The wait after ``failures`` failures in a row: ``base_ms`` doubling, at most
    ``max_ms``."""
    return int(min(max_ms, base_ms * 2 ** min(max(failures - 1, 0), 30)))


def delivery_id(target_id: str, first_seq: int, last_seq: int) -> str:
    """A batch's id: the same batch (same target, same numbers) has the same id."""
    return f"{target_id}:{first_seq}-{last_seq}"


def view(doc: Mapping[str, Any], watermark: int) -> dict[str, Any]:
    """A target as operators see it (never its secret)."""
    return {"target_id": doc["_id"], "name": doc["name"], "url": doc["url"],
            "categories": list(doc.get("categories") or []), "cursor": int(doc["cursor"]),
            "lag": max(0, watermark - int(doc["cursor"])), "delivered": int(doc["delivered"]),
            "failures": int(doc["failures"]), "last_error": doc.get("last_error"),
            "last_ok_ms": doc.get("last_ok_ms"), "next_attempt_ms": int(doc["next_attempt_ms"])}


class SyndicationMetrics:
    """Per target: notices behind the watermark, and pushes by outcome."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge("ggzy_syndication_lag_notices", "Notices numbered up to the feed's "
                         "watermark a target has not yet acknowledged", ["target"],
                         registry=registry)
        self.pushes = Counter("ggzy_syndication_pushes", "Batches pushed to upper platforms",
                              ["target", "outcome"], registry=registry)
        self.notices = Counter("ggzy_syndication_notices", "Notices acknowledged by upper "
                               "platforms", ["target"], registry=registry)


class Syndication:
    """The targets, and the loop that pushes the feed to them."""

    def __init__(self, db: AsyncDatabase[Doc], store: NoticeStore,
                 settings: SyndicationSettings, metrics: SyndicationMetrics) -> None:
        self.targets = db[TARGETS]
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.owner = uuid.uuid4().hex  # this replica, as a lease holder
        self.session: aiohttp.ClientSession | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.wake = asyncio.Event()

    # targets (operators) --------------------------------------------------------------
    async def add(self, target_id: str, name: str, url: str,
                  categories: Sequence[Category], from_start: bool = True) -> dict[str, Any]:
        """Register an upper platform; its secret is in this answer only. ``from_start``
        false: it takes notices from now on (the ones before are on the feed)."""
        refused = None if self.settings.allow_private else forbidden_target(url)
        if refused is not None:
            raise DomainError("target_forbidden", f"an upper platform is called at a public "
                              f"address: {refused}")
        secret = secrets.token_urlsafe(32)
        mark = await self.store.watermark()
        cursor = 0 if from_start else mark
        doc: Doc = {"_id": target_id, "name": name, "url": url,
                    "categories": sorted(c.value for c in categories), "secret": secret,
                    "cursor": cursor, "delivered": 0, "failures": 0, "last_error": None,
                    "last_ok_ms": None, "next_attempt_ms": 0, "lease_owner": None,
                    "lease_until_ms": 0, "created_ms": now_ms(), "version": 0}
        try:
            await self.targets.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict("target_exists", f"upper platform {target_id} is registered "
                           "already") from None
        return {**view(doc, mark), "secret": secret}

    async def all(self) -> list[dict[str, Any]]:
        mark = await self.store.watermark()
        return [view(d, mark) async for d in self.targets.find({}).sort("_id", 1)]

    async def one(self, target_id: str) -> dict[str, Any]:
        doc = await self.targets.find_one({"_id": target_id})
        if doc is None:
            raise NotFound("target_not_found", f"no upper platform {target_id}")
        return view(doc, await self.store.watermark())

    # the loop ----------------------------------------------------------------------
    async def start(self) -> None:
        resolver = None if self.settings.allow_private else PublicResolver()
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
            connector=aiohttp.TCPConnector(limit=32, resolver=resolver))
        self.task = asyncio.create_task(self._loop(), name="syndication")

    async def stop(self) -> None:
        """Stop after the batch in flight (its cursor written, the lease given back)."""
        self.stopping = True
        self.wake.set()
        if self.task is not None:
            await self.task
        if self.session is not None:
            await self.session.close()

    async def _loop(self) -> None:
        while not self.stopping:
            try:
                await self.run_once()
            except Exception:  # the store away a moment: the next pass tries again
                log.exception("syndication pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.interval_s)

    async def run_once(self) -> int:
        """One pass: push every due target this replica can lease, until each is up to
        the watermark or fails; the notices acknowledged."""
        done = 0
        now = now_ms()
        due = await self.targets.find({"next_attempt_ms": {"$lte": now}}, {"_id": 1}).to_list(None)
        for doc in due:  # read whole first: no cursor stays open across the writes below
            if self.stopping:
                break
            target = await self._lease(str(doc["_id"]), now)
            if target is not None:
                done += await self._push(target)
        return done

    async def _write(self, tid: str, version: int, sets: Mapping[str, Any],
                     inc: Mapping[str, int] | None = None) -> bool:
        """One write on a target, only if nobody wrote it since ``version`` (each write
        moves the version on: the optimistic check every aggregate uses)."""
        result = await self.targets.update_one(
            {"_id": tid, "version": version},
            {"$set": dict(sets), "$inc": {"version": 1, **(inc or {})}})
        return result.modified_count == 1

    async def _lease(self, target_id: str, now: int) -> Doc | None:
        """The target, leased to this replica (its ``version`` after the lease), or None
        when it is not due or another replica holds it."""
        doc = await self.targets.find_one({"_id": target_id})
        if doc is None or int(doc["next_attempt_ms"]) > now:
            return None
        if int(doc["lease_until_ms"]) >= now and doc.get("lease_owner") != self.owner:
            return None  # another replica pushes it
        until = now + int(self.settings.lease_s * 1000)
        if not await self._write(target_id, int(doc["version"]),
                                 {"lease_owner": self.owner, "lease_until_ms": until}):
            return None  # another replica took it first
        return {**doc, "lease_owner": self.owner, "lease_until_ms": until,
                "version": int(doc["version"]) + 1}

    async def _push(self, target: Doc) -> int:
        """Batches to ``target`` until it is up to the watermark, a push fails, or the
        lease is lost; the lease is released at the end."""
        tid, done = str(target["_id"]), 0
        cursor, version = int(target["cursor"]), int(target["version"])
        filters = ({"category": {"$in": list(target["categories"])}}
                   if target.get("categories") else {})
        try:
            while not self.stopping:
                docs, mark = await self.store.feed(filters, before=None, after=cursor,
                                                   limit=self.settings.batch)
                if not docs and cursor >= mark:
                    self.metrics.lag.labels(tid).set(0)
                    return done
                # a short batch holds every matching notice up to the watermark: the
                # numbers between belong to other categories, or are void
                moved = mark
                if docs:
                    first, last = int(docs[0]["seq"]), int(docs[-1]["seq"])
                    error = await self._send(target, first, last, [public(d) for d in docs])
                    if error is not None:
                        await self._failed(target, version, error)
                        version += 1
                        return done
                    if len(docs) == self.settings.batch:
                        moved = last
                sets: dict[str, Any] = {"cursor": moved, "failures": 0, "last_error": None}
                if docs:
                    sets["last_ok_ms"] = now_ms()
                if not await self._write(tid, version, sets, {"delivered": len(docs)}):
                    return done  # the lease was lost: the new holder goes on from the cursor
                version += 1
                target = {**target, "failures": 0}
                if docs:
                    self.metrics.notices.labels(tid).inc(len(docs))
                done += len(docs)
                cursor = moved
                self.metrics.lag.labels(tid).set(max(0, mark - cursor))
            return done
        finally:  # released (if still ours): the next pass, of any replica, goes on
            await self._write(tid, version, {"lease_until_ms": 0})

    async def _send(self, target: Doc, first: int, last: int,
                    notices: list[dict[str, Any]]) -> str | None:
        """One signed push; None when the target took it (2xx), else why not."""
        assert self.session is not None, "start syndication first"
        tid = str(target["_id"])
        did = delivery_id(tid, first, last)
        body = body_of({"delivery_id": did, "target_id": tid, "from_seq": first,
                        "to_seq": last, "notices": notices})
        headers = signing.headers(str(target["secret"]), int(time.time()), body, did,
                                  signing.DELIVERY_ID)
        error = None if self.settings.allow_private else forbidden_target(target["url"])
        if error is not None:
            return error
        try:
            async with self.session.post(target["url"], data=body, headers=headers) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    self.metrics.pushes.labels(tid, "ok").inc()
                    return None
                return f"http_{resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"unreachable: {exc!r}"[:300]

    async def _failed(self, target: Doc, version: int, error: str) -> None:
        """A push failed: the target's failures, its error, and its next attempt after
        the backoff."""
        tid = str(target["_id"])
        failures = int(target["failures"]) + 1
        wait = backoff_ms(failures, self.settings.backoff_base_ms, self.settings.backoff_max_ms)
        await self._write(tid, version, {"failures": failures, "last_error": error,
                                         "next_attempt_ms": now_ms() + wait})
        self.metrics.pushes.labels(tid, "failed").inc()
        log.warning("syndication to %s failed (%s); next attempt in %d ms", tid, error, wait)
