"""A bid a fault not its bidder's kept from being decrypted (20号令第31条: 因投标人原因造成投标
文件未解密的，视为撤销其投标文件；因投标人之外的原因造成投标文件未解密的，视为撤回其投标文件，
投标人有权要求责任方赔偿): recorded in the decryption window, it counts as withdrawn at the
opening (its deposit refunded, 条例35 does not apply), not revoked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain import audit, tender
from services.bidding.opening import opening_lines, revoked_bids
from tests.unit.test_objections import _apply
from tests.unit.test_opening_record import BIDDERS, CONSTRUCTION, DEADLINE, SEC, _decrypting

IN_WINDOW = DEADLINE + timedelta(minutes=20)


def _fault(state: dict[str, Any], bidder: str = BIDDERS[3], cause: str = "platform",
           at: datetime = IN_WINDOW) -> Change:
    return tender.record_decrypt_fault(state, SEC, bidder, cause, "解密服务器故障 10:05-10:40",
                                       "operator-1", at, "10.0.0.8")


def test_an_undecrypted_bid_is_withdrawn_where_a_fault_not_its_bidders_was_recorded() -> None:
    bids = [{"_id": f"b{n}", "bidder_uscc": u, "received_ms": 1, "opened": 1, "price_fen": 10}
            for n, u in enumerate(BIDDERS[:3])]
    bids += [{"_id": "b3", "bidder_uscc": BIDDERS[3], "received_ms": 1},
             {"_id": "b4", "bidder_uscc": BIDDERS[4], "received_ms": 1}]
    faults = {BIDDERS[3], BIDDERS[0]}  # the first decrypted after all: read out as any
    lines = {ln.bidder_uscc: ln.status for ln in opening_lines(bids, {}, 50, (), faults)}
    assert lines == {BIDDERS[0]: "valid", BIDDERS[1]: "valid", BIDDERS[2]: "valid",
                     BIDDERS[3]: "withdrawn", BIDDERS[4]: "revoked"}
    # only the revoked bid's deposit may be withheld (条例35), the withdrawn one comes back
    assert revoked_bids(opening_lines(bids, {}, 50, (), faults)) == {"b4"}


def test_a_fault_is_recorded_once_audited_and_the_opening_decides_on_it_ling20_31() -> None:
    state = _decrypting()
    change = _fault(state)
    after = _apply(state, change)
    sec = after["section_state"][SEC]
    assert sec["decrypt_faults"][BIDDERS[3]]["cause"] == "platform"
    entry = after["audit"][-1]
    assert (entry["action"], entry["actor"], entry["data"]["bidder_uscc"]) == (
        "decrypt_fault", "operator-1", BIDDERS[3])
    assert "20号令) 第31条" in entry["data"]["article"] and audit.verify(after["audit"]) is None
    assert not _fault(after).set  # once per bidder
    assert tender.decrypt_faults(sec) == {BIDDERS[3]}
    # an opening decided before the fault was recorded is refused, to be decided again
    with pytest.raises(Conflict) as err:
        tender.open_section(after, CONSTRUCTION, SEC, [], None, IN_WINDOW)
    assert err.value.code == "decrypt_faults_changed"
    assert tender.open_section(after, CONSTRUCTION, SEC, [], None, IN_WINDOW,
                               faults={BIDDERS[3]}).set


def test_a_fault_is_recorded_only_within_the_window_and_with_a_known_cause() -> None:
    with pytest.raises(Conflict) as err:
        _fault(_decrypting(), at=DEADLINE + timedelta(hours=1))
    assert err.value.code == "decryption_ended"
    opened = _decrypting()
    opened["section_state"][SEC]["status"] = "evaluating"
    with pytest.raises(Conflict) as err:
        _fault(opened)
    assert err.value.code == "not_decrypting"
    with pytest.raises(DomainError) as bad:
        _fault(_decrypting(), cause="bidder_forgot")
    assert bad.value.code == "unknown_cause"
