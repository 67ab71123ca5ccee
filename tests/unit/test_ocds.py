"""Notices exported as OCDS 1.1 releases: one release per notice, the standard's codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.bidding import (
    Awarded,
    BidderLine,
    BidsOpened,
    Candidate,
    ContractSigned,
    EvaluationCompleted,
    Section,
    TenderFailed,
    TenderModified,
    TenderPublished,
    TenderResumed,
    TenderSuspended,
)
from contracts.categories import Category
from ggzy.testing.data import new_uscc
from services.announcement import ocds
from services.announcement.domain import TenderFacts, draft
from services.announcement.rules import load_rules

TID, SEC = "1124ABCDEFGHIJKLM001", "1124ABCDEFGHIJKLM001001"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
FACTS = TenderFacts("示例学校教学楼工程", Category.CONSTRUCTION, "440300")
RULES = load_rules()[Category.CONSTRUCTION]
# OCDS 1.1 codelists (releaseTag, tenderStatus, awardStatus, contractStatus, method)
TAGS = {"planning", "tender", "tenderAmendment", "tenderUpdate", "tenderCancellation", "award",
        "awardUpdate", "contract", "contractUpdate", "implementation", "compiled"}
WINNER = Candidate(rank=1, bid_id="b1", bidder_uscc=new_uscc(), bidder_name="甲建设公司",
                   price_fen=8_980_000_12, score="8980000.12")


def _notice(event: Any, n: int) -> dict[str, Any]:
    d = draft(event, FACTS, RULES, NOW)
    assert d is not None
    return {"id": f"N{n}", "notice_type": d.notice_type.value, "tender_id": TID,
            "section_code": d.section_code, "category": "construction", "region_code": "440300",
            "title": d.title, "content": d.content, "published_at": NOW.isoformat()}


def _events() -> list[Any]:
    tenderee = new_uscc()
    return [
        TenderPublished(tender_id=TID, project_code=TID[:17], project_name=FACTS.project_name,
                        category=Category.CONSTRUCTION, region_code="440300",
                        tenderee_uscc=tenderee, tenderee_name="示例市教育局",
                        method="open_tender", evaluation="lowest_evaluated_price",
                        state_funded=True, issued_at=NOW, sale_start=NOW,
                        sale_end=NOW + timedelta(days=5), bid_deadline=NOW + timedelta(days=20),
                        sections=[Section(section_code=SEC, name="施工",
                                          estimated_price_fen=10**9, deposit_fen=10**6)]),
        TenderModified(tender_id=TID, modification_id="m1", summary="工期改为280日",
                       affects_bids=True, modified_at=NOW, previous_deadline=NOW,
                       bid_deadline=NOW + timedelta(days=25), postponed_by_rule=True),
        BidsOpened(tender_id=TID, section_code=SEC, opened_at=NOW, lines=[
            BidderLine(bid_id="b1", bidder_uscc=WINNER.bidder_uscc, bidder_name="甲建设公司",
                       price_fen=WINNER.price_fen, status="valid"),
            BidderLine(bid_id="b2", bidder_uscc=new_uscc(), bidder_name="乙建设公司",
                       price_fen=None, status="revoked")]),
        EvaluationCompleted(tender_id=TID, section_code=SEC, method="lowest_evaluated_price",
                            candidates=[WINNER], reported_at=NOW),
        Awarded(tender_id=TID, section_code=SEC, winner=WINNER, awarded_at=NOW,
                contract_due=NOW + timedelta(days=30), committee=["王五"], draw_seed="s"),
        ContractSigned(tender_id=TID, section_code=SEC, winner_uscc=WINNER.bidder_uscc,
                       price_fen=8_980_000_00, signed_at=NOW),
        TenderSuspended(tender_id=TID, reason="objection", reference="o1", suspended_at=NOW,
                        article="实施条例第22条"),
        TenderResumed(tender_id=TID, resumed_at=NOW, suspended_at=NOW, previous_deadline=NOW,
                      bid_deadline=NOW + timedelta(days=22), article="实施条例第22条"),
    ]


def test_every_notice_is_one_release_of_the_tenders_contracting_process() -> None:
    notices = [_notice(e, i) for i, e in enumerate(_events())]
    pkg = ocds.package(notices, ocid_prefix="ocds-ggzy00", publisher="平台", published="now",
                       uri="http://x/v1/ocds/releases")
    assert pkg["version"] == "1.1" and pkg["publisher"]["name"] == "平台"
    releases = pkg["releases"]
    assert [r["id"] for r in releases] == [n["id"] for n in notices]
    assert {r["ocid"] for r in releases} == {f"ocds-ggzy00-{TID}"}
    assert [r["tag"] for r in releases] == [["tender"], ["tenderAmendment"], ["tenderUpdate"],
                                           ["award"], ["award"], ["contract"],
                                           ["tenderUpdate"], ["tenderUpdate"]]
    for r in releases:
        assert set(r["tag"]) <= TAGS and r["initiationType"] == "tender" and r["date"]


def test_tender_release_has_the_buyer_lots_method_and_period() -> None:
    r = ocds.release(_notice(_events()[0], 0), "ocds-ggzy00")
    tender = r["tender"]
    assert tender["procurementMethod"] == "open" and tender["awardCriteria"] == "priceOnly"
    assert tender["mainProcurementCategory"] == "works"
    assert tender["lots"] == [{"id": SEC, "title": "施工", "status": "active",
                               "value": {"amount": 10_000_000, "currency": "CNY"}}]
    assert r["buyer"]["name"] == "示例市教育局"
    assert r["parties"][0]["identifier"]["scheme"] == "CN-USCC"
    assert tender["tenderPeriod"]["endDate"] == (NOW + timedelta(days=20)).isoformat()


def test_amounts_are_exact_and_unopened_bids_carry_no_value() -> None:
    events = _events()
    opening = ocds.release(_notice(events[2], 2), "ocds-ggzy00")
    valid, revoked = opening["bids"]["details"]
    assert valid["value"] == {"amount": 8_980_000.12, "currency": "CNY"}
    assert valid["status"] == "valid" and revoked["status"] == "withdrawn"
    assert "value" not in revoked
    contract = ocds.release(_notice(events[5], 5), "ocds-ggzy00")["contracts"][0]
    assert contract["value"]["amount"] == 8_980_000 and contract["status"] == "active"
    award = ocds.release(_notice(events[4], 4), "ocds-ggzy00")["awards"][0]
    assert contract["awardID"] == award["id"] and award["status"] == "active"


def test_candidates_are_pending_awards_and_a_failure_is_unsuccessful() -> None:
    candidates = ocds.release(_notice(_events()[3], 3), "ocds-ggzy00")
    assert [a["status"] for a in candidates["awards"]] == ["pending"]
    failed = ocds.release(_notice(TenderFailed(
        tender_id=TID, section_code=SEC, reason="fewer_than_minimum_bids", article="条例44",
        valid_bids=2), 9), "ocds-ggzy00")
    assert failed["tender"]["status"] == "unsuccessful"
    assert failed["tender"]["lots"] == [{"id": SEC, "status": "unsuccessful"}]


def test_a_suspension_keeps_the_tender_active_and_the_resumption_moves_its_period() -> None:
    """OCDS has no suspended status: the tender stays active, statusDetails says why."""
    suspended, resumed = (ocds.release(_notice(e, 6 + i), "ocds-ggzy00")["tender"]
                          for i, e in enumerate(_events()[6:]))
    assert suspended["status"] == "active" and suspended["statusDetails"] == "suspended"
    assert resumed["statusDetails"] == "resumed"
    assert resumed["tenderPeriod"]["endDate"] == (NOW + timedelta(days=22)).isoformat()


def test_a_release_carries_no_more_than_its_notice() -> None:
    """The export reads only the notice's public content: no committee before the award."""
    text = str([ocds.release(_notice(e, i), "ocds-ggzy00") for i, e in enumerate(_events()[:4])])
    assert "王五" not in text and "seed" not in text
