"""The award (中标) and the contract: the award after the candidates' publicity
(条例54, 55), a declined award, the contract's signature, acceptance and due date."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.bidding import AcceptanceItem, BidderLine, DepositRefund
from ggzy.runtime.aggregates import Cause
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Forbidden
from ggzy.runtime.timers import Timer
from services.bidding.domain import performance, tender
from services.bidding.handlers.context import CONTRACT_DUE, Context, now


class Award:
    """Award and contract of a tender's sections."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def on_publicity_ended(self, tender_id: str, code: str, upheld: bool,
                                 cause: Cause) -> None:
        """Award after the candidates' publicity with no upheld objection (条例54, 55)."""
        state = await self.ctx.tender(tender_id)
        rules = self.ctx.rules(state)
        committee = state["section_state"].get(code, {}).get("committee", [])
        found = await self.ctx.store.expert_names(committee)
        names = [found.get(e, e) for e in committee]
        at, losers = now(), None
        if rules.losers_refund_at_award.value >= 1 and not upheld:  # 政采条例33
            docs = await self.ctx.store.section_bids(tender_id, code)
            lines = [BidderLine.model_validate(ln)
                     for ln in tender.lines_of(tender.section_of(state, code)) or []]

            def losers(winner_bid: str) -> list[DepositRefund]:
                return self.ctx.refunds(rules, [d for d in docs if d["_id"] != winner_bid],
                                        lines, at)
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.award(
            s, rules, self.ctx.book.calendar, code, upheld=upheld, names=names, now=at,
            losers=losers), cause)
        state = await self.ctx.tender(tender_id)
        sec = state["section_state"][code]
        if sec["status"] == "awarded":
            await self.ctx.timers.schedule(f"{CONTRACT_DUE}:{tender_id}:{code}", CONTRACT_DUE,
                                           int(sec["contract_due_ms"]),
                                           {"tender_id": tender_id, "section": code})

    async def decline_award(self, tender_id: str, code: str, who: Principal,
                            reason: str) -> dict[str, Any]:
        """The winner declines; the next candidate is awarded, with its own contract due."""
        if not who.has(Role.BIDDER) or not who.uscc:
            raise Forbidden("role_required", "the award is declined by the winner's user")
        state = await self.ctx.tender(tender_id)
        rules = self.ctx.rules(state)
        committee = tender.section_of(state, code).get("committee", [])
        found = await self.ctx.store.expert_names(committee)
        names = [found.get(e, e) for e in committee]
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.decline_award(
            s, rules, self.ctx.book.calendar, code, str(who.uscc), reason, names, now(),
            who.address))
        sec = tender.section_of(await self.ctx.tender(tender_id), code)
        if sec["status"] == "awarded":
            await self.ctx.timers.reschedule(f"{CONTRACT_DUE}:{tender_id}:{code}",
                                             int(sec["contract_due_ms"]))
        return {"status": sec["status"], "winner": sec.get("winner", {}).get("bidder_uscc")
                if sec["status"] == "awarded" else None}

    async def sign_contract(self, tender_id: str, code: str, price_fen: int,
                            who: Principal, bond_fen: int | None = None) -> None:
        state = await self.ctx.tender(tender_id)
        self.ctx.require_owner(state, who)
        rules, at = self.ctx.rules(state), now()
        docs = await self.ctx.store.section_bids(tender_id, code)
        lines = [BidderLine.model_validate(ln)
                 for ln in tender.lines_of(tender.section_of(state, code)) or []]
        refunds = self.ctx.refunds(rules, docs, lines, at)
        await self.ctx.tenders.update(tender_id, lambda s, v: tender.sign_contract(
            s, rules, code, price_fen, who.subject, at, refunds, who.address, bond_fen))

    async def accept_contract(self, tender_id: str, code: str, who: Principal,
                              items: Sequence[AcceptanceItem], **facts: Any) -> dict[str, Any]:
        """One round of the contract's acceptance (履约验收; see domain.performance), by the
        tenderee or its agency; the round as recorded."""
        state = await self.ctx.tender(tender_id)
        self.ctx.require_owner(state, who)
        rules, at = self.ctx.rules(state), now()
        await self.ctx.tenders.update(tender_id, lambda s, v: performance.accept(
            s, rules, code, items, actor=who.subject, now=at, source=who.address, **facts))
        sec = tender.section_of(await self.ctx.tender(tender_id), code)
        return performance.public(sec["acceptances"][-1])

    async def on_contract_due(self, timer: Timer) -> None:
        tender_id, code = timer.payload["tender_id"], timer.payload["section"]
        await self.ctx.tenders.update(
            tender_id, lambda s, v: tender.contract_overdue(s, code, now()),
            Cause(message_id=f"timer:{timer.timer_id}"))
