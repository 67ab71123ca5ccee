"""Syndication to upper platforms (上连国家), against the real broker and store: bidding's
events in, the public feed pushed to a receiver on 127.0.0.1 in signed batches, oldest
first, nothing skipped, retried while the receiver is down, one replica at a time."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from contracts.categories import Category
from ggzy.runtime import signing
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually
from ggzy.testing.services import Running, running
from services.announcement.main import build
from services.announcement.store import NoticeStore
from services.announcement.syndication import (
    Syndication,
    SyndicationMetrics,
    SyndicationSettings,
)
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration
from tests.integration.test_announcement import Bidding, _user, tender
from tests.integration.test_notify import Receiver

pytestmark = pytest.mark.integration
BATCH = 3
ENV = {"GGZY_SYNDICATION_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
       "GGZY_SYNDICATION_INTERVAL_S": "0.1", "GGZY_SYNDICATION_BATCH": str(BATCH),
       "GGZY_SYNDICATION_BACKOFF_BASE_MS": "100", "GGZY_SYNDICATION_BACKOFF_MAX_MS": "300"}


@pytest.fixture(scope="module")
def syndication_env() -> Iterator[None]:
    before = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
async def announcement(infra: Infra, registration: Registration,
                       syndication_env: None) -> AsyncIterator[Running]:
    settings = isolated_settings(infra, "announcement",
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, build) as svc:
        yield svc


@pytest.fixture
async def bidding(announcement: Running) -> AsyncIterator[Bidding]:
    async with aiohttp.ClientSession() as http:
        yield Bidding(announcement, http)


def _batches(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Every batch received, each checked as an upper platform checks it (the signature
    over the raw body, a recent timestamp, the delivery id in its header)."""
    out = []
    for headers, body in receiver.accepted:
        assert signing.verify(secret, headers[signing.TIMESTAMP], body,
                              headers[signing.SIGNATURE], int(time.time()))
        batch = json.loads(body)
        assert headers[signing.DELIVERY_ID] == batch["delivery_id"]
        out.append(batch)
    return out


async def _target(bidding: Bidding, token: str, target_id: str, url: str,
                  **extra: Any) -> dict[str, Any]:
    status, out = await bidding.post("/v1/syndication/targets", token, {
        "target_id": target_id, "name": "全国公共资源交易平台", "url": url, **extra})
    assert status == 201, out
    return out


async def test_the_feed_reaches_an_upper_platform_in_order_through_its_failures(
        bidding: Bidding, registration: Registration) -> None:
    """Every construction notice, oldest first in batches of 3, none skipped or out of
    order, none of another category; while the receiver answers 503 the same batch is
    retried, byte for byte under the same delivery id, until it is taken."""
    op = registration.operator_token
    for _ in range(2):  # notices before the target: it takes them too (from_start)
        await bidding.send(tender())
    async with Receiver(down=True) as receiver:
        target = await _target(bidding, op, "national-ggzy", receiver.url,
                               categories=["construction"])
        secret = target.pop("secret")
        assert len(secret) >= 32 and target["cursor"] == 0
        for _ in range(5):
            await bidding.send(tender())
        await bidding.send(tender(category=Category.PROCUREMENT),
                           category=Category.PROCUREMENT)
        await eventually(lambda: receiver.refused >= 2, within=30)
        _, down = await bidding.get("/v1/syndication/targets/national-ggzy", op)
        assert down["failures"] >= 1 and down["last_error"] == "http_503", down
        await bidding.notices("category=construction", 7)  # all announced
        receiver.down = False
        _, feed = await bidding.get("/v1/notices?category=construction&after=0&limit=100")
        wanted = [n["seq"] for n in feed["items"]]
        assert len(wanted) == 7

        def all_in() -> bool:
            got = {n["seq"] for b in _batches(receiver, secret) for n in b["notices"]}
            return set(wanted) <= got
        await eventually(all_in, within=30)
        batches = _batches(receiver, secret)
        seqs = [n["seq"] for b in batches for n in b["notices"]]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))  # in order, once each
        assert seqs[:len(wanted)] == wanted  # nothing skipped
        assert all(len(b["notices"]) <= 3 for b in batches)
        assert {n["category"] for b in batches for n in b["notices"]} == {"construction"}
        assert all(b["from_seq"] == b["notices"][0]["seq"]
                   and b["to_seq"] == b["notices"][-1]["seq"] for b in batches)
        # each notice exactly as the public feed shows it
        by_seq = {n["seq"]: n for b in batches for n in b["notices"]}
        assert [by_seq[s] for s in wanted] == feed["items"]

        async def caught_up() -> Any:
            _, body = await bidding.get("/v1/syndication/targets", op)
            [t] = [t for t in body["targets"] if t["target_id"] == "national-ggzy"]
            return t if t["lag"] == 0 and t["failures"] == 0 else None
        state = await eventually(caught_up, within=30)
        assert state["delivered"] == len(seqs) and state["last_error"] is None
        assert "secret" not in json.dumps(state)
        async with aiohttp.ClientSession() as http, \
                http.get(bidding.svc.url + "/metrics") as resp:
            metrics = await resp.text()
        assert 'ggzy_syndication_pushes_total{outcome="failed",target="national-ggzy"}' \
            in metrics


async def test_a_target_from_now_on_and_two_replicas_push_each_batch_once(
        bidding: Bidding, registration: Registration, announcement: Running) -> None:
    """``from_start`` false: only notices published after the registration. A second
    replica pushing the same targets takes a target only while the first does not hold it:
    no batch is pushed twice."""
    op = registration.operator_token
    old = tender()
    await bidding.send(old)
    await bidding.notices(f"tender={old.tender_id}", 1)
    rt = announcement.runtime
    other = Syndication(rt.db, NoticeStore(rt.db), SyndicationSettings(),
                        SyndicationMetrics(CollectorRegistry()))
    async with Receiver() as receiver:
        target = await _target(bidding, op, "province-two", receiver.url, from_start=False)
        await other.start()
        try:
            new = [tender() for _ in range(7)]
            for t in new:
                await bidding.send(t)

            def all_in() -> bool:
                ids = {n["tender_id"] for b in _batches(receiver, target["secret"])
                       for n in b["notices"]}
                return {t.tender_id for t in new} <= ids
            await eventually(all_in, within=30)
            await asyncio.sleep(0.5)  # a moment more: a duplicate would show
        finally:
            await other.stop()
        batches = _batches(receiver, target["secret"])
        ids = [b["delivery_id"] for b in batches]
        assert len(ids) == len(set(ids)), ids  # the lease: each batch once
        tenders = [n["tender_id"] for b in batches for n in b["notices"]]
        assert old.tender_id not in tenders and len(tenders) == len(set(tenders))


async def test_targets_are_the_operators_and_refused_clearly(
        bidding: Bidding, registration: Registration) -> None:
    op = registration.operator_token
    _, supervisor = await _user(registration, "supervisor")
    body = {"target_id": "prov-three", "name": "省平台", "url": "http://127.0.0.1:9/x"}
    status, out = await bidding.post("/v1/syndication/targets", None, body)
    assert status == 401, out
    status, out = await bidding.post("/v1/syndication/targets", supervisor, body)
    assert status == 403, out
    status, out = await bidding.post("/v1/syndication/targets", op, {**body,
                                                                      "target_id": "X!"})
    assert status == 422, out
    await _target(bidding, op, "prov-three", body["url"])
    status, out = await bidding.post("/v1/syndication/targets", op, body)
    assert status == 409 and out["error"]["code"] == "target_exists", out
    status, out = await bidding.get("/v1/syndication/targets/prov-three", supervisor)
    assert status == 200 and "secret" not in out
    status, out = await bidding.get("/v1/syndication/targets/nobody", op)
    assert status == 404 and out["error"]["code"] == "target_not_found", out
