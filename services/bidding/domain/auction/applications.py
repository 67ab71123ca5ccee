"""Applications and deposits (竞买申请、竞买保证金): the application with its deposit, the
seller's qualification review that gives a paddle, and the deposits settled at the close."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import AuctionClosed, AuctionDeposit, AuctionDepositsSettled
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain.auction.model import CLOSED, PENDING, QUALIFIED, REJECTED, ms
from services.bidding.domain.rules import AuctionRules, after


# applications and deposits (竞买申请、竞买保证金) ---------------------------------------
def apply(state: Mapping[str, Any], rules: AuctionRules, *, bidder: str, name: str,
          account: str, paid_fen: int, now_ms: int) -> Change:
    """An application with its deposit, before applications close; the same one again
    changes nothing."""
    deposit = int(state.get("deposit_fen") or 0)
    if not deposit:
        raise Conflict("no_applications", "this sale takes offers from any registered bidder")
    if state["status"] == CLOSED:
        raise Conflict("auction_closed", "the auction has closed")
    if now_ms >= ms(datetime.fromisoformat(str(state["applications_close_at"]))):
        raise Conflict("applications_closed", "applications have closed",
                       applications_close_at=state["applications_close_at"])
    if paid_fen < deposit:
        raise DomainError("deposit_required", f"the deposit is {deposit} fen",
                          deposit_fen=deposit, article=rules.qualification.source)
    held = state.get("applicants", {}).get(bidder)
    if held is not None:
        if held["status"] == PENDING and held["account"] == account:
            return Change()
        if held["status"] != PENDING:
            raise Conflict("application_reviewed", f"your application is {held['status']}",
                           status=held["status"])
    entry = {"status": PENDING, "name": name, "account": account, "paid_fen": paid_fen,
             "applied_ms": now_ms}
    return Change(set={f"applicants.{bidder}": entry})


def review(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar, *, bidder: str,
           qualified: bool, reason: str, now: datetime) -> Change:
    """The seller's qualification review: a qualified applicant gets its paddle (竞买号);
    a rejected one its deposit back within the rule's period."""
    held = state.get("applicants", {}).get(bidder)
    if held is None:
        raise DomainError("no_application", f"{bidder} has not applied")
    status = QUALIFIED if qualified else REJECTED
    if held["status"] == status:
        return Change()
    if held["status"] != PENDING:
        raise Conflict("application_reviewed", f"the application is {held['status']}",
                       status=held["status"])
    if state["status"] == CLOSED:
        raise Conflict("auction_closed", "the auction has closed")
    sets: dict[str, Any] = {f"applicants.{bidder}.status": status,
                            f"applicants.{bidder}.reason": reason}
    events: list[Outgoing] = []
    if qualified:
        paddle = len(state.get("bidders", {})) + 1
        sets[f"bidders.{bidder}"] = {"paddle": paddle, "name": held["name"]}
    else:
        events.append(Outgoing(settlement(state, rules, cal, [(bidder, held)], None, now),
                               Category(state["category"])))
    return Change(set=sets, events=events)


def settlement(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar,
               deposits: list[tuple[str, Mapping[str, Any]]], winner: str | None,
               now: datetime) -> AuctionDepositsSettled:
    """The deposits ``deposits`` settled: refunded within the rule's period, but the
    ``winner``'s, which counts towards the price."""
    due = after(rules.deposit_refund, now, cal)
    return AuctionDepositsSettled(auction_id=state["auction_id"], settled_at=now, deposits=[
        AuctionDeposit(bidder_uscc=uscc, payer_account=a["account"], amount_fen=a["paid_fen"],
                       action="to_price" if uscc == winner else "refund",
                       due=None if uscc == winner else due, article=rules.deposit_refund.source)
        for uscc, a in deposits])


def settle_deposits(state: Mapping[str, Any], change: Change, rules: AuctionRules,
                    cal: Calendar, now: datetime) -> Change:
    """When ``change`` closes the sale: every qualified applicant's deposit is refunded,
    but the winner's, which counts towards the price (39号令, unverified)."""
    if change.set.get("status") != CLOSED:
        return change
    held = [(u, a) for u, a in (state.get("applicants") or {}).items()
            if a["status"] == QUALIFIED]
    if held:
        closed = next(o.event for o in change.events if isinstance(o.event, AuctionClosed))
        winner = closed.winner_uscc if closed.sold else None
        change.events.append(Outgoing(settlement(state, rules, cal, held, winner, now),
                                      Category(state["category"])))
    return change
