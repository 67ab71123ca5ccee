"""Notices the law requires (信息公开) from bidding's events; publicity and objections. Pure.

A notice carries only public data, under the field names of the national data
standard (公共资源交易平台系统数据规范): no bidder before the opening, no price
before the opening, no expert names before the award (法37; 条例46), and never a
digest, key, commitment or draw seed. Amounts are exact decimal strings in yuan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.announcement import FieldChange, NoticeType
from contracts.bidding import (
    AuctionClosed,
    AuctionConfirmationOverdue,
    AuctionConfirmed,
    AuctionContractOverdue,
    AuctionContractSigned,
    AuctionMethod,
    AuctionPublished,
    AuctionResultAnnulled,
    Awarded,
    BidsOpened,
    ContractAccepted,
    ContractSigned,
    EvaluationCompleted,
    TenderFailed,
    TenderModified,
    TenderPublished,
    TenderResumed,
    TenderSuspended,
)
from contracts.categories import Category
from contracts.codes import fen_to_yuan_str
from ggzy.runtime.errors import Conflict, DomainError, NotFound
from services.announcement.rules import CategoryRules

Rules = CategoryRules | None  # a category's rules, if it has any

PRICE_UNIT, CURRENCY_CODE = "元", "156"  # yuan; CNY (GB/T 12406)
POSTPONEMENT_BASIS = "招标投标法第23条; 招标投标法实施条例第21条"
OBJECTION_METHOD = ("投标人或者其他利害关系人对评标结果有异议的，应当在公示期间通过本平台提出"
                    "（POST /v1/notices/<本公告编号>/objections）；依据{source}，"
                    "作出答复前暂停招标投标活动")
FAILURE_REASONS = {
    "fewer_than_minimum_bids": "投标人少于3个，不得开标，招标人应当依法重新招标",
    "too_few_valid_bids": "有效投标不足3个，缺乏竞争，否决全部投标",
}
# Keys that never belong in a notice (sealed bids, the draw, expert ids).
CONFIDENTIAL = re.compile(r"digest|seed|commitment|cipher|nonce|key|fingerprint|expert_id",
                          re.IGNORECASE)


@dataclass(frozen=True)
class TenderFacts:
    """What announcement knows of a tender from its earlier events."""

    project_name: str
    category: Category
    region_code: str
    winners: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # section -> winner
    owners: frozenset[str] = frozenset()  # tenderee and agency: they answer objections
    answerer: str | None = None  # whose duty the answer is: the tenderee, or the seller


@dataclass(frozen=True)
class Draft:
    """A notice before it is stored and numbered."""

    notice_type: NoticeType
    section_code: str | None
    title: str
    content: dict[str, Any]
    publicity_end: datetime | None = None
    corrects: NoticeType | None = None  # the tender's earlier notice this one corrects
    changes: tuple[FieldChange, ...] = ()  # ... and the fields it changes there


def notice_id(tender_id: str, notice_type: NoticeType, section: str | None,
              source_event_id: str) -> str:
    """The notice's id, derived from the event that requires it (a replay finds it again)."""
    source = source_event_id.replace("-", "")[:12]
    return f"{tender_id}:{notice_type.value}:{section or '-'}:{source}"


def draft(event: Any, facts: TenderFacts, rules: Rules, now: datetime) -> Draft | None:
    """The notice ``event`` requires, or None when the event is not public. ``rules`` are
    the category's (a candidates' notice cannot be published without its period)."""
    make = DRAFTS.get(type(event))
    if make is None:
        return None
    notice = make(event, facts, rules, now)
    if notice is None:  # an event of this type that asks no notice (e.g. a confirmation)
        return None
    check_public(notice.content)
    return notice


def check_public(content: Any, path: str = "content") -> None:
    """Refuse a notice that would carry a confidential field (sealed bids, the draw)."""
    if isinstance(content, Mapping):
        for key, value in content.items():
            if CONFIDENTIAL.search(str(key)):
                raise DomainError("confidential_field", f"{path}.{key} may not be published")
            check_public(value, f"{path}.{key}")
    elif isinstance(content, list):
        for index, value in enumerate(content):
            check_public(value, f"{path}[{index}]")


def searchable(draft: Draft) -> str:
    """The text a full-text query matches: the title and every value of the content."""
    def values(node: Any) -> list[str]:
        if isinstance(node, Mapping):
            return [v for item in node.values() for v in values(item)]
        if isinstance(node, list):
            return [v for item in node for v in values(item)]
        return [] if node is None else [str(node)]

    return " ".join([draft.title, *values(draft.content)])


def _amount(name: str, fen: int | None) -> dict[str, str | None]:
    """An amount as the standard gives it: exact yuan, its unit and currency."""
    return {name: None if fen is None else fen_to_yuan_str(fen), "PRICE_UNIT": PRICE_UNIT,
            "CURRENCY_CODE": CURRENCY_CODE}


def _word(facts: TenderFacts, construction: str, procurement: str) -> str:
    return procurement if facts.category == Category.PROCUREMENT else construction


def _tender(e: TenderPublished, facts: TenderFacts, rules: Rules,
            now: datetime) -> Draft:
    sections = [{"BID_SECTION_CODE": s.section_code, "BID_SECTION_NAME": s.name,
                 **_amount("CONTRACT_RECKON_PRICE", s.estimated_price_fen),
                 "MARGIN_AMOUNT": fen_to_yuan_str(s.deposit_fen)} for s in e.sections]
    content = {
        "TENDER_PROJECT_CODE": e.tender_id, "PROJECT_CODE": e.project_code,
        "TENDER_PROJECT_NAME": e.project_name, "TENDERER_NAME": e.tenderee_name,
        "TENDERER_CODE": e.tenderee_uscc, "TENDER_AGENCY_CODE": e.agency_uscc,
        "TENDER_MODE": e.method.value, "BID_EVALUATION_METHOD": e.evaluation.value,
        "REGION_CODE": e.region_code, "BID_SECTIONS": sections,
        "NOTICE_SEND_TIME": now.isoformat(), "DOC_GET_START_TIME": e.sale_start.isoformat(),
        "DOC_GET_END_TIME": e.sale_end.isoformat(),
        "BID_DOC_REFER_END_TIME": e.bid_deadline.isoformat(),
        "BID_OPEN_TIME": e.bid_deadline.isoformat(), "QUALIFICATIONS": list(e.qualifications),
        # where to obtain the documents, with no sign-up (20号令), and each file's digest
        "TENDER_DOCUMENTS": [{"DOC_NAME": d.name, "DOC_SHA256": d.digest,
                              "DOC_SIZE": d.size_bytes, "DOC_URL": d.url} for d in e.documents]}
    title = e.project_name + _word(facts, "招标公告", "采购公告")
    return Draft(NoticeType.TENDER, None, title, content)


def _modification(e: TenderModified, facts: TenderFacts, rules: Rules,
                  now: datetime) -> Draft:
    content = {
        "TENDER_PROJECT_CODE": e.tender_id, "NOTICE_CONTENT": e.summary,
        "AFFECTS_BIDS": e.affects_bids, "MODIFY_TIME": e.modified_at.isoformat(),
        "ORIGINAL_BID_OPEN_TIME": e.previous_deadline.isoformat(),
        "BID_DOC_REFER_END_TIME": e.bid_deadline.isoformat(),
        "BID_OPEN_TIME": e.bid_deadline.isoformat(), "POSTPONED_BY_RULE": e.postponed_by_rule,
        "LEGAL_BASIS": POSTPONEMENT_BASIS if e.postponed_by_rule else None}
    changes: tuple[FieldChange, ...] = ()
    if e.bid_deadline != e.previous_deadline:  # the tender notice's times in force change
        before, after = e.previous_deadline.isoformat(), e.bid_deadline.isoformat()
        changes = tuple(FieldChange(field=f, before=before, after=after)
                        for f in ("BID_DOC_REFER_END_TIME", "BID_OPEN_TIME"))
    # 政府采购: 更正公告 (87号令第27条: 在原公告发布媒体上发布更正公告); 工程: 澄清修改公告
    title = facts.project_name + _word(facts, "澄清修改公告", "更正公告")
    return Draft(NoticeType.MODIFICATION, None, title, content, corrects=NoticeType.TENDER,
                 changes=changes)


def _opening(e: BidsOpened, facts: TenderFacts, rules: Rules, now: datetime) -> Draft:
    bids = [{"BIDDER_NAME": ln.bidder_name, "BIDDER_CODE": ln.bidder_uscc,
             **_amount("BID_PRICE", ln.price_fen), "BID_STATUS": ln.status} for ln in e.lines]
    content = {"TENDER_PROJECT_CODE": e.tender_id, "BID_SECTION_CODE": e.section_code,
               "BID_OPEN_TIME": e.opened_at.isoformat(), "BID_OPEN_RECORDS": bids}
    return Draft(NoticeType.OPENING, e.section_code, f"{facts.project_name}开标记录", content)


def _candidates(e: EvaluationCompleted, facts: TenderFacts, rules: Rules,
                now: datetime) -> Draft:
    if rules is None:
        raise DomainError("category_without_rules",
                          f"no publicity period is configured for {facts.category.value}")
    end = rules.publicity.end(now)
    ranked = [{"WIN_CANDIDATE_ORDER": c.rank, "BIDDER_NAME": c.bidder_name,
               "BIDDER_CODE": c.bidder_uscc, **_amount("BID_PRICE", c.price_fen),
               "SCORE": c.score} for c in sorted(e.candidates, key=lambda c: c.rank)]
    content = {
        "TENDER_PROJECT_CODE": e.tender_id, "BID_SECTION_CODES": e.section_code,
        "BID_EVALUATION_METHOD": e.method.value, "REPORT_TIME": e.reported_at.isoformat(),
        "WIN_CANDIDATES": ranked, "PUBLICITY_START_TIME": now.isoformat(),
        "PUBLICITY_END_TIME": end.isoformat(), "PUBLICITY_BASIS": rules.publicity.source,
        "OBJECTION_METHOD": OBJECTION_METHOD.format(source=rules.publicity.source)}
    title = facts.project_name + _word(facts, "中标候选人公示", "中标（成交）候选人公示")
    return Draft(NoticeType.CANDIDATES, e.section_code, title, content, publicity_end=end)


def _result(e: Awarded, facts: TenderFacts, rules: Rules, now: datetime) -> Draft:
    w = e.winner
    content: dict[str, Any] = {
        "TENDER_PROJECT_CODE": e.tender_id, "BID_SECTION_CODE": e.section_code,
        "WIN_BIDDER_NAME": w.bidder_name, "WIN_BIDDER_CODE": w.bidder_uscc,
        **_amount("WIN_BID_PRICE", w.price_fen), "WIN_BID_TIME": e.awarded_at.isoformat(),
        "EXPERT_NAMES": list(e.committee), "CONTRACT_DUE_TIME": e.contract_due.isoformat()}
    due = rules.result_announcement if rules else None
    if due is not None:
        deadline = due.end(e.awarded_at)
        content.update(ANNOUNCEMENT_DUE_TIME=deadline.isoformat(), ANNOUNCEMENT_BASIS=due.source,
                       ANNOUNCED_ON_TIME=now <= deadline)
    title = facts.project_name + _word(facts, "中标结果公告", "中标（成交）结果公告")
    return Draft(NoticeType.RESULT, e.section_code, title, content)


def _contract(e: ContractSigned, facts: TenderFacts, rules: Rules,
              now: datetime) -> Draft:
    winner = facts.winners.get(e.section_code, {})
    content = {"TENDER_PROJECT_CODE": e.tender_id, "BID_SECTION_CODE": e.section_code,
               "WIN_BIDDER_CODE": e.winner_uscc, "WIN_BIDDER_NAME": winner.get("name"),
               **_amount("CONTRACT_AMOUNT", e.price_fen), "SIGN_TIME": e.signed_at.isoformat()}
    return Draft(NoticeType.CONTRACT, e.section_code, f"{facts.project_name}合同公告", content)


def _performance(e: ContractAccepted, facts: TenderFacts, rules: Rules,
                 now: datetime) -> Draft:
    """履约验收结果公告: a round of the contract's acceptance, each standard and whether it was
    met (履约信息, 国办发〔2015〕63号 (十一); 政府采购法实施条例第45条: 验收结果应当向社会公告)."""
    winner = facts.winners.get(e.section_code, {})
    content = {
        "TENDER_PROJECT_CODE": e.tender_id, "BID_SECTION_CODE": e.section_code,
        "WIN_BIDDER_CODE": e.winner_uscc, "WIN_BIDDER_NAME": winner.get("name"),
        **_amount("CONTRACT_AMOUNT", e.price_fen), "ACCEPTANCE_TIME": e.accepted_at.isoformat(),
        "ACCEPTANCE_ROUND": e.round, "ACCEPTANCE_PASSED": e.passed,
        "ACCEPTANCE_RESULT": "合格" if e.passed else "不合格",
        "ACCEPTANCE_ITEMS": [{"STANDARD": i.standard, "MET": i.met, "NOTE": i.note}
                             for i in e.items],
        "RECIPIENTS_OPINION": e.recipients_opinion,
        "INSPECTION_BODY_CODE": e.inspection_body_uscc, "LEGAL_BASIS": e.article}
    round_ = "" if e.round == 1 else f"（第{e.round}次）"
    return Draft(NoticeType.PERFORMANCE, e.section_code,
                 f"{facts.project_name}履约验收结果公告{round_}", content)


def _failure(e: TenderFailed, facts: TenderFacts, rules: Rules,
             now: datetime) -> Draft:
    content = {"TENDER_PROJECT_CODE": e.tender_id, "BID_SECTION_CODE": e.section_code,
               "FAILURE_REASON": e.reason, "FAILURE_REASON_TEXT": FAILURE_REASONS.get(e.reason),
               "LEGAL_BASIS": e.article, "VALID_BID_COUNT": e.valid_bids}
    return Draft(NoticeType.FAILURE, e.section_code, f"{facts.project_name}流标（终止）公告",
                 content)


SUSPENSION_REASONS = {"objection": "潜在投标人或者其他利害关系人对招标文件提出异议，"
                                    "招标人作出答复前暂停招标投标活动",
                      "complaint": "行政监督部门处理投诉期间，责令暂停招标投标活动"}


def _suspension(e: TenderSuspended, facts: TenderFacts, rules: Rules,
                now: datetime) -> Draft:
    """暂停公告: the tender takes no bids until it resumes (who objected is not named)."""
    content = {"TENDER_PROJECT_CODE": e.tender_id, "SUSPEND_TIME": e.suspended_at.isoformat(),
               "SUSPEND_REASON": e.reason,
               "SUSPEND_REASON_TEXT": SUSPENSION_REASONS.get(e.reason), "LEGAL_BASIS": e.article}
    return Draft(NoticeType.SUSPENSION, None, f"{facts.project_name}暂停公告", content)


def _resumption(e: TenderResumed, facts: TenderFacts, rules: Rules,
                now: datetime) -> Draft:
    """恢复公告: the tender takes bids again, with its deadline (moved by the suspension)."""
    content = {"TENDER_PROJECT_CODE": e.tender_id, "RESUME_TIME": e.resumed_at.isoformat(),
               "SUSPEND_TIME": e.suspended_at.isoformat(),
               "ORIGINAL_BID_OPEN_TIME": e.previous_deadline.isoformat(),
               "BID_DOC_REFER_END_TIME": e.bid_deadline.isoformat(),
               "BID_OPEN_TIME": e.bid_deadline.isoformat(), "LEGAL_BASIS": e.article,
               "SECTION_PERIODS": [{"SECTION_CODE": c.section_code, "PERIOD": c.period.value,
                                    "ORIGINAL_END_TIME": c.previous_end.isoformat(),
                                    "END_TIME": c.end.isoformat()} for c in e.clocks]}
    return Draft(NoticeType.RESUMPTION, None, f"{facts.project_name}恢复公告", content)


SALE_METHODS = {"auction": "拍卖", "listing": "挂牌", "online_bidding": "网络竞价",
                "one_shot": "网络竞价（一次报价）", "agreement": "协议"}
# The announcement's name per category: 出让公告 (39号令第10条; 矿业权交易规则) or
# 产权转让信息披露 (32号令第13条)
SALE_KINDS = {Category.LAND: "{method}出让公告", Category.MINING: "矿业权{method}出让公告",
              Category.PROPERTY: "产权转让信息披露公告"}


def _auction(e: AuctionPublished, facts: TenderFacts, rules: Rules, now: datetime) -> Draft:
    """出让公告 (39号令第10条) / 产权转让信息披露 (32号令第13条): never the base price."""
    content = {
        "AUCTION_CODE": e.auction_id, "PROJECT_CODE": e.project_code, "SUBJECT_NAME": e.name,
        "SELLER_NAME": e.seller_name, "SELLER_CODE": e.seller_uscc,
        "TRADE_METHOD": e.method.value, "REGION_CODE": e.region_code,
        **_amount("START_PRICE", e.starting_price_fen),
        "PRICE_INCREMENT": fen_to_yuan_str(e.increment_fen),
        "APPRAISED_PRICE": None if e.appraised_fen is None else fen_to_yuan_str(e.appraised_fen),
        "HAS_BASE_PRICE": e.has_base_price, "NOTICE_SEND_TIME": e.announced_at.isoformat(),
        "BIDDING_START_TIME": e.start_at.isoformat(),
        "BIDDING_END_TIME": e.end_at.isoformat() if e.end_at else None,
        "COUNTDOWN_SECONDS": e.countdown_s, "EXTENSION_WINDOW_SECONDS": e.extension_window_s,
        "CONDITIONS": e.description,
        # 竞买保证金 and the application deadline (竞买申请截止), when the sale asks for them
        "DEPOSIT": fen_to_yuan_str(e.deposit_fen) if e.deposit_fen else None,
        "APPLICATION_END_TIME": e.applications_close_at.isoformat()
        if e.applications_close_at else None}
    kind = SALE_KINDS.get(e.category, "{method}出让公告").format(
        method=SALE_METHODS[e.method.value])
    end = None
    if e.method is AuctionMethod.AGREEMENT:
        # 协议出让公示 (矿业权交易规则第32条; land: 21号令第9条; unverified): the buyer named,
        # objections to the seller until the sale concludes at the end of the period
        kind = kind.removesuffix("公告") + "公示"
        content.update(BUYER_NAME=e.buyer_name, BUYER_CODE=e.buyer_uscc,
                       APPROVAL_NO=e.approval_no, PUBLICITY_START_TIME=now.isoformat(),
                       PUBLICITY_END_TIME=e.start_at.isoformat(),
                       OBJECTION_METHOD=SALE_OBJECTION_METHOD)
        end = e.start_at if e.start_at > now else None
    return Draft(NoticeType.AUCTION, None, e.name + kind, content, publicity_end=end)


def _auction_result(e: AuctionClosed, facts: TenderFacts, rules: Rules,
                    now: datetime) -> Draft:
    """成交公示 with the deal price (成交价) and the winner, or 不成交 with its reason; whether
    the base price was met, never the base price itself. One-shot offers (一次报价), sealed
    until the close, are all listed: each buyer's name and price, ranked."""
    content: dict[str, Any] = {
        "AUCTION_CODE": e.auction_id, "SOLD": e.sold, "RESULT_REASON": e.reason.value,
        "LEGAL_BASIS": e.article, "OFFER_COUNT": e.offers, "WIN_PADDLE": e.winning_paddle,
        "WIN_BIDDER_NAME": e.winner_name, "WIN_BIDDER_CODE": e.winner_uscc,
        **_amount("DEAL_PRICE", e.price_fen if e.sold else None),
        "BASE_PRICE_MET": e.base_price_met, "CLOSE_TIME": e.closed_at.isoformat()}
    if e.offer_lines:  # one-shot offers (一次报价), sealed until the close: all of them now
        content["OFFERS"] = [{"RANK": line.rank, "PADDLE": line.paddle,
                              "BIDDER_NAME": line.bidder_name, "BIDDER_CODE": line.bidder_uscc,
                              "PRICE": fen_to_yuan_str(line.price_fen),
                              "OFFER_TIME": line.offered_at.isoformat()}
                             for line in e.offer_lines]
    # 成交公示 with its period, where the category has one (e.g. 矿业权: 10 working days)
    end = _sale_publicity(content, e.publicity_end, e.publicity_article, now)
    title = facts.project_name + ("成交公示" if e.sold else "不成交（流拍）公告")
    return Draft(NoticeType.AUCTION_RESULT, None, title, content, publicity_end=end)


def _sale_publicity(content: dict[str, Any], end: datetime | None, basis: str | None,
                    now: datetime) -> datetime | None:
    """Add a sale's publicity period and how to object to ``content``; the period's end
    while it still runs (None: none, or over already)."""
    if end is None:
        return None
    content.update(PUBLICITY_START_TIME=now.isoformat(), PUBLICITY_END_TIME=end.isoformat(),
                   PUBLICITY_BASIS=basis, OBJECTION_METHOD=SALE_OBJECTION_METHOD)
    return end if end > now else None


def _sale_lapsed(e: AuctionConfirmationOverdue, facts: TenderFacts, rules: Rules,
                 now: datetime) -> Draft:
    """成交不成立: the winner did not sign the confirmation (成交确认书) in time, so the
    result publicised before does not stand (39号令第22条, unverified)."""
    content = {"AUCTION_CODE": e.auction_id, "CONFIRMATION_DUE_TIME": e.due.isoformat(),
               "LAPSE_REASON": "竞得人未在规定时间内签订成交确认书", "LEGAL_BASIS": e.article}
    return Draft(NoticeType.SALE_LAPSED, None, facts.project_name + "成交不成立公告", content)


def _contract_lapsed(e: AuctionContractOverdue, facts: TenderFacts, rules: Rules,
                     now: datetime) -> Draft:
    """成交不成立: the winner did not sign the sale contract (出让合同) in time."""
    content = {"AUCTION_CODE": e.auction_id, "CONTRACT_DUE_TIME": e.due.isoformat(),
               "LAPSE_REASON": "竞得人未在规定时间内签订出让合同", "LEGAL_BASIS": e.article}
    return Draft(NoticeType.SALE_LAPSED, None, facts.project_name + "成交不成立公告", content)


def _sale_annulled(e: AuctionResultAnnulled, facts: TenderFacts, rules: Rules,
                   now: datetime) -> Draft:
    """成交结果无效: the seller upheld an objection to the publicised result; the notice
    gives its answer, never the objector (nor the winner: the result notice named it)."""
    content = {"AUCTION_CODE": e.auction_id, "ANNUL_TIME": e.annulled_at.isoformat(),
               "LAPSE_REASON": "成交公示期内异议成立，成交结果无效", "ANSWER": e.reason,
               "LEGAL_BASIS": e.article}
    return Draft(NoticeType.SALE_LAPSED, None, facts.project_name + "成交结果无效公告", content)


def _sale_contract(e: AuctionContractSigned, facts: TenderFacts, rules: Rules,
                   now: datetime) -> Draft:
    """出让合同公告: the sale contract signed with the buyer the result named, at the deal
    price (39号令; 矿业权交易规则第26条; unverified); never the base price. A sale by
    agreement whose result is publicised from its contract (21号令第14条, unverified: >= 15
    days) is 出让结果公示, with its period and how to object."""
    winner = facts.winners.get(SALE, {})
    content = {"AUCTION_CODE": e.auction_id, "CONTRACT_NO": e.contract_no,
               "WIN_BIDDER_CODE": e.winner_uscc, "WIN_BIDDER_NAME": winner.get("name"),
               **_amount("CONTRACT_AMOUNT", e.price_fen), "SIGN_TIME": e.signed_at.isoformat(),
               "LEGAL_BASIS": e.article}
    end = _sale_publicity(content, e.publicity_end, e.publicity_article, now)
    title = "出让合同公告" if e.publicity_end is None else "出让结果公示"
    return Draft(NoticeType.SALE_CONTRACT, None, facts.project_name + title, content,
                 publicity_end=end)


def _sale_contract_result(e: AuctionConfirmed, facts: TenderFacts, rules: Rules,
                          now: datetime) -> Draft | None:
    """交易结果公告 where the confirmation is the contract (产权交易合同) and the result is
    publicised after it, with what 32号令第29条 names (unverified): 交易标的名称, 评估结果,
    转让底价, 交易价格, and a period for objections. A confirmation with no such period
    asks no notice (the result was publicised at the close)."""
    if e.publicity_end is None:
        return None
    winner = facts.winners.get(SALE, {})
    content = {"AUCTION_CODE": e.auction_id, "SUBJECT_NAME": facts.project_name,
               "WIN_BIDDER_CODE": e.winner_uscc, "WIN_BIDDER_NAME": winner.get("name"),
               **_amount("APPRAISED_PRICE", e.appraised_fen),
               **_amount("LISTING_PRICE", e.listing_price_fen),
               **_amount("CONTRACT_AMOUNT", e.price_fen),
               "SIGN_TIME": e.confirmed_at.isoformat()}
    end = _sale_publicity(content, e.publicity_end, e.publicity_article, now)
    return Draft(NoticeType.SALE_CONTRACT, None, facts.project_name + "产权交易结果公告",
                 content, publicity_end=end)


SALE = "sale"  # the key of a sale's winner among a tender's winners (a sale has no sections)
SALE_OBJECTION_METHOD = ("公示期内对公示内容有异议的，可通过平台向出让人（转让方）提出"
                         "（POST /v1/notices/<本公告编号>/objections）；依据公示期的规定")


DRAFTS: dict[type, Callable[[Any, TenderFacts, Rules, datetime], Draft | None]] = {
    TenderPublished: _tender, TenderModified: _modification, BidsOpened: _opening,
    EvaluationCompleted: _candidates, Awarded: _result, ContractSigned: _contract,
    ContractAccepted: _performance,
    TenderFailed: _failure, AuctionPublished: _auction, AuctionClosed: _auction_result,
    TenderSuspended: _suspension, TenderResumed: _resumption,
    AuctionConfirmationOverdue: _sale_lapsed, AuctionContractOverdue: _contract_lapsed,
    AuctionResultAnnulled: _sale_annulled, AuctionContractSigned: _sale_contract,
    AuctionConfirmed: _sale_contract_result}


# Publicity periods and objections (公示期与异议, 条例54) -------------------------------
OPEN, AWAITING_DECISION, ENDED, NO_PUBLICITY = "open", "awaiting_decision", "ended", "none"


def pending_objections(notice: Mapping[str, Any]) -> list[str]:
    """Ids of the objections still waiting for a decision."""
    return [oid for oid, o in (notice.get("objections") or {}).items()
            if o.get("status") == "pending"]


def file_objection(notice: Mapping[str, Any], objection_id: str, by: str, text: str,
                   now_ms: int, answer_due_ms: int | None,
                   answerer: str | None = None) -> dict[str, Any]:
    """An objection, taken only while the publicity period runs (条例54)."""
    if notice.get("publicity_status", NO_PUBLICITY) == NO_PUBLICITY:
        raise DomainError("no_publicity", "this notice has no publicity period")
    if notice["publicity_status"] != OPEN or now_ms >= int(notice["publicity_end_ms"]):
        raise DomainError("publicity_ended", "the publicity period has ended (条例54)",
                          publicity_end=notice.get("publicity_end"))
    return {f"objections.{objection_id}": {"by": by, "text": text, "status": "pending",
                                           "filed_ms": now_ms, "answer_due_ms": answer_due_ms,
                                           "answerer": answerer}}


def objection_overdue(notice: Mapping[str, Any], objection_id: str,
                      now_ms: int) -> dict[str, Any]:
    """An objection still pending at its due time is overdue (条例54: 3日内作出答复), once:
    the fields that mark it; nothing for one decided, unknown, already marked, without a
    due time or not yet due. The publicity's status stays: the award waits for the answer
    (作出答复前，应当暂停招标投标活动)."""
    objection = (notice.get("objections") or {}).get(objection_id)
    if objection is None or objection.get("status") != "pending" \
            or objection.get("overdue_ms") is not None:
        return {}
    due = objection.get("answer_due_ms")
    if due is None or now_ms < int(due):
        return {}
    return {f"objections.{objection_id}.overdue_ms": now_ms}


def decide_objection(notice: Mapping[str, Any], objection_id: str, upheld: bool, by: str,
                     now_ms: int, answer: str = "") -> dict[str, Any]:
    """The tenderee's answer: uphold or dismiss an objection (条例54). The answer to the last
    pending objection after the period ran out ends the publicity (activities were paused
    meanwhile); an answer after its due time is marked late (a fact for credit)."""
    objection = (notice.get("objections") or {}).get(objection_id)
    if objection is None:
        raise NotFound("objection_not_found", f"no objection {objection_id} on this notice")
    if objection["status"] != "pending":
        raise Conflict("objection_decided", f"objection {objection_id} was already decided",
                       status=objection["status"])
    due = objection.get("answer_due_ms")
    base = f"objections.{objection_id}"
    sets: dict[str, Any] = {f"{base}.status": "upheld" if upheld else "dismissed",
                            f"{base}.decided_by": by, f"{base}.decided_ms": now_ms,
                            f"{base}.answer": answer,
                            f"{base}.late": due is not None and now_ms > int(due)}
    if upheld:
        sets["objection_upheld"] = 1
    others = [oid for oid in pending_objections(notice) if oid != objection_id]
    if not others and now_ms >= int(notice["publicity_end_ms"]):
        sets["publicity_status"] = ENDED
    return sets


def end_of_period(notice: Mapping[str, Any]) -> dict[str, Any]:
    """What the end of the period does: end the publicity, or wait for the decisions on
    pending objections (条例54: no award before the answer); nothing if already done."""
    if notice.get("publicity_status") != OPEN:
        return {}
    if pending_objections(notice):
        return {"publicity_status": AWAITING_DECISION}
    return {"publicity_status": ENDED}


def upheld(notice: Mapping[str, Any], sets: Mapping[str, Any]) -> bool:
    """Whether an objection was upheld, counting the change being made."""
    return bool(sets.get("objection_upheld", notice.get("objection_upheld", 0)))
