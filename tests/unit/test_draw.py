"""The random expert draw with recusal (法37; 条例46; 评标委员会和评标方法暂行规定12)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.bidding.domain.draw import (
    DrawContext,
    DrawRecord,
    Exclusion,
    ExpertCandidate,
    NotEnoughExperts,
    commitment,
    draw,
    exclusion,
    mixed,
    record_of,
    replay,
    verify_draw,
    verify_replay,
)

PARTIES = ["T0", "A0", "B0", "B1", "B2", "X0", "X1"]
experts = st.builds(
    ExpertCandidate,
    expert_id=st.text("0123456789ABCDEF", min_size=4, max_size=4).map(lambda s: f"EXP-{s}"),
    specialties=st.frozensets(st.sampled_from(["A01", "E01"]), min_size=1),
    employer_uscc=st.none() | st.sampled_from(PARTIES),
    related_usccs=st.frozensets(st.sampled_from(PARTIES), max_size=2),
    restricted=st.booleans(), available=st.booleans(),
    employer_kinds=st.frozensets(st.sampled_from(["bidder", "tenderee", "supervisor"])),
    employer_controllers=st.frozensets(st.sampled_from(PARTIES), max_size=1),
    penalised=st.booleans())
pools = st.lists(experts, min_size=0, max_size=40, unique_by=lambda e: e.expert_id)
CTX = DrawContext("T0", "A0", frozenset({"B0", "B1", "B2"}), party_controllers=frozenset({"P0"}))
MIX = {"A01": 2, "E01": 1}


@given(pools, st.text(min_size=1, max_size=16))
@settings(max_examples=200)
def test_no_excluded_expert_is_ever_drawn(pool: list[ExpertCandidate], seed: str) -> None:
    try:
        result = draw(pool, CTX, MIX, seed)
    except NotEnoughExperts:
        return
    by_id = {e.expert_id: e for e in pool}
    for expert_id in result.committee:
        assert exclusion(by_id[expert_id], CTX) is None
    assert len(result.committee) == len(set(result.committee)) == 3
    assert sum("A01" in by_id[e].specialties for e in result.committee[:2]) == 2


@given(pools, st.text(min_size=1, max_size=16))
@settings(max_examples=100)
def test_same_seed_same_committee_and_the_commitment_verifies(pool: list[ExpertCandidate],
                                                             seed: str) -> None:
    try:
        first = draw(pool, CTX, MIX, seed)
    except NotEnoughExperts:
        return
    assert draw(list(reversed(pool)), CTX, MIX, seed).committee == first.committee
    assert verify_draw(commitment(seed), seed, pool, CTX, MIX, first.committee)
    assert not verify_draw(commitment(seed + "x"), seed, pool, CTX, MIX, first.committee)


def test_different_seeds_give_different_committees() -> None:
    pool = [ExpertCandidate(f"EXP-{i:04d}", frozenset({"A01"})) for i in range(30)]
    committees = {draw(pool, CTX, {"A01": 5}, f"seed-{i}").committee for i in range(20)}
    assert len(committees) > 15


def test_recusal_reasons_are_specific() -> None:
    """Employer of tenderee, agency or a bidder; a declared relation; a restriction."""
    cases = {
        Exclusion.EMPLOYED_BY_TENDEREE: ExpertCandidate("E1", frozenset(), employer_uscc="T0"),
        Exclusion.EMPLOYED_BY_AGENCY: ExpertCandidate("E2", frozenset(), employer_uscc="A0"),
        Exclusion.EMPLOYED_BY_BIDDER: ExpertCandidate("E3", frozenset(), employer_uscc="B1"),
        Exclusion.RELATED_TO_PARTY: ExpertCandidate("E4", frozenset(),
                                                    related_usccs=frozenset({"B2"})),
        Exclusion.RESTRICTED: ExpertCandidate("E5", frozenset(), restricted=True),
        Exclusion.UNAVAILABLE: ExpertCandidate("E6", frozenset(), available=False),
    }
    for reason, expert in cases.items():
        assert exclusion(expert, CTX) == reason
    assert exclusion(ExpertCandidate("E7", frozenset(), employer_uscc="X0"), CTX) is None


def test_the_other_grounds_of_article_12_recuse_too() -> None:
    """暂行规定12(二) staff of a supervising department (条例46); 12(三) an economic
    interest: the employer controls a party or a party controls it; 12(四) a penalty on
    record, in force or its period over (the category's rule ``expert_penalty_recusal``)."""
    supervisor = ExpertCandidate("E1", frozenset(), employer_uscc="S0",
                                 employer_kinds=frozenset({"supervisor"}))
    controls_a_party = ExpertCandidate("E2", frozenset(), employer_uscc="P0")
    controlled = ExpertCandidate("E3", frozenset(), employer_uscc="X1",
                                 employer_controllers=frozenset({"B2"}))
    penalised = ExpertCandidate("E4", frozenset(), penalised=True)
    assert exclusion(supervisor, CTX) == Exclusion.EMPLOYED_BY_SUPERVISOR
    assert exclusion(controls_a_party, CTX) == Exclusion.EMPLOYER_CONTROL_TIE
    assert exclusion(controlled, CTX) == Exclusion.EMPLOYER_CONTROL_TIE
    assert exclusion(penalised, CTX) == Exclusion.PAST_PENALTY
    lenient = DrawContext("T0", "A0", frozenset({"B0"}), recuse_penalised=False)
    assert exclusion(penalised, lenient) is None
    # a tie to someone who is no party of this tender is none
    assert exclusion(ExpertCandidate("E5", frozenset(), employer_uscc="X1",
                                     employer_controllers=frozenset({"X0"})), CTX) is None
    assert exclusion(ExpertCandidate("E6", frozenset(), employer_uscc="X1",
                                     employer_kinds=frozenset({"bidder", "tenderee"})),
                     CTX) is None


def test_too_few_eligible_experts_is_refused_with_the_numbers() -> None:
    pool = [ExpertCandidate("E1", frozenset({"A01"})),
            ExpertCandidate("E2", frozenset({"A01"}), employer_uscc="B0")]
    with pytest.raises(NotEnoughExperts) as err:
        draw(pool, CTX, {"A01": 2}, "s")
    assert err.value.details == {"specialty": "A01", "needed": 2, "available": 1}


# the draw bound before the bids and re-run from its record (commit-reveal) ------------
digests = st.lists(st.text("0123456789abcdef", min_size=64, max_size=64), min_size=3,
                   max_size=8, unique=True)


@given(pools, st.text(min_size=1, max_size=16), digests)
@settings(max_examples=100)
def test_the_published_record_reruns_the_committee_and_nothing_else_verifies(
        pool: list[ExpertCandidate], seed: str, bids: list[str]) -> None:
    try:
        result = draw(pool, CTX, MIX, mixed(seed, bids))
    except NotEnoughExperts:
        return
    record = DrawRecord.of_doc(record_of(pool, result, reversed(bids), MIX).as_doc())
    assert replay(seed, record) == result.committee  # the bids' order does not matter
    assert verify_replay(commitment(seed), seed, record, result.committee)
    assert not verify_replay(commitment(seed + "x"), seed, record, result.committee)
    assert set(record.excluded) == set(result.excluded)  # with their reasons
    assert not set(record.eligible) & set(record.excluded)


def test_the_seed_is_mixed_with_the_bids_so_neither_side_picks_the_committee() -> None:
    """The platform's seed is fixed before any bid; a bid changes the seed the draw runs on
    in a way no bidder can foresee without the seed."""
    bids = ["a" * 64, "b" * 64, "c" * 64]
    assert mixed("s", bids) == mixed("s", list(reversed(bids)))
    assert mixed("s", bids) != mixed("s", [*bids[:2], "d" * 64])
    assert mixed("s", bids) != mixed("t", bids)
    pool = [ExpertCandidate(f"EXP-{i:04d}", frozenset({"A01", "E01"})) for i in range(30)]
    committees = {draw(pool, CTX, MIX, mixed("s", [*bids[:2], f"{i:064x}"])).committee
                  for i in range(20)}
    assert len(committees) > 10  # one bid's digest moves the committee


def test_a_tampered_record_does_not_verify() -> None:
    pool = [ExpertCandidate(f"EXP-{i:04d}", frozenset({"A01", "E01"})) for i in range(12)]
    bids = ["a" * 64, "b" * 64, "c" * 64]
    result = draw(pool, CTX, MIX, mixed("seed", bids))
    record = record_of(pool, result, bids, MIX)
    assert verify_replay(commitment("seed"), "seed", record, result.committee)
    fewer = DrawRecord(record.digests[:2], record.eligible, record.excluded, record.mix)
    outsider = next(e for e in record.eligible if e not in result.committee)
    assert mixed("seed", fewer.digests) != mixed("seed", record.digests)  # another stream
    swapped = (outsider, *result.committee[1:])
    assert not verify_replay(commitment("seed"), "seed", record, swapped)
