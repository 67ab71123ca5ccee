"""The credit scoring model is data and behaves as a model must (国办发〔2015〕63号).

Properties: more deductions never raise the score; the level follows the
thresholds; a province's model (weights, thresholds) changes the result without code.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.credit.domain.rules import ScoringModel, load
from services.credit.domain.scoring import level_of, score, standing

RULES = load()
ENTITY = RULES.entity
KINDS = sorted(ENTITY.deductions)
kinds = st.lists(st.sampled_from(KINDS), max_size=30)


def _model(base: int, points: dict[str, int], mins: list[int]) -> ScoringModel:
    names = "ABCDEFGH"
    return ScoringModel.model_validate({
        "base": {"value": base, "article": "test"},
        "deductions": {k: {"points": v, "article": "test"} for k, v in points.items()},
        "levels": [{"level": names[i], "min": m, "article": "test"}
                   for i, m in enumerate(sorted(set(mins) | {0}, reverse=True))]})


@st.composite
def models(draw: Any) -> ScoringModel:
    points = draw(st.dictionaries(st.sampled_from(KINDS), st.integers(0, 200), min_size=1))
    mins = draw(st.lists(st.integers(1, 1000), max_size=5))
    return _model(draw(st.integers(0, 1000)), points, mins)


@given(models(), st.data())
def test_more_deductions_never_raise_the_score(model: ScoringModel, data: Any) -> None:
    known = sorted(model.deductions)
    some = data.draw(st.lists(st.sampled_from(known), max_size=20))
    more = some + data.draw(st.lists(st.sampled_from(known), max_size=20))
    assert score(model, more) <= score(model, some) <= model.base.value
    assert score(model, more) >= 0


@given(models(), st.integers(0, 1000))
def test_the_level_is_the_highest_whose_threshold_the_score_reaches(model: ScoringModel,
                                                                    points: int) -> None:
    lv = level_of(model, points)
    assert points >= lv.min
    higher = [other for other in model.levels if other.min > lv.min]
    assert all(points < other.min for other in higher)


@given(models(), st.integers(0, 1000), st.integers(0, 1000))
def test_a_lower_score_never_earns_a_better_level(model: ScoringModel, a: int, b: int) -> None:
    low, high = sorted((a, b))
    order = [lv.level for lv in model.levels]
    assert order.index(level_of(model, low).level) >= order.index(level_of(model, high).level)


@given(kinds)
def test_the_shipped_entity_model_scores_base_minus_points(records: list[str]) -> None:
    expected = max(0, ENTITY.base.value - sum(ENTITY.deductions[k].points for k in records))
    assert score(ENTITY, records) == expected


def test_a_clean_entity_earns_level_a_and_its_deposit_reduction() -> None:
    """守信激励 (国办发〔2015〕63号): the best level earns a deposit reduction."""
    s = standing(ENTITY, [])
    assert (s.level, s.deposit_reduction_pct) == ("A", 50)


def test_a_province_changes_weights_and_thresholds_without_code() -> None:
    strict = _model(100, {"contract_overdue": 50}, [90, 60])
    assert standing(strict, ["contract_overdue"]).level == "C"
    lenient = _model(100, {"contract_overdue": 5}, [90, 60])
    assert standing(lenient, ["contract_overdue"]).level == "A"


def test_every_number_of_the_shipped_models_cites_its_source() -> None:
    for model in (RULES.entity, RULES.expert):
        rules = [model.base, *model.deductions.values(), *model.levels,
                 *model.level_bans.values(), *model.serious_bans.values()]
        assert all(r.article.strip() for r in rules)


def test_levels_out_of_order_are_refused() -> None:
    with pytest.raises(ValidationError, match="highest first"):
        ScoringModel.model_validate({
            "base": {"value": 100, "article": "x"}, "deductions": {},
            "levels": [{"level": "B", "min": 0, "article": "x"},
                       {"level": "A", "min": 90, "article": "x"}]})


def test_serious_collusion_bans_for_the_period_of_article_67() -> None:
    """条例67: serious collusion, 1-2 years; the shipped default is one year."""
    ban = ENTITY.serious_bans["collusion_serious"]
    assert 365 <= ban.days <= 730 and "第67条" in ban.article
