"""A tender's record at its core: its times (epoch milliseconds, ISO text), its audited
change, its sections as published and as they stand, a section's failure and refunds, and
the refusal of a suspended tender; imports none of the package's other modules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from contracts.bidding import DepositRefund, TenderFailed
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain import audit
from services.bidding.domain.rules import CategoryRules

State = dict[str, Any]


def ms(at: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(at.timestamp() * 1000)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _change(state: State, actor: str, action: str, data: dict[str, Any], sets: dict[str, Any],
            events: list[Any], now: datetime, source: str | None = None,
            unset: Sequence[str] = ()) -> Change:
    """A change that also appends to the audit trail (same atomic write)."""
    chain = audit.appended(state, at=iso(now), actor=actor, action=action, data=data,
                           source=source)
    category = Category(state["category"])
    return Change(set={**sets, "audit": chain}, unset=list(unset),
                  events=[Outgoing(e, category) for e in events])


def published_section(state: State, section_code: str) -> dict[str, Any]:
    """A section as published (name, estimated price, deposit)."""
    for sec in state["sections"]:
        if sec["section_code"] == section_code:
            return dict(sec)
    raise DomainError("section_not_found", f"tender {state['tender_id']} has no section "
                      f"{section_code}")


def section_of(state: State, section_code: str) -> dict[str, Any]:
    """A section's state, or a specific 404-like refusal."""
    sec = state["section_state"].get(section_code)
    if sec is None:
        raise DomainError("section_not_found", f"tender {state['tender_id']} has no section "
                          f"{section_code}")
    return dict(sec)


def _failed(state: State, code: str, valid: int, rules: CategoryRules) -> TenderFailed:
    return TenderFailed(tender_id=state["tender_id"], section_code=code,
                        reason="fewer_than_minimum_bids", article=rules.minimum_bidders.source,
                        valid_bids=valid)


def _refund_state(refunds: Sequence[DepositRefund]) -> dict[str, Any]:
    return {"refunds": [r.model_dump(mode="json") for r in refunds]}


def refuse_while_suspended(state: State, what: str) -> None:
    """A suspended tender (条例22, 62) does nothing of ``what`` until it resumes."""
    suspensions = state.get("suspensions")
    if suspensions:
        first = next(iter(suspensions.values()))
        raise Conflict("tender_suspended", f"the tender is suspended ({first['reason']}) "
                       f"until it resumes: {what} meanwhile ({first['article']})",
                       article=first["article"])
