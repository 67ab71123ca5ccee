"""Notify use cases: an event in, the notifications it owes queued on their lanes.

For every route (recipient and kind) the text is rendered in the recipient's
language from the kind's context only, and one delivery is queued per channel the
recipient has: the inbox always, its webhook when set, e-mail when an address is
known (its own, else registration's) and an SMTP relay is configured.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.bidding import (
    AuctionPublished,
    BidSubmitted,
    TenderDocumentsObtained,
    TenderPublished,
)
from contracts.credit import ComplaintFiled, RiskAlertRaised
from contracts.notify import Channel
from contracts.registration import EntityKind
from ggzy.runtime.aggregates import Cause, Doc, Outgoing, now_ms
from ggzy.runtime.consumer import Incoming
from services.notify.domain import recipients as r
from services.notify.domain import routing, templates
from services.notify.domain.routing import Route
from services.notify.domain.templates import Templates
from services.notify.lanes import FastLane, Publish, PublishAll, queued, queued_id, receipt_of
from services.notify.queue import Spec
from services.notify.store import NotifyStore


@dataclass
class Notify:
    """The notify application: routing, rendering and queueing (on the fast lane)."""

    store: NotifyStore
    templates: Templates
    mail_endpoint: str | None  # the SMTP relay, or None when e-mail is off
    publish: Publish  # Runtime.publish_now
    publish_all: PublishAll  # Runtime.publish_all
    lane: FastLane  # delivers the inbox at once, and the queued rest in order per lane

    async def on_bidding(self, msg: Incoming[Any]) -> None:
        """A tender's step: its parties (learnt from the events) hear what concerns them."""
        event = msg.message
        if isinstance(event, TenderPublished):
            await self.store.remember_tender(event.tender_id, event.tenderee_uscc,
                                             event.agency_uscc)
        elif isinstance(event, BidSubmitted | TenderDocumentsObtained):  # told from now on
            await self.store.add_bidder(event.tender_id, event.bidder_uscc)
        parties = await self.store.parties(event.tender_id)
        supervisors = await self.store.supervisors() if isinstance(event, routing.OVERDUE) \
            else []
        await self.notify(msg, routing.tender_routes(event, parties, supervisors))

    async def on_auction(self, msg: Incoming[Any]) -> None:
        """A sale's announcement and result: its seller and its winner hear them."""
        event = msg.message
        if isinstance(event, AuctionPublished):
            await self.store.remember_tender(event.auction_id, event.seller_uscc, None)
        parties = await self.store.parties(event.auction_id)
        await self.notify(msg, routing.auction_routes(event, parties))

    async def on_credit(self, msg: Incoming[Any]) -> None:
        """Credit facts reach their subject; risk alerts and new complaints reach every
        supervisor."""
        [outcome] = await self.on_credit_many([msg])
        if outcome is not None:
            raise outcome

    async def on_credit_many(self, msgs: list[Incoming[Any]]) -> list[Exception | None]:
        """``on_credit`` for a fetched batch at once (``notify_many``)."""
        alerts = any(isinstance(msg.message, RiskAlertRaised | ComplaintFiled) for msg in msgs)
        supervisors = await self.store.supervisors() if alerts else []
        return await self.notify_many(
            [(msg, functools.partial(routing.credit_routes, msg.message, supervisors))
             for msg in msgs])

    async def on_notice(self, msg: Incoming[Any]) -> None:
        """A public notice reaches the subscribers it matches."""
        notice = msg.message
        interests = await self.store.interests(notice.category.value)
        await self.notify(msg, routing.notice_routes(notice, interests))

    async def on_registration(self, msg: Incoming[Any]) -> None:
        """Default e-mail addresses, and which entities are supervising departments."""
        event = msg.message
        if hasattr(event, "entity"):
            e = event.entity
            emails = [c.email for c in e.contacts if c.email]
            await self.store.project(r.entity(e.uscc), event.entity_version, emails,
                                     EntityKind.SUPERVISOR in e.kinds)
        else:
            x = event.expert
            await self.store.project(r.expert(x.expert_id), event.expert_version,
                                     [x.email] if x.email else [], False)

    async def notify(self, msg: Incoming[Any], routes: list[Route]) -> None:
        """Queue every delivery the routes owe."""
        [outcome] = await self.notify_many([(msg, lambda: routes)])
        if outcome is not None:
            raise outcome

    async def notify_many(self, routed: list[tuple[Incoming[Any], Callable[[], list[Route]]]]
                          ) -> list[Exception | None]:
        """Queue every delivery the events' routes owe, for several events at once (in
        their order); return each one's outcome (None: done). After the first that
        fails, none is done (each is handled again on its own, in order).

        The inbox at once; the others on their lanes (services.notify.lanes), all
        published together with the inbox's receipts. A redelivered event does it all
        again under the same ids: each is delivered once. The inbox is written first: a
        recipient's inbox new now says its other notifications of the event were never
        queued before (``first``: their lane need not read whether one was delivered)."""
        causes: list[Cause] = []
        planned: list[list[tuple[Incoming[Any], Route]]] = []
        failed: Exception | None = None
        for msg, routes_of in routed:
            try:
                routes = routes_of()
            except Exception as exc:  # this one and the later ones go on their own
                failed = exc
                break
            causes.append(_cause(msg))
            planned.append([(msg, route) for route in routes])
        docs = await self.store.recipients_by_id(
            route.recipient for pairs in planned for _, route in pairs)
        specs = [[spec for msg, route in pairs for spec in self.specs(
            msg, route, docs.get(route.recipient) or {"_id": route.recipient})]
            for pairs in planned]
        now = now_ms()
        inbox = [(i, spec) for i, of in enumerate(specs) for spec in of
                 if spec.channel == Channel.INBOX]
        written = await self.lane.write_inboxes([spec for _, spec in inbox], now)
        done = len(specs)
        for (i, _), result in zip(inbox, written, strict=True):
            if isinstance(result, Exception) and i < done:
                done, failed = i, result
        new = {(i, spec.recipient) for (i, spec), fresh in zip(inbox, written, strict=True)
               if fresh is True}
        seen: set[str] = set()  # queued before in this batch (an event twice, a route twice)
        groups: list[tuple[list[tuple[Outgoing, str]], Cause]] = []
        for i, of in enumerate(specs[:done]):
            events = [receipt_of(spec) for spec in of if spec.channel == Channel.INBOX]
            for spec in of:
                if spec.channel != Channel.INBOX:
                    first = (i, spec.recipient) in new and spec.notification_id not in seen
                    seen.add(spec.notification_id)
                    events.append((Outgoing(queued(spec, first)),
                                   queued_id(spec.notification_id)))
            groups.append((events, causes[i]))
        try:
            await self.publish_all(groups)
        except Exception as exc:
            return [exc] * len(routed)
        return [None] * done + [failed] * (len(routed) - done)

    def specs(self, msg: Incoming[Any], route: Route, doc: Doc) -> list[Spec]:
        """The deliveries of one route: one per channel of the recipient."""
        env, rid = msg.envelope, route.recipient
        ctx = templates.context(route.kind, msg.message)
        lang = str(doc.get("lang") or "zh")
        text = self.templates.render(route.kind, lang, ctx)
        created_at = datetime.now(UTC).isoformat()  # one notification, on every channel
        out: list[Spec] = []
        for channel, endpoint, target in self._channels(doc):
            nid = r.notification_id(env.id, rid, channel)
            payload = {"notification_id": nid, "kind": route.kind, "recipient": rid,
                       "channel": channel.value, "lang": lang, "title": text.title,
                       "body": text.body, "data": ctx, "source_event_id": env.id,
                       "source_event_type": env.type,
                       "created_at": created_at}
            out.append(Spec(nid, r.lane_id(rid, channel), rid, channel, route.kind, endpoint,
                            target, payload, env.id, env.type))
        return out

    def _channels(self, doc: Doc) -> list[tuple[Channel, str, dict[str, Any]]]:
        out: list[tuple[Channel, str, dict[str, Any]]] = [(Channel.INBOX, "inbox", {})]
        hook = doc.get("webhook") or {}
        if hook.get("url") and hook.get("enabled", True):
            out.append((Channel.WEBHOOK, hook["url"], {"url": hook["url"],
                                                       "secret": hook["secret"]}))
        mail = doc.get("email") or {}
        address = mail.get("address") or next(iter(doc.get("default_emails") or []), None)
        if self.mail_endpoint and address and mail.get("enabled", True):
            out.append((Channel.EMAIL, self.mail_endpoint, {"address": address}))
        return out


def _cause(msg: Incoming[Any]) -> Cause:
    return Cause(message_id=msg.envelope.id, correlation_id=msg.envelope.correlationid)
