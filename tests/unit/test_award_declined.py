"""A winner that declines the award: the next candidate in rank wins (条例55), or the
section fails when none is left; the decline is a credit fact (条例74)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.bidding import AwardDeclined, Awarded, Candidate, TenderFailed
from ggzy.runtime.errors import Conflict, Forbidden
from ggzy.testing.data import new_uscc
from services.bidding.domain import tender
from services.bidding.domain.rules import load

BOOK = load()
RULES = next(iter(BOOK.categories.values()))
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
TID, SEC = "1124ABCDEFGHIJKLM001", "1124ABCDEFGHIJKLM001001"
RNG = random.Random(55)


def _awarded(candidates: int) -> tuple[dict[str, Any], list[Candidate]]:
    ranked = [Candidate(rank=r, bid_id=f"b{r}", bidder_uscc=new_uscc(RNG),
                        bidder_name=f"投标人{r}", price_fen=100_000_00 + r, score=str(90 - r))
              for r in range(1, candidates + 1)]
    section = {"status": "awarded", "candidates": [c.model_dump(mode="json") for c in ranked],
               "winner": ranked[0].model_dump(mode="json"), "seed": "s" * 64,
               "committee": ["EXP-000000000001"]}
    state = {"tender_id": TID, "category": "construction", "section_state": {SEC: section},
             "audit": []}
    return state, ranked


def _events(change: Any) -> list[Any]:
    return [out.event for out in change.events]


def test_the_next_candidate_in_rank_is_awarded_when_the_winner_declines_tiaoli55() -> None:
    state, ranked = _awarded(3)
    change = tender.decline_award(state, RULES, BOOK.calendar, SEC, ranked[0].bidder_uscc,
                                  "资金不足", ["王五"], NOW)
    declined, awarded = _events(change)
    assert isinstance(declined, AwardDeclined) and declined.next_winner == ranked[1]
    assert "第55条" in declined.article
    assert isinstance(awarded, Awarded) and awarded.winner == ranked[1]
    assert awarded.contract_due > NOW and awarded.committee == ["王五"]
    assert change.set[f"section_state.{SEC}.winner"]["bidder_uscc"] == ranked[1].bidder_uscc
    assert change.set[f"section_state.{SEC}.declined"] == [ranked[0].bidder_uscc]
    assert change.set["audit"][-1]["action"] == "decline"


def test_the_section_fails_when_no_candidate_is_left() -> None:
    state, ranked = _awarded(1)
    change = tender.decline_award(state, RULES, BOOK.calendar, SEC, ranked[0].bidder_uscc,
                                  "放弃", [], NOW)
    declined, failed = _events(change)
    assert declined.next_winner is None
    assert isinstance(failed, TenderFailed) and failed.reason == "winner_declined"
    assert change.set[f"section_state.{SEC}.status"] == "failed"


def test_a_candidate_that_declined_before_is_skipped() -> None:
    state, ranked = _awarded(3)
    sec = state["section_state"][SEC]
    sec.update(winner=ranked[1].model_dump(mode="json"), declined=[ranked[0].bidder_uscc])
    change = tender.decline_award(state, RULES, BOOK.calendar, SEC, ranked[1].bidder_uscc,
                                  "放弃", [], NOW)
    assert _events(change)[0].next_winner == ranked[2]


def test_only_the_winner_may_decline_and_only_an_award() -> None:
    state, ranked = _awarded(3)
    with pytest.raises(Forbidden) as err:
        tender.decline_award(state, RULES, BOOK.calendar, SEC, ranked[1].bidder_uscc, "x", [],
                             NOW)
    assert err.value.code == "not_the_winner"
    state["section_state"][SEC]["status"] = "contracted"
    with pytest.raises(Conflict) as conflict:
        tender.decline_award(state, RULES, BOOK.calendar, SEC, ranked[0].bidder_uscc, "x", [],
                             NOW)
    assert conflict.value.code == "not_awarded"
