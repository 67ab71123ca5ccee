"""Webhooks call public addresses only (no SSRF into the platform's own network), unless a
local platform allows private ones: the API refuses such a URL, the channel refuses to
call it (an IP literal, or a name that resolves to no public address), against a real
receiver on 127.0.0.1 that must see nothing."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from ggzy.runtime.outbound import PublicResolver
from ggzy.testing.client import PlatformClient
from ggzy.testing.infra import Infra
from ggzy.testing.services import free_port, running
from services.notify.channels import DeliveryError, Webhooks
from services.notify.main import build
from services.notify.settings import NotifySettings
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration

pytestmark = pytest.mark.integration
PAYLOAD = {"notification_id": "n1", "kind": "credit_changed"}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[int, list[bytes]]]:
    seen: list[bytes] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port, seen
    await runner.cleanup()


async def test_the_channel_calls_no_private_address_unless_allowed(
        receiver: tuple[int, list[bytes]]) -> None:
    port, seen = receiver
    target = {"url": f"http://127.0.0.1:{port}/hook", "secret": "s" * 16}
    guarded = Webhooks(timeout_s=2)
    await guarded.start()
    try:
        with pytest.raises(DeliveryError) as literal:
            await guarded.send("n1", target, PAYLOAD)
        assert literal.value.reason == "webhook_target_forbidden"
        with pytest.raises(DeliveryError) as named:  # a name: refused when it is resolved
            await guarded.send("n1", {**target, "url": f"http://localhost:{port}/hook"},
                               PAYLOAD)
        assert named.value.reason in ("webhook_target_forbidden", "unreachable")
    finally:
        await guarded.stop()
    assert seen == []  # nothing reached the receiver
    local = Webhooks(timeout_s=2, allow_private=True)
    await local.start()
    try:
        await local.send("n1", target, PAYLOAD)
    finally:
        await local.stop()
    assert len(seen) == 1


async def test_the_resolver_hands_out_public_addresses_only() -> None:
    resolver = PublicResolver()
    try:
        with pytest.raises(OSError, match="no public address"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


async def test_the_api_refuses_a_private_webhook_with_its_code(
        infra: Infra, registration: Registration) -> None:
    settings = isolated_settings(infra, "notify",
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, lambda rt: build(rt, NotifySettings())) as svc, \
            aiohttp.ClientSession() as http:
        client = PlatformClient(settings.topic_prefix, settings.kafka_bootstrap,
                                {"registration": registration.svc.url, "notify": svc.url},
                                http, tokens={"operator": registration.operator_token},
                                rng=random.Random())  # codes of its own: registration is shared
        _, token = await client.entity("bidder")
        for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook",
                    "http://169.254.169.254/latest/meta-data", "http://localhost:8080/x",
                    "http://[::1]:8080/x"):
            status, body = await client.call("notify", "PUT", "/v1/me/webhook", token,
                                             {"url": url, "secret": "s" * 16})
            assert status == 422 and body["error"]["code"] == "webhook_target_forbidden", (
                url, body)
        status, body = await client.call("notify", "PUT", "/v1/me/webhook", token,
                                         {"url": "https://hooks.example.com/ggzy",
                                          "secret": "s" * 16})
        assert status == 200 and body["webhook"]["url"] == "https://hooks.example.com/ggzy"
