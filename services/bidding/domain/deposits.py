"""Bid deposits (投标保证金): what a bid must pay, and when deposits come back. Pure.

- a section's deposit is fixed by the tenderee, at most 2% of its estimated
  price (条例26); a bid pays exactly that amount from the bidder's own account;
- a bid withdrawn before the deadline is refunded within the rule's days of the
  withdrawal (条例35);
- a section that fails, or whose contract is signed, refunds every deposit
  within the rule's days (条例57: 书面合同签订后5日内退还中标人和未中标的投标人);
- a bid revoked after the deadline (its key not revealed: 视为撤销) may be
  withheld (条例35: 投标截止后投标人撤销投标文件的，招标人可以不退还投标保证金).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.bidding import DepositRefund, DepositRefundsScheduled
from contracts.calendar import Calendar
from ggzy.runtime.errors import DomainError
from services.bidding.domain.rules import CategoryRules, after

WITHHELD_ARTICLE = "招标投标法实施条例第35条"


def required(deposit_fen: int, reduction_pct: int) -> int:
    """What a bidder must pay of a section's deposit after its credit level's reduction
    (守信激励: e.g. level A pays half; rounded down to the fen)."""
    return deposit_fen * (100 - reduction_pct) // 100


def reduction_matters(deposit_fen: int, deposit: Mapping[str, Any] | None) -> bool:
    """Whether the bidder's credit reduction can change ``check_deposit``'s verdict or its
    wording: not for a section without a deposit, nor for a bid paying it in full (a
    reduction only lowers the least amount, never the most)."""
    return deposit_fen > 0 and (deposit is None or int(deposit["amount_fen"]) != deposit_fen)


def check_deposit(deposit_fen: int, deposit: Mapping[str, Any] | None,
                  reduction_pct: int = 0) -> None:
    """A bid pays the section's deposit (条例26), or less by its credit level's reduction;
    never more than the section asks."""
    least = required(deposit_fen, reduction_pct)
    if least == 0:
        return
    if deposit is None:
        raise DomainError("deposit_required", f"this section asks a bid deposit of "
                          f"{least} fen (实施条例第26条)", required_fen=least,
                          reduction_pct=reduction_pct)
    if not least <= int(deposit["amount_fen"]) <= deposit_fen:
        raise DomainError("deposit_amount_mismatch", f"the deposit must be {least} fen"
                          + (f" to {deposit_fen} fen" if least < deposit_fen else "")
                          + f", not {deposit['amount_fen']}", required_fen=least,
                          max_fen=deposit_fen, reduction_pct=reduction_pct)


def refunds(rules: CategoryRules, cal: Calendar, bids: Sequence[Mapping[str, Any]], at: datetime,
            revoked: frozenset[str] = frozenset()) -> list[DepositRefund]:
    """The refund (or withholding) of every deposit among ``bids``."""
    due = after(rules.deposit_refund, at, cal)
    out = []
    for bid in bids:
        deposit = bid.get("deposit")
        if not deposit:
            continue
        withheld = bid["_id"] in revoked
        out.append(DepositRefund(
            bid_id=bid["_id"], bidder_uscc=bid["bidder_uscc"],
            payer_account=deposit["payer_account"], amount_fen=int(deposit["amount_fen"]),
            action="withheld" if withheld else "refund", due=None if withheld else due,
            article=WITHHELD_ARTICLE if withheld else rules.deposit_refund.source))
    return out


def scheduled(tender_id: str, code: str, trigger: str, items: list[DepositRefund],
              at: datetime) -> list[DepositRefundsScheduled]:
    """The event of a schedule, or none when no deposit was paid."""
    if not items:
        return []
    return [DepositRefundsScheduled(tender_id=tender_id, section_code=code, trigger=trigger,
                                    refunds=items, scheduled_at=at)]
