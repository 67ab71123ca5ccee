"""The scoring model applied: score, level and incentives of an account. Pure.

score = base - the points of every record in force, never below 0; the level is
the highest whose minimum the score reaches; incentives come with the level
(国办发〔2015〕63号: 守信激励, e.g. a deposit reduction for the best level).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ggzy.runtime.errors import DomainError
from services.credit.domain.rules import Level, ScoringModel


@dataclass(frozen=True)
class Standing:
    """Where an account stands: score, level and what the level earns."""

    score: int
    level: str
    deposit_reduction_pct: int


def deduction(model: ScoringModel, kind: str) -> int:
    """Points a record of ``kind`` takes off; a specific refusal for an unknown kind."""
    rule = model.deductions.get(kind)
    if rule is None:
        raise DomainError("unknown_record_kind", f"the scoring model has no record kind {kind!r}",
                          known=sorted(model.deductions))
    return rule.points


def score(model: ScoringModel, kinds: Iterable[str]) -> int:
    """The score of an account whose records in force are of ``kinds``."""
    return max(0, model.base.value - sum(deduction(model, k) for k in kinds))


def level_of(model: ScoringModel, points: int) -> Level:
    """The highest level whose minimum ``points`` reaches (levels are listed highest first)."""
    return next(lv for lv in model.levels if points >= lv.min)


def standing(model: ScoringModel, kinds: Iterable[str]) -> Standing:
    """Score, level and incentive of an account (remembered per model and kinds: the
    same few combinations recur for every account; an unknown kind is refused each time)."""
    key = (id(model), tuple(kinds))
    known = _standings.get(key)
    if known is not None and known[0] is model:
        return known[1]
    points = score(model, key[1])
    lv = level_of(model, points)
    found = Standing(points, lv.level, lv.deposit_reduction_pct)
    if len(_standings) >= _STANDINGS_KEPT:
        _standings.clear()
    _standings[key] = (model, found)
    return found


_STANDINGS_KEPT = 4096
# (id of the model, kinds in force) -> (the model, its standing); the model is kept so
# that its id is not reused while the entry exists
_standings: dict[tuple[int, tuple[str, ...]], tuple[ScoringModel, Standing]] = {}
