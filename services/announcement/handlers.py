"""Announcement use cases: a notice per public bidding event, publicity timers, objections."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.announcement import (
    NoticeCorrected,
    NoticePublished,
    PublicityObjectionAnswered,
    PublicityObjectionFiled,
    PublicityObjectionOverdue,
    PublicityPeriodEnded,
)
from contracts.bidding import AuctionClosed, AuctionPublished, Awarded, TenderPublished
from contracts.categories import Category
from contracts.envelope import Envelope
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Doc, Outgoing, now_ms
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.consumer import Incoming
from ggzy.runtime.errors import Conflict, DomainError, Forbidden, NotFound
from ggzy.runtime.timers import Timer, Timers
from services.announcement import domain
from services.announcement.rules import CategoryRules
from services.announcement.store import NOTICE, NoticeStore

PUBLICITY = "publicity_end"  # the kind of timer that ends a publicity period
OBJECTION_DUE = "objection_due"  # ... and of the one at an objection's answer due time


class Announcement:
    """The announcement application: notices, publicity periods and objections."""

    def __init__(self, *, notices: Aggregates, store: NoticeStore, timers: Timers,
                 rules: Mapping[Category, CategoryRules]) -> None:
        self.notices = notices
        self.store = store
        self.timers = timers
        self.rules = rules
        timers.on(PUBLICITY, self.on_publicity_end)
        timers.on(OBJECTION_DUE, self.on_objection_due)

    # notices from bidding's events ----------------------------------------------------
    async def on_bidding_event(self, msg: Incoming[Any]) -> None:
        """Publish the notice a bidding event requires, once whatever the redelivery."""
        event, env = msg.message, msg.envelope
        tender_id = event.aggregate_id()  # a tender, or an auction / listing
        await self._learn(event)
        facts = await self.store.facts(tender_id)
        if facts is None:
            raise DomainError("unknown_tender", f"no TenderPublished seen for {tender_id}")
        now = datetime.now(UTC)
        draft = domain.draft(event, facts, self.rules.get(facts.category), now)
        if draft is None:
            return
        nid = domain.notice_id(tender_id, draft.notice_type, draft.section_code, env.id)
        notice = (await self.notices.get(nid)
                  or await self._publish(nid, tender_id, draft, facts, env, now))
        await self._ensure_timer(notice)  # also after a crash between the notice and its timer
        if notice.get("corrects"):  # ... and between a correction and the corrected's link
            await self.store.link_correction(notice["corrects"], nid,
                                             int(notice["published_ms"]))

    async def _learn(self, event: Any) -> None:
        """Keep what later notices of the tender need (its name, region, winners)."""
        if isinstance(event, TenderPublished):
            owners = tuple(u for u in (event.tenderee_uscc, event.agency_uscc) if u)
            await self.store.remember_tender(event.tender_id, event.project_name,
                                             event.category, event.region_code, owners)
        elif isinstance(event, AuctionPublished):
            # the seller answers objections to its result's publicity (成交公示)
            await self.store.remember_tender(event.auction_id, event.name, event.category,
                                             event.region_code, (event.seller_uscc,))
        elif isinstance(event, AuctionClosed) and event.sold and event.winner_uscc:
            # named again in the contract's notice (出让合同公告 / 产权交易结果公告)
            await self.store.remember_winner(event.auction_id, domain.SALE,
                                             event.winner_name or "", event.winner_uscc)
        elif isinstance(event, Awarded):
            await self.store.remember_winner(event.tender_id, event.section_code,
                                             event.winner.bidder_name, event.winner.bidder_uscc)

    async def _publish(self, nid: str, tender_id: str, draft: domain.Draft,
                       facts: domain.TenderFacts, env: Envelope, now: datetime) -> Doc:
        """Store the notice and queue NoticePublished in one write (outbox)."""
        event = NoticePublished(
            notice_id=nid, notice_type=draft.notice_type, tender_id=tender_id,
            section_code=draft.section_code, category=facts.category,
            region_code=facts.region_code, title=draft.title, content=draft.content,
            published_at=now, publicity_end=draft.publicity_end)
        events = [Outgoing(event, facts.category)]
        corrected = None
        if draft.corrects is not None:  # 更正公告: the notice it corrects stays as published
            corrected = await self.store.notice_of(tender_id, draft.corrects)
        if corrected is not None:
            events.append(Outgoing(NoticeCorrected(
                notice_id=corrected, correction_notice_id=nid, tender_id=tender_id,
                category=facts.category, region_code=facts.region_code,
                changes=list(draft.changes), summary=str(draft.content.get("NOTICE_CONTENT")
                                                         or draft.title),
                corrected_at=now), facts.category))
        end = draft.publicity_end
        state: Doc = {
            **event.model_dump(mode="json"), "record": NOTICE, "source_event_id": env.id,
            "published_ms": _ms(now), "text": domain.searchable(draft),
            "stat_key": f"{facts.category.value}:{draft.notice_type.value}",
            "publicity_status": domain.OPEN if end else domain.NO_PUBLICITY,
            "publicity_end_ms": _ms(end) if end else 0, "objections": {},
            "objection_upheld": 0}
        if corrected is not None:
            state["corrects"] = corrected
        cause = Cause(message_id=env.id, correlation_id=env.correlationid)
        await self._insert_numbered(nid, state, events, cause)
        return state

    async def _insert_numbered(self, nid: str, state: Doc, events: list[Outgoing],
                               cause: Cause, attempts: int = 5) -> None:
        """Insert the notice under a fresh publication number (see store: the feed)."""
        for _ in range(attempts):
            seq = await self.store.allocate()
            try:
                await self.notices.create(nid, {**state, "seq": seq}, events, cause)
                return
            except Conflict:
                if await self.notices.get(nid) is not None:
                    return  # a concurrent redelivery wrote it first
                # else the number was voided while this writer stalled: take another
            finally:
                await self.store.release(seq)
        raise Conflict("feed_busy", f"could not number notice {nid}; try again")

    async def _ensure_timer(self, notice: Doc) -> None:
        if notice.get("publicity_end_ms"):
            nid = notice.get("notice_id") or notice["_id"]
            await self.timers.schedule(f"{PUBLICITY}:{nid}", PUBLICITY,
                                       int(notice["publicity_end_ms"]), {"notice_id": nid})

    # publicity periods and objections (条例54) --------------------------------------
    async def on_publicity_end(self, timer: Timer) -> None:
        """The period ran out: end the publicity, or wait for pending objections."""
        def decide(state: Doc, version: int) -> Change:
            sets = domain.end_of_period(state)
            return Change(set=sets, events=self._ended(state, sets))

        await self.notices.update(timer.payload["notice_id"], decide,
                                  Cause(message_id=f"timer:{timer.timer_id}"))

    def _ended(self, state: Doc, sets: Mapping[str, Any]) -> list[Outgoing]:
        """PublicityPeriodEnded when ``sets`` ends a section's candidates' publicity: bidding
        may then award. A sale's result publicity (成交公示) ends with no event: nothing
        waits for it."""
        if sets.get("publicity_status") != domain.ENDED or state.get("section_code") is None:
            return []
        event = PublicityPeriodEnded(
            notice_id=state["notice_id"], tender_id=state["tender_id"],
            section_code=state["section_code"], objection_upheld=domain.upheld(state, sets),
            ended_at=datetime.now(UTC))
        return [Outgoing(event, Category(state["category"]))]

    async def object(self, nid: str, who: Principal, text: str) -> Doc:
        """A bidder's objection (异议) while the period runs; returns its id and answer due.
        The tenderee and its agency hear of it (PublicityObjectionFiled, internal)."""
        notice = await self.notice(nid)
        facts = await self.store.facts(notice["tender_id"])
        owners = facts.owners if facts else frozenset()
        answerer = facts.answerer if facts else None
        if who.uscc is not None and who.uscc in owners:
            raise Forbidden("own_tender", "the tenderee and its agency answer objections; "
                            "they do not file them")
        oid = uuid.uuid4().hex[:12]
        rules = self.rules.get(Category(notice["category"]))
        answer = rules.objection_answer if rules else None
        article = answer.source if answer else _basis(notice)
        objector = who.uscc or who.subject
        now = now_ms()
        due = _ms(answer.end(_at(now))) if answer else None

        def decide(state: Doc, version: int) -> Change:
            filed = PublicityObjectionFiled(
                notice_id=nid, tender_id=state["tender_id"],
                section_code=state.get("section_code"), objection_id=oid,
                objector_uscc=objector, text=text, filed_at=_at(now),
                answer_due=_at(due) if due else None, article=article,
                answerers=sorted(owners))
            return Change(set=domain.file_objection(state, oid, objector, text, now, due,
                                                    answerer),
                          events=[Outgoing(filed, Category(state["category"]))])

        # its answer's timer first: a crash after the write cannot leave it without one (a
        # timer whose filing was refused finds no objection and does nothing)
        await self.timers.armed_for(f"{OBJECTION_DUE}:{nid}:{oid}", OBJECTION_DUE, due,
                                    {"notice_id": nid, "objection_id": oid},
                                    lambda: self.notices.update(nid, decide))
        return _objection_view(oid, (await self.notice(nid))["objections"][oid])

    async def on_objection_due(self, timer: Timer) -> None:
        """An objection's answer fell due (条例54: 3 days; 政府采购法53: 7 working days): if
        still pending, ``PublicityObjectionOverdue`` once (the objector may complain, 条例60;
        a credit fact); the award still waits for the answer, taken later and marked late."""
        nid, oid = timer.payload["notice_id"], timer.payload["objection_id"]
        notice = await self.notices.get(nid)
        objection = ((notice or {}).get("objections") or {}).get(oid)
        if notice is None or objection is None or objection.get("status") != "pending":
            return  # answered in time, or a filing that was refused
        due = int(objection["answer_due_ms"])
        if now_ms() < due:  # fired early (a clock behind): again at the due time
            await self.timers.schedule(f"{timer.timer_id}:{due}", OBJECTION_DUE, due,
                                       timer.payload)
            return
        rules = self.rules.get(Category(notice["category"]))
        article = (rules.objection_answer.source if rules and rules.objection_answer
                   else _basis(notice))
        complaint = rules.complaint_within.source if rules and rules.complaint_within \
            else None
        owners = await self._owners(notice)

        def decide(state: Doc, version: int) -> Change:
            now = now_ms()
            sets = domain.objection_overdue(state, oid, now)
            if not sets:
                return Change()
            o = state["objections"][oid]
            event = PublicityObjectionOverdue(
                notice_id=nid, tender_id=state["tender_id"],
                section_code=state.get("section_code"), objection_id=oid,
                objector_uscc=o["by"], answerer_uscc=o.get("answerer"),
                answerers=sorted(owners), answer_due=_at(int(o["answer_due_ms"])),
                overdue_at=_at(now), article=article, complaint_article=complaint)
            return Change(set=sets, events=[Outgoing(event, Category(state["category"]))])

        await self.notices.update(nid, decide, Cause(message_id=f"timer:{timer.timer_id}"))

    async def decide_objection(self, nid: str, oid: str, upheld: bool, who: Principal,
                               answer: str = "") -> None:
        """The tenderee's (or its agency's) answer to an objection (条例54: 招标人应当
        自收到异议之日起3日内作出答复); upheld, the section is evaluated again."""
        notice = await self.notice(nid)
        if who.uscc is None or who.uscc not in await self._owners(notice):
            raise Forbidden("not_your_tender", "objections to a result are answered by the "
                            "tenderee or its agency (条例54)")
        rules = self.rules.get(Category(notice["category"]))
        article = (rules.objection_answer.source if rules and rules.objection_answer
                   else _basis(notice))

        def decide(state: Doc, version: int) -> Change:
            now = now_ms()
            sets = domain.decide_objection(state, oid, upheld, who.subject, now, answer)
            o = state["objections"][oid]
            answered = PublicityObjectionAnswered(
                notice_id=nid, tender_id=state["tender_id"],
                section_code=state.get("section_code"), objection_id=oid,
                objector_uscc=o["by"], upheld=upheld, answer=answer, answered_at=_at(now),
                late=bool(sets[f"objections.{oid}.late"]), article=article)
            return Change(set=sets, events=[Outgoing(answered, Category(state["category"])),
                                            *self._ended(state, sets)])

        await self.notices.update(nid, decide)

    async def objections(self, nid: str, who: Principal) -> list[dict[str, Any]]:
        """A notice's objections: all of them for the tenderee, its agency and the
        supervisors; a bidder's own otherwise (objectors are named to no one else)."""
        notice = await self.notice(nid)
        everyone = who.has(Role.SUPERVISOR) or (
            who.uscc is not None and who.uscc in await self._owners(notice))
        mine = who.uscc or who.subject
        return [_objection_view(oid, o) for oid, o in (notice.get("objections") or {}).items()
                if everyone or o.get("by") == mine]

    async def _owners(self, notice: Mapping[str, Any]) -> frozenset[str]:
        facts = await self.store.facts(notice["tender_id"])
        return facts.owners if facts else frozenset()

    async def notice(self, nid: str) -> Doc:
        """One notice (never a void placeholder of the feed)."""
        doc = await self.notices.get(nid)
        if doc is None or doc.get("record") != NOTICE:
            raise NotFound("notice_not_found", f"no notice {nid}")
        return doc


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _objection_view(oid: str, o: Mapping[str, Any]) -> dict[str, Any]:
    due = o.get("answer_due_ms")
    return {"objection_id": oid, "by": o.get("by"), "text": o.get("text"),
            "status": o.get("status"), "filed_at": _at(int(o["filed_ms"])).isoformat(),
            "answer_due": _at(int(due)).isoformat() if due else None,
            "decided_by": o.get("decided_by"), "answer": o.get("answer"),
            "answered_at": _at(int(o["decided_ms"])).isoformat() if o.get("decided_ms")
            else None, "late": bool(o["late"]) if "late" in o else None,
            "overdue_at": _at(int(o["overdue_ms"])).isoformat() if o.get("overdue_ms")
            else None}


def _basis(notice: Doc) -> str:
    """The legal basis of a notice's publicity period, as it published it."""
    return str((notice.get("content") or {}).get("PUBLICITY_BASIS") or "条例54")
