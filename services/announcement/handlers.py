"""Announcement use cases: a notice per public bidding event, publicity timers, objections."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.announcement import NoticePublished, PublicityPeriodEnded
from contracts.bidding import TenderPublished
from contracts.categories import Category
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Outgoing, now_ms
from ggzy.runtime.auth import Principal
from ggzy.runtime.consumer import Incoming
from ggzy.runtime.errors import DomainError, NotFound
from ggzy.runtime.timers import Timer, Timers
from services.announcement import domain
from services.announcement.store import NoticeStore

PUBLICITY = "publicity_end"


class Announcement:
    """The announcement application."""

    def __init__(self, *, notices: Aggregates, store: NoticeStore, timers: Timers,
                 publicity: dict[Category, domain.Publicity]) -> None:
        self.notices = notices
        self.store = store
        self.timers = timers
        self.publicity = publicity
        timers.on(PUBLICITY, self.on_publicity_end)

    async def on_bidding_event(self, msg: Incoming[Any]) -> None:
        """Publish the notice a bidding event requires (once, whatever the redelivery)."""
        event, env = msg.message, msg.envelope
        if isinstance(event, TenderPublished):
            await self.store.remember_tender(event.tender_id, {
                "project_name": event.project_name, "category": event.category.value,
                "region_code": event.region_code})
        tender = await self.store.tender(event.tender_id) or {}
        draft = domain.draft(event, tender.get("project_name", event.tender_id))
        if draft is None or not tender:
            return
        notice_id = f"{event.tender_id}:{draft.notice_type.value}:{env.id[:12]}"
        if await self.notices.get(notice_id) is not None:
            return  # redelivered: already published
        await self._publish(notice_id, draft, tender, event.tender_id,
                            Cause(message_id=env.id, correlation_id=env.correlationid))

    async def _publish(self, notice_id: str, draft: domain.Draft, tender: dict[str, Any],
                       tender_id: str, cause: Cause) -> None:
        category = Category(tender["category"])
        now = datetime.now(UTC)
        end = self.publicity[category].end(now) if draft.publicity else None
        event = NoticePublished(notice_id=notice_id, notice_type=draft.notice_type,
                                tender_id=tender_id, section_code=draft.section_code,
                                category=category, region_code=tender["region_code"],
                                title=draft.title, content=draft.content, published_at=now,
                                publicity_end=end)
        seq = await self.store.allocate()
        try:
            state = {**event.model_dump(mode="json"), "seq": seq, "published_ms": now_ms(),
                     "text": str(draft.content), "objections": {}, "objection_upheld": 0,
                     "stat_key": f"{category.value}:{draft.notice_type.value}",
                     "publicity_end_ms": int(end.timestamp() * 1000) if end else 0}
            await self.notices.create(notice_id, state, [Outgoing(event, category)], cause)
        finally:
            await self.store.release(seq)
        if end is not None:
            await self.timers.schedule(f"{PUBLICITY}:{notice_id}", PUBLICITY,
                                       state["publicity_end_ms"], {"notice_id": notice_id})

    async def on_publicity_end(self, timer: Timer) -> None:
        """The publicity period ended: tell bidding whether an objection was upheld."""
        notice_id = timer.payload["notice_id"]

        def decide(state: dict[str, Any], version: int) -> Change:
            if state.get("publicity_closed"):
                return Change()
            event = PublicityPeriodEnded(notice_id=notice_id, tender_id=state["tender_id"],
                                         section_code=state["section_code"],
                                         objection_upheld=bool(state["objection_upheld"]),
                                         ended_at=datetime.now(UTC))
            return Change(set={"publicity_closed": 1},
                          events=[Outgoing(event, Category(state["category"]))])

        await self.notices.update(notice_id, decide, Cause(message_id=f"timer:{timer.timer_id}"))

    async def notice(self, notice_id: str) -> dict[str, Any]:
        doc = await self.notices.get(notice_id)
        if doc is None:
            raise NotFound("notice_not_found", f"no notice {notice_id}")
        return doc

    async def object(self, notice_id: str, who: Principal, text: str) -> str:
        """A bidder's objection during the publicity period (异议, 条例54)."""
        objection_id = uuid.uuid4().hex[:12]

        def decide(state: dict[str, Any], version: int) -> Change:
            domain.check_objection_window(state, now_ms())
            return Change(set={f"objections.{objection_id}": {
                "by": who.uscc, "text": text, "status": "pending", "at_ms": now_ms()}})

        await self.notices.update(notice_id, decide)
        return objection_id

    async def decide_objection(self, notice_id: str, objection_id: str, upheld: bool,
                               who: Principal) -> None:
        """A supervisor upholds or dismisses an objection."""

        def decide(state: dict[str, Any], version: int) -> Change:
            if objection_id not in state.get("objections", {}):
                raise NotFound("objection_not_found", f"no objection {objection_id}")
            if state.get("publicity_closed"):
                raise DomainError("publicity_ended", "the publicity period has ended")
            sets: dict[str, Any] = {
                f"objections.{objection_id}.status": "upheld" if upheld else "dismissed",
                f"objections.{objection_id}.decided_by": who.subject}
            if upheld:
                sets["objection_upheld"] = 1
            return Change(set=sets)

        await self.notices.update(notice_id, decide)
