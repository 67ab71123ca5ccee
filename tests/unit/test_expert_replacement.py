"""Replacing a committee member who cannot go on (条例48: 有回避事由、擅离职守或者因健康等
原因不能继续评标的，应当及时更换。被更换的评标委员会成员作出的评审结论无效; 87号令第49条):
the replacement's draw (same seat's specialty, same recusal rules, never someone sitting or
replaced before, re-runnable from its record) and the decision (in place, the replaced
member's sheets void)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.bidding import ExpertReplaced, ReplacementReason
from contracts.categories import Category
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain import audit, evaluation, tender
from services.bidding.domain.draw import (
    DrawRecord,
    ExpertCandidate,
    NotEnoughExperts,
    commitment,
    draw,
    exclusion,
    mixed,
    replacement,
    replay,
    slot_specialty,
    verify_replay,
)
from services.bidding.domain.rules import load
from tests.unit.test_draw import CTX, MIX, pools
from tests.unit.test_objections import _apply, _events

CONSTRUCTION = load().for_category(Category.CONSTRUCTION)
PROCUREMENT = load().for_category(Category.PROCUREMENT)
NOW = datetime(2026, 12, 2, 2, tzinfo=UTC)
SEC = "1124ABCDEFGHIJKLM001001"
BIDS = ["a" * 64, "b" * 64, "c" * 64]


def test_a_seat_keeps_its_specialty() -> None:
    """``draw`` fills the seats specialty by specialty in sorted order."""
    mix = {"E01": 1, "A01": 2}
    assert [slot_specialty(mix, i) for i in range(3)] == ["A01", "A01", "E01"]
    with pytest.raises(IndexError):
        slot_specialty(mix, 3)


@given(pools, st.text(min_size=1, max_size=16), st.integers(min_value=0, max_value=2))
@settings(max_examples=150)
def test_a_replacement_is_eligible_new_of_the_seats_specialty_and_reruns_tiaoli48(
        pool: list[ExpertCandidate], seed: str, seat: int) -> None:
    try:
        first = draw(pool, CTX, MIX, mixed(seed, BIDS))
        out = first.committee[seat]
        new, record = replacement(pool, CTX, MIX, seed, BIDS, first.committee, out,
                                  round_no=1)
        again, record2 = replacement(pool, CTX, MIX, seed, BIDS,
                                     [new if x == out else x for x in first.committee],
                                     first.committee[(seat + 1) % 3], round_no=2,
                                     replaced=[out])
    except NotEnoughExperts:
        return
    by_id = {e.expert_id: e for e in pool}
    assert exclusion(by_id[new], CTX) is None and exclusion(by_id[again], CTX) is None
    assert new not in first.committee  # nobody sitting is drawn again
    assert again not in {*first.committee, new}  # nor the one replaced before
    assert slot_specialty(MIX, seat) in by_id[new].specialties
    doc = DrawRecord.of_doc(record.as_doc())
    assert (doc.round_no, replay(seed, doc)) == (1, (new,))
    assert verify_replay(commitment(seed), seed, doc, [new])
    assert replay(seed, DrawRecord.of_doc(record2.as_doc())) == (again,)
    assert out in record2.already  # the record says who could not be drawn
    assert not verify_replay(commitment(seed), seed + "x", doc, [new])


def test_too_few_experts_left_is_refused_with_the_numbers() -> None:
    pool = [ExpertCandidate(f"EXP-{i}", frozenset({"A01"})) for i in range(2)] \
        + [ExpertCandidate("EXP-E", frozenset({"E01"}))]
    first = draw(pool, CTX, MIX, mixed("s", BIDS))
    with pytest.raises(NotEnoughExperts) as err:
        replacement(pool, CTX, MIX, "s", BIDS, first.committee, first.committee[0],
                    round_no=1)
    assert err.value.code == "not_enough_experts"
    assert err.value.details["specialty"] == "A01" and err.value.details["available"] == 0
    spare = [*pool, ExpertCandidate("EXP-S", frozenset({"A01"}))]
    first = draw(spare, CTX, MIX, mixed("s", BIDS))
    out = first.committee[0]
    new, _ = replacement(spare, CTX, MIX, "s", BIDS, first.committee, out, round_no=1)
    seated = [new, *first.committee[1:]]
    assert new == ({"EXP-0", "EXP-1", "EXP-S"} - set(first.committee)).pop()
    with pytest.raises(NotEnoughExperts):  # the one replaced is not drawn back (条例48)
        replacement(spare, CTX, MIX, "s", BIDS, seated, seated[1], round_no=2, replaced=[out])


def _state(sheets: dict[str, Any] | None = None, status: str = "evaluating"
           ) -> dict[str, Any]:
    return {"tender_id": SEC[:20], "category": "construction", "tenderee_uscc": "T0",
            "audit": [], "section_state": {SEC: {
                "status": status, "committee": ["E1", "E2", "E3", "E4", "E5"], "seed": "s",
                "commitment": commitment("s"), "sheets": sheets or {}}}}


def _replace(state: dict[str, Any], out: str, new: str, round_no: int = 1,
             reason: ReplacementReason = ReplacementReason.ABSENT, rules: Any = CONSTRUCTION
             ) -> Any:
    return tender.replace_expert(state, rules, SEC, out=out, new=new, reason=reason,
                                 round_no=round_no, actor="operator-1", now=NOW)


def test_the_replaced_members_sheets_are_void_and_the_seat_is_kept_tiaoli48() -> None:
    sheet = {"B1": {"points": "90", "compliant": True}}
    scored = {"E2": dict(sheet)}
    change = _replace(_state(scored), "E2", "E9", reason=ReplacementReason.RECUSAL)
    after = _apply(_state(scored), change)
    sec = after["section_state"][SEC]
    assert sec["committee"] == ["E1", "E9", "E3", "E4", "E5"]  # in its seat
    assert "E2" not in sec["sheets"] and sec["void_sheets"]["E2"] == sheet
    assert sec["replaced"] == [{"expert_id": "E2", "by": "E9", "reason": "recusal",
                                "round": 1, "at": NOW.isoformat(), "voided_sheets": True}]
    [event] = _events(change)
    assert isinstance(event, ExpertReplaced)
    assert (event.replaced_expert_id, event.expert_id, event.round) == ("E2", "E9", 1)
    assert event.voided_sheets and event.expert_ids == sec["committee"]
    assert "第48条" in event.article
    entry = after["audit"][-1]
    assert entry["action"] == "replace_expert" and entry["actor"] == "operator-1"
    assert entry["data"]["voided_sheets"] is True and audit.verify(after["audit"]) is None
    assert "87号令) 第49条" in _events(_replace(_state(), "E1", "E9", rules=PROCUREMENT))[0].article


def test_a_replacement_without_sheets_voids_nothing() -> None:
    change = _replace(_state(), "E5", "E9")
    assert not change.unset and not any("void_sheets" in k for k in change.set)
    assert _events(change)[0].voided_sheets is False


def test_only_a_sitting_member_during_evaluation_and_once_per_round() -> None:
    with pytest.raises(DomainError) as err:
        _replace(_state(), "E7", "E9")
    assert err.value.code == "not_on_committee"
    with pytest.raises(Conflict) as conflict:
        _replace(_state(status="publicity"), "E1", "E9")
    assert conflict.value.code == "not_evaluating"
    once = _apply(_state(), _replace(_state(), "E1", "E9"))
    with pytest.raises(Conflict) as conflict:  # a second replacement decided on a stale read
        _replace(once, "E2", "E8", round_no=1)
    assert conflict.value.code == "committee_changed"
    with pytest.raises(Conflict):  # the one replaced never comes back, nor a sitting one
        _replace(once, "E2", "E3", round_no=2)
    twice = _apply(once, _replace(once, "E2", "E8", round_no=2))
    assert [r["round"] for r in twice["section_state"][SEC]["replaced"]] == [1, 2]


def test_the_report_counts_the_sitting_members_only_tiaoli48() -> None:
    """The void sheets are not the sitting committee's: the evaluation leaves them out,
    and a sitting member's missing sheets still hold the report back."""
    bids = [evaluation.OpenedBid("B1", 100, 0), evaluation.OpenedBid("B2", 120, 1)]
    sheets = {"E2": {"B1": {"points": "0", "compliant": False},
                     "B2": {"points": "100", "compliant": True}}}
    after = _apply(_state(sheets), _replace(_state(sheets), "E2", "E9"))
    sec = after["section_state"][SEC]
    for e in sec["committee"]:
        sec["sheets"][e] = {"B1": {"points": "60", "compliant": True},
                            "B2": {"points": "60", "compliant": True}}
    flat = [evaluation.ScoreSheet(e, b, Decimal(v["points"]), v["compliant"])
            for e, by in [*sec["sheets"].items(), *sec["void_sheets"].items()]
            for b, v in by.items()]
    ranked = evaluation.evaluate(bids, flat, sec["committee"], comprehensive=True)
    assert [(r.bid_id, r.score) for r in ranked] == [("B1", Decimal("90.00")),
                                                      ("B2", Decimal("85.00"))]
    del sec["sheets"]["E9"]
    with pytest.raises(DomainError) as err:
        evaluation.evaluate(bids, [s for s in flat if s.expert_id != "E9"], sec["committee"],
                            comprehensive=True)
    assert err.value.code == "missing_scores" and err.value.details["experts"] == ["E9"]


def _waiting(status: str = "awaiting_draw") -> dict[str, Any]:
    return {"tender_id": SEC[:20], "category": "construction", "tenderee_uscc": "T0",
            "audit": [], "section_state": {SEC: {"status": status, "draw_seed": "s"}}}


def _draw_again(state: dict[str, Any]) -> Any:
    picked = {"committee": ["E1", "E2", "E3"], "seed": "s", "commitment": commitment("s")}
    return tender.draw_again(state, SEC, picked, "operator-1", NOW, "10.0.0.8")


def test_a_section_awaiting_its_draw_gets_its_committee_drawn_again_fa37() -> None:
    """法37 / 条例46: a section its opening left without a committee (too few eligible
    experts then) is drawn once the pool allows, as the opening would have: the
    committee, the seed's commitment, ExpertsDrawn, an audited ``draw``."""
    change = _draw_again(_waiting())
    after = _apply(_waiting(), change)
    sec = after["section_state"][SEC]
    assert sec["status"] == "evaluating" and sec["committee"] == ["E1", "E2", "E3"]
    assert sec["commitment"] == commitment("s") and sec["sheets"] == {}
    [event] = _events(change)
    assert (event.expert_ids, event.commitment) == (["E1", "E2", "E3"], commitment("s"))
    entry = after["audit"][-1]
    assert (entry["action"], entry["actor"], entry["data"]["status"]) == (
        "draw", "operator-1", "evaluating")
    assert audit.verify(after["audit"]) is None


def test_only_a_section_awaiting_its_draw_is_drawn_again_and_not_while_suspended() -> None:
    for status in ("evaluating", "decrypting", "publicity"):
        with pytest.raises(Conflict) as err:
            _draw_again(_waiting(status))
        assert err.value.code == "not_awaiting_draw"
    suspended = {**_waiting(), "suspensions": {"o1": {
        "reason": "objection", "article": "招标投标法实施条例第22条"}}}
    with pytest.raises(Conflict) as err:
        _draw_again(suspended)
    assert err.value.code == "tender_suspended"
