"""Composition root of the bidding service."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import Stage
from ggzy.runtime.keys import signing_key
from ggzy.runtime.service import Parts, Runtime, load_verifier
from services.bidding.api import routes
from services.bidding.auction_api import auction_routes
from services.bidding.auctions import Auctions
from services.bidding.domain.rules import RULES_FILE, load
from services.bidding.handlers import Bidding
from services.bidding.store import BiddingStore
from services.bidding.subscribers import subscriptions


def build(rt: Runtime) -> Parts:
    """Wire the bidding service onto the runtime."""
    store = BiddingStore(rt.db, store=rt.store)
    app = Bidding(tenders=rt.aggregates("tenders"), bids=rt.aggregates("bids"), store=store,
                  timers=rt.timers, categories=rt.categories,
                  book=load(Path(rt.settings.rules_file or RULES_FILE)))
    auctions = Auctions(auctions=rt.aggregates("auctions"), bidding=app, timers=rt.timers)
    api = routes(rt, app)
    auction_routes(api, rt, auctions)

    async def start() -> None:
        await store.setup()
        app.receipt_key, _ = await signing_key(rt.db, "bid-receipts")
        await load_verifier(rt)

    own = [rt.topic(Stage.BIDDING, c) for c in sorted(rt.categories)]
    return Parts(api=api, subscriptions=subscriptions(rt, app), topics=own,
                 on_start=[start])
