"""A tender's publication and its documents: publishing, obtaining the documents, who
obtained them, the evaluation schedule, and modifications that move the deadline
(法23)."""

from __future__ import annotations

import uuid
from typing import Any

from contracts.bidding import EvaluationMethod, TenderPublished
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, DomainError, Forbidden, NotFound
from services.bidding.domain import tender
from services.bidding.domain.timeline import (
    Evaluation,
    RuleViolation,
    committee_shape,
    validate_deposit,
    validate_invitations,
    validate_timeline,
)
from services.bidding.handlers.context import DEADLINE, Context, now
from services.bidding.handlers.parties import Parties


class Publication:
    """Publication (招标公告) and the tender documents (招标文件) until the deadline."""

    def __init__(self, ctx: Context, parties: Parties) -> None:
        self.ctx = ctx
        self.parties = parties

    async def publish(self, event: TenderPublished, who: Principal,
                      extra: dict[str, Any]) -> None:
        """Publish a tender after checking its parties, timeline, deposits and committee."""
        if event.category not in self.ctx.categories:
            raise DomainError("category_not_served", f"this deployment does not serve "
                              f"{event.category.value}")
        if who.uscc not in {event.tenderee_uscc, event.agency_uscc} and not who.has(
                Role.OPERATOR):
            raise Forbidden("not_your_tender", "only the tenderee or its agency may publish")
        await self.parties.check_party(event.tenderee_uscc, "tenderee")
        if event.agency_uscc:
            await self.parties.check_party(event.agency_uscc, "agency")
        rules = self.ctx.book.for_tender(event.category, event.method)
        if rules.lowest_price_only.value >= 1 and event.evaluation != EvaluationMethod.LOWEST_PRICE:
            raise RuleViolation("evaluation_not_allowed", rules.lowest_price_only,
                                f"a {event.method.value} procurement is awarded on the lowest "
                                f"price, not by {event.evaluation.value}")
        validate_timeline(rules, self.ctx.book.calendar, issued_at=event.issued_at,
                          sale_start=event.sale_start, sale_end=event.sale_end,
                          bid_deadline=event.bid_deadline,
                          budget_fen=sum(s.estimated_price_fen for s in event.sections),
                          evaluations={code: Evaluation.of_state(raw) for code, raw
                                       in (extra.get(tender.SCHEDULE) or {}).items()})
        for s in event.sections:
            validate_deposit(rules, s.estimated_price_fen, s.deposit_fen)
        validate_invitations(rules, event.invited, {event.tenderee_uscc, event.agency_uscc})
        for invitee in event.invited:  # invited bidders are registered ones (法17)
            await self.parties.check_party(invitee, "bidder")
        size = sum(extra["expert_mix"].values())
        committee_shape(rules, sum(s.estimated_price_fen for s in event.sections), size, size)
        await self.parties.claim_project(event.project_code, owner=event.tenderee_uscc,
                                         region=event.region_code, name=event.project_name,
                                         first_id=event.tender_id)
        state, change = tender.publish(event, who.subject, extra, who.address)
        await self.ctx.tenders.create(event.tender_id, {**state, **change.set}, change.events)
        await self.ctx.timers.schedule(f"{DEADLINE}:{event.tender_id}", DEADLINE,
                                       tender.ms(event.bid_deadline) + self.ctx.grace_ms,
                                       {"tender_id": event.tender_id})

    async def evaluation_schedule(self, tender_id: str, who: Principal) -> dict[str, Any]:
        """Each section's evaluation time and place, for the tender's owners, supervisors
        and operators: it names no expert (the drawn ones hear theirs from notify)."""
        state = await self.ctx.tenders.view(tender_id, without=("audit",))
        if state is None:
            raise NotFound("tender_not_found", f"no tender {tender_id}")
        if not who.has(Role.SUPERVISOR, Role.OPERATOR):
            self.ctx.require_owner(state, who)
        return dict(state.get(tender.SCHEDULE) or {})

    async def obtain_documents(self, tender_id: str, who: Principal) -> dict[str, Any]:
        """A bidder obtained the documents: its record, and the files (also public)."""
        if who.uscc is None:
            raise Forbidden("role_required", "the documents are obtained by a bidder")
        at = now()
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.obtain_documents(
            s, str(who.uscc), at, who.address))
        state = await self.ctx.tender(tender_id)
        return {"tender_id": tender_id, "obtained_at": state["obtained"][str(who.uscc)],
                "documents": state.get("documents") or []}

    async def document_recipients(self, tender_id: str, who: Principal) -> dict[str, Any]:
        """Who obtained the documents, and when: for supervisors and operators, and for the
        tender's owners once the deadline has passed (before it, 20号令 forbids telling who
        or how many obtained them)."""
        state = await self.ctx.tender(tender_id)
        if not who.has(Role.SUPERVISOR, Role.OPERATOR):
            self.ctx.require_owner(state, who)
            if tender.ms(now()) < int(state["deadline_ms"]):
                raise Conflict("before_deadline", "who obtained the documents is told after "
                               "the bid deadline (电子招标投标办法)",
                               bid_deadline=state["bid_deadline"])
        obtained = state.get("obtained") or {}
        return {"tender_id": tender_id, "recipients": [
            {"bidder_uscc": uscc, "obtained_at": at} for uscc, at in sorted(
                obtained.items(), key=lambda item: item[1])]}

    async def modify(self, tender_id: str, summary: str, affects_bids: bool,
                     who: Principal) -> dict[str, Any]:
        """Issue a clarification/modification; the deadline may be postponed (法23)."""
        state = await self.ctx.tender(tender_id)
        self.ctx.require_owner(state, who)
        rules = self.ctx.rules(state)
        mod_id = uuid.uuid4().hex[:12]
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.modify(
            s, rules, modification_id=mod_id, summary=summary, affects_bids=affects_bids,
            actor=who.subject, now=now(), source=who.address))
        self.ctx.open_tenders.drop(tender_id)
        state = await self.ctx.tender(tender_id)
        await self.ctx.move_deadline(state)
        return {"bid_deadline": state["bid_deadline"]}
