"""Objections (异议: to the documents, 条例22, 政采法52; to the opening, 条例44) and the
suspensions they and complaints (条例62; 政府采购法57) order, and what resumes after."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import ObjectionMatter, Period
from contracts.credit import TenderSuspensionLifted, TenderSuspensionOrdered
from ggzy.runtime.aggregates import Cause, Change, Doc
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import DomainError, Forbidden
from ggzy.runtime.timers import Timer
from services.bidding.domain import objections, tender
from services.bidding.handlers.award import Award
from services.bidding.handlers.context import (
    CONTRACT_DUE,
    DECRYPT_END,
    OBJECTION_DUE,
    SUSPENSION_END,
    Context,
    now,
    owns,
)

CLOCK_TIMERS = {Period.DECRYPTION: DECRYPT_END, Period.CONTRACT: CONTRACT_DUE}  # their timers


class Objections:
    """Objections and suspensions of a tender, and its resumption."""

    def __init__(self, ctx: Context, award: Award) -> None:
        self.ctx = ctx
        self.award = award

    # objections to the documents (条例22; 政采法52) ----------------------------------
    async def object_to_documents(self, tender_id: str, text: str,
                                  who: Principal) -> dict[str, Any]:
        """A registered entity's objection to the documents; it may suspend the tender."""
        if not who.uscc:
            raise Forbidden("role_required", "an objection is filed by an entity's user")
        if await self.ctx.store.entity(who.uscc) is None:
            raise DomainError("party_not_registered", f"{who.uscc} is not a registered entity")
        state = await self.ctx.tender(tender_id)
        rules, oid, at = self.ctx.rules(state), uuid.uuid4().hex[:12], now()
        due = objections.answer_due(rules, ObjectionMatter.DOCUMENTS, at, self.ctx.book.calendar)
        await self._filing(tender_id, oid, due, lambda s, v: objections.file(
            s, rules, self.ctx.book.calendar, objection_id=oid, objector=str(who.uscc),
            text=text, now=at, source=who.address))
        self.ctx.open_tenders.drop(tender_id)
        state = await self.ctx.tender(tender_id)
        return {**_own_objection(state, who, oid), "suspended": bool(state.get("suspensions"))}

    async def object_to_opening(self, tender_id: str, section: str, text: str,
                                who: Principal) -> dict[str, Any]:
        """A bidder's objection to a section's opening (条例44), answered by the owners."""
        if not who.has(Role.BIDDER) or not who.uscc:
            raise Forbidden("role_required", "an objection to the opening is a bidder's")
        state = await self.ctx.tender(tender_id)
        rules, oid, at = self.ctx.rules(state), uuid.uuid4().hex[:12], now()
        due = objections.answer_due(rules, ObjectionMatter.OPENING, at, self.ctx.book.calendar)
        await self._filing(tender_id, oid, due, lambda s, v: objections.file_at_opening(
            s, rules, section=section, objection_id=oid, objector=str(who.uscc), text=text,
            now=at, source=who.address, cal=self.ctx.book.calendar))
        return _own_objection(await self.ctx.tender(tender_id), who, oid)

    async def _filing(self, tender_id: str, oid: str, due: datetime,
                      decide: Callable[[Doc, int], Change]) -> None:
        """Write objection ``oid``, its answer's timer armed first: a crash after the write
        cannot leave it without one (a timer whose filing was refused, or never written,
        finds no objection and does nothing)."""
        await self.ctx.timers.armed_for(f"{OBJECTION_DUE}:{tender_id}:{oid}", OBJECTION_DUE,
                                        tender.ms(due), {"tender_id": tender_id,
                                                     "objection_id": oid},
                                    lambda: self.ctx.tenders.update(tender_id, decide))

    async def on_objection_due(self, timer: Timer) -> None:
        """An objection's answer fell due: if still unanswered, it is overdue (once); the
        tender stays suspended until the answer (条例22)."""
        tender_id, oid = timer.payload["tender_id"], timer.payload["objection_id"]
        state = await self.ctx.tenders.view(tender_id, without=("audit",))
        objection = ((state or {}).get("objections") or {}).get(oid)
        if state is None or objection is None or objection["status"] != objections.PENDING:
            return  # answered in time, or a filing that was refused
        due = int(objection["answer_due_ms"])
        at = now()
        if tender.ms(at) < due:  # fired early (a clock behind): again at the due time
            await self.ctx.timers.schedule(f"{timer.timer_id}:{due}", OBJECTION_DUE, due,
                                           timer.payload)
            return
        rules = self.ctx.rules(state)
        await self.ctx.tenders.update(tender_id, lambda s, v: objections.overdue(
            s, rules, objection_id=oid, now=at), Cause(message_id=f"timer:{timer.timer_id}"))

    async def answer_objection(self, tender_id: str, objection_id: str, text: str,
                               who: Principal) -> dict[str, Any]:
        """The tenderee's (or agency's) answer; the last one resumes a suspended tender."""
        state = await self.ctx.tender(tender_id)
        self.ctx.require_owner(state, who)
        rules = self.ctx.rules(state)
        await self.ctx.tenders.update(tender_id, lambda s, v: objections.answer(
            s, rules, objection_id=objection_id, text=text, actor=who.subject, now=now(),
            source=who.address))
        self.ctx.open_tenders.drop(tender_id)
        state = await self.ctx.tender(tender_id)
        await self._after_resumption(state)
        return {"suspended": bool(state.get("suspensions")),
                "bid_deadline": state["bid_deadline"]}

    # suspensions ordered while a complaint is handled (条例62; 政府采购法57) ---------------
    async def on_suspension_ordered(self, e: TenderSuspensionOrdered, cause: Cause) -> None:
        """Suspend the tender a complaint is about, until lifted, decided or ``e.until``."""
        if e.category not in self.ctx.categories or await self.ctx.tenders.view(
                e.tender_id, without=("audit",)) is None:
            return  # another deployment's tender, or not a tender of this service
        await self.ctx.tenders.update(e.tender_id, lambda s, v: objections.complaint_suspension(
            s, e.complaint_id, e.article, now()), cause)
        self.ctx.open_tenders.drop(e.tender_id)
        if e.until is not None:
            await self.ctx.timers.schedule(
                f"{SUSPENSION_END}:{e.tender_id}:{e.complaint_id}", SUSPENSION_END,
                tender.ms(e.until), {"tender_id": e.tender_id, "complaint_id": e.complaint_id})

    async def on_suspension_lifted(self, e: TenderSuspensionLifted, cause: Cause) -> None:
        if e.category in self.ctx.categories:
            await self._end_suspension(e.tender_id, e.complaint_id, e.cause, cause)

    async def on_suspension_end(self, timer: Timer) -> None:
        """The longest suspension the rules allow is over (政府采购法57: 30 days)."""
        await self._end_suspension(timer.payload["tender_id"], timer.payload["complaint_id"],
                                   "expired", Cause(message_id=f"timer:{timer.timer_id}"))

    async def _end_suspension(self, tender_id: str, complaint_id: str, why: str,
                              cause: Cause) -> None:
        state = await self.ctx.tenders.view(tender_id, without=("audit",))
        if state is None:
            return
        rules = self.ctx.rules(state)
        await self.ctx.tenders.update(tender_id, lambda s, v: objections.end_complaint_suspension(
            s, rules, complaint_id, why, now()), cause)
        self.ctx.open_tenders.drop(tender_id)
        await self._after_resumption(await self.ctx.tender(tender_id))

    async def _after_resumption(self, state: Mapping[str, Any]) -> None:
        """Once nothing suspends the tender: its deadline's timer, and the awards that
        waited for the resumption."""
        if state.get("suspensions"):
            return
        if state["status"] == "open":
            await self.ctx.move_deadline(state)
        tender_id = state["tender_id"]
        for code, sec in state["section_state"].items():  # the periods that stood still
            period = objections.CLOCK_STATUS.get(sec["status"])
            field = objections.CLOCK_FIELDS[period] if period else None
            if period is not None and field in sec:
                kind = CLOCK_TIMERS[period]
                await self.ctx.move_timer(f"{kind}:{tender_id}:{code}", kind, int(sec[field]),
                                          {"tender_id": tender_id, "section": code})
        for code, sec in state["section_state"].items():
            if sec["status"] == "publicity" and "award_waits" in sec:
                await self.award.on_publicity_ended(
                    state["tender_id"], code, bool(sec["award_waits"]["upheld"]),
                    Cause(message_id=f"resumed:{code}:{len(state.get('audit', []))}"))

    async def objections_of(self, tender_id: str, who: Principal) -> list[dict[str, Any]]:
        """All objections for the owners and supervisors; a caller's own otherwise."""
        state = await self.ctx.tender(tender_id)
        owner = who.has(Role.SUPERVISOR, Role.OPERATOR) or owns(state, who)
        return objections.visible(state, who.uscc, owner=owner)


def _own_objection(state: Mapping[str, Any], who: Principal, oid: str) -> dict[str, Any]:
    """Objection ``oid`` as its objector sees it."""
    return next(o for o in objections.visible(dict(state), who.uscc, owner=False)
                if o["objection_id"] == oid)
