"""The award after the publicity (中标) and its decline, then the contract with the
winner (合同): its terms, its signing and its lapse."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.bidding import (
    AwardDeclined,
    Awarded,
    Candidate,
    ContractOverdue,
    ContractSigned,
    DepositRefund,
    TenderFailed,
)
from contracts.calendar import Calendar
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, Forbidden
from services.bidding.domain import deposits
from services.bidding.domain.rules import CategoryRules
from services.bidding.domain.tender.core import (
    State,
    _change,
    _refund_state,
    ms,
    refuse_while_suspended,
    section_of,
)
from services.bidding.domain.timeline import RuleViolation, contract_due

DECLINE_ARTICLE = "招标投标法实施条例第55条 (依次确定其他中标候选人); 第74条"


def award(state: State, rules: CategoryRules, cal: Calendar, code: str, *, upheld: bool,
          names: list[str], now: datetime,
          losers: Callable[[str], Sequence[DepositRefund]] | None = None) -> Change:
    """After the publicity: award to the first-ranked (条例55), or re-evaluate if upheld.

    Where the category refunds all but the winner from the award (``losers_refund_at_award``,
    政采条例33), ``losers(winner's bid id)`` are scheduled in the same write; the contract
    then refunds the rest."""
    sec = section_of(state, code)
    if sec["status"] != "publicity":
        return Change()
    waits = f"section_state.{code}.award_waits"
    if state.get("suspensions"):  # suspended (条例62): the award waits for the resumption
        return _change(state, "platform", "award_deferred", {"section": code},
                       {waits: {"upheld": upheld}}, [], now)
    if upheld:
        again = {f"section_state.{code}.status": "evaluating", f"section_state.{code}.sheets": {}}
        return _change(state, "platform", "reevaluate", {"section": code}, again, [], now,
                       unset=[waits])
    winner = Candidate.model_validate(sec["candidates"][0])
    due = contract_due(rules, cal, now)
    event = Awarded(tender_id=state["tender_id"], section_code=code, winner=winner,
                    awarded_at=now, contract_due=due, committee=names, draw_seed=sec["seed"])
    sets: dict[str, Any] = {f"section_state.{code}.status": "awarded",
            f"section_state.{code}.winner": winner.model_dump(mode="json"),
            f"section_state.{code}.contract_due_ms": ms(due)}
    data = {"section": code, "winner": winner.bidder_uscc, "article": rules.contract_within.source}
    events: list[Any] = [event]
    if losers is not None and rules.losers_refund_at_award.value >= 1:
        items = list(losers(winner.bid_id))
        sets[f"section_state.{code}.refunded_at_award"] = [r.bid_id for r in items]
        events.extend(deposits.scheduled(state["tender_id"], code, "awarded", items, now))
    return _change(state, "platform", "award", data, sets, events, now, unset=[waits])


def decline_award(state: State, rules: CategoryRules, cal: Calendar, code: str, bidder: str,
                  reason: str, names: list[str], now: datetime,
                  source: str | None = None) -> Change:
    """The winner declines (放弃中标): award the next candidate in rank, or fail (条例55)."""
    sec = section_of(state, code)
    if sec["status"] != "awarded":
        raise Conflict("not_awarded", f"section {code} has no award to decline")
    winner = Candidate.model_validate(sec["winner"])
    if winner.bidder_uscc != bidder:
        raise Forbidden("not_the_winner", "only the winner may decline the award")
    refuse_while_suspended(state, "the award is not declined")
    declined = [*sec.get("declined", []), bidder]
    nxt = next((Candidate.model_validate(c) for c in sec["candidates"]
                if c["rank"] > winner.rank and c["bidder_uscc"] not in declined), None)
    article = DECLINE_ARTICLE
    event = AwardDeclined(tender_id=state["tender_id"], section_code=code, bidder_uscc=bidder,
                          reason=reason, declined_at=now, next_winner=nxt, article=article)
    sets: dict[str, Any] = {f"section_state.{code}.declined": declined}
    events: list[Any] = [event]
    if nxt is None:
        sets[f"section_state.{code}.status"] = "failed"
        sets[f"section_state.{code}.reason"] = "winner_declined"
        events.append(TenderFailed(tender_id=state["tender_id"], section_code=code,
                                   reason="winner_declined", article=article, valid_bids=0))
    else:
        due = contract_due(rules, cal, now)
        events.append(Awarded(tender_id=state["tender_id"], section_code=code, winner=nxt,
                              awarded_at=now, contract_due=due, committee=names,
                              draw_seed=sec["seed"]))
        sets.update({f"section_state.{code}.winner": nxt.model_dump(mode="json"),
                     f"section_state.{code}.contract_due_ms": ms(due)})
    data = {"section": code, "declined": bidder, "next": nxt.bidder_uscc if nxt else None}
    return _change(state, bidder, "decline", data, sets, events, now, source)


def contract_terms(rules: CategoryRules, winner: Mapping[str, Any], price_fen: int,
                   bond_fen: int | None) -> None:
    """A contract's terms as the law bounds them: its price the winning bid's
    (``contract_as_awarded``: 条例57; 政府采购法46), and a performance bond, where the
    documents ask one, of at most ``performance_bond_percent`` of the contract price
    (条例58: 履约保证金不得超过中标合同金额的10%; 政采条例48)."""
    bid = int(winner["price_fen"])
    if rules.contract_as_awarded.value and price_fen != bid:
        raise RuleViolation("contract_price_mismatch", rules.contract_as_awarded,
                            f"the contract price must be the winning bid's {bid} fen",
                            awarded_price_fen=bid)
    cap = price_fen * int(rules.performance_bond_percent.value) // 100
    if bond_fen is not None and bond_fen > cap:
        raise RuleViolation("performance_bond_too_high", rules.performance_bond_percent,
                            f"the performance bond may be at most {cap} fen "
                            f"({int(rules.performance_bond_percent.value)}% of the contract "
                            "price)", cap_fen=cap)


def sign_contract(state: State, rules: CategoryRules, code: str, price_fen: int, actor: str,
                  now: datetime, refunds: Sequence[DepositRefund] = (),
                  source: str | None = None, bond_fen: int | None = None) -> Change:
    """The contract with the winner (法46) on the terms the law allows
    (:func:`contract_terms`); every deposit is scheduled for refund (条例57)."""
    sec = section_of(state, code)
    if sec["status"] != "awarded":
        raise Conflict("not_awarded", f"section {code} has no award to contract")
    refuse_while_suspended(state, "no contract is recorded")
    winner = sec["winner"]
    contract_terms(rules, winner, price_fen, bond_fen)
    done = set(sec.get("refunded_at_award") or ())  # 政采条例33: the others at the award
    refunds = [r for r in refunds if r.bid_id not in done]
    event = ContractSigned(tender_id=state["tender_id"], section_code=code,
                           winner_uscc=winner["bidder_uscc"], price_fen=price_fen, signed_at=now,
                           performance_bond_fen=bond_fen)
    sets = {f"section_state.{code}.status": "contracted",
            f"section_state.{code}.contract_price_fen": price_fen,
            **{f"section_state.{code}.{k}": v for k, v in _refund_state(refunds).items()}}
    refund = deposits.scheduled(state["tender_id"], code, "contract_signed", list(refunds), now)
    data: dict[str, Any] = {"section": code, "price_fen": price_fen}
    if bond_fen is not None:
        data["performance_bond_fen"] = bond_fen
    return _change(state, actor, "contract", data, sets,
                   [event, *refund], now, source)


def contract_overdue(state: State, code: str, now: datetime) -> Change:
    """The winner did not sign in time: a fact for credit (法46)."""
    sec = section_of(state, code)
    if sec["status"] != "awarded" or state.get("suspensions") \
            or ms(now) < int(sec["contract_due_ms"]):  # suspended, or moved by a suspension
        return Change()
    event = ContractOverdue(tender_id=state["tender_id"], section_code=code,
                            winner_uscc=sec["winner"]["bidder_uscc"],
                            due=datetime.fromtimestamp(sec["contract_due_ms"] / 1000, UTC))
    return _change(state, "platform", "contract_overdue", {"section": code},
                   {f"section_state.{code}.status": "contract_overdue"}, [event], now)
