"""Cross-tender bid rotation (轮流中标/陪标: 条例39, bidders agreeing who wins)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.credit.domain.rotation import RotationPattern, SectionOutcome, find_rotation

A, B, C, D = "91A", "91B", "91C", "91D"


def outcome(n: int, bidders: Sequence[str], winner: str | None,
            category: str = "construction") -> SectionOutcome:
    return SectionOutcome(f"T{n:04d}", "001", category, frozenset(bidders), winner)


def noise(rng: random.Random, count: int, pool: int = 2_000, start: int = 1_000
          ) -> list[SectionOutcome]:
    """Sparse honest sections: 3-8 bidders drawn from a large pool, a random winner."""
    out = []
    for n in range(start, start + count):
        bidders = rng.sample([f"N{i:05d}" for i in range(pool)], rng.randint(3, 8))
        out.append(outcome(n, bidders, rng.choice(bidders)))
    return out


def test_planted_rotating_group_is_found_tiaoli39() -> None:
    """条例39: A, B, C bid together in four tenders and take turns to win."""
    planted = [outcome(1, [A, B, C, "X1"], A), outcome(2, [A, B, C], B),
               outcome(3, [A, B, C, "X2"], C), outcome(4, [A, B, C], A)]
    found = find_rotation([*noise(random.Random(1), 300), *planted])
    assert len(found) == 1
    p = found[0]
    assert p.bidders == (A, B, C)
    assert p.tenders == ("T0001/001", "T0002/001", "T0003/001", "T0004/001")
    assert p.winners == {A: 2, B: 1, C: 1}
    assert p.evidence["distinct_winners"] == 3
    assert p.evidence["winner_by_section"]["T0002/001"] == B
    assert p.evidence["categories"] == ["construction"]


def test_group_always_won_by_one_member_is_not_rotation() -> None:
    """Wins that never move are no rotation (min_distinct_winners = 2)."""
    same = [outcome(n, [A, B, C], A) for n in range(5)]
    assert find_rotation(same) == []
    assert find_rotation(same, min_distinct_winners=1)[0].winners == {A: 5, B: 0, C: 0}


def test_wins_by_outsiders_do_not_count_as_rotation() -> None:
    sections = [outcome(1, [A, B, C, D], D), outcome(2, [A, B, C, D], A),
                outcome(3, [A, B, C, "X"], "X"), outcome(4, [A, B, C], None)]
    found = find_rotation(sections)
    assert found == []  # among A, B, C only A won; A, B, C, D bid together only twice


def test_too_few_sections_together_is_no_pattern() -> None:
    assert find_rotation([outcome(1, [A, B, C], A), outcome(2, [A, B, C], B)]) == []


def test_larger_group_in_fewer_sections_is_its_own_pattern() -> None:
    """Maximal per set of sections: {A,B,C} in 4, {A,B,C,D} in 3 of them: two patterns."""
    sections = [outcome(1, [A, B, C, D], A), outcome(2, [A, B, C, D], B),
                outcome(3, [A, B, C, D], C), outcome(4, [A, B, C], A)]
    found = find_rotation(sections)
    assert [(p.bidders, len(p.tenders)) for p in found] == [((A, B, C), 4), ((A, B, C, D), 3)]


def test_huge_sections_are_left_out_of_group_mining() -> None:
    """A section above max_section_bidders says nothing about a small group."""
    crowd = [f"N{i:03d}" for i in range(40)]
    sections = [outcome(1, [A, B, C, *crowd], A), outcome(2, [A, B, C], B),
                outcome(3, [A, B, C], C)]
    assert find_rotation(sections) == []
    assert len(find_rotation(sections, max_section_bidders=50)) == 1


def test_random_sparse_sections_find_nothing() -> None:
    assert find_rotation(noise(random.Random(7), 2_000)) == []


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError):
        find_rotation([], min_group=1)


# properties: against a brute-force definition on a small universe --------------------
POOL = ["91P", "91Q", "91R", "91S", "91T", "91U"]
_section = st.lists(st.sampled_from(POOL), min_size=2, max_size=6, unique=True).flatmap(
    lambda bs: st.tuples(st.just(bs), st.one_of(st.none(), st.sampled_from([*bs, "91Z"]))))
_outcomes = st.lists(_section, max_size=10).map(
    lambda xs: [outcome(n, bs, w) for n, (bs, w) in enumerate(xs)])


def brute_force(outcomes: Sequence[SectionOutcome], min_group: int, min_together: int,
                min_distinct: int) -> set[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every group of the definition: together often enough, wins rotating, closed."""
    def where(g: frozenset[str]) -> tuple[str, ...]:
        return tuple(sorted(f"{o.tender_id}/{o.section_code}" for o in outcomes
                            if g <= o.bidders))

    expected = set()
    for size in range(min_group, len(POOL) + 1):
        for members in combinations(POOL, size):
            g = frozenset(members)
            tenders = where(g)
            winners = {o.winner for o in outcomes if g <= o.bidders and o.winner in g}
            closed = all(where(g | {x}) != tenders for x in POOL if x not in g)
            if len(tenders) >= min_together and len(winners) >= min_distinct and closed:
                expected.add((tuple(sorted(g)), tenders))
    return expected


@given(_outcomes, st.integers(2, 4), st.integers(1, 4), st.integers(1, 3))
def test_finds_exactly_the_defined_groups(outcomes: list[SectionOutcome], min_group: int,
                                          min_together: int, min_distinct: int) -> None:
    found = find_rotation(outcomes, min_group=min_group, min_together=min_together,
                          min_distinct_winners=min_distinct)
    assert {(p.bidders, p.tenders) for p in found} == brute_force(
        outcomes, min_group, min_together, min_distinct)
    assert len({p.bidders for p in found}) == len(found)
    for p in found:
        assert sum(p.winners.values()) <= len(p.tenders)
        assert set(p.winners) == set(p.bidders)


@given(_outcomes, st.randoms(use_true_random=False))
def test_rotation_is_invariant_under_permutation(outcomes: list[SectionOutcome],
                                                 rnd: random.Random) -> None:
    shuffled = list(outcomes)
    rnd.shuffle(shuffled)
    same: list[RotationPattern] = find_rotation(shuffled, min_together=2)
    assert same == find_rotation(outcomes, min_together=2)
