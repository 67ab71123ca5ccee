"""Composition root of the bidding service."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import Stage
from ggzy.runtime.follow import Follower
from ggzy.runtime.keys import signing_key
from ggzy.runtime.service import Parts, Runtime, load_verifier
from services.bidding.api import routes
from services.bidding.auction_api import auction_routes
from services.bidding.auction_live import LiveAuctions
from services.bidding.auctions import Auctions
from services.bidding.domain.rules import RULES_FILE, load
from services.bidding.handlers import Bidding, Context
from services.bidding.store import BiddingStore
from services.bidding.subscribers import subscriptions

# Allocations between two young passes of the cyclic garbage collector (CPython's
# default is 700), as registration's: in a deadline burst the bids in flight keep their
# objects alive, young passes promote them, and the full passes that follow (~90 ms of
# CPU over the start-up heap, the event loop stopped) land on every bid in flight. At
# 50,000 a burst's garbage waits for a young pass every ~50,000 allocations instead
# (bench/README.md, bidding.py, session 9). ``GGZY_GC_THRESHOLDS`` still overrides.
GC_THRESHOLDS = (50_000, 10, 10)


def build(rt: Runtime) -> Parts:
    """Wire the bidding service onto the runtime."""
    store = BiddingStore(rt.db, store=rt.store)
    app = Bidding(Context(tenders=rt.aggregates("tenders"), bids=rt.aggregates("bids"),
                          store=store, timers=rt.timers, categories=rt.categories,
                          book=load(Path(rt.settings.rules_file or RULES_FILE)),
                          evaluation_venue=rt.settings.evaluation_venue))
    auctions = Auctions(auctions=rt.aggregates("auctions"), bidding=app.ctx,
                        parties=app.parties, timers=rt.timers)
    api = routes(rt, app)
    auction_routes(api, rt, auctions)
    live = LiveAuctions(auctions)
    api.route("GET", "/v1/auctions/{auction_id}/live", summary="WebSocket: the sale's public "
              "view now and at each change (竞价实况: top price, paddle, offers, end)",
              errors=("404",))(live.watch)
    own = [rt.topic(Stage.BIDDING, c) for c in sorted(rt.categories)]
    # the sales' events of every replica, for this replica's live clients
    follower = Follower(rt.settings.kafka_bootstrap, own, live.clients.listening,
                        live.on_event)
    live.follow = follower.start  # with the first live client

    async def start() -> None:
        await store.setup()
        app.ctx.receipt_key, _ = await signing_key(rt.db, "bid-receipts")
        await load_verifier(rt)

    async def stop() -> None:
        await follower.stop()
        await live.close()

    return Parts(api=api, subscriptions=subscriptions(rt, app, auctions), topics=own,
                 on_start=[start], on_stop=[stop], gc_thresholds=GC_THRESHOLDS)
