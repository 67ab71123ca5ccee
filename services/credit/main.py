"""Composition root of the credit service."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import Stage
from ggzy.runtime.service import Parts, Runtime, load_verifier
from services.credit.api import routes
from services.credit.complaints import Complaints
from services.credit.domain.rules import RULES_FILE, load
from services.credit.handlers import Credit
from services.credit.store import CreditStore
from services.credit.subscribers import subscriptions

ACCOUNTS_CACHED = 10_000  # account documents kept to write records on without a read


def build(rt: Runtime) -> Parts:
    """Wire the credit service onto the runtime."""
    store = CreditStore(rt.db)
    rules = load(Path(rt.settings.rules_file or RULES_FILE))
    app = Credit(accounts=rt.aggregates("accounts", cache_size=ACCOUNTS_CACHED),
                 alerts=rt.aggregates("alerts"),
                 store=store, timers=rt.timers, rules=rules)
    complaints = Complaints(complaints=rt.aggregates("complaints"), store=store, credit=app,
                            rules=rules)

    async def start() -> None:
        await store.setup()
        await load_verifier(rt)

    return Parts(api=routes(rt, app, complaints), subscriptions=subscriptions(rt, app),
                 topics=[rt.topic(Stage.CREDIT), rt.topic(Stage.CREDIT, kind="records")],
                 on_start=[start])
