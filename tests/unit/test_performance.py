"""The acceptance of a contract's performance (履约验收) and its disclosure (履约信息).

政府采购法第41条: 采购人或者其委托的采购代理机构应当组织对供应商履约的验收。大型或者复杂的
政府采购项目，应当邀请国家认可的质量检测机构参加验收工作。政府采购法实施条例第45条: 验收书应当
包括每一项技术、服务、安全标准的履约情况。政府向社会公众提供的公共服务项目，验收时应当邀请服务
对象参与并出具意见，验收结果应当向社会公告。建设工程质量管理条例第16条: 竣工验收。
国办发〔2015〕63号 (十一): 依法公开...履约信息.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.announcement import NoticeType
from contracts.bidding import AcceptanceItem, ContractAccepted
from contracts.categories import Category
from contracts.credit import SubjectKind
from ggzy.runtime.errors import Conflict, DomainError
from services.announcement import ocds
from services.announcement.domain import TenderFacts, draft
from services.bidding.domain import performance, tender
from services.bidding.domain.rules import load
from services.bidding.domain.timeline import RuleViolation
from services.credit.domain import records
from services.credit.handlers import RECORDED, records_of
from services.notify.domain import recipients as r
from services.notify.domain.routing import Parties, tender_routes
from services.notify.domain.templates import Templates, context
from tests.unit.test_contract_terms import WON, _awarded
from tests.unit.test_credit_records import MODEL
from tests.unit.test_objections import _apply, _events
from tests.unit.test_opening_record import BIDDERS, CONSTRUCTION, DEADLINE, SEC, TID

PROCUREMENT = load().for_category(Category.PROCUREMENT)
AT = DEADLINE + timedelta(days=90)
MET = [AcceptanceItem(standard="主体结构质量", met=True),
       AcceptanceItem(standard="消防设施", met=True, note="验收合格")]
UNMET = [AcceptanceItem(standard="主体结构质量", met=True),
         AcceptanceItem(standard="消防设施", met=False, note="喷淋系统未调试")]


def _contracted(category: str = "construction", rules: Any = CONSTRUCTION,
                price: int = WON) -> dict[str, Any]:
    state = {**_awarded(), "category": category}
    return _apply(state, tender.sign_contract(state, rules, SEC, price, "tenderee-1", DEADLINE))


def _accept(state: dict[str, Any], items: list[AcceptanceItem], rules: Any = CONSTRUCTION,
            **kw: Any) -> Any:
    return performance.accept(state, rules, SEC, items, actor="tenderee-1", now=AT,
                              source="10.0.0.9", **kw)


def test_an_acceptance_passes_only_when_every_standard_was_met_zhengcai_tiaoli45() -> None:
    state = _contracted()
    assert state["section_state"][SEC]["contract_price_fen"] == WON  # kept at the signing
    change = _accept(state, UNMET)
    [event] = _events(change)
    assert isinstance(event, ContractAccepted)
    assert (event.passed, event.round, event.price_fen, event.winner_uscc) == (
        False, 1, WON, BIDDERS[0])
    assert "建设工程质量管理条例第16条" in event.article
    after = _apply(state, change)
    assert after["audit"][-1]["data"] == {"section": SEC, "round": 1, "passed": False,
                                          "unmet": ["消防设施"]}
    assert after["audit"][-1]["source"] == "10.0.0.9"
    # 整改后复验: a second round after the failed one, and it passes
    again = _apply(after, _accept(after, MET))
    rounds = again["section_state"][SEC]["acceptances"]
    assert [(x["round"], x["passed"]) for x in rounds] == [(1, False), (2, True)]
    assert "by" not in performance.public(rounds[1]) and rounds[1]["by"] == "tenderee-1"
    # a passed acceptance is final
    with pytest.raises(Conflict) as err:
        _accept(again, MET)
    assert err.value.code == "acceptance_final" and err.value.details["round"] == 2


def test_no_acceptance_before_the_contract_is_signed() -> None:
    with pytest.raises(Conflict) as err:
        _accept(_awarded(), MET)
    assert err.value.code == "not_contracted"


def test_each_standard_is_named_once() -> None:
    with pytest.raises(DomainError) as err:
        _accept(_contracted(), [MET[0], MET[0]])
    assert err.value.code == "acceptance_items_invalid"


def test_a_public_service_is_accepted_with_its_recipients_opinion_zhengcai_tiaoli45() -> None:
    state = _contracted("procurement", PROCUREMENT)
    with pytest.raises(RuleViolation) as err:
        _accept(state, MET, PROCUREMENT, public_service=True, recipients_opinion="  ")
    assert err.value.code == "recipients_opinion_required"
    assert "第45条" in err.value.article
    [event] = _events(_accept(state, MET, PROCUREMENT, public_service=True,
                              recipients_opinion="服务对象满意"))
    assert event.recipients_opinion == "服务对象满意" and "政府采购法第41条" in event.article
    # construction asks no such opinion (its rule is off in configuration)
    assert CONSTRUCTION.acceptance_recipients_opinion.n == 0
    assert _events(_accept(_contracted(), MET, public_service=True))[0].passed


def test_a_large_contract_is_accepted_with_an_inspection_body_zhengcaifa41() -> None:
    line = PROCUREMENT.acceptance_inspection_from_fen.n
    assert line == 10_000_000_00  # a configurable default: the law names no amount
    big = {**_awarded(), "category": "procurement"}
    big["section_state"][SEC]["winner"]["price_fen"] = line
    state = _apply(big, tender.sign_contract(big, PROCUREMENT, SEC, line, "t", DEADLINE))
    with pytest.raises(RuleViolation) as err:
        _accept(state, MET, PROCUREMENT)
    assert err.value.code == "inspection_body_required"
    assert err.value.details["line_fen"] == line and "第41条" in err.value.article
    [event] = _events(_accept(state, MET, PROCUREMENT, inspection_body_uscc=BIDDERS[2]))
    assert event.inspection_body_uscc == BIDDERS[2]
    # below the line none is asked
    assert _events(_accept(_contracted("procurement", PROCUREMENT), MET, PROCUREMENT))


def _accepted(items: list[AcceptanceItem], n: int = 1) -> ContractAccepted:
    return ContractAccepted(tender_id=TID, section_code=SEC, winner_uscc=BIDDERS[0],
                            price_fen=WON, round=n, passed=all(i.met for i in items),
                            items=items, accepted_at=AT, article="建设工程质量管理条例第16条")


def test_each_round_is_a_public_notice_and_an_ocds_implementation_milestone() -> None:
    facts = TenderFacts("示例学校教学楼工程", Category.CONSTRUCTION, "440300",
                        {SEC: {"name": "甲建设公司", "code": BIDDERS[0]}})
    failed = draft(_accepted(UNMET), facts, None, AT)
    assert failed is not None and failed.notice_type is NoticeType.PERFORMANCE
    assert failed.title == "示例学校教学楼工程履约验收结果公告"
    c = failed.content
    assert (c["ACCEPTANCE_RESULT"], c["WIN_BIDDER_NAME"], c["CONTRACT_AMOUNT"]) == (
        "不合格", "甲建设公司", "8471000.00")
    assert c["ACCEPTANCE_ITEMS"][1] == {"STANDARD": "消防设施", "MET": False,
                                        "NOTE": "喷淋系统未调试"}
    passed = draft(_accepted(MET, 2), facts, None, AT)
    assert passed is not None and passed.content["ACCEPTANCE_RESULT"] == "合格"
    assert passed.title.endswith("（第2次）")
    notice = {"id": "n1", "tender_id": TID, "published_at": AT.isoformat(),
              "notice_type": "performance", "category": "construction", "content": c}
    release = ocds.release(notice, "ocds-ggzy00")
    assert release["tag"] == ["implementation"]
    [milestone] = release["contracts"][0]["implementation"]["milestones"]
    assert (milestone["type"], milestone["status"]) == ("assessment", "notMet")
    assert "dateMet" not in milestone and "消防设施" in milestone["description"]
    ok = ocds.release({**notice, "content": passed.content}, "ocds-ggzy00")
    assert ok["contracts"][0]["implementation"]["milestones"][0]["status"] == "met"


def test_a_failed_acceptance_is_one_credit_record_on_the_winner() -> None:
    assert ContractAccepted in RECORDED  # the subscription and its batch take it
    assert records_of(_accepted(MET)) == []  # a pass records nothing
    [(uscc, rec)] = records_of(_accepted(UNMET))
    [(_, again)] = records_of(_accepted(UNMET, 2))
    assert uscc == BIDDERS[0] and rec.kind == "performance_failed"
    assert rec.record_id == again.record_id == f"performance_failed:{TID}:{SEC}"
    s = records.new_account(SubjectKind.ENTITY, uscc, MODEL)
    s = _apply(s, records.add_record(s, MODEL, rec, AT))
    assert s["score"] == 85  # 15 points, from configuration
    assert records.add_record(s, MODEL, again, AT).events == []  # one record per contract


def test_the_owners_and_the_winner_hear_the_result() -> None:
    parties = Parties("TENDEREE", "AGENCY", frozenset({"B1", BIDDERS[0]}))
    routes = tender_routes(_accepted(UNMET), parties)
    assert [x.recipient for x in routes] == [r.entity("TENDEREE"), r.entity("AGENCY"),
                                             r.entity(BIDDERS[0])]
    assert {x.kind for x in routes} == {"contract_acceptance_failed"}
    assert {x.kind for x in tender_routes(_accepted(MET), parties)} == {"contract_accepted"}
    text = Templates.load().render("contract_acceptance_failed", "zh",
                                   context("contract_acceptance_failed", _accepted(UNMET)))
    assert "未达到：消防设施" in text.body
