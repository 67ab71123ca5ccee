"""Objections to the publicised result (成交公示期内的异议): filed, they hold the contract;
upheld, the result falls with its confirmation and contract and the deposit goes back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import AuctionMethod, AuctionResultAnnulled
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from services.bidding.domain.auction.applications import settlement
from services.bidding.domain.auction.model import HELD, OVERDUE, PENDING, SIGNED, VOID, ms
from services.bidding.domain.rules import AuctionRules, Rule, after


# objections to the publicised result (成交公示期内的异议) --------------------------------
def pending_objections(state: Mapping[str, Any]) -> list[str]:
    """Objections to the publicised result still waiting for the seller's answer."""
    return sorted(oid for oid, status in (state.get("objections") or {}).items()
                  if status == PENDING)


def _result_publicity_rule(state: Mapping[str, Any], rules: AuctionRules) -> Rule:
    """The period the sale's result is publicised under: a sale by agreement's from its
    contract (21号令第14条) where the category has one, else the result's (成交公示)."""
    if state["method"] == AuctionMethod.AGREEMENT and rules.agreement_result_publicity.value:
        return rules.agreement_result_publicity
    return rules.result_publicity


def _winner(state: Mapping[str, Any]) -> str | None:
    """The sold result's winner (by its paddle; the public result names none)."""
    paddle = (state.get("result") or {}).get("winning_paddle")
    return next((uscc for uscc, b in (state.get("bidders") or {}).items()
                 if paddle is not None and b["paddle"] == paddle), None)


def objection_filed(state: Mapping[str, Any], objection_id: str) -> Change:
    """An objection to the sale's result notice: the contract waits for its answer."""
    if objection_id in (state.get("objections") or {}):
        return Change()
    return Change(set={f"objections.{objection_id}": PENDING})


def objection_answered(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar, *,
                       objection_id: str, upheld: bool, answer: str, now: datetime) -> Change:
    """The seller's answer. Upheld: the result does not stand (成交结果无效); any
    confirmation or contract on it falls and the winner's deposit is refunded, once.
    Dismissed: a contract held by the objections gets its full time again."""
    status = "upheld" if upheld else "dismissed"
    if (state.get("objections") or {}).get(objection_id) == status:
        return Change()
    sets: dict[str, Any] = {f"objections.{objection_id}": status}
    result = state.get("result") or {}
    winner = _winner(state)
    confirmation = state.get("confirmation") or {}
    contract = state.get("contract") or {}
    lapsed = OVERDUE in (confirmation.get("status"), contract.get("status"))  # fell already
    if upheld and result.get("sold") and winner is not None and not lapsed \
            and not state.get("annulled"):
        annulled = _annulled(state, rules, cal, winner, objection_id=objection_id,
                             answer=answer, now=now)
        return Change(set={**sets, **annulled.set}, events=annulled.events)
    if not upheld and (state.get("contract") or {}).get("status") == HELD \
            and pending_objections(state) == [objection_id]:
        due = after(rules.contract_within, now, cal)
        sets.update({"contract.status": PENDING, "contract.due_ms": ms(due),
                     "contract.due": due.isoformat()})
    return Change(set=sets)


def _annulled(state: Mapping[str, Any], rules: AuctionRules, cal: Calendar, winner: str, *,
              objection_id: str, answer: str, now: datetime) -> Change:
    """The sold result annulled on an upheld objection: its event, the winner's deposit
    back, and any confirmation or contract on it void."""
    result = state["result"]
    confirmation = state.get("confirmation") or {}
    contract = state.get("contract") or {}
    category = Category(state["category"])
    annulled = AuctionResultAnnulled(
        auction_id=state["auction_id"], winner_uscc=winner,
        price_fen=int(result["price_fen"]), objection_id=objection_id, reason=answer,
        annulled_at=now, contract_signed=contract.get("status") == SIGNED,
        article=_result_publicity_rule(state, rules).source)
    events = [Outgoing(annulled, category)]
    applied = (state.get("applicants") or {}).get(winner)
    if applied:  # counted towards the price, it goes back to the winner
        events.append(Outgoing(settlement(state, rules, cal, [(winner, applied)], None, now),
                               category))
    sets: dict[str, Any] = {"annulled": {"objection_id": objection_id, "at": now.isoformat()}}
    if confirmation:
        sets["confirmation.status"] = VOID
    if contract:
        sets["contract.status"] = VOID
    return Change(set=sets, events=events)
