"""Composition root of the announcement service."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import Audience, Stage
from ggzy.runtime.service import Parts, Runtime, load_verifier
from services.announcement.api import routes
from services.announcement.handlers import Announcement
from services.announcement.rules import RULES_FILE, load_rules
from services.announcement.store import NoticeStore
from services.announcement.subscribers import subscriptions
from services.announcement.syndication import (
    Syndication,
    SyndicationMetrics,
    SyndicationSettings,
)


def build(rt: Runtime) -> Parts:
    """Wire the announcement service onto the runtime."""
    store = NoticeStore(rt.db)
    app = Announcement(notices=rt.aggregates("notices"), store=store, timers=rt.timers,
                       rules=load_rules(Path(rt.settings.rules_file or RULES_FILE)))

    syndication = Syndication(rt.db, store, SyndicationSettings(),
                              SyndicationMetrics(rt.metrics.registry))

    async def start() -> None:
        await store.setup()
        await load_verifier(rt)
        await syndication.start()

    cats = sorted(rt.categories)
    own = [rt.topic(Stage.ANNOUNCEMENT, c) for c in cats]
    own += [rt.topic(Stage.ANNOUNCEMENT, c, audience=Audience.PARTNER) for c in cats]
    return Parts(api=routes(rt, app, syndication), subscriptions=subscriptions(rt, app),
                 topics=own, on_start=[start], on_stop=[syndication.stop])
