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
# Allocations between two young passes of the cyclic garbage collector (CPython's
# default is 700). A fetched batch of up to 500 events keeps ~30,000 objects alive
# while it is decided and written: at 700 nearly all of them outlived two young passes
# and reached the old generation, whose full passes (50-80 ms each, over the ~110,000
# objects start-up leaves) then came every ~1,500 events (bench/README.md, session 7).
GC_THRESHOLDS = (50_000, 10, 10)
# How often the timers look for one another replica scheduled (credit's are the ends of
# restrictions, due at a local midnight; its own schedules wake the timers at once and
# a known due time is slept to exactly). At the runtime's 0.2 s, two store round trips
# each time, an idle credit spent 3.5% of a core; 3.1% at 1 s.
TIMERS_POLL_S = 1.0
# The relay's sweep when nothing woke it (a floor on GGZY_RELAY_INTERVAL_S): credit's
# writes hand their events to the relay at once or wake its sweep, so the periodic one
# only finds what a failed publish released or a stopped replica's expired lease left;
# its finds on three collections every 0.5 s were about a fifth of an idle credit's
# CPU under cProfile.
RELAY_SWEEP_S = 2.0


def build(rt: Runtime) -> Parts:
    """Wire the credit service onto the runtime."""
    store = CreditStore(rt.db)
    rules = load(Path(rt.settings.rules_file or RULES_FILE))
    rt.timers.interval_s = max(rt.timers.interval_s, TIMERS_POLL_S)
    rt.relay.interval_s = max(rt.relay.interval_s, RELAY_SWEEP_S)
    app = Credit(accounts=rt.aggregates("accounts", cache_size=ACCOUNTS_CACHED),
                 alerts=rt.aggregates("alerts"),
                 store=store, timers=rt.timers, rules=rules)
    complaints = Complaints(complaints=rt.aggregates("complaints"), store=store, credit=app,
                            rules=rules)

    async def start() -> None:
        await store.setup()
        await load_verifier(rt)
        await app.repair.arm_record_sweep()  # records past their period (有效期) stop counting

    return Parts(api=routes(rt, app, complaints), subscriptions=subscriptions(rt, app),
                 topics=[rt.topic(Stage.CREDIT), rt.topic(Stage.CREDIT, kind="records")],
                 on_start=[start], gc_thresholds=GC_THRESHOLDS)
