"""Composition root of the registration service."""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.topics import Stage
from ggzy.runtime.auth import TokenIssuer, TokenVerifier
from ggzy.runtime.service import Parts, Runtime
from services.registration.api import routes
from services.registration.handlers import Registration
from services.registration.store import RegistrationStore
from services.registration.subscribers import subscriptions

CATALOG = Path(__file__).with_name("specialties.yaml")
# Allocations between two young passes of the cyclic garbage collector (CPython's
# default is 700). At 500 registrations/s the requests in flight keep enough objects
# alive that at 700 they were promoted by the thousands, and the old generation's full
# passes over the ~86,000 objects start-up leaves (30-70 ms of CPU each, the event loop
# stopped) came every ~3 s: every request in flight waited for them, the HTTP p99's
# main cause. At 50,000 no pass at all ran in a 20 s open loop (bench/README.md,
# pipeline.py, session 8).
GC_THRESHOLDS = (50_000, 10, 10)


def build(rt: Runtime) -> Parts:
    """Wire the registration service onto the runtime."""
    store = RegistrationStore(rt.db)
    catalog = {str(k): str(v) for k, v in yaml.safe_load(CATALOG.read_text("utf-8")).items()}
    app = Registration(entities=rt.aggregates("entities"), experts=rt.aggregates("experts"),
                       partners=rt.aggregates("partners"), store=store, catalog=catalog)

    async def start() -> None:
        await store.setup()
        key, kid = await store.signing_key(rt.settings.signing_key_file)
        app.issuer = TokenIssuer(key, kid)
        rt.verifier = TokenVerifier(app.issuer.jwks())
        if rt.settings.bootstrap_operator:
            await app.bootstrap_operator(rt.settings.bootstrap_operator)

    return Parts(api=routes(rt, app), subscriptions=subscriptions(rt, app),
                 topics=[rt.topic(Stage.REGISTRATION)], on_start=[start],
                 gc_thresholds=GC_THRESHOLDS)
