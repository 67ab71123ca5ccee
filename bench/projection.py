"""The benchmark's downstream service: the platform's idempotent-consumer pattern, bare.

It subscribes to registration's topic and, for each EntityRegistered, creates one
document in its ``seen`` collection through ``Aggregates.create`` with the
incoming message id as the cause (recorded in the same single-document write, so
a redelivered message is a no-op). Nothing else: what it costs is what the
runtime's consumption path costs. ``applied_at`` (epoch ms) lets the benchmark
measure the delivery latency up to the applied effect.

    GGZY_HTTP_PORT=8199 ... python -m bench.projection      (from the repository root)
"""

from __future__ import annotations

from contracts.registration import EntityRegistered
from contracts.topics import Stage
from ggzy.runtime import logs
from ggzy.runtime.aggregates import Cause, now_ms
from ggzy.runtime.consumer import Incoming
from ggzy.runtime.http import Api
from ggzy.runtime.service import Parts, Runtime, run
from ggzy.runtime.settings import Settings

SERVICE = "projection"
GROUP = "bench.projection"
COLLECTION = "seen"


def build(rt: Runtime) -> Parts:
    """Subscribe to EntityRegistered and record each entity once in ``seen``."""
    seen = rt.aggregates(COLLECTION)

    async def on_registered(incoming: Incoming[EntityRegistered]) -> None:
        event = incoming.message
        state = {"name": event.entity.name, "entity_version": event.entity_version,
                 "applied_at": now_ms()}
        cause = Cause(message_id=incoming.envelope.id,
                      correlation_id=incoming.envelope.correlationid)
        await seen.create(event.entity.uscc, state, [], cause)

    sub = rt.subscription(GROUP, [rt.topic(Stage.REGISTRATION)],
                          {EntityRegistered: on_registered})
    return Parts(api=Api(title="bench projection"), subscriptions=[sub])


def main() -> None:
    """Serve until SIGTERM/SIGINT (settings from GGZY_* variables)."""
    settings = Settings().for_service(SERVICE)
    logs.configure(settings.log_level)
    run(settings, build)


if __name__ == "__main__":
    main()
