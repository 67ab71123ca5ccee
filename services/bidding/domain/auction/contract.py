"""After a sale: the winner's confirmation (成交确认书) and the sale contract (出让合同),
each before it is due, and a deposit forfeited when one lapses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import (
    AuctionConfirmationOverdue,
    AuctionConfirmed,
    AuctionContractOverdue,
    AuctionContractSigned,
    AuctionDeposit,
    AuctionDepositsSettled,
    AuctionMethod,
)
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from services.bidding.domain.auction.close import publicity_fields
from services.bidding.domain.auction.model import (
    CONFIRMED,
    HELD,
    OVERDUE,
    PENDING,
    SIGNED,
    VOID,
    at,
    ms,
)
from services.bidding.domain.auction.objections import pending_objections
from services.bidding.domain.rules import AuctionRules, after


# the confirmation (成交确认书) -----------------------------------------------------------
def confirm(state: Mapping[str, Any], rules: AuctionRules, bidder: str, now_ms: int,
            cal: Calendar) -> Change:
    """The winner signs the confirmation before it is due; signing again changes nothing.
    Where the category asks a sale contract (出让合同) next, its due time starts."""
    held = state.get("confirmation")
    if held is None:
        raise Conflict("no_confirmation", "this sale asks no confirmation, or is not sold",
                       article=rules.confirmation_within.source)
    if bidder != held["winner"]:
        raise Forbidden("not_the_winner", "only the winner signs the confirmation")
    if held["status"] == CONFIRMED:
        return Change()
    if held["status"] == VOID:
        raise Conflict("result_annulled", "the result was annulled on an upheld objection",
                       article=rules.result_publicity.source)
    if held["status"] == OVERDUE or now_ms >= int(held["due_ms"]):
        raise Conflict("confirmation_overdue", "the confirmation was due at "
                       f"{held['due']}", due=held["due"],
                       article=rules.confirmation_within.source)
    sets: dict[str, Any] = {"confirmation.status": CONFIRMED, "confirmation.at_ms": now_ms}
    due = None
    if rules.contract_within.value > 0:
        # from the later of the confirmation and the result's publicity end
        due = after(rules.contract_within, max(at(now_ms), _publicity_end(state) or at(0)), cal)
        sets["contract"] = {"status": PENDING, "winner": bidder, "due_ms": ms(due),
                            "due": due.isoformat()}
    event = AuctionConfirmed(auction_id=state["auction_id"], winner_uscc=bidder,
                             price_fen=int(state["result"]["price_fen"]),
                             confirmed_at=at(now_ms), article=rules.confirmation_within.source,
                             contract_due=due)
    if rules.result_publicity_after_contract.value:
        # the confirmation is the 产权交易合同: the result is publicised from it, with what
        # 32号令第29条 names (评估结果, 转让底价, 交易价格; unverified)
        publicity = publicity_fields(rules, cal, at(now_ms))
        event = event.model_copy(update={
            **publicity, "appraised_fen": state.get("appraised_fen"),
            "listing_price_fen": int(state["starting_price_fen"])})
        if publicity:
            sets["result.publicity_end"] = publicity["publicity_end"].isoformat()
    return Change(set=sets, events=[Outgoing(event, Category(state["category"]))])


def _publicity_end(state: Mapping[str, Any]) -> datetime | None:
    end = (state.get("result") or {}).get("publicity_end")
    return None if end is None else datetime.fromisoformat(str(end))


def confirmation_due(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> Change:
    """At the due time: a winner that has not signed loses the sale and its deposit
    (竞买保证金不予退还), once."""
    held = state.get("confirmation")
    if held is None or held["status"] != PENDING or now_ms < int(held["due_ms"]):
        return Change()
    return Change(set={"confirmation.status": OVERDUE}, events=_lapsed(
        state, AuctionConfirmationOverdue, held, rules.confirmation_within.source, now_ms))


def _lapsed(state: Mapping[str, Any], kind: type[AuctionConfirmationOverdue]
            | type[AuctionContractOverdue], held: Mapping[str, Any], article: str,
            now_ms: int) -> list[Outgoing]:
    """A winner that did not sign (``held``: the confirmation or the contract) in time:
    the event of ``kind`` and, where it paid one, its deposit forfeited."""
    winner = held["winner"]
    category = Category(state["category"])
    applied = (state.get("applicants") or {}).get(winner)
    forfeited = int(applied["paid_fen"]) if applied else 0
    events = [Outgoing(kind(auction_id=state["auction_id"], winner_uscc=winner,
                            due=at(int(held["due_ms"])), deposit_forfeited_fen=forfeited,
                            article=article), category)]
    if applied:
        events.append(Outgoing(AuctionDepositsSettled(
            auction_id=state["auction_id"], settled_at=at(now_ms), deposits=[AuctionDeposit(
                bidder_uscc=winner, payer_account=applied["account"], amount_fen=forfeited,
                action="forfeit", due=None, article=article)]), category))
    return events


# the contract (出让合同; 39号令第21条, 矿业权交易规则第26条, unverified) ----------------------
def sign_contract(state: Mapping[str, Any], rules: AuctionRules, *, contract_no: str,
                  price_fen: int, now_ms: int, cal: Calendar) -> Change:
    """The seller records the sale contract signed with the winner: after the confirmation
    and the result's publicity, with no objection waiting (矿业权交易规则第27条: 交易中止),
    at the deal price, before it is due. The same contract again changes nothing."""
    held = state.get("contract")
    if held is None:
        raise Conflict("no_contract", "this sale asks no separate contract, or its "
                       "confirmation is not signed", article=rules.contract_within.source)
    if held["status"] == SIGNED:
        if held.get("contract_no") == contract_no and int(held["price_fen"]) == price_fen:
            return Change()
        raise Conflict("contract_signed", "the contract is already recorded",
                       contract_no=held.get("contract_no"))
    _refuse_contract(state, rules, held, price_fen, now_ms)
    event = AuctionContractSigned(auction_id=state["auction_id"], winner_uscc=held["winner"],
                                  contract_no=contract_no, price_fen=price_fen,
                                  signed_at=at(now_ms), article=rules.contract_within.source)
    sets: dict[str, Any] = {"contract.status": SIGNED, "contract.contract_no": contract_no,
                            "contract.price_fen": price_fen, "contract.at_ms": now_ms}
    period = rules.agreement_result_publicity
    if state["method"] == AuctionMethod.AGREEMENT and period.value > 0:
        # 协议出让结果 publicised from the contract (21号令第14条, unverified)
        end = after(period, at(now_ms), cal)
        event = event.model_copy(update={"publicity_end": end,
                                         "publicity_article": period.source})
        sets["result.publicity_end"] = end.isoformat()
    return Change(set=sets, events=[Outgoing(event, Category(state["category"]))])


def _refuse_contract(state: Mapping[str, Any], rules: AuctionRules, held: Mapping[str, Any],
                     price_fen: int, now_ms: int) -> None:
    """Refuse a contract on an annulled result, past its due time, during the result's
    publicity, while an objection waits, or at another price than the deal's."""
    if held["status"] == VOID:
        raise Conflict("result_annulled", "the result was annulled on an upheld objection",
                       article=rules.result_publicity.source)
    if held["status"] == OVERDUE or (held["status"] == PENDING
                                     and now_ms >= int(held["due_ms"])):
        raise Conflict("contract_overdue", f"the contract was due at {held['due']}",
                       due=held["due"], article=rules.contract_within.source)
    end = _publicity_end(state)
    if end is not None and now_ms < ms(end):
        raise Conflict("publicity_running", "the contract follows the end of the result's "
                       "publicity", publicity_end=end.isoformat(),
                       article=rules.result_publicity.source)
    waiting = pending_objections(state)
    if waiting:
        raise Conflict("objection_pending", "an objection to the result waits for the "
                       "seller's answer: the sale is suspended until then", objections=waiting,
                       article=rules.contract_within.source)
    deal = int(state["result"]["price_fen"])
    if price_fen != deal:
        raise DomainError("contract_price_mismatch", f"the contract price must be the deal "
                          f"price, {deal} fen", deal_price_fen=deal,
                          article=rules.contract_within.source)


def contract_due(state: Mapping[str, Any], rules: AuctionRules, now_ms: int) -> Change:
    """At the due time: an unsigned contract forfeits the winner's deposit (定金不予退还),
    once; while an objection waits, the sale is suspended instead (its answer restarts
    the time: ``objection_answered``)."""
    held = state.get("contract")
    if held is None or held["status"] != PENDING or now_ms < int(held["due_ms"]):
        return Change()
    if pending_objections(state):
        return Change(set={"contract.status": HELD})
    return Change(set={"contract.status": OVERDUE}, events=_lapsed(
        state, AuctionContractOverdue, held, rules.contract_within.source, now_ms))
