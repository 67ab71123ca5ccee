"""Composition root of the notify service."""

from __future__ import annotations

from contracts.notify import Channel
from contracts.topics import Stage
from ggzy.runtime.follow import Follower
from ggzy.runtime.service import Parts, Runtime, load_verifier
from services.notify.api import routes
from services.notify.channels import InboxHub, Mail, Webhooks
from services.notify.courier import Courier, NotifyMetrics, Send
from services.notify.domain.templates import Templates
from services.notify.handlers import Notify
from services.notify.lanes import FastLane
from services.notify.queue import DeliveryQueue
from services.notify.settings import NotifySettings
from services.notify.store import NotifyStore
from services.notify.subscribers import subscriptions


def build(rt: Runtime, settings: NotifySettings | None = None) -> Parts:
    """Wire the notify service onto the runtime."""
    cfg = settings or NotifySettings()
    store = NotifyStore(rt.db, rt.store)
    queue = DeliveryQueue(rt.aggregates("deliveries"), rt.db["lanes"])
    hub, webhooks = InboxHub(), Webhooks(cfg.webhook_timeout_s, cfg.webhook_allow_private)
    mail = Mail(cfg.smtp_host, cfg.smtp_port, cfg.smtp_from, cfg.smtp_timeout_s)

    async def inbox(nid: str, target: dict[str, object], payload: dict[str, object]) -> None:
        """The inbox is the store itself: marking it delivered puts it in the inbox."""

    senders: dict[Channel, Send] = {Channel.WEBHOOK: webhooks.send, Channel.EMAIL: mail.send,
                                    Channel.INBOX: inbox}
    courier = Courier(queue, senders, hub.push,
                      policy=cfg.retry_policy(), breakers=cfg.breakers(),
                      metrics=NotifyMetrics(rt.metrics.registry), workers=cfg.workers,
                      lease_ms=int(cfg.lease_s * 1000), grace_ms=cfg.gap_grace_ms,
                      batch=cfg.batch, window=cfg.window)
    lane = FastLane(queue, courier, store, senders, rt.publish_all,
                    end_offsets=rt.end_offsets)
    app = Notify(store, Templates.load(), mail.endpoint if cfg.smtp_host else None,
                 rt.publish_now, rt.publish_all, lane)

    own = [rt.topic(Stage.NOTIFY), rt.topic(Stage.NOTIFY, kind="deliveries")]
    # the receipts of every replica, for this replica's live clients
    receipts = Follower(rt.settings.kafka_bootstrap, [own[0]], hub.clients.listening,
                        lambda rid, ce_type, value: hub.on_receipt(rid, ce_type, value,
                                                                   queue.inbox_item))
    hub.follow = receipts.start  # with the first live client

    async def start() -> None:
        await store.setup()
        await queue.setup()
        await load_verifier(rt)
        await webhooks.start()
        await courier.start()

    async def stop() -> None:
        await receipts.stop()
        await courier.stop()
        await hub.close()
        await webhooks.stop()

    api = routes(rt, store, queue, hub, cfg.webhook_allow_private)
    # Every delivery allocates a few hundred short-lived containers: at CPython's 700 the
    # young generation was collected ~150 times a second and the collector took 13% of
    # the process's CPU (bench/README.md, notify session 7)
    return Parts(api=api, subscriptions=subscriptions(rt, app, lane),
                 topics=own, on_start=[start], on_stop=[stop],
                 gc_thresholds=(20_000, 50, 100))
