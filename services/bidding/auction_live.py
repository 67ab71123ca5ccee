"""A sale's public view pushed live over WebSocket (竞价实况), from any replica.

A client connected to ``GET /v1/auctions/{id}/live`` gets the public view at once
(what ``GET /v1/auctions/{id}`` shows: the top price and paddle, the number of
offers, the end, never who bid and never the base price), then again each time it
changes. Changes come from the sale's events on bidding's topic, which every
replica follows with no consumer group (``ggzy.runtime.follow``: an offer taken
by replica A reaches a client of replica B), and from the clock: a view that
changes with time alone (offers open, the end is reached) is pushed at that time.
Each push is the view read from the store, so a client never sees a state the
sale was not in, and a client is not sent a view it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ggzy.runtime.aggregates import now_ms
from ggzy.runtime.errors import DomainError
from ggzy.runtime.follow import Clients
from ggzy.runtime.http import ws_refuse, ws_until_closed
from services.bidding.auction_api import public_view
from services.bidding.auctions import Auctions

log = logging.getLogger("ggzy.bidding.live")

TIME_SLACK_MS = 50  # a boundary is rendered just after it, not just before


class LiveAuctions:
    """The WebSocket clients of each sale on this replica, and what they last got."""

    def __init__(self, auctions: Auctions) -> None:
        self.auctions = auctions
        self.clients = Clients()
        self._last: dict[web.WebSocketResponse, dict[str, Any]] = {}  # what each client got
        self._locks: dict[str, asyncio.Lock] = {}
        self._clock: dict[str, asyncio.TimerHandle] = {}
        self._chores: set[asyncio.Task[None]] = set()
        self.follow: Callable[[], Awaitable[None]] | None = None  # the events' follower

    async def on_event(self, auction_id: str, ce_type: str, value: bytes) -> None:
        await self.refresh(auction_id)

    async def watch(self, request: web.Request) -> web.WebSocketResponse:
        """The WebSocket handler: the view now, then every change, until the client goes."""
        auction_id = request.match_info["auction_id"]
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        if self.follow is not None:  # following first: a change after the read is seen
            await self.follow()
        lock = self._locks.setdefault(auction_id, asyncio.Lock())
        async with lock:  # joined before the read: a later change renders after this
            self.clients.join(auction_id, ws)
            try:
                state = await self.auctions.get(auction_id)
            except DomainError as exc:
                self._leave(auction_id, ws)
                return await ws_refuse(ws, exc)
            await self._send(ws, self._view(state))
            self._schedule(auction_id, state)
        try:
            await ws_until_closed(ws)
        finally:
            self._leave(auction_id, ws)
        return ws

    async def refresh(self, auction_id: str) -> None:
        """Read the sale and push its view to its clients here if it changed."""
        lock = self._locks.setdefault(auction_id, asyncio.Lock())
        async with lock:  # one read and push at a time per sale: pushes stay in order
            if auction_id not in self.clients:
                return
            state = await self.auctions.get(auction_id)
            view = self._view(state)
            for ws in self.clients.of(auction_id):
                await self._send(ws, view)
            self._schedule(auction_id, state)

    @staticmethod
    def _view(state: dict[str, Any]) -> dict[str, Any]:
        """The public view now, as the client receives it (JSON)."""
        return {"type": "state",
                **json.loads(json.dumps(public_view(state, now_ms()), default=str))}

    def _schedule(self, auction_id: str, state: dict[str, Any]) -> None:
        """Render again at the next time the view changes by the clock alone."""
        now = now_ms()
        later = [int(state[k]) for k in ("start_ms", "end_ms") if int(state[k]) > now]
        old = self._clock.pop(auction_id, None)
        if old is not None:
            old.cancel()
        if later and auction_id in self.clients:
            delay = (min(later) - now + TIME_SLACK_MS) / 1000
            self._clock[auction_id] = asyncio.get_running_loop().call_later(
                delay, self._soon, auction_id)

    def _soon(self, auction_id: str) -> None:
        task = asyncio.create_task(self._refresh_quietly(auction_id))
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _refresh_quietly(self, auction_id: str) -> None:
        try:
            await self.refresh(auction_id)
        except Exception:  # the next event or boundary renders again
            log.exception("live view not refreshed", extra={"auction_id": auction_id})

    async def _send(self, ws: web.WebSocketResponse, view: dict[str, Any]) -> None:
        """Push the view unless this client already has it."""
        if self._last.get(ws) == view:
            return
        self._last[ws] = view
        with contextlib.suppress(ConnectionError, RuntimeError):  # gone: left on its close
            await ws.send_json(view)

    def _leave(self, auction_id: str, ws: web.WebSocketResponse) -> None:
        self._last.pop(ws, None)
        if self.clients.leave(auction_id, ws):  # its last client: nothing more to keep
            self._locks.pop(auction_id, None)
            handle = self._clock.pop(auction_id, None)
            if handle is not None:
                handle.cancel()

    async def close(self) -> None:
        for handle in self._clock.values():
            handle.cancel()
        for task in list(self._chores):
            task.cancel()
        await self.clients.close()
