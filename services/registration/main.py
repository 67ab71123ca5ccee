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
                 topics=[rt.topic(Stage.REGISTRATION)], on_start=[start])
