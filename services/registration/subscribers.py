"""Registration's subscribers: signed partner commands in, one handler call each."""

from __future__ import annotations

from contracts.registration import RegisterEntity
from contracts.topics import Audience, Stage
from ggzy.runtime.consumer import Subscription
from ggzy.runtime.service import Runtime
from services.registration.handlers import Registration


def subscriptions(rt: Runtime, app: Registration) -> list[Subscription]:
    """Partner systems register entities through signed commands (partner-facing topic)."""
    commands = rt.topic(Stage.REGISTRATION, audience=Audience.PARTNER, kind="commands")
    return [rt.subscription("registration.partner-commands", [commands],
                            {RegisterEntity: app.on_register_entity})]
