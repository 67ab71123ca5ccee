"""Notification texts: Chinese and English, and nothing a recipient may not see."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from contracts.bidding import (
    Awarded,
    BidSubmitted,
    Candidate,
    ExpertsDrawn,
    Section,
    TenderPublished,
)
from contracts.categories import Category
from ggzy.testing.data import new_uscc
from services.notify.domain.templates import (
    LANGUAGES,
    TemplateError,
    Templates,
    context,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TID = "2026ABCDEFGHIJKLM001"
SEC = TID + "001"
BIDDER, TENDEREE = new_uscc(random.Random(1)), new_uscc(random.Random(2))
EXPERTS = ["EXP-0000000000A1", "EXP-0000000000B2", "EXP-0000000000C3"]
TENDER = TenderPublished(
    tender_id=TID, project_code=TID[:17], project_name="示例教学楼", category=Category.CONSTRUCTION,
    region_code="440300", tenderee_uscc=TENDEREE, tenderee_name="城投",
    method="open_tender", evaluation="lowest_evaluated_price", state_funded=True,
    sections=[Section(section_code=SEC, name="一标段", estimated_price_fen=1, deposit_fen=0)],
    issued_at=NOW, sale_start=NOW, sale_end=NOW, bid_deadline=NOW + timedelta(days=20))
BID = BidSubmitted(tender_id=TID, section_code=SEC, bid_id="BID1", bidder_uscc=BIDDER,
                   digest="ab" * 32, received_at=NOW)
VENUE = "示例市公共资源交易中心第3评标室"
DRAW = ExpertsDrawn(tender_id=TID, section_code=SEC, expert_ids=EXPERTS, commitment="c" * 64,
                    evaluation_at=NOW + timedelta(days=1, minutes=30),
                    evaluation_venue=VENUE)
WINNER = Candidate(rank=1, bid_id="BID1", bidder_uscc=BIDDER, bidder_name="甲建设有限公司",
                   price_fen=900, score="900")
AWARDED = Awarded(tender_id=TID, section_code=SEC, winner=WINNER, awarded_at=NOW,
                  contract_due=NOW + timedelta(days=30), committee=["王专家", "李专家"],
                  draw_seed="s" * 64)


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


@pytest.mark.parametrize(("drop", "error"), [
    (("awarded", "en"), "no en title for awarded"),
    (("bid_received", "zh", "body"), "no zh body for bid_received"),
    (("contract_signed",), "no zh title for contract_signed"),
], ids=["a language", "a part", "a kind"])
def test_loading_a_template_file_with_a_text_missing_is_refused(
        templates: Templates, tmp_path: Path, drop: tuple[str, ...], error: str) -> None:
    """Every kind needs a title and a body in Chinese and in English: a file lacking one
    is refused when it is loaded (the service does not start), naming what is missing."""
    raw = json.loads(json.dumps(templates.raw))
    *path, last = drop
    node = raw
    for key in path:
        node = node[key]
    del node[last]
    broken = tmp_path / "templates.yaml"
    broken.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TemplateError, match=f"^{error}$"):
        Templates.load(broken)
    whole = tmp_path / "whole.yaml"  # the same file, nothing missing: loaded
    whole.write_text(yaml.safe_dump(templates.raw, allow_unicode=True), encoding="utf-8")
    assert Templates.load(whole).raw == templates.raw


def test_a_bid_receipt_is_rendered_in_beijing_time(templates: Templates) -> None:
    text = templates.render("bid_received", "zh", context("bid_received", BID))
    assert text.title == f"投标文件已送达：{SEC}"
    assert "2026-11-24 10:00（北京时间）" in text.body and "BID1" in text.body


def test_english_is_chosen_by_the_recipient(templates: Templates) -> None:
    text = templates.render("awarded", "en", context("awarded", AWARDED))
    assert text.body.startswith(f"Section {SEC} was awarded to 甲建设有限公司")


def test_an_unknown_language_falls_back_to_chinese(templates: Templates) -> None:
    assert templates.render("awarded", "fr", context("awarded", AWARDED)).title.startswith("中标")


def test_the_award_never_names_the_committee_or_the_seed(templates: Templates) -> None:
    ctx = context("awarded", AWARDED)
    shown = json.dumps([ctx, *(templates.render("awarded", lang, ctx).__dict__
                               for lang in LANGUAGES)], ensure_ascii=False)
    assert "王专家" not in shown and "s" * 64 not in shown


def test_an_expert_draw_never_names_any_expert(templates: Templates) -> None:
    ctx = context("expert_drawn", DRAW)
    shown = json.dumps([ctx, *(templates.render("expert_drawn", lang, ctx).__dict__
                               for lang in LANGUAGES)], ensure_ascii=False)
    assert not any(x in shown for x in EXPERTS) and "c" * 64 not in shown


def test_an_expert_is_told_the_time_and_place_of_its_evaluation_in_both_languages(
        templates: Templates) -> None:
    """Issue 5: a drawn expert hears of its draw and schedule (评标时间、地点)."""
    ctx = context("expert_drawn", DRAW)
    zh = templates.render("expert_drawn", "zh", ctx).body
    en = templates.render("expert_drawn", "en", ctx).body
    assert f"评标时间：2026-11-25 10:30（北京时间）；评标地点：{VENUE}。" in zh
    assert f"Evaluation: 2026-11-25 10:30 (Beijing time), at {VENUE}." in en


def test_a_remote_evaluation_says_so_and_an_old_draw_says_to_be_announced(
        templates: Templates) -> None:
    remote = DRAW.model_copy(update={"evaluation_remote": True,
                                     "evaluation_venue": "各地交易中心远程评标室"})
    def body(event: ExpertsDrawn, lang: str) -> str:
        return templates.render("expert_drawn", lang, context("expert_drawn", event)).body
    assert "各地交易中心远程评标室（远程异地评标）" in body(remote, "zh")
    assert "各地交易中心远程评标室 (remote evaluation)" in body(remote, "en")
    old = ExpertsDrawn(tender_id=TID, section_code=SEC, expert_ids=EXPERTS, commitment="c")
    assert "评标时间：另行通知；评标地点：另行通知" in body(old, "zh")
    assert "Evaluation: to be announced, at to be announced" in body(old, "en")


def test_public_steps_never_name_a_bidder_other_than_the_winner(templates: Templates) -> None:
    assert set(context("tender_published", TENDER)) == {"tender_id", "project_name",
                                                        "bid_deadline"}
    assert BIDDER not in json.dumps(context("awarded", AWARDED))


def test_a_template_naming_a_field_outside_its_context_is_refused(
        templates: Templates) -> None:
    raw = json.loads(json.dumps(templates.raw))
    raw["expert_drawn"]["en"]["body"] = "Drawn with {expert_ids}"
    with pytest.raises(TemplateError, match="expert_ids"):
        Templates(raw)


def test_a_missing_language_is_refused(templates: Templates) -> None:
    raw = json.loads(json.dumps(templates.raw))
    del raw["awarded"]["en"]
    with pytest.raises(TemplateError, match="no en"):
        Templates(raw)
