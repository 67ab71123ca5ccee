"""A section's opening record keeps its lines as one JSON text; every reader gets the
same lines as before, and a record kept as a list (opened before) still reads."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.bidding import BidderLine, BidsOpened
from contracts.categories import Category
from ggzy.runtime.errors import Forbidden
from ggzy.testing.data import new_uscc
from services.bidding.domain import objections, tender
from services.bidding.domain.rules import load

BOOK = load()
CONSTRUCTION = BOOK.for_category(Category.CONSTRUCTION)
RNG = random.Random(34)
DEADLINE = datetime(2026, 11, 27, 9, tzinfo=UTC)
TID = "1124ABCDEFGHIJKLM001"
SEC = f"{TID}001"
BIDDERS = [new_uscc(RNG) for _ in range(5)]


def _decrypting() -> dict[str, Any]:
    return {"tender_id": TID, "category": "construction", "status": "closed",
            "tenderee_uscc": new_uscc(RNG), "deadline_ms": tender.ms(DEADLINE),
            "section_state": {SEC: {"status": "decrypting",
                                    "decrypt_end_ms": tender.ms(DEADLINE) + 3_600_000}},
            "audit": []}


def _lines() -> list[BidderLine]:
    statuses = ["valid", "valid", "valid", "revoked", "invalid_related"]
    return [BidderLine(bid_id=f"{SEC}:{u}", bidder_uscc=u, bidder_name=f"投标人 {n} \"甲\"",
                       price_fen=None if s == "revoked" else 1_000_000 + n, status=s)
            for n, (u, s) in enumerate(zip(BIDDERS, statuses, strict=True))]


def test_the_record_is_one_text_and_reads_back_as_the_lines() -> None:
    lines = _lines()
    change = tender.open_section(_decrypting(), CONSTRUCTION, SEC, lines, None,
                                 DEADLINE + timedelta(hours=1))
    sec = change.set[f"section_state.{SEC}"]
    assert isinstance(sec["opening_lines"], str) and "lines" not in sec
    assert tender.lines_of(sec) == [ln.model_dump(mode="json") for ln in lines]
    # what is published says the same as what is kept
    [opened] = [o.event for o in change.events if isinstance(o.event, BidsOpened)]
    assert [ln.model_dump(mode="json") for ln in opened.lines] == tender.lines_of(sec)
    assert json.loads(sec["opening_lines"])[3]["price_fen"] is None


def test_a_record_kept_as_a_list_still_reads_and_none_before_opening() -> None:
    old = [ln.model_dump(mode="json") for ln in _lines()]
    assert tender.lines_of({"status": "evaluating", "lines": old}) == old
    assert tender.lines_of({"status": "decrypting"}) is None
    assert tender.lines_of({"status": "failed", "opening_lines": "[]"}) == []


@pytest.mark.parametrize("kept_as", ["text", "list"])
def test_only_a_bidder_in_the_record_objects_to_the_opening(kept_as: str) -> None:
    lines = _lines()
    at = DEADLINE + timedelta(hours=1)
    state = _decrypting()
    sec = tender.open_section(state, CONSTRUCTION, SEC, lines, None, at).set[
        f"section_state.{SEC}"]
    if kept_as == "list":
        sec = {**{k: v for k, v in sec.items() if k != "opening_lines"},
               "lines": [ln.model_dump(mode="json") for ln in lines]}
    state["section_state"][SEC] = sec
    filed = objections.file_at_opening(state, CONSTRUCTION, section=SEC, objection_id="o1",
                                       objector=BIDDERS[0], text="价格宣读有误",
                                       now=at + timedelta(minutes=5))
    assert filed.set
    with pytest.raises(Forbidden):
        objections.file_at_opening(state, CONSTRUCTION, section=SEC, objection_id="o2",
                                   objector=new_uscc(RNG), text="x",
                                   now=at + timedelta(minutes=5))
