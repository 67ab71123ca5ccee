"""Who hears what: the routing rules of notify (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from contracts.announcement import NoticePublished, NoticeType, PublicityObjectionOverdue
from contracts.bidding import (
    AuctionClosed,
    AuctionCloseReason,
    AuctionMethod,
    AuctionPublished,
    AwardDeclined,
    ContractOverdue,
    ExpertReplaced,
    ReplacementReason,
    TenderDocumentsObtained,
    TenderObjectionAnswered,
    TenderObjectionFiled,
    TenderObjectionOverdue,
    TenderResumed,
    TenderSuspended,
)
from contracts.categories import Category
from contracts.credit import (
    ComplaintAccepted,
    ComplaintDecided,
    ComplaintFiled,
    ComplaintMatter,
    ComplaintOutcome,
    CreditChanged,
    CreditRepairDecided,
    EntityBanned,
    RiskAlertRaised,
    RiskIndicator,
    SubjectKind,
)
from services.notify.domain import recipients as r
from services.notify.domain.routing import (
    Interest,
    Parties,
    Route,
    auction_routes,
    credit_routes,
    in_region,
    notice_routes,
    tender_routes,
)
from services.notify.domain.templates import Templates, context
from tests.unit.test_notify_templates import AWARDED, BID, BIDDER, DRAW, NOW, TENDER, VENUE
from tests.unit.test_notify_templates import EXPERTS as EXPERTS_

PARTIES = Parties("TENDEREE", "AGENCY", frozenset({"B1", "B2"}))


def _who(routes: list[Route]) -> list[str]:
    return [x.recipient for x in routes]


def test_a_bid_receipt_goes_to_its_bidder_only() -> None:
    assert _who(tender_routes(BID, PARTIES)) == [r.entity(BID.bidder_uscc)]


def test_obtaining_the_documents_is_told_to_its_bidder_only() -> None:
    """20号令: who obtained the documents is secret before the deadline."""
    got = TenderDocumentsObtained(tender_id=BID.tender_id, bidder_uscc=BID.bidder_uscc,
                                  obtained_at=NOW)
    routes = tender_routes(got, PARTIES)
    assert [(x.recipient, x.kind) for x in routes] == [(r.entity(BID.bidder_uscc),
                                                        "documents_obtained")]
    assert Templates.load().render("documents_obtained", "zh", context(
        "documents_obtained", got)).title.endswith(BID.tender_id)


def test_the_tenderee_does_not_hear_of_bids_before_opening() -> None:
    owners = {r.entity("TENDEREE"), r.entity("AGENCY")}
    assert not owners & set(_who(tender_routes(BID, PARTIES)))


def test_a_draw_reaches_each_drawn_expert_and_nobody_else() -> None:
    routes = tender_routes(DRAW, PARTIES)
    assert _who(routes) == [r.expert(x) for x in DRAW.expert_ids]
    assert {x.kind for x in routes} == {"expert_drawn"}


def test_a_replacement_tells_the_new_member_its_seat_and_the_one_out_its_release() -> None:
    """条例48: the member drawn in place gets the schedule (as a drawn one does); the one
    replaced hears it is released and, if it had scored, that its scores are void; neither
    hears the other's identity, nobody else hears anything (法37: 名单保密)."""
    event = ExpertReplaced(
        tender_id=DRAW.tender_id, section_code=DRAW.section_code,
        replaced_expert_id=EXPERTS_[0], expert_id="EXP-NEW", reason=ReplacementReason.HEALTH,
        expert_ids=["EXP-NEW", *EXPERTS_[1:]], round=1, voided_sheets=True, replaced_at=NOW,
        commitment="c" * 64, evaluation_at=DRAW.evaluation_at, evaluation_venue=VENUE,
        article="条例48")
    routes = tender_routes(event, PARTIES)
    assert [(x.recipient, x.kind) for x in routes] == [
        (r.expert("EXP-NEW"), "expert_replacement_drawn"),
        (r.expert(EXPERTS_[0]), "expert_released")]
    templates = Templates.load()
    seat = templates.render("expert_replacement_drawn", "zh",
                            context("expert_replacement_drawn", event))
    out = templates.render("expert_released", "zh", context("expert_released", event))
    assert VENUE in seat.body and "重新进行评审" in seat.body
    assert "健康原因" in out.body and "无效" in out.body
    for text in (seat, out):
        assert not any(x in text.title + text.body for x in [*event.expert_ids, EXPERTS_[0]])
    kept = templates.render("expert_released", "en", context(
        "expert_released", event.model_copy(update={"voided_sheets": False})))
    assert "void" not in kept.body


def test_the_evaluation_schedule_reaches_the_drawn_experts_alone() -> None:
    """Issue 5: the time and place go with the draw to each drawn expert, and no party of
    the tender (tenderee, agency, bidder) is routed anything of it, so nobody else sees
    the schedule tied to an expert's identity."""
    templates = Templates.load()
    routes = tender_routes(DRAW, PARTIES)
    assert routes and all(x.recipient.startswith("expert:") for x in routes)
    assert not {*PARTIES.everyone()} & set(_who(routes))
    for route in routes:
        text = templates.render(route.kind, "zh", context(route.kind, DRAW))
        assert VENUE in text.body and "2026-11-25 10:30" in text.body
        assert not any(x in text.body for x in DRAW.expert_ids)


def test_public_steps_reach_owners_and_every_bidder_once() -> None:
    assert _who(tender_routes(AWARDED, PARTIES)) == [
        r.entity("TENDEREE"), r.entity("AGENCY"), r.entity("B1"), r.entity("B2")]


def test_a_published_tender_reaches_its_owners() -> None:
    parties = Parties(TENDER.tenderee_uscc, None)
    assert _who(tender_routes(TENDER, parties)) == [r.entity(TENDER.tenderee_uscc)]


def test_an_overdue_contract_reaches_the_owners_and_the_winner() -> None:
    event = ContractOverdue(tender_id=AWARDED.tender_id, section_code=AWARDED.section_code,
                            winner_uscc=BIDDER, due=NOW)
    parties = Parties("TENDEREE", None, frozenset({"B1", BIDDER}))
    assert _who(tender_routes(event, parties)) == [r.entity("TENDEREE"), r.entity(BIDDER)]


def test_a_declined_award_reaches_the_owners_and_the_decliner_only() -> None:
    """条例55: the tenderee learns the winner gave up; other bidders see the new Awarded."""
    event = AwardDeclined(tender_id=AWARDED.tender_id, section_code=AWARDED.section_code,
                          bidder_uscc=BIDDER, reason="x", declined_at=NOW,
                          next_winner=AWARDED.winner, article="条例55")
    parties = Parties("TENDEREE", "AGENCY", frozenset({"B1", BIDDER}))
    routes = tender_routes(event, parties)
    assert _who(routes) == [r.entity("TENDEREE"), r.entity("AGENCY"), r.entity(BIDDER)]
    assert {x.kind for x in routes} == {"award_declined"}


def test_risk_alerts_reach_every_supervisor_and_no_bidder() -> None:
    alert = RiskAlertRaised(alert_id="A1", tender_id="T", section_code="S",
                            category=Category.CONSTRUCTION, indicator=RiskIndicator.SAME_MACHINE,
                            article="条例40(一)", bidders=[BID.bidder_uscc], evidence={},
                            raised_at=NOW)
    sups = [r.user("sup1"), r.entity("SUPDEPT")]
    assert _who(credit_routes(alert, sups)) == sups


def test_credit_changes_and_bans_reach_their_subject() -> None:
    changed = CreditChanged(subject_kind=SubjectKind.EXPERT, subject_id="EXP-000000000001",
                            reason="x", score=1, level="C", changed_at=NOW)
    ban = EntityBanned(restriction_id="R", categories=[Category.LAND], start=date(2026, 1, 1),
                       end=date(2026, 12, 31), decision_no="罚1", reason="串通", uscc=BIDDER)
    assert _who(credit_routes(changed, [r.user("sup")])) == [r.expert("EXP-000000000001")]
    assert _who(credit_routes(ban, [])) == [r.entity(BIDDER)]


def test_a_repair_decision_reaches_its_applicant_in_its_language() -> None:
    """信用修复申请: the subject hears the outcome, approved or refused, with the reason."""
    templates = Templates.load()
    refused = CreditRepairDecided(subject_kind=SubjectKind.ENTITY, subject_id=BIDDER,
                                  record_id="contract_overdue:T:S", record_kind="contract_overdue",
                                  approved=False, reason="整改材料不全", decided_at=NOW)
    assert _who(credit_routes(refused, [r.user("sup")])) == [r.entity(BIDDER)]
    ctx = context("credit_repair_decided", refused)
    zh = templates.render("credit_repair_decided", "zh", ctx)
    en = templates.render("credit_repair_decided", "en", ctx)
    assert zh.title.endswith("不予修复") and "整改材料不全" in zh.body
    assert "was refused" in en.body and "contract_overdue:T:S" in en.body
    approved = refused.model_copy(update={"approved": True, "reason": "整改到位"})
    assert templates.render("credit_repair_decided", "zh", context(
        "credit_repair_decided", approved)).title.endswith("准予修复")


def _notice(title: str = "示例学校改造工程招标公告", region: str = "440304") -> NoticePublished:
    return NoticePublished(notice_id="N1", notice_type=NoticeType.TENDER, tender_id="T",
                           category=Category.CONSTRUCTION, region_code=region, title=title,
                           content={"project": "教学楼"}, published_at=datetime.now(UTC))


def test_a_notice_reaches_each_matching_subscriber_once() -> None:
    me = r.entity("ME")
    interests = [Interest(me, "construction", ("440000",), ("学校",)),
                 Interest(me, None, (), ()),  # a second matching subscription: still once
                 Interest(r.entity("LAND"), "land"),
                 Interest(r.entity("BJ"), None, ("110000",)),
                 Interest(r.entity("WORDS"), None, (), ("医院", "道路"))]
    assert _who(notice_routes(_notice(), interests)) == [me]


def test_keywords_match_the_notice_text_as_well_as_its_title() -> None:
    assert notice_routes(_notice(title="公告"), [Interest(r.entity("X"), keywords=("教学楼",))])


def test_regions_take_their_cities_and_districts() -> None:
    assert in_region("440304", "440000") and in_region("440304", "440300")
    assert in_region("440304", "440304") and not in_region("440304", "440100")


def test_recipient_ids_follow_the_token() -> None:
    assert r.of_claims("u", "U1", None) == "entity:U1"
    assert r.of_claims("u", None, "EXP-1") == "expert:EXP-1"
    assert r.of_claims("sup", None, None) == "user:sup"


def test_notification_ids_are_one_per_event_recipient_and_channel() -> None:
    from contracts.notify import Channel

    a = r.notification_id("e1", r.entity("X"), Channel.INBOX)
    assert a == r.notification_id("e1", r.entity("X"), Channel.INBOX)
    assert len({a, r.notification_id("e2", r.entity("X"), Channel.INBOX),
                r.notification_id("e1", r.entity("Y"), Channel.INBOX),
                r.notification_id("e1", r.entity("X"), Channel.EMAIL)}) == 4




# sales (拍卖/挂牌): the seller and the winner hear the result; nobody hears the base price
def _sale_events() -> tuple[AuctionPublished, AuctionClosed, AuctionClosed]:
    aid = "2026ABCDEFGHIJKLM002"
    published = AuctionPublished(
        auction_id=aid, project_code=aid[:17], name="宗地A-01", category=Category.LAND,
        region_code="440300", seller_uscc=TENDER.tenderee_uscc, seller_name="自然资源局",
        method=AuctionMethod.LISTING, starting_price_fen=100_000_00, increment_fen=1_000_00,
        has_base_price=True, announced_at=NOW, start_at=NOW, end_at=NOW, countdown_s=90,
        extension_window_s=0)
    sold = AuctionClosed(auction_id=aid, category=Category.LAND, sold=True,
                         reason=AuctionCloseReason.SOLD, article="39号令第21条", offers=4,
                         winning_paddle=3, price_fen=123_456_78, winner_uscc=BIDDER,
                         winner_name="甲置业有限公司", base_price_met=True, closed_at=NOW)
    unsold = AuctionClosed(auction_id=aid, category=Category.LAND, sold=False,
                           reason=AuctionCloseReason.BELOW_BASE_PRICE, article="39号令第16条",
                           offers=2, price_fen=90_000_00, base_price_met=False, closed_at=NOW)
    return published, sold, unsold


def test_a_sale_result_reaches_its_seller_and_its_winner_only() -> None:
    published, sold, unsold = _sale_events()
    seller = Parties(published.seller_uscc, None)
    assert auction_routes(published, seller) == [
        Route(r.entity(published.seller_uscc), "auction_published")]
    assert auction_routes(sold, seller) == [Route(r.entity(published.seller_uscc), "auction_sold"),
                                            Route(r.entity(BIDDER), "auction_won")]
    assert auction_routes(unsold, seller) == [
        Route(r.entity(published.seller_uscc), "auction_unsold")]


def test_a_sale_result_shows_the_deal_price_in_yuan_never_the_base_price() -> None:
    templates = Templates.load()
    _, sold, unsold = _sale_events()
    won = templates.render("auction_won", "zh", context("auction_won", sold))
    assert "123456.78 元" in won.body and "竞买号 3" in won.body
    told = templates.render("auction_unsold", "en", context("auction_unsold", unsold))
    assert "below_base_price" in told.body
    assert "90000.00" not in told.body  # the top offer below base is not told either


def test_a_sale_confirmation_and_its_lapse_reach_the_seller_and_the_winner() -> None:
    """成交确认书 (39号令第22条, unverified): the winner is told its deadline when it wins;
    both sides hear that it signed, or that the sale fell through with the deposit."""
    from contracts.bidding import AuctionConfirmationOverdue, AuctionConfirmed

    published, sold, _ = _sale_events()
    seller = Parties(published.seller_uscc, None)
    aid = published.auction_id
    signed = AuctionConfirmed(auction_id=aid, winner_uscc=BIDDER, price_fen=123_456_78,
                              confirmed_at=NOW, article="39号令第22条")
    lapsed = AuctionConfirmationOverdue(auction_id=aid, winner_uscc=BIDDER, due=NOW,
                                        deposit_forfeited_fen=20_000_00, article="39号令第22条")
    both = [r.entity(published.seller_uscc), r.entity(BIDDER)]
    assert [(x.recipient, x.kind) for x in auction_routes(signed, seller)] == [
        (x, "sale_confirmed") for x in both]
    assert [(x.recipient, x.kind) for x in auction_routes(lapsed, seller)] == [
        (x, "sale_confirmation_overdue") for x in both]
    templates = Templates.load()
    due = sold.model_copy(update={"confirmation_due": NOW})
    won = templates.render("auction_won", "zh", context("auction_won", due))
    assert "成交确认书签订截止" in won.body and "-。" not in won.body
    told = templates.render("sale_confirmation_overdue", "zh",
                            context("sale_confirmation_overdue", lapsed))
    assert "20000.00 元不予退还" in told.body and "39号令第22条" in told.body


def test_a_property_contract_is_told_with_its_result_announcement_32号令第29条() -> None:
    """Property: the confirmation is the 产权交易合同, and the result is announced from it
    (32号令第29条, unverified): both sides hear it is concluded and until when it is
    announced, not of a sale contract still to sign."""
    from contracts.bidding import AuctionConfirmed

    published, _, _ = _sale_events()
    seller = Parties(published.seller_uscc, None)
    end = NOW + timedelta(days=7)
    concluded = AuctionConfirmed(auction_id=published.auction_id, winner_uscc=BIDDER,
                                 price_fen=123_456_78, confirmed_at=NOW, article="32号令",
                                 publicity_end=end, publicity_article="32号令第29条")
    assert [x.kind for x in auction_routes(concluded, seller)] == ["sale_concluded"] * 2
    told = Templates.load().render("sale_concluded", "zh",
                                   context("sale_concluded", concluded))
    assert "交易结果公告期至（北京时间）：2026-12-01" in told.body, told.body
    assert "出让合同" not in told.body and "123456.78 元" in told.body


def test_a_sale_contract_its_lapse_and_an_annulled_result_reach_the_seller_and_the_winner(
) -> None:
    """出让合同 (39号令第21条; 矿业权交易规则第26条, unverified) and an annulled result: the
    seller and the winner hear of them; the objector is named in none of them."""
    from contracts.bidding import (
        AuctionConfirmed,
        AuctionContractOverdue,
        AuctionContractSigned,
        AuctionResultAnnulled,
    )

    published, _, _ = _sale_events()
    seller = Parties(published.seller_uscc, None)
    aid = published.auction_id
    events = {
        "sale_contract_signed": AuctionContractSigned(
            auction_id=aid, winner_uscc=BIDDER, contract_no="示出让〔2026〕7号",
            price_fen=123_456_78, signed_at=NOW, article="39号令第21条"),
        "sale_contract_overdue": AuctionContractOverdue(
            auction_id=aid, winner_uscc=BIDDER, due=NOW, deposit_forfeited_fen=20_000_00,
            article="39号令第21条"),
        "sale_annulled": AuctionResultAnnulled(
            auction_id=aid, winner_uscc=BIDDER, price_fen=123_456_78, objection_id="o1",
            reason="竞得人资格不符", annulled_at=NOW, contract_signed=False,
            article="矿业权交易规则")}
    both = [r.entity(published.seller_uscc), r.entity(BIDDER)]
    templates = Templates.load()
    bodies = {}
    for kind, e in events.items():
        assert [(x.recipient, x.kind) for x in auction_routes(e, seller)] == [
            (x, kind) for x in both]
        bodies[kind] = templates.render(kind, "zh", context(kind, e)).body
    assert "示出让〔2026〕7号" in bodies["sale_contract_signed"]
    assert "123456.78" in bodies["sale_contract_signed"]
    assert "定金 20000.00 元不予退还" in bodies["sale_contract_overdue"]
    assert "竞得人资格不符" in bodies["sale_annulled"] and "异议成立" in bodies["sale_annulled"]
    confirmed = AuctionConfirmed(auction_id=aid, winner_uscc=BIDDER, price_fen=1,
                                 confirmed_at=NOW, article="a", contract_due=NOW)
    told = templates.render("sale_confirmed", "zh", context("sale_confirmed", confirmed))
    assert "出让合同签订截止" in told.body and "：-" not in told.body


def test_a_sale_by_agreement_tells_its_buyer_the_contract_due_not_a_confirmation() -> None:
    published, sold, _ = _sale_events()
    seller = Parties(published.seller_uscc, None)
    agreed = sold.model_copy(update={"contract_due": NOW, "offers": 0})
    assert auction_routes(agreed, seller) == [
        Route(r.entity(published.seller_uscc), "auction_sold"),
        Route(r.entity(BIDDER), "sale_agreed")]
    told = Templates.load().render("sale_agreed", "zh", context("sale_agreed", agreed))
    assert "出让合同签订截止" in told.body and "成交确认书" not in told.body
    assert "123456.78" in told.body


def test_complaints_reach_supervisors_then_the_complainant_and_a_respondent_its_decision(
) -> None:
    """条例60, 61: supervisors hear of a new complaint; the complainant of each step; the
    respondent it names only of a decision after acceptance (not of a refusal)."""
    ids = {"complaint_id": "CP-1", "tender_id": "T", "category": Category.CONSTRUCTION,
           "complainant_uscc": BIDDER}
    filed = ComplaintFiled(**ids, section_code="", respondent_uscc="914403001922038216",
                           matter=ComplaintMatter.OTHER, filed_at=NOW, acceptance_due=NOW,
                           article="条例60")
    sups = [r.user("sup1")]
    assert _who(credit_routes(filed, sups)) == sups
    accepted = ComplaintAccepted(**ids, accepted_at=NOW, decision_due=NOW)
    assert _who(credit_routes(accepted, sups)) == [r.entity(BIDDER)]

    def decided(outcome: ComplaintOutcome) -> ComplaintDecided:
        return ComplaintDecided(**ids, respondent_uscc="914403001922038216", outcome=outcome,
                                decision_no="D", reason="r", false_complaint=False,
                                decided_at=NOW)
    assert _who(credit_routes(decided(ComplaintOutcome.UPHELD), sups)) == [
        r.entity(BIDDER), r.entity("914403001922038216")]
    assert _who(credit_routes(decided(ComplaintOutcome.REFUSED), sups)) == [r.entity(BIDDER)]


def test_an_objection_to_the_documents_names_its_objector_to_the_owners_only() -> None:
    """条例22: the tenderee answers the objector; bidders hear only that the tender is
    suspended and resumed, never who objected (20号令: participants stay unknown)."""
    tid = AWARDED.tender_id
    filed = TenderObjectionFiled(tender_id=tid, objection_id="o1", objector_uscc=BIDDER,
                                 text="排斥潜在投标人", filed_at=NOW, answer_due=NOW,
                                 suspends=True, article="条例22")
    answered = TenderObjectionAnswered(tender_id=tid, objection_id="o1", objector_uscc=BIDDER,
                                       answer="已澄清", answered_at=NOW, late=False,
                                       article="条例22")
    suspended = TenderSuspended(tender_id=tid, reason="objection", reference="o1",
                                suspended_at=NOW, article="条例22")
    resumed = TenderResumed(tender_id=tid, resumed_at=NOW, suspended_at=NOW,
                            previous_deadline=NOW, bid_deadline=NOW, article="条例22")
    assert _who(tender_routes(filed, PARTIES)) == [r.entity("TENDEREE"), r.entity("AGENCY")]
    assert _who(tender_routes(answered, PARTIES)) == [r.entity(BIDDER)]
    everyone = [r.entity("TENDEREE"), r.entity("AGENCY"), r.entity("B1"), r.entity("B2")]
    assert _who(tender_routes(suspended, PARTIES)) == everyone
    assert _who(tender_routes(resumed, PARTIES)) == everyone
    templates = Templates.load()
    for kind, event in (("tender_suspended", suspended), ("tender_resumed", resumed)):
        for lang in ("zh", "en"):
            text = templates.render(kind, lang, context(kind, event))
            assert BIDDER not in text.title + text.body
    owners = templates.render("objection_filed", "zh", context("objection_filed", filed))
    assert BIDDER in owners.body and "排斥潜在投标人" in owners.body


def test_an_objection_to_a_result_reaches_the_owners_and_its_answer_the_objector() -> None:
    """条例54: the tenderee (or agency) answers within 3 days, so it hears of the objection
    with its grounds; the objector hears the answer; no other bidder hears of either."""
    from contracts.announcement import PublicityObjectionAnswered, PublicityObjectionFiled

    tid = AWARDED.tender_id
    common = {"notice_id": "N1", "tender_id": tid, "section_code": f"{tid}001",
              "objection_id": "r1", "objector_uscc": BIDDER, "article": "条例54"}
    filed = PublicityObjectionFiled(**common, text="第一名业绩造假", filed_at=NOW,
                                    answer_due=NOW)
    answered = PublicityObjectionAnswered(**common, upheld=True, answer="重新评审",
                                          answered_at=NOW, late=False)
    assert _who(tender_routes(filed, PARTIES)) == [r.entity("TENDEREE"), r.entity("AGENCY")]
    assert _who(tender_routes(answered, PARTIES)) == [r.entity(BIDDER)]
    # announcement's topic may come before notify has seen the tender on bidding's: the
    # event names who answers it, and they are told all the same, once each
    named = filed.model_copy(update={"answerers": ["TENDEREE"]})
    assert _who(tender_routes(named, Parties(None, None))) == [r.entity("TENDEREE")]
    assert _who(tender_routes(named, PARTIES)) == [r.entity("TENDEREE"), r.entity("AGENCY")]
    templates = Templates.load()
    owners = templates.render("result_objection_filed", "zh",
                              context("result_objection_filed", filed))
    assert BIDDER in owners.body and "第一名业绩造假" in owners.body and "条例54" in owners.body
    for lang, outcome in (("zh", "成立"), ("en", "upheld")):
        told = templates.render("result_objection_answered", lang,
                                context("result_objection_answered", answered))
        assert outcome in told.body and "重新评审" in told.body


def test_an_objection_to_a_sale_result_reaches_the_seller_and_its_answer_the_objector(
        ) -> None:
    """成交公示 (矿业权交易规则, unverified): a sale's result has no section; the seller (its
    owner) hears of the objection, the objector of the answer, in words of a sale."""
    from contracts.announcement import PublicityObjectionAnswered, PublicityObjectionFiled

    seller = Parties("SELLER", None, frozenset())
    common = {"notice_id": "N2", "tender_id": "2026ABCDEFGHIJKLM001", "section_code": None,
              "objection_id": "s1", "objector_uscc": BIDDER, "article": "矿业权交易规则"}
    filed = PublicityObjectionFiled(**common, text="报价时间存疑", filed_at=NOW,
                                    answer_due=None)
    answered = PublicityObjectionAnswered(**common, upheld=False, answer="以系统记录为准",
                                          answered_at=NOW, late=False)
    assert [(x.recipient, x.kind) for x in tender_routes(filed, seller)] == [
        (r.entity("SELLER"), "sale_objection_filed")]
    assert [(x.recipient, x.kind) for x in tender_routes(answered, seller)] == [
        (r.entity(BIDDER), "sale_objection_answered")]
    templates = Templates.load()
    told = templates.render("sale_objection_filed", "zh", context("sale_objection_filed", filed))
    assert "成交结果公示" in told.body and "报价时间存疑" in told.body
    assert "评标" not in told.body + told.title and "None" not in told.body
    for lang, outcome in (("zh", "不成立"), ("en", "dismissed")):
        answer = templates.render("sale_objection_answered", lang,
                                  context("sale_objection_answered", answered))
        assert outcome in answer.body and "以系统记录为准" in answer.body


def test_an_objection_to_the_opening_reaches_the_owners_and_its_answer_the_objector() -> None:
    """条例44: answered on the spot by the tenderee; told as an opening objection."""
    from contracts.bidding import ObjectionMatter

    tid = AWARDED.tender_id
    filed = TenderObjectionFiled(tender_id=tid, objection_id="p1", objector_uscc=BIDDER,
                                 text="唱标有误", filed_at=NOW, answer_due=NOW, suspends=False,
                                 article="条例44", matter=ObjectionMatter.OPENING,
                                 section_code=f"{tid}001")
    answered = TenderObjectionAnswered(tender_id=tid, objection_id="p1", objector_uscc=BIDDER,
                                       answer="无误", answered_at=NOW, late=False,
                                       article="条例44", matter=ObjectionMatter.OPENING)
    assert [(x.recipient, x.kind) for x in tender_routes(filed, PARTIES)] == [
        (r.entity("TENDEREE"), "opening_objection_filed"),
        (r.entity("AGENCY"), "opening_objection_filed")]
    assert [(x.recipient, x.kind) for x in tender_routes(answered, PARTIES)] == [
        (r.entity(BIDDER), "opening_objection_answered")]
    text = Templates.load().render("opening_objection_filed", "zh",
                                   context("opening_objection_filed", filed))
    assert "开标" in text.title and "唱标有误" in text.body and f"{tid}001" in text.body


def test_each_invitee_gets_its_invitation_and_never_learns_the_others() -> None:
    """法17: 投标邀请书 to each invited bidder; the list is named to no one."""
    invited = ["91440300MA5F0000X1", "91440300MA5F0000X2", "91440300MA5F0000X3"]
    published = TENDER.model_copy(update={"invited": invited})
    routes = tender_routes(published, PARTIES)
    assert [(x.recipient, x.kind) for x in routes if x.kind == "tender_invited"] == [
        (r.entity(u), "tender_invited") for u in invited]
    text = Templates.load().render("tender_invited", "zh", context("tender_invited", published))
    assert not any(u in text.title + text.body for u in invited)


def test_an_overdue_objection_tells_its_objector_it_may_complain_and_the_supervisors(
) -> None:
    """条例22 (3日内答复) / 条例60: an objection left unanswered tells its objector, and the
    supervisors (who objected, who failed to answer); no other bidder hears of it."""
    tid = AWARDED.tender_id
    overdue = TenderObjectionOverdue(
        tender_id=tid, objection_id="o1", objector_uscc=BIDDER,
        answerer_uscc="914403001922038216", answer_due=NOW, overdue_at=NOW,
        article="条例22", suspended=True, complaint_article="实施条例第60条")
    sups = [r.entity("SUP1"), r.entity("SUP1"), r.entity("SUP2")]
    routes = tender_routes(overdue, PARTIES, sups)
    assert [(x.recipient, x.kind) for x in routes] == [
        (r.entity(BIDDER), "objection_overdue"),
        (r.entity("SUP1"), "objection_overdue_supervisor"),
        (r.entity("SUP2"), "objection_overdue_supervisor")]
    templates = Templates.load()
    told = templates.render("objection_overdue", "zh", context("objection_overdue", overdue))
    assert "第60条" in told.body and "暂停" in told.body
    sup = templates.render("objection_overdue_supervisor", "zh",
                           context("objection_overdue_supervisor", overdue))
    assert BIDDER in sup.body and "914403001922038216" in sup.body
    result = PublicityObjectionOverdue(
        notice_id="n1", tender_id=tid, objection_id="o2", objector_uscc=BIDDER,
        answer_due=NOW, overdue_at=NOW, article="条例54")
    assert _who(tender_routes(result, PARTIES, sups)) == [
        r.entity(BIDDER), r.entity("SUP1"), r.entity("SUP2")]
    en = templates.render("objection_overdue", "en", context("objection_overdue", result))
    assert "no award" in en.body
