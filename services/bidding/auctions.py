"""Auction and listing use cases (拍卖/挂牌): load, decide (domain), save with events.

Every decision is one conditional write on the auction's document (its version),
so concurrent offers are serialised without a transaction; the end of bidding is
a durable timer whose id names the end it was set for, so a moved end (calls,
extension, live bidding) is followed by the next timer and the close happens once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.announcement import PublicityObjectionAnswered, PublicityObjectionFiled
from contracts.bidding import AuctionClosed, AuctionMethod, AuctionPublished, OfferAccepted
from contracts.calendar import Calendar
from contracts.categories import Category
from contracts.codes import CodeError, tender_project_code
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Doc, now_ms
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import DomainError, Forbidden, NotFound
from ggzy.runtime.timers import Timer, Timers
from services.bidding.domain import auction, audit, sealed
from services.bidding.domain.rules import AuctionRules, duration
from services.bidding.handlers import Context, Parties

AUCTION_END = "auction_end"
CONFIRMATION_DUE = "auction_confirmation_due"
CONTRACT_DUE = "auction_contract_due"


class Auctions:
    """The auctions and listings of land use rights and state property."""

    def __init__(self, *, auctions: Aggregates, bidding: Context, parties: Parties,
                 timers: Timers) -> None:
        self.auctions = auctions
        self.bidding = bidding  # its rule book, categories and receipt key
        self.parties = parties  # its projections: registered entities and restrictions
        self.timers = timers
        timers.on(AUCTION_END, self.on_end)
        timers.on(CONFIRMATION_DUE, self.on_confirmation_due)
        timers.on(CONTRACT_DUE, self.on_contract_due)

    @property
    def calendar(self) -> Calendar:
        return self.bidding.book.calendar

    def rules(self, state: Mapping[str, Any]) -> AuctionRules:
        return self.bidding.book.for_auctions(Category(state["category"]))

    async def get(self, auction_id: str) -> Doc:
        doc = await self.auctions.view(auction_id)
        if doc is None:
            raise NotFound("auction_not_found", f"no auction or listing {auction_id}")
        return doc

    async def publish(self, data: Mapping[str, Any], who: Principal) -> str:
        """Announce an auction or listing (出让公告 / 信息披露) after checking its rules."""
        category = Category(data["category"])
        if category not in self.bidding.categories:
            raise DomainError("category_not_served", f"this deployment does not serve "
                              f"{category.value}")
        self._seller(data, who)
        seller = await self.parties.check_party(data["seller_uscc"], "tenderee")
        rules = self.bidding.book.for_auctions(category)
        buyer = data.get("buyer_uscc")
        if buyer:  # a sale by agreement: its buyer is a registered bidder, not restricted
            entity, _ = await self.parties.eligible(buyer, category)
            data = {**data, "buyer_name": str(entity.get("name", buyer))}
        event = _event(data, str(seller.get("name", data["seller_uscc"])), rules)
        base, decision = data.get("base_price_fen"), data.get("base_price_decision")
        auction.validate(rules, event, base, decision, self.calendar)
        await self.parties.claim_project(event.project_code, owner=event.seller_uscc,
                                         region=event.region_code, name=event.name,
                                         first_id=event.auction_id)
        state, change = auction.publish(event, rules, base, decision)
        state["audit"] = audit.appended(state, at=_now_iso(), actor=who.subject,
                                        action="publish", source=who.address, data={
            "method": event.method.value, "start_at": event.start_at.isoformat(),
            "end_at": event.end_at.isoformat() if event.end_at else None,
            "has_base_price": base is not None})
        await self.auctions.create(event.auction_id, state, change.events)
        await self._schedule(event.auction_id, int(state["end_ms"]))
        return event.auction_id

    async def _schedule(self, auction_id: str, end_ms: int) -> None:
        """The timer of one end; a later end gets its own (the id names the end)."""
        await self.timers.schedule(f"{AUCTION_END}:{auction_id}:{end_ms}", AUCTION_END, end_ms,
                                   {"auction_id": auction_id})

    async def offer(self, auction_id: str, who: Principal, price_fen: int,
                    seen_offers: int | None, offer_id: str | None = None) -> dict[str, Any]:
        """A bidder's offer (报价); the answer gives its paddle number and the end now
        (one-shot offers: ``one_shot_offer``)."""
        state = await self.get(auction_id)
        bidder, entity = await self._bidder(state, who)
        name = str(entity.get("name", bidder))
        rules = self.rules(state)
        if state["method"] == AuctionMethod.ONE_SHOT:
            return await self.one_shot_offer(auction_id, who, bidder, name, price_fen,
                                             seen_offers, offer_id or uuid.uuid4().hex)
        made: list[Change] = []

        def decide(s: Doc, v: int) -> Change:
            change = auction.offer(s, rules, bidder=bidder, name=name, price_fen=price_fen,
                                   seen_offers=seen_offers, now_ms=now_ms())
            e = change.events[0].event
            assert isinstance(e, OfferAccepted)
            made[:] = [_audited(s, change, who, "offer", {
                "paddle": e.paddle, "offer_no": e.offer_no, "price_fen": e.price_fen})]
            return made[0]

        await self.auctions.update(auction_id, decide)
        event = made[0].events[0].event
        assert isinstance(event, OfferAccepted)
        return {"paddle": event.paddle, "offer_no": event.offer_no,
                "price_fen": event.price_fen, "ends_at": event.ends_at.isoformat()}

    async def one_shot_offer(self, auction_id: str, who: Principal, bidder: str, name: str,
                             price_fen: int, seen_offers: int | None,
                             offer_id: str) -> dict[str, Any]:
        """A buyer's one sealed offer (一次报价), in one conditional write with its audit
        entry; a retry with the same ``offer_id`` gets the same answer and adds nothing.
        The answer is the buyer's own offer with the platform's signed receipt, and tells
        nothing of any other offer (no paddle, no number, no count)."""
        rules = self.rules(await self.get(auction_id))

        def decide(s: Doc, v: int) -> Change:
            change = auction.offer(s, rules, bidder=bidder, name=name, price_fen=price_fen,
                                   seen_offers=seen_offers, now_ms=now_ms(),
                                   offer_id=offer_id)
            mine = change.set.get(f"bidders.{bidder}") or {}
            return _audited(s, change, who, "offer", {  # read by nobody before the close
                "paddle": mine.get("paddle"), "bidder": bidder, "offer_id": offer_id,
                "price_fen": price_fen, "sealed": True})

        await self.auctions.update(auction_id, decide)
        state = await self.get(auction_id)
        made = auction.own_offer(state, bidder)
        assert made is not None
        return self._offer_receipt(state, bidder, made, str(auction.offer_id_of(state, bidder)))

    def _offer_receipt(self, state: Mapping[str, Any], bidder: str, made: auction.Offer,
                       offer_id: str) -> dict[str, Any]:
        """The buyer's own sealed offer and, where the platform has its key, its signed
        receipt (the same for every retry)."""
        receipt = {"auction_id": state["auction_id"], "bidder_uscc": bidder,
                   "offer_id": offer_id, "price_fen": made.price_fen,
                   "offered_at": auction.at(made.at_ms).isoformat()}
        key = self.bidding.receipt_key
        return {**receipt, "sealed": True,
                "ends_at": auction.at(int(state["end_ms"])).isoformat(), "receipt": receipt,
                "signature": None if key is None else sealed.sign_receipt(key, receipt)}

    async def _bidder(self, state: Mapping[str, Any], who: Principal) -> tuple[str, Doc]:
        bidder, entity, _ = await self.parties.eligible_bidder(who, Category(state["category"]),
                                                               with_reduction=False)
        if bidder == state["seller_uscc"]:
            raise Forbidden("seller_cannot_bid", "the seller may not bid on its own sale")
        return bidder, entity

    async def apply(self, auction_id: str, who: Principal, account: str,
                    paid_fen: int) -> dict[str, Any]:
        """A bidder's application with its deposit (竞买申请, 竞买保证金)."""
        state = await self.get(auction_id)
        bidder, entity = await self._bidder(state, who)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _audited(s, auction.apply(
            s, rules, bidder=bidder, name=str(entity.get("name", bidder)), account=account,
            paid_fen=paid_fen, now_ms=now_ms()), who, "apply",
            {"bidder": bidder, "account": account, "paid_fen": paid_fen}))
        return {"status": (await self.get(auction_id))["applicants"][bidder]["status"]}

    async def review(self, auction_id: str, bidder: str, qualified: bool, reason: str,
                     who: Principal) -> dict[str, Any]:
        """The seller's qualification review of one applicant (资格审查)."""
        state = await self.get(auction_id)
        self._seller(state, who)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _audited(s, auction.review(
            s, rules, self.calendar, bidder=bidder, qualified=qualified, reason=reason,
            now=datetime.now(UTC)), who, "review",
            {"bidder": bidder, "qualified": qualified, "reason": reason}))
        state = await self.get(auction_id)
        return {"bidder": bidder, "status": state["applicants"][bidder]["status"],
                "paddle": auction.paddle_of(state, bidder)}

    async def applications(self, auction_id: str, who: Principal) -> list[dict[str, Any]]:
        """The applicants, for the seller and operators (secret to everyone else)."""
        state = await self.get(auction_id)
        self._seller(state, who)
        return [{"bidder_uscc": u, **a, "paddle": auction.paddle_of(state, u)}
                for u, a in sorted((state.get("applicants") or {}).items(),
                                   key=lambda kv: int(kv[1]["applied_ms"]))]

    def _seller(self, state: Mapping[str, Any], who: Principal) -> None:
        if who.uscc != state["seller_uscc"] and not who.has(Role.OPERATOR):
            raise Forbidden("not_your_auction", "only the seller or an operator may do this")

    async def go_on(self, auction_id: str, who: Principal) -> dict[str, Any]:
        """A bidder wants to go on at the end of listing (39号令第21条)."""
        state = await self.get(auction_id)
        bidder, _ = await self._bidder(state, who)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _audited(
            s, auction.go_on(s, rules, bidder, now_ms()), who, "go_on",
            {"paddle": auction.paddle_of(s, bidder)}))
        return {"paddle": auction.paddle_of(state, bidder), "going_on": True}

    async def mine(self, auction_id: str, who: Principal) -> dict[str, Any]:
        """A bidder's own standing: its paddle and whether it holds the top offer."""
        if not who.uscc:
            raise Forbidden("role_required", "a bidder's user is required")
        state = await self.get(auction_id)
        if auction.sealed(state):  # one-shot, before the close: its own offer, nothing more
            made = auction.own_offer(state, who.uscc)
            return {"sealed": True, "offer": None if made is None else {
                "price_fen": made.price_fen, "offered_at": auction.at(made.at_ms).isoformat(),
                "offer_id": auction.offer_id_of(state, who.uscc)}}
        paddle = auction.paddle_of(state, who.uscc)
        top = auction.top_of(auction.offers_of(state))
        if state["method"] == AuctionMethod.ONE_SHOT:
            ranked = auction.one_shot_ranking(auction.offers_of(state))
            top = ranked[0] if ranked else None
        return {"paddle": paddle, "top": paddle is not None and top is not None
                and top.paddle == paddle}

    async def cut_price(self, auction_id: str, who: Principal, price_fen: int,
                        start: datetime, end: datetime | None,
                        applications_close_at: datetime | None = None,
                        approval_no: str | None = None) -> dict[str, Any]:
        """A price cut (降价) with a new disclosure period (32号令第18条)."""
        state = await self.get(auction_id)
        self._seller(state, who)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _audited(s, auction.reprice(
            s, rules, price_fen=price_fen, start=start, end=end, now=datetime.now(UTC),
            cal=self.calendar, applications_close_at=applications_close_at,
            approval_no=approval_no), who,
            "price_cut", {"price_fen": price_fen, "start": start.isoformat(),
                          "end": end.isoformat() if end else None, "approval_no": approval_no}))
        state = await self.get(auction_id)
        await self._schedule(auction_id, int(state["end_ms"]))
        return {"starting_price_fen": price_fen, "start_at": state["start_at"],
                "end_at": state["end_at"]}

    async def on_end(self, timer: Timer) -> None:
        """At an end: go live or close (once); an end moved since is followed by its timer."""
        # the timer fired for its end: a replica whose clock lags does not read it as early
        await self._end(timer.payload["auction_id"], max(now_ms(), timer.due_ms),
                        Cause(message_id=f"timer:{timer.timer_id}"))

    async def _end(self, auction_id: str, at: int, cause: Cause) -> None:
        state = await self.get(auction_id)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _ended(s, auction.settle_deposits(
            s, auction.at_end(s, rules, at, self.calendar), rules, self.calendar, auction.at(at))),
            cause)
        state = await self.get(auction_id)
        if state["status"] != auction.CLOSED:
            await self._schedule(auction_id, int(state["end_ms"]))
        else:  # also after a crash between the close and its timer (a redelivered end)
            await self._schedule_confirmation(state)
            await self._schedule_contract(state)  # a sale by agreement's, at once

    async def _schedule_confirmation(self, state: Mapping[str, Any]) -> None:
        held = state.get("confirmation")
        if held is not None and held["status"] == auction.PENDING:
            await self.timers.schedule(f"{CONFIRMATION_DUE}:{state['auction_id']}",
                                       CONFIRMATION_DUE, int(held["due_ms"]),
                                       {"auction_id": state["auction_id"]})

    async def confirm(self, auction_id: str, who: Principal) -> dict[str, Any]:
        """The winner signs the confirmation (成交确认书) before it is due."""
        if not who.uscc:  # (the route takes bidders only)
            raise Forbidden("role_required", "a bidder's user is required")
        bidder = who.uscc
        state = await self.get(auction_id)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _audited(
            s, auction.confirm(s, rules, bidder, now_ms(), self.calendar), who, "confirm", {}))
        state = await self.get(auction_id)
        await self._schedule_contract(state)  # also when a retried signature finds it signed
        held = state["confirmation"]
        contract = state.get("contract")
        return {"status": held["status"],
                "confirmed_at": auction.at(int(held["at_ms"])).isoformat(),
                "contract_due": contract["due"] if contract else None}

    async def _schedule_contract(self, state: Mapping[str, Any]) -> None:
        """The timer of the contract's due time (the id names it: a due time given again
        after a held contract's objection was dismissed gets its own)."""
        held = state.get("contract")
        if held is not None and held["status"] == auction.PENDING:
            aid = state["auction_id"]
            await self.timers.schedule(f"{CONTRACT_DUE}:{aid}:{held['due_ms']}", CONTRACT_DUE,
                                       int(held["due_ms"]), {"auction_id": aid})

    async def sign_contract(self, auction_id: str, who: Principal, contract_no: str,
                            price_fen: int) -> dict[str, Any]:
        """The seller records the sale contract (出让合同) signed with the winner."""
        state = await self.get(auction_id)
        self._seller(state, who)
        rules = self.rules(state)
        await self.auctions.update(auction_id, lambda s, v: _audited(s, auction.sign_contract(
            s, rules, contract_no=contract_no, price_fen=price_fen, now_ms=now_ms(),
            cal=self.calendar), who,
            "contract", {"contract_no": contract_no, "price_fen": price_fen}))
        held = (await self.get(auction_id))["contract"]
        return {"status": held["status"], "contract_no": held["contract_no"],
                "price_fen": held["price_fen"],
                "signed_at": auction.at(int(held["at_ms"])).isoformat()}

    async def on_contract_due(self, timer: Timer) -> None:
        """At the due time: an unsigned contract forfeits the deposit, once (held while an
        objection waits)."""
        await self._due(timer, auction.contract_due, "contract_due")

    async def _due(self, timer: Timer, decide: Callable[[Doc, AuctionRules, int], Change],
                   action: str) -> None:
        """A winner's due time (confirmation, contract): ``decide`` once, at the later of
        now and the time the timer was set for."""
        auction_id = timer.payload["auction_id"]
        rules = self.rules(await self.get(auction_id))
        at = max(now_ms(), timer.due_ms)
        await self.auctions.update(auction_id, lambda s, v: _audited(
            s, decide(s, rules, at), None, action, {}),
            Cause(message_id=f"timer:{timer.timer_id}"))

    async def on_objection(self, e: PublicityObjectionFiled | PublicityObjectionAnswered,
                           cause: Cause) -> None:
        """An objection to a sale's publicised result (announcement's notice): the contract
        waits for its answer; upheld, the result is annulled. Objections to a tender's
        notices are not the sale's."""
        if e.section_code is not None or await self.auctions.view(e.tender_id) is None:
            return
        if isinstance(e, PublicityObjectionFiled):
            await self.auctions.update(e.tender_id, lambda s, v: _audited(
                s, auction.objection_filed(s, e.objection_id), None, "objection_filed",
                {"objection_id": e.objection_id}), cause)
            return
        state = await self.get(e.tender_id)
        rules = self.rules(state)
        await self.auctions.update(e.tender_id, lambda s, v: _audited(
            s, auction.objection_answered(s, rules, self.calendar, objection_id=e.objection_id,
                                          upheld=e.upheld, answer=e.answer,
                                          now=e.answered_at),
            None, "objection_answered", {"objection_id": e.objection_id, "upheld": e.upheld}),
            cause)
        state = await self.get(e.tender_id)
        await self._schedule_contract(state)
        if state["status"] != auction.CLOSED and now_ms() >= int(state["end_ms"]):
            # a sale by agreement held at its end by this objection: the answer concludes it
            await self._end(e.tender_id, now_ms(), Cause(message_id=f"{cause.message_id}:end"))

    async def on_confirmation_due(self, timer: Timer) -> None:
        """At the due time: an unsigned confirmation loses the sale and the deposit, once."""
        await self._due(timer, auction.confirmation_due, "confirmation_overdue")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _audited(state: Mapping[str, Any], change: Change, who: Principal | None, action: str,
             data: dict[str, Any]) -> Change:
    """``change`` with its entry appended to the sale's audit trail (same write); a change
    that does nothing (a retried request, an end already passed) adds none. The base
    price is secret and never goes into an entry."""
    if not change.set and not change.unset and not change.events:
        return change
    change.set["audit"] = audit.appended(
        dict(state), at=_now_iso(), actor=who.subject if who else "platform", action=action,
        data=data, source=who.address if who else None)
    return change


def _ended(state: Mapping[str, Any], change: Change) -> Change:
    """The end of bidding in the audit trail: live bidding, or the result."""
    result = change.set.get("result") or {}
    data = {"status": change.set.get("status"), "sold": result.get("sold"),
            "price_fen": result.get("price_fen"), "offers": result.get("offers")}
    lines = next((o.event.offer_lines for o in change.events
                  if isinstance(o.event, AuctionClosed)), [])
    if lines:  # one-shot offers: the ranking the close decided, by paddle
        data["ranking"] = [line.paddle for line in lines]
    return _audited(state, change, None, "end", data)


def _event(data: Mapping[str, Any], seller_name: str, rules: AuctionRules) -> AuctionPublished:
    """The announcement's event from the request (codes and rule numbers derived)."""
    fields = {k: v for k, v in data.items() if k in AuctionPublished.model_fields}
    fields["increment_fen"] = data.get("increment_fen") or 0  # 0: by agreement, no offers
    window = duration(rules.extension_window) if data["method"] == AuctionMethod.ONLINE_BIDDING \
        else timedelta(0)
    try:
        return AuctionPublished(
            **fields, auction_id=tender_project_code(data["project_code"], data["lot_no"]),
            seller_name=seller_name, has_base_price=data.get("base_price_fen") is not None,
            announced_at=datetime.now(UTC), countdown_s=int(rules.countdown.total_seconds()),
            extension_window_s=int(window.total_seconds()))
    except CodeError as exc:
        raise DomainError(exc.code, str(exc)) from exc
    except ValueError as exc:
        raise DomainError("invalid_auction", str(exc)) from exc
