"""The acceptance of a contract's performance (履约验收), as pure decisions.

After the contract is signed, the tenderee (or its agency) checks the winner's
performance against each technical, service and safety standard the contract sets and
records the result (政府采购法第41条; 政府采购法实施条例第45条: 验收书应当包括每一项技术、
服务、安全标准的履约情况; construction: 建设工程质量管理条例第16条 竣工验收). The
acceptance passes only when every standard was met: the platform derives the verdict from
the items, so a record cannot say 合格 over an unmet standard.

- A public service's acceptance carries the service recipients' opinion where the
  category's rules ask for it (``acceptance_recipients_opinion``, 政采条例45).
- A contract of at least ``acceptance_inspection_from_fen`` names the quality inspection
  body that took part (政府采购法41: 大型或者复杂的项目; the law gives no amount, so the
  line is a configurable default).
- A failed acceptance may be followed by another after rectification (整改后复验), each a
  new round on the record; a passed one is final.

Every round is public (履约信息, 国办发〔2015〕63号 (十一): 依法公开...履约信息): announcement
publishes it, and credit records a failed one against the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts.bidding import AcceptanceItem, ContractAccepted
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain.rules import CategoryRules
from services.bidding.domain.tender import (
    State,
    _change,
    iso,
    refuse_while_suspended,
    section_of,
)
from services.bidding.domain.timeline import RuleViolation

ARTICLE = {"construction": "建设工程质量管理条例第16条 (竣工验收)",
           "procurement": "政府采购法第41条; 政府采购法实施条例第45条 (履约验收)"}
DEFAULT_ARTICLE = "国办发〔2015〕63号 (十一): 依法公开履约信息"


def contract_price(section: dict[str, Any]) -> int:
    """The contract's price as recorded at its signing (else the winning bid's: a contract
    signed before the price was kept is at the winning bid's, 条例57)."""
    price = section.get("contract_price_fen")
    return int(price if price is not None else section["winner"]["price_fen"])


def accept(state: State, rules: CategoryRules, code: str, items: Sequence[AcceptanceItem], *,
           actor: str, now: datetime, public_service: bool = False,
           recipients_opinion: str | None = None, inspection_body_uscc: str | None = None,
           source: str | None = None) -> Change:
    """One round of acceptance of section ``code``'s contract; see the module."""
    sec = section_of(state, code)
    if sec["status"] != "contracted":
        raise Conflict("not_contracted", f"section {code} has no signed contract to accept "
                       f"(status {sec['status']})")
    refuse_while_suspended(state, "no acceptance is recorded")
    rounds = list(sec.get("acceptances") or [])
    done = next((r for r in rounds if r["passed"]), None)
    if done is not None:
        raise Conflict("acceptance_final", f"section {code}'s contract passed acceptance on "
                       f"{done['accepted_at']}: that result is final", round=done["round"])
    standards = [i.standard for i in items]
    if not items or len(set(standards)) != len(standards):
        raise DomainError("acceptance_items_invalid", "name each standard of the contract "
                          "once, with whether it was met (政府采购法实施条例第45条)")
    opinion = (recipients_opinion or "").strip() or None
    if public_service and rules.acceptance_recipients_opinion.n and opinion is None:
        raise RuleViolation("recipients_opinion_required", rules.acceptance_recipients_opinion,
                            "a public service's acceptance carries its recipients' opinion")
    price = contract_price(sec)
    line = rules.acceptance_inspection_from_fen.n
    if line and price >= line and inspection_body_uscc is None:
        raise RuleViolation("inspection_body_required", rules.acceptance_inspection_from_fen,
                            f"a contract of {price} fen (at least {line}) is accepted with a "
                            "quality inspection body: name it", line_fen=line)
    passed = all(i.met for i in items)
    n = len(rounds) + 1
    article = ARTICLE.get(state["category"], DEFAULT_ARTICLE)
    event = ContractAccepted(
        tender_id=state["tender_id"], section_code=code,
        winner_uscc=sec["winner"]["bidder_uscc"], price_fen=price, round=n, passed=passed,
        items=list(items), recipients_opinion=opinion,
        inspection_body_uscc=inspection_body_uscc, accepted_at=now, article=article)
    record = {"round": n, "passed": passed, "accepted_at": iso(now), "by": actor,
              "items": [i.model_dump(mode="json") for i in items],
              "recipients_opinion": opinion, "inspection_body_uscc": inspection_body_uscc}
    data = {"section": code, "round": n, "passed": passed,
            "unmet": [i.standard for i in items if not i.met]}
    return _change(state, actor, "acceptance", data,
                   {f"section_state.{code}.acceptances": [*rounds, record]}, [event], now,
                   source)


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A round as anyone may read it: who recorded it is on the audit trail, not here."""
    return {k: v for k, v in record.items() if k != "by"}
