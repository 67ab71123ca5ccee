"""A sale's public view pushed live (竞价实况) to WebSocket clients of two bidding replicas,
end to end: offers taken by one replica reach a client of the other, the opening of
offers and the close are pushed by the clock and the timer, and no push names a bidder
or the base price."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ggzy.testing.kafka import eventually
from ggzy.testing.processes import ServiceProcess
from ggzy.testing.services import free_port
from tests.e2e.conftest import Platform
from tests.e2e.test_auction import WAN, _announce, _body, _offer


@pytest.fixture
def second_bidding(platform_procs: dict[str, ServiceProcess],
                   tmp_path: Path) -> Iterator[ServiceProcess]:
    """Another replica of bidding: the same deployment (topics, store), its own port."""
    first = platform_procs["bidding"]
    port = free_port()
    proc = ServiceProcess("bidding", {**first.env, "GGZY_HTTP_PORT": str(port)},
                          tmp_path / "bidding-2.log", port).start()
    try:
        yield proc
    finally:
        proc.stop()


class Watcher:
    """A WebSocket client of one replica, keeping every view pushed to it."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.views: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.views.append(json.loads(message.data))

    async def until(self, check: Any, within: float = 30) -> dict[str, Any]:
        async def seen() -> dict[str, Any] | None:
            return next((v for v in self.views if check(v)), None)
        found: dict[str, Any] = await eventually(seen, within=within)
        return found


async def test_offers_and_the_close_are_pushed_live_to_clients_of_every_replica(
        platform: Platform, second_bidding: ServiceProcess) -> None:
    p = platform
    seller, s_token = await p.entity("tenderee", name="示例市自然资源和规划局")
    (a, a_token), (b, b_token) = [await p.entity("bidder", name=f"实况{i}置业有限公司")
                                  for i in range(2)]
    # long enough for two offers, each awaited on both replicas' pushes, on a busy machine
    auction_id = await _announce(p, s_token, _body(seller, listing_s=10))
    assert p.http is not None
    urls = [u.replace("http", "ws") + f"/v1/auctions/{auction_id}/live"
            for u in (p.url("bidding"), second_bidding.url)]
    watchers = [Watcher(await p.http.ws_connect(url)) for url in urls]
    try:
        for w in watchers:  # the view at once, before offers open
            first = await w.until(lambda v: v["type"] == "state")
            assert first["status"] == "announced" and first["offers"] == 0
        for w in watchers:  # offers open by the clock alone: pushed at the start
            await w.until(lambda v: v["status"] == "bidding")
        status, out = await _offer(p, auction_id, a_token, 1000 * WAN)  # via the first
        assert status == 201, out
        for w in watchers:
            seen = await w.until(lambda v: v["offers"] == 1)
            assert (seen["top_price_fen"], seen["top_paddle"]) == (1000 * WAN, 1)
        status, out = await _offer(p, auction_id, b_token, 1100 * WAN)
        assert status == 201, out
        for w in watchers:
            seen = await w.until(lambda v: v["offers"] == 2)
            assert (seen["top_price_fen"], seen["top_paddle"]) == (1100 * WAN, 2)
            assert seen["minimum_offer_fen"] == 1110 * WAN
        for w in watchers:  # the end of listing: the close by the durable timer
            closed = await w.until(lambda v: v["status"] == "closed", within=40)
            assert closed["result"]["price_fen"] == 1100 * WAN
    finally:
        for w in watchers:
            await w.ws.close()
            await w.task
    for w in watchers:
        text = json.dumps(w.views, ensure_ascii=False)
        assert a not in text and b not in text  # nobody learns who offered
        assert str(1050 * WAN) not in text and "base_price_fen" not in text
        offers = [v["offers"] for v in w.views]
        assert offers == sorted(offers)  # pushed in order, never a state gone back
        # each view once: no client gets the same view twice in a row
        assert all(x != y for x, y in zip(w.views, w.views[1:], strict=False))


async def test_a_live_view_of_an_unknown_sale_is_refused(platform: Platform) -> None:
    assert platform.http is not None
    url = platform.url("bidding").replace("http", "ws") + "/v1/auctions/nope/live"
    async with platform.http.ws_connect(url) as ws:
        refused = await ws.receive_json(timeout=10)
    assert refused["type"] == "error" and refused["code"] == "auction_not_found"
