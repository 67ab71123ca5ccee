"""Notify against the real broker and store, a real SMTP server and webhook receiver.

Other stages' events are published as their services would (CloudEvents headers,
key = aggregate id) on the topics of the test's prefix; what notify delivers is
read back from the receivers it delivers to, its HTTP API and its own topic.
Every test server listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from contracts.bidding import BidSubmitted, ExpertsDrawn, Section, TenderPublished
from contracts.categories import Category
from contracts.credit import (
    ComplaintDecided,
    ComplaintFiled,
    ComplaintMatter,
    ComplaintOutcome,
    CreditChanged,
    SubjectKind,
)
from contracts.envelope import Envelope
from contracts.notify import Channel, NotificationQueued
from contracts.topics import Stage, topic_name
from ggzy.runtime import signing
from ggzy.runtime.aggregates import Aggregates, Cause, Change, now_ms
from ggzy.runtime.batching import Store
from ggzy.runtime.errors import Conflict
from ggzy.runtime.settings import Settings
from ggzy.testing.client import PlatformClient
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import Record, eventually, publish, read_topic
from ggzy.testing.services import Running, free_port, running
from services.notify.courier import Courier, NotifyMetrics
from services.notify.domain.policy import Breakers, RetryPolicy
from services.notify.domain.recipients import RecipientId, lane_id, notification_id
from services.notify.lanes import queued_id
from services.notify.main import build
from services.notify.queue import DeliveryQueue, Queued, Spec, Tried
from services.notify.settings import NotifySettings
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration

ATTEMPTS = 6  # with the breaker (2 failures, 1 s cool-down): rides out ~3 s down


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def notify_settings(smtp_port: int, **overrides: Any) -> NotifySettings:
    return NotifySettings(**{
        "smtp_host": "127.0.0.1", "smtp_port": smtp_port, "max_attempts": ATTEMPTS,
        "backoff_base_ms": 100, "backoff_max_ms": 400, "breaker_failures": 2,
        "breaker_cooldown_ms": 1000, "gap_grace_ms": 300, "workers": 8,
        "webhook_allow_private": True,  # receivers here are on 127.0.0.1
        **overrides})


@pytest.fixture(scope="module")
async def notify(infra: Infra, registration: Registration,
                 smtp: SmtpSink) -> AsyncIterator[Running]:
    cfg = notify_settings(smtp.port)
    settings = isolated_settings(infra, "notify",
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, lambda rt: build(rt, cfg)) as svc:
        yield svc


@pytest.fixture(scope="module")
async def world(notify: Running, registration: Registration) -> AsyncIterator[World]:
    async with aiohttp.ClientSession() as http:
        client = PlatformClient(notify.settings.topic_prefix, notify.settings.kafka_bootstrap,
                                {"registration": registration.svc.url, "notify": notify.url},
                                http, tokens={"operator": registration.operator_token})
        yield World(notify, client)


@contextlib.asynccontextmanager
async def own_notify(infra: Infra, registration: Registration, smtp_port: int,
                     settings: Settings | None = None, **overrides: Any
                     ) -> AsyncIterator[World]:
    """A notify of its own (its topics, database, circuit breakers and metrics), for a
    test whose relay or counters must not be shared with the module's; ``settings``
    again: the same service restarted (its memory lost, its store and topics kept)."""
    cfg = notify_settings(smtp_port, **overrides)
    settings = settings or own_settings(infra, registration)
    async with running(settings, lambda rt: build(rt, cfg)) as svc, \
            aiohttp.ClientSession() as http:
        yield World(svc, PlatformClient(
            settings.topic_prefix, settings.kafka_bootstrap,
            {"registration": registration.svc.url, "notify": svc.url}, http,
            tokens={"operator": registration.operator_token},
            rng=random.Random()))  # codes of its own: registration is shared


def own_settings(infra: Infra, registration: Registration) -> Settings:
    return isolated_settings(infra, "notify",
                             jwks_url=registration.svc.url + "/.well-known/jwks.json")


class World:
    """Plays the other stages (their events) and the recipients (the notify API)."""

    def __init__(self, svc: Running, client: PlatformClient) -> None:
        self.svc, self.client = svc, client
        self.prefix, self.kafka = svc.settings.topic_prefix, svc.settings.kafka_bootstrap

    async def api(self, method: str, path: str, token: str | None, body: Any = None
                  ) -> tuple[int, Any]:
        return await self.client.call("notify", method, path, token, body)

    async def send(self, event: Any, stage: Stage, env: Envelope | None = None,
                   category: Category | None = None) -> Envelope:
        env = env or Envelope.new(type=event.type_name(), source=f"/ggzy/{stage.value}",
                                  subject=event.aggregate_id(), category=category)
        topic = topic_name(stage, category, prefix=self.prefix)
        await publish(self.kafka, topic, json.dumps(event.model_dump(mode="json")).encode(),
                      event.aggregate_id(), env.headers())
        return env

    async def tender(self, tenderee: str) -> str:
        now = datetime.now(UTC)
        tender_id = "2026" + uuid.uuid4().hex[:13].upper() + "001"
        event = TenderPublished(
            tender_id=tender_id, project_code=tender_id[:17], project_name="示例教学楼新建工程",
            category=Category.CONSTRUCTION, region_code="440300", tenderee_uscc=tenderee,
            tenderee_name="示例城投", method="open_tender", evaluation="lowest_evaluated_price",
            state_funded=True, sections=[Section(section_code=tender_id + "001", name="一标段",
                                                 estimated_price_fen=100, deposit_fen=1)],
            issued_at=now, sale_start=now, sale_end=now, bid_deadline=now + timedelta(days=20))
        await self.send(event, Stage.BIDDING, category=Category.CONSTRUCTION)
        return tender_id

    def bid(self, tender_id: str, bidder: str) -> BidSubmitted:
        return BidSubmitted(tender_id=tender_id, section_code=tender_id + "001",
                            bid_id=uuid.uuid4().hex[:12], bidder_uscc=bidder, digest="ab" * 32,
                            received_at=datetime.now(UTC))

    async def inbox(self, token: str, n: int, within: float = 30) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            status, body = await self.api("GET", "/v1/me/inbox?limit=500", token)
            assert status == 200, body
            return body["items"] if len(body["items"]) >= n else None
        found: list[dict[str, Any]] = await eventually(enough, within=within)
        return found

    async def receipts(self, until: Any) -> list[Record]:
        return await read_topic(self.kafka, topic_name(Stage.NOTIFY, prefix=self.prefix),
                                until, within=30)

    async def failure(self, event_id: str) -> dict[str, Any] | None:
        """The failure record of the event's notification, as an operator sees it."""
        status, body = await self.api("GET", "/v1/failures", self.client.tokens["operator"])
        assert status == 200, body
        return next((f for f in body["failures"] if f["source_event_id"] == event_id), None)

    async def metrics(self) -> Metrics:
        assert self.client.http is not None
        async with self.client.http.get(self.svc.url + "/metrics") as resp:
            return Metrics(await resp.text())


class Metrics:
    """The service's samples as /metrics showed them at one moment."""

    def __init__(self, text: str) -> None:
        self.samples = {(s.name, frozenset(s.labels.items())): s.value
                        for family in text_string_to_metric_families(text)
                        for s in family.samples}

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def since(self, before: Metrics, name: str, **labels: str) -> float:
        """How much a sample grew since ``before`` (0 for one that did not exist)."""
        return self.value(name, **labels) - before.value(name, **labels)


def credit(uscc: str, score: int) -> CreditChanged:
    return CreditChanged(subject_kind=SubjectKind.ENTITY, subject_id=uscc, reason="test",
                         score=score, level="B", previous_level="A",
                         changed_at=datetime.now(UTC))


async def test_a_redelivered_event_is_notified_once(world: World) -> None:
    bidder, token = await world.client.entity("bidder")
    tenderee, _ = await world.client.entity("tenderee")
    tender_id = await world.tender(tenderee)
    bid = world.bid(tender_id, bidder)
    env = await world.send(bid, Stage.BIDDING, category=Category.CONSTRUCTION)
    await world.send(bid, Stage.BIDDING, env=env, category=Category.CONSTRUCTION)  # again
    second = await world.send(world.bid(tender_id, bidder), Stage.BIDDING,
                              category=Category.CONSTRUCTION)
    items = await world.inbox(token, 2)
    assert sorted(i["source_event_id"] for i in items) == sorted([env.id, second.id])
    records = await world.receipts(lambda rs: _of(rs, second.id) and _of(rs, env.id))
    # the inbox's receipt, once: a redelivery may publish it again, under its one id
    # (consumers deduplicate on it), never a second receipt
    assert len({r.headers["ce_id"] for r in _of(records, env.id)}) == 1


def _of(records: list[Record], event_id: str) -> list[Record]:
    return [r for r in records if r.json()["source_event_id"] == event_id]


async def test_a_redelivered_event_reaches_a_webhook_and_a_mailbox_once_under_one_id(
        world: World, smtp: SmtpSink) -> None:
    """The same event (one envelope id) three times: twice at once, once after it was
    delivered. The receiver and the mailbox each get it once, under the notification id
    of (event, recipient, channel); the next event, behind it on both lanes, shows that
    no second copy was on its way."""
    uscc, token = await world.client.entity("bidder")
    rid, address = RecipientId(f"entity:{uscc}"), f"again-{uscc}@example.cn"
    event = credit(uscc, 801)
    async with Receiver() as hook:
        await world.api("PUT", "/v1/me/webhook", token,
                        {"url": hook.url, "secret": "again-" + uuid.uuid4().hex})
        await world.api("PUT", "/v1/me/email", token, {"address": address})
        first = await world.send(event, Stage.CREDIT)
        await world.send(event, Stage.CREDIT, env=first)  # redelivered at once
        await eventually(lambda: hook.accepted and smtp.all_to(address), within=30)
        await world.send(event, Stage.CREDIT, env=first)  # and after its delivery
        then = await world.send(credit(uscc, 802), Stage.CREDIT)
        await eventually(lambda: len(hook.accepted) >= 2 and len(smtp.all_to(address)) >= 2,
                         within=30)
        records = await world.receipts(lambda rs: {
            r.json()["channel"] for r in _of(rs, then.id)} == {"inbox", "webhook", "email"})
    assert [h[signing.NOTIFICATION_ID] for h, _ in hook.accepted] == [
        notification_id(e.id, rid, Channel.WEBHOOK) for e in (first, then)]
    assert [json.loads(body)["notification_id"] for _, body in hook.accepted] == [
        notification_id(e.id, rid, Channel.WEBHOOK) for e in (first, then)]
    assert [m["X-Ggzy-Notification-Id"] for m in smtp.all_to(address)] == [
        notification_id(e.id, rid, Channel.EMAIL) for e in (first, then)]
    # one receipt per channel, under one id (a redelivery may publish it again under it)
    receipts = {(r.json()["channel"], r.headers["ce_id"]) for r in _of(records, first.id)}
    assert sorted(channel for channel, _ in receipts) == ["email", "inbox", "webhook"]


async def test_an_event_redelivered_to_a_restarted_notify_is_not_sent_again(
        infra: Infra, registration: Registration, smtp: SmtpSink) -> None:
    """After a restart nothing of what was sent is remembered in memory: the store says
    the redelivered event's webhook and e-mail were delivered, and they are not sent
    again (the next event, behind them on both lanes, shows none was on its way)."""
    settings = own_settings(infra, registration)
    async with Receiver() as hook:
        async with own_notify(infra, registration, smtp.port, settings) as world:
            uscc, token = await world.client.entity("bidder")
            rid, address = RecipientId(f"entity:{uscc}"), f"restart-{uscc}@example.cn"
            await world.api("PUT", "/v1/me/webhook", token,
                            {"url": hook.url, "secret": "restart-" + uuid.uuid4().hex})
            await world.api("PUT", "/v1/me/email", token, {"address": address})
            event = credit(uscc, 803)
            first = await world.send(event, Stage.CREDIT)
            await eventually(lambda: hook.accepted and smtp.all_to(address), within=30)
        async with own_notify(infra, registration, smtp.port, settings) as world:
            await world.send(event, Stage.CREDIT, env=first)  # redelivered
            then = await world.send(credit(uscc, 804), Stage.CREDIT)
            await eventually(lambda: len(hook.accepted) >= 2
                             and len(smtp.all_to(address)) >= 2, within=30)
    assert [h[signing.NOTIFICATION_ID] for h, _ in hook.accepted] == [
        notification_id(e.id, rid, Channel.WEBHOOK) for e in (first, then)]
    assert [m["X-Ggzy-Notification-Id"] for m in smtp.all_to(address)] == [
        notification_id(e.id, rid, Channel.EMAIL) for e in (first, then)]


async def test_webhook_down_then_up_gets_every_notification_once_and_in_order(
        world: World) -> None:
    uscc, token = await world.client.entity("bidder")
    secret = "s3cret-" + uuid.uuid4().hex
    async with Receiver(down=True) as hook:
        status, body = await world.api("PUT", "/v1/me/webhook", token,
                                       {"url": hook.url, "secret": secret})
        assert status == 200 and "secret" not in json.dumps(body), body
        for score in range(1, 9):
            await world.send(credit(uscc, score), Stage.CREDIT)
        await eventually(lambda: hook.refused >= 3, within=30)  # retried, then held back
        hook.down = False
        await eventually(lambda: len(hook.accepted) >= 8, within=60)
        await asyncio.sleep(1.0)  # nothing else arrives late (a duplicate would, by now)
    scores = [json.loads(body)["data"]["score"] for _, body in hook.accepted]
    assert scores == [str(s) for s in range(1, 9)]  # each once, in order
    ids = [headers[signing.NOTIFICATION_ID] for headers, _ in hook.accepted]
    assert len(set(ids)) == 8


async def test_a_receiver_can_verify_the_webhook_signature(world: World) -> None:
    uscc, token = await world.client.entity("bidder")
    secret = "verify-" + uuid.uuid4().hex
    async with Receiver() as hook:
        await world.api("PUT", "/v1/me/webhook", token, {"url": hook.url, "secret": secret})
        await world.send(credit(uscc, 700), Stage.CREDIT)
        await eventually(lambda: hook.accepted, within=30)
    headers, body = hook.accepted[0]
    now = int(time.time())
    assert signing.verify(secret, headers[signing.TIMESTAMP], body,
                          headers[signing.SIGNATURE], now)
    assert not signing.verify("another-secret-000", headers[signing.TIMESTAMP], body,
                              headers[signing.SIGNATURE], now)
    assert not signing.verify(secret, headers[signing.TIMESTAMP], body + b" ",
                              headers[signing.SIGNATURE], now)


async def test_a_refusing_smtp_server_leads_to_retries_then_a_visible_failure(
        world: World, smtp: SmtpSink) -> None:
    uscc, token = await world.client.entity("bidder")
    status, _ = await world.api("PUT", "/v1/me/email", token,
                                {"address": f"broken-{uscc}@example.cn"})
    assert status == 200
    env = await world.send(credit(uscc, 400), Stage.CREDIT)

    async def failure() -> dict[str, Any] | None:
        _, body = await world.api("GET", "/v1/failures", world.client.tokens["operator"])
        return next((f for f in body["failures"] if f["source_event_id"] == env.id), None)

    found = await eventually(failure, within=30)
    assert found["channel"] == "email" and found["reason"] == "smtp_550"
    assert found["attempts"] == ATTEMPTS
    assert smtp.refused.count(f"broken-{uscc}@example.cn") == ATTEMPTS
    records = await world.receipts(lambda rs: any(
        r.headers["ce_type"].endswith("NotificationFailed.v1") for r in _of(rs, env.id)))
    failed = [r.json() for r in _of(records, env.id)
              if r.headers["ce_type"].endswith("NotificationFailed.v1")]
    assert [(f["channel"], f["attempts"]) for f in failed] == [("email", ATTEMPTS)]
    assert len(await world.inbox(token, 1)) == 1  # the inbox still has it


async def test_an_email_reaches_the_smtp_server_once_in_the_chosen_language(
        world: World, smtp: SmtpSink) -> None:
    uscc, token = await world.client.entity("bidder")
    address = f"ok-{uscc}@example.cn"
    await world.api("PUT", "/v1/me", token, {"lang": "en"})
    await world.api("PUT", "/v1/me/email", token, {"address": address})
    await world.send(credit(uscc, 650), Stage.CREDIT)
    message = await eventually(lambda: smtp.to(address), within=30)
    assert message["Subject"] == "Credit level changed: B"
    assert "score 650" in message.get_content()
    await asyncio.sleep(0.5)
    assert len(smtp.all_to(address)) == 1


async def test_the_inbox_pushes_live_to_a_connected_websocket_client(world: World) -> None:
    uscc, token = await world.client.entity("bidder")
    http = world.client.http
    assert http is not None
    url = world.svc.url.replace("http", "ws") + "/v1/me/inbox/live"
    async with http.ws_connect(f"{url}?token={token}") as by_query, \
            http.ws_connect(url) as by_message:
        await by_message.send_json({"token": token})
        for ws in (by_query, by_message):
            ready = await ws.receive_json(timeout=10)
            assert ready == {"type": "ready", "recipient": f"entity:{uscc}"}
        await world.send(credit(uscc, 512), Stage.CREDIT)
        for ws in (by_query, by_message):
            pushed = await ws.receive_json(timeout=30)
            assert pushed["type"] == "notification" and pushed["data"]["score"] == "512"


async def test_a_websocket_without_a_valid_token_is_refused(world: World) -> None:
    http = world.client.http
    assert http is not None
    url = world.svc.url.replace("http", "ws") + "/v1/me/inbox/live?token=forged"
    async with http.ws_connect(url) as ws:
        refused = await ws.receive_json(timeout=10)
        assert refused["type"] == "error" and refused["code"] == "token_invalid"


async def test_a_recipient_sees_only_its_own_inbox_and_subscriptions(world: World) -> None:
    a, a_token = await world.client.entity("bidder")
    _, b_token = await world.client.entity("bidder")
    status, sub = await world.api("POST", "/v1/me/subscriptions", a_token,
                                  {"category": "construction", "keywords": ["学校"]})
    assert status == 201, sub
    await world.send(credit(a, 300), Stage.CREDIT)
    [item] = await world.inbox(a_token, 1)
    _, b_subs = await world.api("GET", "/v1/me/subscriptions", b_token)
    _, b_inbox = await world.api("GET", "/v1/me/inbox", b_token)
    assert b_subs == {"subscriptions": []} and b_inbox == {"items": []}
    status, body = await world.api("DELETE", f"/v1/me/subscriptions/{sub['id']}", b_token)
    assert status == 404 and body["error"]["code"] == "subscription_not_found"
    status, _ = await world.api("POST", f"/v1/me/inbox/{item['id']}/read", b_token)
    assert status == 404
    status, _ = await world.api("POST", f"/v1/me/inbox/{item['id']}/read", a_token)
    _, unread = await world.api("GET", "/v1/me/inbox?unread=true", a_token)
    assert status == 200 and unread == {"items": []}
    status, body = await world.api("GET", "/v1/me/inbox", None)
    assert status == 401 and body["error"]["code"] == "token_missing"


async def test_only_the_drawn_experts_hear_of_their_draw(world: World) -> None:
    tenderee, t_token = await world.client.entity("tenderee")
    bidder, b_token = await world.client.entity("bidder")
    drawn = [await world.client.expert(["A01"]) for _ in range(2)]
    other, o_token = await world.client.expert(["A01"])
    tender_id = await world.tender(tenderee)
    await world.send(world.bid(tender_id, bidder), Stage.BIDDING,
                     category=Category.CONSTRUCTION)
    draw = ExpertsDrawn(tender_id=tender_id, section_code=tender_id + "001",
                        expert_ids=[x for x, _ in drawn], commitment="c" * 64)
    drawn_env = await world.send(draw, Stage.BIDDING, category=Category.CONSTRUCTION)
    for (expert_id, token), (colleague, _) in zip(drawn, reversed(drawn), strict=True):
        [item] = await world.inbox(token, 1)
        assert item["kind"] == "expert_drawn" and item["recipient"] == f"expert:{expert_id}"
        assert colleague not in json.dumps(item)  # nor who else evaluates
    await world.inbox(b_token, 1)  # its bid receipt, processed after the draw's partition
    for token in (t_token, b_token, o_token):
        _, body = await world.api("GET", "/v1/me/inbox", token)
        assert "expert_drawn" not in json.dumps(body)
        assert not any(x in json.dumps(body) for x, _ in drawn)
    _, undrawn = await world.api("GET", "/v1/me/inbox", o_token)
    assert undrawn == {"items": []}  # an expert not drawn hears nothing of the draw
    # the draw's receipts (published together) name the drawn experts, each once, and
    # nobody else: neither the tender's parties nor the expert not drawn
    wanted = {f"expert:{x}" for x, _ in drawn}
    records = await world.receipts(
        lambda rs: {r.json()["recipient"] for r in _of(rs, drawn_env.id)} >= wanted)
    told = {(r.json()["recipient"], r.json()["channel"], r.headers["ce_id"])
            for r in _of(records, drawn_env.id)}
    assert sorted((who, channel) for who, channel, _ in told) == sorted(
        (who, "inbox") for who in wanted)
    assert f"expert:{other}" not in {who for who, _, _ in told}


async def test_an_objection_to_a_result_reaches_the_tenderee_and_its_answer_the_objector(
        world: World) -> None:
    """条例54 through announcement's internal topic: the tenderee must answer in 3 days, so
    it hears of the objection (with its grounds); the objector hears the answer; another
    bidder of the tender hears of neither."""
    from contracts.announcement import PublicityObjectionAnswered, PublicityObjectionFiled

    tenderee, t_token = await world.client.entity("tenderee")
    objector, o_token = await world.client.entity("bidder")
    other, x_token = await world.client.entity("bidder")
    tender_id = await world.tender(tenderee)
    for bidder in (objector, other):
        await world.send(world.bid(tender_id, bidder), Stage.BIDDING,
                         category=Category.CONSTRUCTION)
    now = datetime.now(UTC)
    common = {"notice_id": f"{tender_id}:candidates", "tender_id": tender_id,
              "section_code": tender_id + "001", "objection_id": "r1",
              "objector_uscc": objector, "article": "招标投标法实施条例第54条"}
    await world.send(PublicityObjectionFiled(**common, text="第一名业绩造假", filed_at=now,
                                             answer_due=now + timedelta(days=3),
                                             answerers=[tenderee]),
                     Stage.ANNOUNCEMENT, category=Category.CONSTRUCTION)
    await world.send(PublicityObjectionAnswered(**common, upheld=False, answer="经核查属实有据",
                                                answered_at=now, late=False),
                     Stage.ANNOUNCEMENT, category=Category.CONSTRUCTION)
    owner = await world.inbox(t_token, 2)
    assert sorted(i["kind"] for i in owner) == ["result_objection_filed", "tender_published"]
    [told] = [i for i in owner if i["kind"] == "result_objection_filed"]
    assert "第一名业绩造假" in told["body"] and objector in told["body"]
    mine = [i["kind"] for i in await world.inbox(o_token, 2)]
    assert sorted(mine) == ["bid_received", "result_objection_answered"]
    _, theirs = await world.api("GET", "/v1/me/inbox", x_token)
    assert "objection" not in json.dumps(theirs) and objector not in json.dumps(theirs)


async def test_a_complaint_reaches_the_supervisors_and_its_decision_both_parties(
        world: World) -> None:
    """条例60, 61: a new complaint goes to the supervising departments (never to the party
    complained about); its decision to the complainant and the respondent it names."""
    _, s_token = await world.client.entity("supervisor")
    complainant, c_token = await world.client.entity("bidder")
    respondent, r_token = await world.client.entity("bidder")
    status, _ = await world.api("GET", "/v1/me/inbox", s_token)  # a supervisor made known
    assert status == 200
    now = datetime.now(UTC)
    ids = {"complaint_id": "CP-" + uuid.uuid4().hex[:16].upper(), "tender_id": "T-complained",
           "category": Category.CONSTRUCTION, "complainant_uscc": complainant}
    await world.send(ComplaintFiled(**ids, section_code="", respondent_uscc=respondent,
                                    matter=ComplaintMatter.OTHER, filed_at=now,
                                    acceptance_due=now + timedelta(days=3), article="条例60"),
                     Stage.CREDIT)
    [item] = await world.inbox(s_token, 1)
    assert item["kind"] == "complaint_filed" and ids["complaint_id"] in item["title"]
    await world.send(ComplaintDecided(**ids, respondent_uscc=respondent,
                                      outcome=ComplaintOutcome.UPHELD, decision_no="深建投诉1号",
                                      reason="属实", false_complaint=False, decided_at=now),
                     Stage.CREDIT)
    for token in (c_token, r_token):
        [decided] = await world.inbox(token, 1)
        assert decided["kind"] == "complaint_decided" and "深建投诉1号" in decided["body"]
    _, body = await world.api("GET", "/v1/me/inbox", r_token)
    assert "complaint_filed" not in json.dumps(body)


async def test_the_metrics_count_deliveries_failures_retries_and_queue_age_per_channel(
        infra: Infra, registration: Registration, smtp: SmtpSink) -> None:
    """On a notify of its own (nothing else counted there), read before and after: one
    recipient reached on every channel, one whose webhook refuses twice (retried, held
    by its breaker, then delivered), one whose mailbox the relay refuses (failed)."""
    channels = ("inbox", "webhook", "email")
    async with own_notify(infra, registration, smtp.port) as world, \
            Receiver() as hook, Receiver(down=True) as flaky:
        (a, a_token), (b, b_token), (c, c_token) = [
            await world.client.entity("bidder") for _ in range(3)]
        await world.api("PUT", "/v1/me/webhook", a_token, {"url": hook.url, "secret": "a" * 16})
        await world.api("PUT", "/v1/me/email", a_token, {"address": f"ok-{a}@example.cn"})
        await world.api("PUT", "/v1/me/webhook", b_token,
                        {"url": flaky.url, "secret": "b" * 16})
        await world.api("PUT", "/v1/me/email", c_token, {"address": f"broken-{c}@example.cn"})
        before = await world.metrics()
        for uscc in (a, b):
            await world.send(credit(uscc, 100), Stage.CREDIT)
        failed = await world.send(credit(c, 100), Stage.CREDIT)
        await eventually(lambda: flaky.refused >= 2, within=30)
        flaky.down = False  # its breaker opened after 2: the next attempt is its trial
        await eventually(lambda: hook.accepted and flaky.accepted
                         and smtp.to(f"ok-{a}@example.cn"), within=30)
        await eventually(lambda: world.failure(failed.id), within=30)
        for token in (a_token, b_token, c_token):
            await world.inbox(token, 1)

        async def counted() -> Metrics | None:  # counted just after each outcome: 7 in all
            now = await world.metrics()
            return now if sum(now.since(before, "ggzy_notify_queue_age_seconds_count",
                                        channel=ch) for ch in channels) >= 7 else None
        after: Metrics = await eventually(counted, within=10)

    def grown(name: str, **labels: str) -> float:
        return after.since(before, name, **labels)
    assert {ch: grown("ggzy_notify_deliveries_total", channel=ch) for ch in channels} == {
        "inbox": 3, "webhook": 2, "email": 1}
    assert {ch: grown("ggzy_notify_failures_total", channel=ch) for ch in channels} == {
        "inbox": 0, "webhook": 0, "email": 1}
    assert flaky.refused == 2
    assert grown("ggzy_notify_retries_total", channel="webhook", reason="http_503") == 2
    assert grown("ggzy_notify_retries_total", channel="email",
                 reason="smtp_550") == ATTEMPTS - 1
    assert grown("ggzy_notify_breaker_held_total", channel="webhook") >= 1
    # a refused mailbox says nothing of the relay: its breaker stays closed
    assert grown("ggzy_notify_breaker_held_total", channel="email") == 0
    # one outcome each (delivered or failed), its age from enqueueing
    assert {ch: grown("ggzy_notify_queue_age_seconds_count", channel=ch)
            for ch in channels} == {"inbox": 3, "webhook": 2, "email": 2}
    # b's webhook waited out its breaker's cool-down (1 s) before it was delivered
    assert grown("ggzy_notify_queue_age_seconds_sum", channel="webhook") >= 1.0


# A broken SMTP relay, on a notify of its own (the relay is one endpoint per service) ----

def _failed(records: list[Record], event_id: str) -> list[dict[str, Any]]:
    return [r.json() for r in _of(records, event_id)
            if r.headers["ce_type"].endswith("NotificationFailed.v1")]


def _delivered(records: list[Record], event_id: str, channel: str) -> list[dict[str, Any]]:
    return [r.json() for r in _of(records, event_id)
            if r.headers["ce_type"].endswith("NotificationDelivered.v1")
            and r.json()["channel"] == channel]


async def _counted(world: World, before: Metrics, name: str, n: float,
                   **labels: str) -> Metrics:
    """The metrics once ``name`` grew by ``n`` (counted just after the outcome is written)."""
    async def grown() -> Metrics | None:
        now = await world.metrics()
        return now if now.since(before, name, **labels) >= n else None
    found: Metrics = await eventually(grown, within=10)
    return found


async def test_an_unreachable_smtp_relay_opens_its_breaker_then_the_mail_fails_visibly(
        infra: Infra, registration: Registration) -> None:
    """Nothing listens on the relay's port. Two failed attempts open the relay's breaker
    (2 failures, 1 s cool-down): from then on each attempt is the half-open trial of a new
    cool-down, the lane held back in between with no attempt counted. After ATTEMPTS
    attempts: the failure record, for operators, and NotificationFailed; the inbox still
    has the notification."""
    async with own_notify(infra, registration, free_port()) as world:  # nobody listens
        uscc, token = await world.client.entity("bidder")
        await world.api("PUT", "/v1/me/email", token, {"address": f"far-{uscc}@example.cn"})
        before = await world.metrics()
        start = time.monotonic()
        env = await world.send(credit(uscc, 400), Stage.CREDIT)
        found = await eventually(lambda: world.failure(env.id), within=30)
        took = time.monotonic() - start
        after = await _counted(world, before, "ggzy_notify_failures_total", 1, channel="email")
        records = await world.receipts(lambda rs: _failed(rs, env.id))
        [item] = await world.inbox(token, 1)
    assert (found["channel"], found["reason"], found["attempts"], found["recipient"]) == (
        "email", "smtp_unreachable", ATTEMPTS, f"entity:{uscc}")
    assert [(f["channel"], f["attempts"], f["reason"]) for f in _failed(records, env.id)] == [
        ("email", ATTEMPTS, "smtp_unreachable")]
    assert _delivered(records, env.id, "email") == []
    assert item["source_event_id"] == env.id  # not lost: the recipient has it in the inbox
    assert after.since(before, "ggzy_notify_retries_total", channel="email",
                       reason="smtp_unreachable") == ATTEMPTS - 1
    # attempts 3..ATTEMPTS were trials, each held back until its cool-down ended (the
    # backoff, at most 400 ms, is shorter): held, but not counted as attempts
    assert after.since(before, "ggzy_notify_breaker_held_total",
                       channel="email") >= ATTEMPTS - 2
    assert took >= (ATTEMPTS - 2) * 1.0
    assert after.since(before, "ggzy_notify_deliveries_total", channel="email") == 0


async def test_a_relay_answering_421_to_every_command_is_retried_with_growing_backoff(
        infra: Infra, registration: Registration) -> None:
    """The relay greets, then answers 421 to every command; its breaker is out of the
    way here (100 failures) to show the backoff alone: the n-th retry waits
    200·2^(n-1) ms, at most half of it taken off at random, then the mail fails."""
    attempts = 5
    with BrokenRelay("421 4.3.2 Service not available, closing transmission channel") as relay:
        async with own_notify(infra, registration, relay.port, max_attempts=attempts,
                              backoff_base_ms=200, backoff_max_ms=1600, jitter=0.5,
                              breaker_failures=100) as world:
            uscc, token = await world.client.entity("bidder")
            await world.api("PUT", "/v1/me/email", token, {"address": f"busy-{uscc}@example.cn"})
            before = await world.metrics()
            env = await world.send(credit(uscc, 421), Stage.CREDIT)
            found = await eventually(lambda: world.failure(env.id), within=30)
            after = await _counted(world, before, "ggzy_notify_failures_total", 1,
                                   channel="email")
            records = await world.receipts(lambda rs: _failed(rs, env.id))
            await asyncio.sleep(0.5)  # no attempt after the last
    assert (found["reason"], found["attempts"]) == ("smtp_421", attempts)
    assert [(f["attempts"], f["reason"]) for f in _failed(records, env.id)] == [
        (attempts, "smtp_421")]
    assert len(relay.refusals) == attempts and relay.messages == []  # a connection each
    gaps = [b - a for a, b in zip(relay.refusals, relay.refusals[1:], strict=False)]
    assert all(gap >= 0.1 * 2 ** n for n, gap in enumerate(gaps)), gaps
    assert gaps[-1] > gaps[0], gaps
    assert after.since(before, "ggzy_notify_retries_total", channel="email",
                       reason="smtp_421") == attempts - 1
    assert after.since(before, "ggzy_notify_breaker_held_total", channel="email") == 0


async def test_a_relay_answering_451_that_recovers_in_time_delivers_each_mail_once_in_order(
        infra: Infra, registration: Registration) -> None:
    """The relay answers 451 to every command for three attempts (its breaker opens after
    two: the third is a trial a cool-down later), then recovers before the attempts run
    out: the held mail arrives once, and the ones queued behind it after it, in order."""
    with BrokenRelay("451 4.3.0 Temporary local problem, try again later") as relay:
        async with own_notify(infra, registration, relay.port) as world:
            uscc, token = await world.client.entity("bidder")
            await world.api("PUT", "/v1/me/email", token, {"address": f"later-{uscc}@example.cn"})
            before = await world.metrics()
            envs = [await world.send(credit(uscc, score), Stage.CREDIT) for score in (1, 2, 3)]
            await eventually(lambda: len(relay.refusals) >= 3, within=30)
            relay.broken = False  # 3 of ATTEMPTS made
            await eventually(lambda: len(relay.messages) >= 3, within=30)
            # behind them on the lane: a second copy of any would arrive before this one
            envs.append(await world.send(credit(uscc, 4), Stage.CREDIT))
            await eventually(lambda: len(relay.messages) >= 4, within=30)
            records = await world.receipts(lambda rs: all(
                _delivered(rs, e.id, "email") for e in envs))
            after = await _counted(world, before, "ggzy_notify_deliveries_total", 4,
                                   channel="email")
            failures = [await world.failure(e.id) for e in envs]
    rid = RecipientId(f"entity:{uscc}")
    assert [m["X-Ggzy-Notification-Id"] for m in relay.messages] == [
        notification_id(e.id, rid, Channel.EMAIL) for e in envs]  # each once, in order
    assert len(relay.refusals) == 3
    gaps = [b - a for a, b in zip(relay.refusals, relay.refusals[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 1.0, gaps  # a backoff, then the cool-down
    assert [[d["attempts"] for d in _delivered(records, e.id, "email")] for e in envs] == [
        [4], [1], [1], [1]]
    assert failures == [None] * 4 and not any(_failed(records, e.id) for e in envs)
    assert after.since(before, "ggzy_notify_retries_total", channel="email",
                       reason="smtp_451") == 3
    assert after.since(before, "ggzy_notify_breaker_held_total", channel="email") >= 1
    assert after.since(before, "ggzy_notify_failures_total", channel="email") == 0


async def test_only_an_operator_sees_the_failure_records(world: World) -> None:
    _, bidder = await world.client.entity("bidder")
    _, supervisor = await world.client.entity("supervisor")
    _, expert = await world.client.expert(["A01"])
    for token in (bidder, supervisor, expert):
        status, body = await world.api("GET", "/v1/failures", token)
        assert (status, body["error"]["code"]) == (403, "role_required"), body
    status, body = await world.api("GET", "/v1/failures", None)
    assert (status, body["error"]["code"]) == (401, "token_missing"), body
    status, body = await world.api("GET", "/v1/failures", world.client.tokens["operator"])
    assert status == 200 and isinstance(body["failures"], list), body


OWN = [("GET", "/v1/me", None), ("PUT", "/v1/me", {"lang": "en"}),
       ("PUT", "/v1/me/webhook", {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16}),
       ("DELETE", "/v1/me/webhook", None),
       ("PUT", "/v1/me/email", {"address": "x@example.cn"}), ("DELETE", "/v1/me/email", None),
       ("GET", "/v1/me/subscriptions", None),
       ("POST", "/v1/me/subscriptions", {"category": "construction"}),
       ("DELETE", "/v1/me/subscriptions/s1", None), ("GET", "/v1/me/inbox", None),
       ("POST", "/v1/me/inbox/n1/read", None)]


@pytest.mark.parametrize(("method", "path", "body"), OWN, ids=[f"{m} {p}" for m, p, _ in OWN])
async def test_a_recipients_own_endpoints_need_a_valid_token(
        world: World, method: str, path: str, body: Any) -> None:
    status, out = await world.api(method, path, None, body)
    assert (status, out["error"]["code"]) == (401, "token_missing"), out
    status, out = await world.api(method, path, "forged", body)
    assert (status, out["error"]["code"]) == (401, "token_invalid"), out


# The fast lane: notifications queued on notify's deliveries topic -----------------------

def queued_on(world: World, uscc: str, url: str, n: int) -> NotificationQueued:
    rid = RecipientId(f"entity:{uscc}")
    event_id = f"ev-{uuid.uuid4().hex}"
    return NotificationQueued(
        notification_id=notification_id(event_id, rid, Channel.WEBHOOK),
        lane=lane_id(rid, Channel.WEBHOOK), recipient=rid, channel=Channel.WEBHOOK,
        about="credit_changed", endpoint=url, target={"url": url}, payload={"n": n},
        source_event_id=event_id, source_event_type=CreditChanged.type_name(),
        queued_ms=now_ms())


async def put_on_lane(world: World, q: NotificationQueued, times: int = 1) -> None:
    """Publish a queued notification as the fan-out does (``times`` over: redelivered)."""
    env = Envelope.new(type=q.type_name(), source="/ggzy/notify", subject=q.lane,
                       id=queued_id(q.notification_id))
    topic = topic_name(Stage.NOTIFY, kind="deliveries", prefix=world.prefix)
    for _ in range(times):
        await publish(world.kafka, topic, q.model_dump_json().encode(), q.lane, env.headers())


async def test_a_notification_queued_twice_on_its_lane_is_sent_once_signed_with_the_secret(
        world: World) -> None:
    uscc, token = await world.client.entity("bidder")
    secret = "lane-" + uuid.uuid4().hex
    async with Receiver() as hook:
        await world.api("PUT", "/v1/me/webhook", token, {"url": hook.url, "secret": secret})
        q = queued_on(world, uscc, hook.url, 1)
        assert "secret" not in q.model_dump_json()  # the bus never carries it
        await put_on_lane(world, q, times=2)
        await eventually(lambda: hook.accepted, within=30)
        records = await world.receipts(lambda rs: _of(rs, q.source_event_id))
        await asyncio.sleep(1.0)  # a second delivery would have arrived by now
    assert len(hook.accepted) == 1
    headers, body = hook.accepted[0]
    assert headers[signing.NOTIFICATION_ID] == q.notification_id
    assert signing.verify(secret, headers[signing.TIMESTAMP], body, headers[signing.SIGNATURE],
                          int(time.time()))
    assert len({r.headers["ce_id"] for r in _of(records, q.source_event_id)}) == 1


async def test_a_lane_with_work_left_in_the_store_queue_is_delivered_behind_it(
        world: World) -> None:
    """A lane's notification held for a retry (here written as another replica would
    have) keeps every later one of the lane behind it: nothing overtakes it."""
    uscc, token = await world.client.entity("bidder")
    secret = "behind-" + uuid.uuid4().hex
    rt = world.svc.runtime
    queue = DeliveryQueue(Aggregates(rt.db["deliveries"], source="/ggzy/notify",
                                     topic_prefix=world.prefix, on_queued=lambda: None,
                                     store=rt.store), rt.db["lanes"])
    async with Receiver() as hook:
        await world.api("PUT", "/v1/me/webhook", token, {"url": hook.url, "secret": secret})
        first = queued_on(world, uscc, hook.url, 1)
        held = Spec(first.notification_id, first.lane, first.recipient, Channel.WEBHOOK,
                    first.about, hook.url, {"url": hook.url, "secret": secret}, first.payload,
                    first.source_event_id, first.source_event_type)
        assert await queue.enqueue(held, Cause(message_id="m1"),
                                   tried=Tried(1, now_ms() + 3000, "http_503")) is Queued.QUEUED
        await put_on_lane(world, queued_on(world, uscc, hook.url, 2))
        await asyncio.sleep(1.5)
        assert hook.accepted == []  # the second waits behind the first's retry
        await eventually(lambda: len(hook.accepted) >= 2, within=30)
        await asyncio.sleep(0.5)
    assert [json.loads(body)["n"] for _, body in hook.accepted] == [1, 2]


async def test_two_replicas_deliver_a_lane_once_and_in_order_across_their_rebalance(
        world: World, smtp: SmtpSink) -> None:
    """A second replica joins the group (its partitions move, what each knew of its
    lanes is forgotten) while a recipient's notifications flow; then it leaves again."""
    uscc, token = await world.client.entity("bidder")
    async with Receiver() as hook:
        await world.api("PUT", "/v1/me/webhook", token,
                        {"url": hook.url, "secret": "two-" + uuid.uuid4().hex})
        for score in range(1, 5):
            await world.send(credit(uscc, score), Stage.CREDIT)
        cfg = notify_settings(smtp.port)
        async with running(world.svc.settings, lambda rt: build(rt, cfg)):
            for score in range(5, 13):
                await world.send(credit(uscc, score), Stage.CREDIT)
                await asyncio.sleep(0.25)  # spread over the rebalance
            await eventually(lambda: len(hook.accepted) >= 12, within=60)
        for score in range(13, 17):  # after the second replica left
            await world.send(credit(uscc, score), Stage.CREDIT)
        await eventually(lambda: len(hook.accepted) >= 16, within=60)
        await asyncio.sleep(1.0)  # a duplicate would have arrived by now
    scores = [json.loads(body)["data"]["score"] for _, body in hook.accepted]
    assert scores == [str(s) for s in range(1, 17)]
    assert len({headers[signing.NOTIFICATION_ID] for headers, _ in hook.accepted}) == 16


class Receiver:
    """A webhook receiver on 127.0.0.1 that is down (503) while ``down`` is set."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.refused = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.down:
            self.refused += 1
            return web.Response(status=503)
        self.accepted.append((dict(request.headers), body))
        return web.Response(status=204)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: refuses mailboxes named broken-*."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.refused: list[str] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("broken-"):
            self.refused.append(address)
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def all_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def to(self, address: str) -> EmailMessage | None:
        found = self.all_to(address)
        return found[0] if found else None


class BrokenRelay:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that greets, then, while ``broken``,
    answers ``reply`` to every command (EHLO, HELO, MAIL, RCPT, DATA). Whether a
    connection is refused is decided at its EHLO, for the whole connection."""

    def __init__(self, reply: str) -> None:
        self.reply, self.broken = reply, True
        self.refusals: list[float] = []  # time.monotonic() of each refused connection
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> BrokenRelay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.refused = self.broken
        if session.refused:
            self.refusals.append(time.monotonic())
            return [self.reply]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: Any, session: Any, envelope: Any,
                          hostname: str) -> str:
        if getattr(session, "refused", self.broken):
            return self.reply
        session.host_name = hostname
        return "250 127.0.0.1"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if getattr(session, "refused", self.broken):
            return self.reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if getattr(session, "refused", self.broken):
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if getattr(session, "refused", self.broken):
            return self.reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


# The delivery queue and courier on their own, against the real store -----------------

class Lanes:
    """A DeliveryQueue (and a courier sending into a list) on a database of its own."""

    def __init__(self, infra: Infra) -> None:
        self.db_name = "t" + uuid.uuid4().hex[:10] + "_lanes"
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url,
                                                                         tz_aware=True)
        self.store = Store(self.mongo)
        self.queue = self.replica()
        self.sent: list[tuple[str, int]] = []  # (lane, number) in the order sent
        self.courier = Courier(self.queue, {Channel.WEBHOOK: self.send, Channel.INBOX: self.send},
                               self.push, policy=RetryPolicy(3, 10, 20, 0.5),
                               breakers=Breakers(100, 10), metrics=NotifyMetrics(
                                   CollectorRegistry()), grace_ms=150, window=2)

    def replica(self) -> DeliveryQueue:
        db = self.mongo[self.db_name]
        deliveries = Aggregates(db["deliveries"], source="/ggzy/notify", topic_prefix="t",
                                on_queued=lambda: None, store=self.store)
        return DeliveryQueue(deliveries, db["lanes"])

    async def send(self, nid: str, target: dict[str, Any], payload: dict[str, Any]) -> None:
        self.sent.append((payload["lane"], payload["seq_hint"]))

    async def push(self, recipient: str, message: dict[str, Any]) -> None:
        pass

    def spec(self, event_id: str, recipient: str, channel: Channel = Channel.WEBHOOK,
             hint: int = 0) -> Spec:
        rid = RecipientId(recipient)
        lane = lane_id(rid, channel)
        return Spec(notification_id(event_id, rid, channel), lane, rid, channel, "credit",
                    "http://127.0.0.1:9/hook", {"url": "http://127.0.0.1:9/hook", "secret": "s"},
                    {"lane": lane, "seq_hint": hint}, event_id, "CreditChanged")

    async def work_until_idle(self, within: float = 10) -> None:
        """Claim and work due lanes until none is due (or ``within`` seconds passed)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            lanes = await self.queue.claim("tester", 60_000, 10)
            for lane in lanes:
                await self.courier.work(lane, "tester")
            if not lanes and not await self.queue.lanes.find_one({"due_ms": {"$lt": 2**61}}):
                return
            await asyncio.sleep(0.02)

    async def deliveries(self) -> list[dict[str, Any]]:
        return await self.queue.deliveries.collection.find({}).to_list(None)


@pytest.fixture
async def lanes(infra: Infra) -> AsyncIterator[Lanes]:
    env = Lanes(infra)
    await env.store.start()
    await env.queue.setup()
    yield env
    await env.mongo.drop_database(env.db_name)
    await env.mongo.close()


async def test_a_lane_window_delivers_in_order_across_a_number_never_written(
        lanes: Lanes) -> None:
    cause = Cause(message_id="m")
    for i in (1, 2, 3):
        assert await lanes.queue.enqueue(lanes.spec(f"e{i}", "entity:A", hint=i),
                                         cause) is Queued.QUEUED
    lane = lanes.spec("x", "entity:A").lane
    # a writer takes number 4 and never writes its delivery (it crashed)
    assert await lanes.store.update_one(lanes.queue.lanes, {"_id": lane, "next_seq": 3},
                                        {"$set": {"next_seq": 4}}) == 1
    for i in (5, 6):  # this replica knew 3 was the last: it learns 4 was taken
        assert await lanes.queue.enqueue(lanes.spec(f"e{i}", "entity:A", hint=i),
                                         cause) is Queued.QUEUED
    await lanes.work_until_idle()
    assert lanes.sent == [(lane, 1), (lane, 2), (lane, 3), (lane, 5), (lane, 6)]
    docs = {d["slot"]: d for d in await lanes.deliveries()}
    assert docs[f"{lane}#4"]["state"] == "void"
    assert [docs[f"{lane}#{n}"]["state"] for n in (1, 2, 3, 5, 6)] == ["delivered"] * 5
    parked = await lanes.queue.lane(lane)
    assert parked is not None and parked["done_seq"] == 6 and parked["lease_ms"] == 0


async def test_enqueueing_several_recipients_at_once_is_idempotent(lanes: Lanes) -> None:
    specs = [lanes.spec("ev", f"entity:{r}", ch) for r in "ABC"
             for ch in (Channel.INBOX, Channel.WEBHOOK)]
    cause = Cause(message_id="ev")
    outcomes = await asyncio.gather(
        lanes.queue.enqueue_all(specs, cause), lanes.queue.enqueue_all(specs, cause),
        lanes.queue.enqueue_all(specs, cause))
    assert sum(o.count(Queued.QUEUED) for o in outcomes) == 6
    assert sum(o.count(Queued.DUPLICATE) for o in outcomes) == 12
    again = await lanes.queue.enqueue_all(specs, cause)  # a later redelivery
    assert again == [Queued.DUPLICATE] * 6
    await lanes.work_until_idle()
    real = [d for d in await lanes.deliveries() if d["state"] != "void"]
    assert sorted(d["_id"] for d in real) == sorted(s.notification_id for s in specs)
    assert all(d["state"] == "delivered" and len(d["outbox"]) == 1 for d in real)  # 1 receipt
    assert sorted(lanes.sent) == sorted((s.lane, 0) for s in specs)  # each sent once
    for spec in specs:  # the redeliveries' numbers were voided: the lanes are not held
        lane = await lanes.queue.lane(spec.lane)
        assert lane is not None and lane["done_seq"] == lane["next_seq"] >= 1


async def test_two_replicas_numbering_one_lane_take_every_number_once(lanes: Lanes) -> None:
    other = lanes.replica()
    cause = Cause(message_id="m")
    for i in range(8):  # alternating: each replica's last known number is stale every time
        queue = lanes.queue if i % 2 == 0 else other
        assert await queue.enqueue(lanes.spec(f"e{i}", "entity:B", hint=i + 1),
                                   cause) is Queued.QUEUED
    more = [lanes.spec(f"c{i}", "entity:B", hint=0) for i in range(6)]
    await asyncio.gather(*(q.enqueue(s, cause) for s, q in zip(more, [lanes.queue, other] * 3,
                                                                strict=True)))
    seqs = sorted(d["seq"] for d in await lanes.deliveries())
    assert seqs == list(range(1, 15))
    await lanes.work_until_idle()
    assert [n for _, n in lanes.sent[:8]] == list(range(1, 9))  # in the order numbered
    assert len(lanes.sent) == 14


async def test_finishing_a_delivery_changed_since_it_was_read_is_decided_again(
        lanes: Lanes) -> None:
    spec = lanes.spec("ev", "entity:C")
    assert await lanes.queue.enqueue(spec, Cause(message_id="ev")) is Queued.QUEUED
    read = (await lanes.queue.window(spec.lane, 1, 1))[1]
    await lanes.queue.deliveries.update(spec.notification_id, lambda s, v: Change(
        set={"note": "changed"}))  # the version moved since it was read
    await lanes.queue.delivered(read, 1)
    doc = await lanes.queue.deliveries.get(spec.notification_id)
    assert doc is not None and doc["state"] == "delivered" and doc["note"] == "changed"
    assert len(doc["outbox"]) == 1
    with pytest.raises(Conflict):  # finished already: a second outcome is refused
        await lanes.queue.failed(read, 2, "http_503")
    doc = await lanes.queue.deliveries.get(spec.notification_id)
    assert doc is not None and doc["state"] == "delivered" and len(doc["outbox"]) == 1


async def test_claiming_takes_many_due_lanes_at_once_and_each_only_once(lanes: Lanes) -> None:
    cause = Cause(message_id="m")
    await lanes.queue.enqueue_all([lanes.spec("ev", f"entity:{r}") for r in "DEFG"], cause)
    first, second = await asyncio.gather(lanes.queue.claim("one", 60_000, 3),
                                         lanes.queue.claim("two", 60_000, 10))
    ids = [lane["_id"] for lane in first + second]
    assert len(ids) == len(set(ids)) == 4 and len(first) <= 3
    assert await lanes.queue.claim("three", 60_000, 10) == []  # all leased


async def test_a_new_number_wakes_a_parked_lane_but_not_one_blocked_until_later(
        lanes: Lanes) -> None:
    other = lanes.replica()  # knows nothing of what this replica saw
    cause = Cause(message_id="m")
    parked, blocked = lanes.spec("p1", "entity:I"), lanes.spec("b1", "entity:J")
    await lanes.queue.enqueue_all([parked, blocked], cause)
    await lanes.work_until_idle()  # both delivered, both parked
    assert await lanes.queue.claim("tester", 60_000, 10) == []
    later = now_ms() + 60_000  # as a breaker or a retry would hold it
    assert await lanes.store.update_one(lanes.queue.lanes, {"_id": blocked.lane},
                                        {"$set": {"due_ms": later}}) == 1
    for queue, n in ((lanes.queue, 2), (other, 3)):
        assert await queue.enqueue(lanes.spec(f"p{n}", "entity:I"), cause) is Queued.QUEUED
        assert await queue.enqueue(lanes.spec(f"b{n}", "entity:J"), cause) is Queued.QUEUED
        woken, still = await lanes.queue.lane(parked.lane), await lanes.queue.lane(blocked.lane)
        assert woken is not None and woken["due_ms"] <= now_ms()
        assert woken["next_seq"] == n
        assert still is not None and still["due_ms"] == later and still["next_seq"] == n
        if n == 2:  # park it again (the blocked lane is not due: not claimed)
            (lane,) = await lanes.queue.claim("tester", 60_000, 10)
            await lanes.courier.work(lane, "tester")
    # this replica last saw it parked, and numbered it 2: both stale, read again
    due = (await lanes.queue.lane(parked.lane) or {})["due_ms"]
    assert await lanes.queue.enqueue(lanes.spec("p4", "entity:I"), cause) is Queued.QUEUED
    after = await lanes.queue.lane(parked.lane)
    assert after is not None and (after["next_seq"], after["due_ms"]) == (4, due)


async def test_the_inbox_gives_back_each_payload_whether_kept_as_text_or_as_a_document(
        lanes: Lanes) -> None:
    cause = Cause(message_id="m")
    new = lanes.spec("e1", "entity:A", Channel.INBOX, hint=1)
    new = dataclasses.replace(new, payload={"title": "信用等级变更", "n": 1, "data": {"x": [1]}})
    assert await lanes.queue.record_delivered(new, 2, cause) is True
    assert await lanes.queue.record_delivered(new, 3, cause) is False  # a redelivery
    stored = await lanes.queue.inbox_docs.find_one({"_id": new.notification_id})
    assert stored is not None and "payload" not in stored
    assert json.loads(stored["payload_json"]) == new.payload
    # written by a build before (the payload as a document)
    old = lanes.spec("e0", "entity:A", Channel.INBOX)
    await lanes.queue.inbox_docs.insert_one({
        "_id": old.notification_id, "state": "delivered", "via": "lane", "seq": 1,
        "finished_ms": 1, "inbox_of": "entity:A", "read": 0, "payload": {"title": "旧"}})
    items = await lanes.queue.inbox("entity:A", False, 10)
    assert [(d["_id"], d["payload"]) for d in items] == [
        (new.notification_id, new.payload), (old.notification_id, {"title": "旧"})]
    assert await lanes.queue.mark_read("entity:A", new.notification_id)
    assert [d["_id"] for d in await lanes.queue.inbox("entity:A", True, 10)] == [
        old.notification_id]


async def test_a_webhook_recorded_by_the_fast_lane_is_known_as_delivered_once(
        lanes: Lanes) -> None:
    spec = lanes.spec("e1", "entity:B")
    assert await lanes.queue.known(spec.notification_id) is None
    assert await lanes.queue.record_delivered(spec, 1, Cause(message_id="m")) is True
    assert await lanes.queue.record_delivered(spec, 1, Cause(message_id="m")) is False
    known = await lanes.queue.known(spec.notification_id)
    assert known is not None and (known["state"], known["via"]) == ("delivered", "lane")
    # queueing it into the store queue afterwards finds it delivered: not sent twice
    assert await lanes.queue.enqueue(spec, Cause(message_id="m")) is Queued.DUPLICATE
