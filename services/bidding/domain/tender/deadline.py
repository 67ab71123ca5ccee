"""The bid deadline (投标截止时间): the bids it admits (and from whom), a modification
moving it, and the seal and the close at it with its audit entry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import DepositRefund, TenderModified
from contracts.calendar import Calendar
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, Forbidden
from services.bidding.domain import deposits
from services.bidding.domain.rules import CategoryRules
from services.bidding.domain.tender.core import (
    State,
    _change,
    _failed,
    _refund_state,
    iso,
    ms,
    refuse_while_suspended,
)
from services.bidding.domain.tender.schedule import shifted_evaluations
from services.bidding.domain.timeline import (
    RuleViolation,
    deadline_after_modification,
    decryption_end,
)


def close_entry(state: State) -> dict[str, Any]:
    """The close's entry in the tender's audit trail; until the deadline has closed bidding
    nothing about the bids is shown (20号令: nobody learns who or how many have bid)."""
    closes = [e for e in state.get("audit") or [] if e["action"] == "close"]
    if state["status"] == "open" or not closes:
        raise Conflict("not_closed", "the bids are sealed until the deadline: nobody "
                       "learns who or how many have bid (20号令)")
    return dict(closes[0])


def modify(state: State, rules: CategoryRules, *, modification_id: str, summary: str,
           affects_bids: bool, actor: str, now: datetime, source: str | None = None) -> Change:
    """A clarification/modification; the deadline moves when <15 days remain (法23)."""
    if state["status"] != "open":
        raise Conflict("tender_closed", "the bid deadline has passed")
    old = datetime.fromisoformat(state["bid_deadline"])
    new = deadline_after_modification(rules, modified_at=now, deadline=old,
                                      affects_bids=affects_bids)
    event = TenderModified(tender_id=state["tender_id"], modification_id=modification_id,
                           summary=summary, affects_bids=affects_bids, modified_at=now,
                           previous_deadline=old, bid_deadline=new, postponed_by_rule=new != old)
    data = {"summary": summary, "deadline": iso(new), "postponed": new != old,
            "article": rules.modification_notice.source}
    sets = {"bid_deadline": iso(new), "deadline_ms": ms(new),
            **shifted_evaluations(state, ms(new) - ms(old))}
    return _change(state, actor, "modify", data, sets, [event], now, source)


def seal(state: State) -> Change:
    """Before the opening reads the bids at the deadline: mark the deadline it closes, so a
    bid whose write ends after this knows to ask whether the read had it."""
    if state["status"] != "open" or state.get("sealed_for") == state["deadline_ms"]:
        return Change()
    return Change(set={"sealed_for": state["deadline_ms"]})


def close(state: State, rules: CategoryRules, cal: Calendar, counts: dict[str, int],
          now: datetime, refunds: Mapping[str, list[DepositRefund]] | None = None,
          thin: Mapping[str, list[str]] | None = None,
          sealed: Mapping[str, Mapping[str, Any]] | None = None) -> Change:
    """At the deadline: sections with too few bids fail (条例44); the rest decrypt.

    ``sealed`` (per section: the count and root of its bids' receipt leaves,
    ``audit.sealed_of``, and the root of its bids' operation chains, withdrawn bids too,
    ``audit.operations_of``) goes into the close's audit entry: the chain fixes which
    sealed bids the deadline had and every operation on them, bidders unnamed.

    A failed section's deposits are scheduled for refund in the same write (条例57), and
    it keeps who had bid (``thin``: fewer than the minimum, so a few credit codes), for a
    bid whose write ended as bidding closed to learn whether it was counted.
    """
    if state["status"] != "open" or state.get("suspensions"):  # suspended: opens later
        return Change()
    deadline = datetime.fromisoformat(state["bid_deadline"])
    sets: dict[str, Any] = {"status": "closed"}
    events: list[Any] = []
    end = decryption_end(rules, cal, deadline)
    for code in state["section_state"]:
        n = counts.get(code, 0)
        if n < rules.minimum_bidders.n:
            items = (refunds or {}).get(code, [])
            fields = {"status": "failed", "reason": "too_few_bids",
                      "received": list((thin or {}).get(code, [])), **_refund_state(items)}
            events.append(_failed(state, code, n, rules))
            events.extend(deposits.scheduled(state["tender_id"], code, "failed", items, now))
        else:
            fields = {"status": "decrypting", "decrypt_end_ms": ms(end), "bids": n}
        # set field by field: the section keeps what it had (its draw seed, bound at
        # publication)
        sets.update({f"section_state.{code}.{k}": v for k, v in fields.items()})
    data: dict[str, Any] = {"counts": counts, "decrypt_end": iso(end)}
    if sealed:
        data["sealed"] = {code: dict(v) for code, v in sorted(sealed.items())}
    return _change(state, "platform", "close", data, sets, events, now)


def refuse_after_deadline(state: State, now: datetime, rules: CategoryRules) -> None:
    """Bids are accepted only before the deadline (法28; 20号令: unfinished = not submitted),
    and neither taken nor withdrawn while the tender is suspended (条例22)."""
    if state["status"] != "open" or ms(now) >= int(state["deadline_ms"]):
        raise RuleViolation("bid_deadline_passed", rules.late_bids,
                            "the bid deadline has passed: bids are refused")
    refuse_while_suspended(state, "no bid is taken or withdrawn")


def refuse_uninvited(state: State, bidder: str, rules: CategoryRules) -> None:
    """A tender with an invitation list takes bids from its invitees only (法17)."""
    invited = state.get("invited")
    if invited and bidder not in invited:
        raise Forbidden("not_invited", f"{bidder} was not invited to this tender "
                        f"({rules.invitation_list.source})", article=rules.invitation_list.source)
