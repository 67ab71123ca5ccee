"""Announcement against the real broker and store: notices from bidding's events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from contracts.bidding import (
    BidderLine,
    BidsOpened,
    BidSubmitted,
    Candidate,
    EvaluationCompleted,
    Section,
    TenderPublished,
)
from contracts.categories import Category
from contracts.envelope import Envelope
from contracts.topics import Audience, Stage, topic_name
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually, publish, read_topic
from ggzy.testing.services import Running, running
from services.announcement.main import build
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration

FAST = "deploy/rules-demo.yaml"  # publicity of 3 seconds (条例54: 3 days in the real rules)


@pytest.fixture(scope="module")
async def announcement(infra: Infra, registration: Registration) -> AsyncIterator[Running]:
    settings = isolated_settings(infra, "announcement", rules_file=FAST,
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, build) as svc:
        yield svc


class Feed:
    def __init__(self, svc: Running, http: aiohttp.ClientSession) -> None:
        self.svc, self.http = svc, http
        self.prefix = svc.settings.topic_prefix
        self.kafka = svc.settings.kafka_bootstrap
        self.n = 0

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.svc.url + path) as resp:
            return resp.status, await resp.json()

    async def send(self, event: Any, env_id: str | None = None) -> Envelope:
        env = Envelope.new(type=event.type_name(), source="/ggzy/bidding",
                           subject=event.tender_id, category=Category.CONSTRUCTION)
        if env_id:
            env = env.model_copy(update={"id": env_id})
        await publish(self.kafka, topic_name(Stage.BIDDING, Category.CONSTRUCTION,
                                             prefix=self.prefix),
                      json.dumps(event.model_dump(mode="json")).encode(), event.tender_id,
                      env.headers())
        return env

    def tender(self, name: str = "示例学校教学楼工程") -> TenderPublished:
        self.n += 1
        now = datetime.now(UTC)
        project = f"{now:%m%d}{uuid.uuid4().hex[:13].upper()}"
        tid = project + "001"
        return TenderPublished(
            tender_id=tid, project_code=project, project_name=name,
            category=Category.CONSTRUCTION, region_code="440300", tenderee_uscc=new_uscc(),
            tenderee_name="示例市教育局", method="open_tender",
            evaluation="lowest_evaluated_price", state_funded=True,
            sections=[Section(section_code=tid + "001", name="施工", estimated_price_fen=10**9,
                              deposit_fen=10**6)],
            issued_at=now, sale_start=now, sale_end=now + timedelta(days=5),
            bid_deadline=now + timedelta(days=20))

    async def notices(self, tender_id: str, n: int) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            _, body = await self.get(f"/v1/notices?tender={tender_id}&limit=50")
            items: list[dict[str, Any]] = body["items"]
            return items if len(items) >= n else None
        result: list[dict[str, Any]] = await eventually(enough, within=30)
        return result


@pytest.fixture
async def feed(announcement: Running) -> AsyncIterator[Feed]:
    async with aiohttp.ClientSession() as http:
        yield Feed(announcement, http)


async def test_tender_notice_is_published_once_even_when_redelivered(feed: Feed) -> None:
    tender = feed.tender()
    env = await feed.send(tender)
    await feed.send(tender, env_id=env.id)  # the same event delivered again
    [notice] = await feed.notices(tender.tender_id, 1)
    assert notice["notice_type"] == "tender" and notice["title"] == "示例学校教学楼工程招标公告"
    records = await read_topic(feed.kafka, topic_name(
        Stage.ANNOUNCEMENT, Category.CONSTRUCTION, audience=Audience.PARTNER,
        prefix=feed.prefix), lambda rs: any(r.key == tender.tender_id for r in rs))
    assert [r.json()["notice_type"] for r in records if r.key == tender.tender_id] == ["tender"]
    await asyncio.sleep(0.5)
    _, body = await feed.get(f"/v1/notices?tender={tender.tender_id}")
    assert len(body["items"]) == 1


async def test_confidential_events_make_no_notice_and_opening_shows_prices(feed: Feed) -> None:
    """20号令: nothing about bids before opening; names and prices at opening."""
    tender = feed.tender()
    await feed.send(tender)
    bidder = new_uscc()
    section = tender.sections[0].section_code
    await feed.send(BidSubmitted(tender_id=tender.tender_id, section_code=section, bid_id="b1",
                                 bidder_uscc=bidder, digest="ab" * 32,
                                 received_at=datetime.now(UTC)))
    await feed.send(BidsOpened(tender_id=tender.tender_id, section_code=section,
                               opened_at=datetime.now(UTC), lines=[BidderLine(
                                   bid_id="b1", bidder_uscc=bidder, bidder_name="甲建设公司",
                                   price_fen=123_456_78, status="valid")]))
    notices = await feed.notices(tender.tender_id, 2)
    assert sorted(n["notice_type"] for n in notices) == ["opening", "tender"]
    opening = next(n for n in notices if n["notice_type"] == "opening")
    assert opening["content"]["bids"] == [{"bidder_name": "甲建设公司", "price_yuan": "123456.78",
                                           "status": "valid"}]
    assert "ab" * 32 not in json.dumps(notices)


async def test_candidates_publicity_ends_with_an_event_and_an_upheld_objection_counts(
        feed: Feed, registration: Registration) -> None:
    """条例54: candidates are publicised; objections within the period; then bidding decides."""
    tender = feed.tender()
    await feed.send(tender)
    section = tender.sections[0].section_code
    bidder = new_uscc()
    await feed.send(EvaluationCompleted(
        tender_id=tender.tender_id, section_code=section, method="lowest_evaluated_price",
        reported_at=datetime.now(UTC), candidates=[Candidate(
            rank=1, bid_id="b1", bidder_uscc=bidder, bidder_name="甲", price_fen=100,
            score="100")]))
    notices = await feed.notices(tender.tender_id, 2)
    cands = [n for n in notices if n["notice_type"] == "candidates"]
    assert cands, notices
    cand = cands[0]
    assert cand["publicity_end"] is not None
    op = registration.operator_token
    await registration.call("POST", "/v1/entities", op, {
        **_entity(bidder, "bidder")})
    await registration.call("POST", f"/v1/entities/{bidder}/users", op, {
        "username": f"obj{bidder}", "password": "password-123456", "roles": ["bidder"]})
    token = await registration.login(f"obj{bidder}", "password-123456")
    async with feed.http.post(f"{feed.svc.url}/v1/notices/{cand['id']}/objections",
                              json={"text": "评分有误"},
                              headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 201
        oid = (await resp.json())["objection_id"]
    supervisor = new_uscc()
    await registration.call("POST", "/v1/entities", op, _entity(supervisor, "supervisor"))
    await registration.call("POST", f"/v1/entities/{supervisor}/users", op, {
        "username": f"sup{supervisor}", "password": "password-123456", "roles": ["supervisor"]})
    sup = await registration.login(f"sup{supervisor}", "password-123456")
    async with feed.http.post(
            f"{feed.svc.url}/v1/notices/{cand['id']}/objections/{oid}/decision",
            json={"upheld": True}, headers={"Authorization": f"Bearer {sup}"}) as resp:
        assert resp.status == 200
    internal = topic_name(Stage.ANNOUNCEMENT, Category.CONSTRUCTION, prefix=feed.prefix)
    records = await read_topic(feed.kafka, internal,
                               lambda rs: any(r.key == tender.tender_id for r in rs), within=30)
    [ended] = [r.json() for r in records if r.key == tender.tender_id]
    assert ended["objection_upheld"] is True and ended["section_code"] == section


def _entity(uscc: str, kind: str) -> dict[str, Any]:
    from ggzy.testing.data import entity_registration

    return entity_registration(uscc, kinds=(kind,))


async def test_feed_never_skips_or_repeats_under_concurrent_writes(feed: Feed) -> None:
    """A reader paging while notices are written concurrently sees each exactly once."""
    tenders = [feed.tender("并发测试工程") for _ in range(30)]
    sending = asyncio.gather(*(feed.send(t) for t in tenders))
    seen: list[str] = []
    mark = 0
    deadline = asyncio.get_running_loop().time() + 60
    while len(set(seen)) < 30 and asyncio.get_running_loop().time() < deadline:
        _, body = await feed.get(f"/v1/notices?q=并发测试工程&after={mark}&limit=7")
        seen += [n["id"] for n in body["items"]]
        if body["items"]:
            mark = body["items"][-1]["seq"]
        await asyncio.sleep(0.05)
    await sending
    assert len(seen) == len(set(seen)) == 30
    # paging newest-first by cursor also returns each once
    pages: list[str] = []
    cursor = ""
    while True:
        _, body = await feed.get(f"/v1/notices?q=并发测试工程&limit=8{cursor}")
        pages += [n["id"] for n in body["items"]]
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert sorted(pages) == sorted(seen)


async def test_filters_search_and_bad_parameters(feed: Feed) -> None:
    tender = feed.tender("滨海新区综合管廊工程")
    await feed.send(tender)
    await feed.notices(tender.tender_id, 1)
    _, found = await feed.get("/v1/notices?q=综合管廊&category=construction&region=440300"
                              "&type=tender")
    assert any(n["tender_id"] == tender.tender_id for n in found["items"])
    _, none = await feed.get("/v1/notices?q=综合管廊&type=contract")
    assert none["items"] == []
    for bad in ("limit=0", "limit=x", "category=fishing", "type=rumour", "since=yesterday"):
        status, err = await feed.get(f"/v1/notices?{bad}")
        assert (status, err["error"]["code"]) == (400, "invalid_parameter"), bad
    status, stats = await feed.get("/v1/stats?category=construction")
    assert status == 200 and any(c["type"] == "tender" for c in stats["counts"]), stats
