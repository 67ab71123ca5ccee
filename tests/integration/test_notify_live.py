"""Live push of the inbox across notify's replicas, against the real broker and store.

A consumer group gives a recipient's partition to one replica; a recipient's client
may be connected to any replica. Every replica follows the receipts on notify's
topic (``ggzy.runtime.follow``), so each connected client hears of each of its
notifications once, whichever replica delivered it.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from contracts.topics import Stage
from ggzy.testing.client import PlatformClient
from ggzy.testing.infra import Infra
from ggzy.testing.services import Running, running
from services.notify.main import build
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration
from tests.integration.test_notify import SmtpSink, World, credit, notify_settings


@pytest.fixture(scope="module")
async def replicas(infra: Infra, registration: Registration) -> AsyncIterator[list[Running]]:
    sink = SmtpSink()
    sink.start()
    cfg = notify_settings(sink.port)
    settings = isolated_settings(infra, "notify",
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    try:
        async with running(settings, lambda rt: build(rt, cfg)) as a, \
                running(settings, lambda rt: build(rt, cfg)) as b:
            yield [a, b]
    finally:
        sink.stop()


async def _ready(ws: aiohttp.ClientWebSocketResponse) -> None:
    ready = await ws.receive_json(timeout=10)
    assert ready["type"] == "ready", ready


async def _pushed(ws: aiohttp.ClientWebSocketResponse, within: float) -> list[dict[str, Any]]:
    """Every message pushed to the client until it is quiet for ``within`` seconds."""
    out: list[dict[str, Any]] = []
    while True:
        try:
            out.append(await ws.receive_json(timeout=within))
        except TimeoutError:
            return out


async def test_a_client_on_either_replica_hears_of_each_notification_once(
        replicas: list[Running], registration: Registration) -> None:
    a, b = replicas
    async with aiohttp.ClientSession() as http:
        client = PlatformClient(a.settings.topic_prefix, a.settings.kafka_bootstrap,
                                {"registration": registration.svc.url, "notify": a.url},
                                http, tokens={"operator": registration.operator_token},
                                rng=random.Random(uuid.uuid4().int))  # codes of its own
        world = World(a, client)
        uscc, token = await client.entity("bidder")
        sockets = [await http.ws_connect(svc.url.replace("http", "ws")
                                         + f"/v1/me/inbox/live?token={token}")
                   for svc in (a, b)]
        try:
            for ws in sockets:
                await _ready(ws)
            # one replica of the two owns the recipient's partition and delivers: the
            # client on the other hears of it through the receipt only
            for score in (601, 602, 603):
                await world.send(credit(uscc, score), Stage.CREDIT)
            inbox = await world.inbox(token, 3)
            heard = await asyncio.gather(*(_pushed(ws, 3.0) for ws in sockets))
        finally:
            for ws in sockets:
                await ws.close()
    ids = sorted(item["id"] for item in inbox)
    for messages in heard:
        assert all(m["type"] == "notification" for m in messages), messages
        assert sorted(m["id"] for m in messages) == ids  # each once, none missed
        assert sorted(m["data"]["score"] for m in messages) == ["601", "602", "603"]
