"""The contract's terms as the law bounds them: its price the winning bid's (招标投标法第46条;
实施条例第57条: 合同的标的、价款...应当与招标文件和中标人的投标文件的内容一致; 政府采购法第46条),
and a performance bond of at most 10% of the contract price (实施条例第58条: 履约保证金不得超过
中标合同金额的10%; 政府采购法实施条例第48条)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.bidding import ContractSigned
from contracts.categories import Category
from services.bidding.domain import tender
from services.bidding.domain.timeline import RuleViolation
from tests.unit.test_objections import _apply, _events
from tests.unit.test_opening_record import BIDDERS, CONSTRUCTION, DEADLINE, SEC, TID

WON = 8_471_000_00


def _awarded() -> dict[str, Any]:
    winner = {"rank": 1, "bid_id": f"{SEC}:W", "bidder_uscc": BIDDERS[0], "bidder_name": "甲",
              "price_fen": WON, "score": "95.00"}
    return {"tender_id": TID, "category": "construction", "tenderee_uscc": BIDDERS[1],
            "audit": [], "section_state": {SEC: {"status": "awarded", "winner": winner,
                                                 "candidates": [winner]}}}


def _sign(price: int, bond: int | None = None, rules: Any = CONSTRUCTION) -> Any:
    return tender.sign_contract(_awarded(), rules, SEC, price, "tenderee-1", DEADLINE,
                                bond_fen=bond)


def test_the_contract_is_signed_at_the_winning_price_with_a_bond_up_to_ten_percent() -> None:
    change = _sign(WON, WON // 10)
    after = _apply(_awarded(), change)
    assert after["section_state"][SEC]["status"] == "contracted"
    [signed] = [e for e in _events(change) if isinstance(e, ContractSigned)]
    assert (signed.price_fen, signed.performance_bond_fen) == (WON, WON // 10)
    assert after["audit"][-1]["data"] == {"section": SEC, "price_fen": WON,
                                          "performance_bond_fen": WON // 10}
    no_bond = [e for e in _events(_sign(WON)) if isinstance(e, ContractSigned)]
    assert no_bond[0].performance_bond_fen is None


def test_a_contract_price_other_than_the_winning_bids_is_refused_tiaoli57() -> None:
    with pytest.raises(RuleViolation) as err:
        _sign(WON - 1)
    assert err.value.code == "contract_price_mismatch"
    assert err.value.details["awarded_price_fen"] == WON and "第57条" in err.value.article
    from services.bidding.domain.rules import load
    procurement = load().for_category(Category.PROCUREMENT)
    with pytest.raises(RuleViolation) as err:
        _sign(WON + 1, rules=procurement)
    assert "政府采购法第46条" in err.value.article


def test_a_bond_above_ten_percent_of_the_price_is_refused_tiaoli58() -> None:
    with pytest.raises(RuleViolation) as err:
        _sign(WON, WON // 10 + 1)
    assert err.value.code == "performance_bond_too_high"
    assert err.value.details["cap_fen"] == WON // 10 and "第58条" in err.value.article
    assert int(CONSTRUCTION.performance_bond_percent.value) == 10  # from configuration
