"""The per-section deemed-collusion check (视为串通投标: 条例40; 87号令37; 条例34)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from contracts.bidding import BidderLine, BidFingerprint
from contracts.credit import RiskIndicator
from ggzy.testing.data import new_uscc
from services.bidding import opening
from services.credit.domain import collusion
from services.credit.domain.collusion import (
    CollusionConfig,
    Finding,
    check_section,
    finding_id,
)

_RNG = random.Random(40)
CODES = sorted({new_uscc(_RNG) for _ in range(40)})[:32]
HONEST_PRICES = [9_512_300, 10_031_700, 10_877_100, 11_402_900, 8_733_500]


def part(name: str) -> str:
    """The SHA-256 (lowercase hex) of a file of a bid package, as the bidder's tool gives it."""
    return hashlib.sha256(name.encode()).hexdigest()


def bid(i: int, price: int | None = None, status: str = "valid", **over: Any) -> BidFingerprint:
    """An honest bid of bidder CODES[i]: every fingerprint value its own."""
    data: dict[str, Any] = {
        "bid_id": f"bid-{i:03d}", "bidder_uscc": CODES[i], "digest": f"sha-{i}",
        "price_fen": HONEST_PRICES[i % 5] if price is None else price, "status": status,
        "file_digest": f"md5-{i}", "machine_serials": [f"CPU-{i}", f"DISK-{i}"],
        "part_digests": [part(f"商务标-{i}"), part(f"技术标-{i}")],
        "upload_ip": f"10.0.0.{i}", "upload_mac": f"00:16:3E:00:00:{i:02X}",
        "contact_person": f"联系人{i}", "agent": f"代理人{i}", "project_manager": f"项目经理{i}",
        "deposit_account": f"6222 0000 0000 {i:04d}"}
    data.update(over)
    return BidFingerprint(**data)


def honest_section() -> list[BidFingerprint]:
    return [bid(i) for i in range(5)]


def only(findings: Sequence[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_honest_section_raises_nothing() -> None:
    """条例40: distinct fingerprints and unpatterned prices are no evidence of anything."""
    assert not _patterned(HONEST_PRICES, CollusionConfig())
    assert check_section(honest_section(), {}) == []


# fingerprints -----------------------------------------------------------------------
def test_same_document_is_deemed_collusion_tiaoli40_1() -> None:
    """条例40(一): bids of different bidders prepared by the same unit (same file digest)."""
    prints = [*honest_section()[:3], bid(3, file_digest="ABCDEF"), bid(4, file_digest=" abcdef")]
    f = only(check_section(prints, {}))
    assert (f.indicator, f.article) == (RiskIndicator.SAME_DOCUMENT, "条例40(一)")
    assert f.bidders == tuple(sorted([CODES[3], CODES[4]]))
    assert f.evidence == {"field": "file_digest", "value": "abcdef",
                          "bid_ids": ["bid-003", "bid-004"]}


def test_same_machine_serials_are_one_finding_tiaoli40_1() -> None:
    """条例40(一): made on one machine; the serials the same bidders share are one finding."""
    shared = ["CPU-X", "DISK-X"]
    prints = [*honest_section()[:3], bid(3, machine_serials=shared),
              bid(4, machine_serials=["disk-x ", "CPU-X", "BOARD-4"])]
    f = only(check_section(prints, {}))
    assert (f.indicator, f.article) == (RiskIndicator.SAME_MACHINE, "条例40(一)")
    assert f.bidders == tuple(sorted([CODES[3], CODES[4]]))
    assert f.evidence == {"field": "machine_serials", "serials": ["CPU-X", "DISK-X"],
                          "bid_ids": ["bid-003", "bid-004"]}


@pytest.mark.parametrize(("name", "values", "indicator", "article", "normal"), [
    ("upload_ip", ("192.0.2.7", " 192.0.2.7"), RiskIndicator.SAME_UPLOAD_IP, "条例40(二)",
     "192.0.2.7"),
    ("upload_mac", ("00:16:3e:aa:bb:cc", "00-16-3E-AA-BB-CC"), RiskIndicator.SAME_UPLOAD_MAC,
     "条例40(二)", "00163EAABBCC"),
    ("agent", ("张 三", "张三"), RiskIndicator.SAME_AGENT, "条例40(二)", "张三"),
    ("contact_person", ("李四", "李四 "), RiskIndicator.SAME_CONTACT, "87号令37", "李四"),
    ("project_manager", ("王五", "王五"), RiskIndicator.SAME_PROJECT_MANAGER, "条例40(三)",
     "王五"),
    ("deposit_account", ("6222-0202-1234", "6222 0202 1234"),
     RiskIndicator.SAME_DEPOSIT_ACCOUNT, "条例40(六)", "622202021234"),
])
def test_shared_value_is_deemed_collusion_with_its_article(
        name: str, values: tuple[str, str], indicator: RiskIndicator, article: str,
        normal: str) -> None:
    """条例40(二)(三)(六); 87号令37: upload address, agent, contact, manager, deposit account."""
    first: dict[str, Any] = {name: values[0]}
    second: dict[str, Any] = {name: values[1]}
    prints = [bid(0), bid(1, **first), bid(2), bid(3, **second), bid(4)]
    f = only(check_section(prints, {}))
    assert (f.indicator, f.article) == (indicator, article)
    assert f.bidders == tuple(sorted([CODES[1], CODES[3]]))
    assert f.evidence == {"field": name, "value": normal, "bid_ids": ["bid-001", "bid-003"]}


def test_same_deposit_account_is_deemed_collusion_tiaoli40_6() -> None:
    """条例40(六): deposits of three bidders paid from one account: one finding naming all."""
    prints = [bid(i, deposit_account="62220000") if i < 3 else bid(i) for i in range(5)]
    f = only(check_section(prints, {}))
    assert f.indicator is RiskIndicator.SAME_DEPOSIT_ACCOUNT and f.article == "条例40(六)"
    assert f.bidders == tuple(sorted(CODES[:3]))
    assert f.evidence["bid_ids"] == ["bid-000", "bid-001", "bid-002"]


def test_a_file_of_one_bid_package_in_another_is_mixed_documents_tiaoli40_5() -> None:
    """条例40(五): a file of one bidder's package found in another's (相互混装); the files
    the same bidders share are one finding, the digest read whatever its case."""
    mixed, also = part("施工组织设计-3"), part("报价清单-3")
    prints = [*honest_section()[:3], bid(3, part_digests=[mixed, also, part("商务标-3")]),
              bid(4, part_digests=[part("商务标-4"), also.upper(), f" {mixed}"])]
    f = only(check_section(prints, {}))
    assert (f.indicator, f.article) == (RiskIndicator.MIXED_DOCUMENTS, "条例40(五)")
    assert f.bidders == tuple(sorted([CODES[3], CODES[4]]))
    assert f.evidence == {"field": "part_digests", "digests": sorted([mixed, also]),
                          "bid_ids": ["bid-003", "bid-004"]}


def test_mixed_documents_are_one_finding_per_set_of_bidders_tiaoli40_5() -> None:
    """条例40(五): A's package holds a file of B's and another of C's, and all three
    share a third: one finding per set of bidders, each listing the files it shares."""
    ab, ac, abc = part("A-B"), part("A-C"), part("A-B-C")
    prints = [bid(0, part_digests=[ab, ac, abc]), bid(1, part_digests=[abc, ab]),
              bid(2, part_digests=[ac, abc]), bid(3), bid(4)]
    found = {f.bidders: f.evidence for f in check_section(prints, {})
             if f.indicator is RiskIndicator.MIXED_DOCUMENTS}
    assert found == {
        tuple(sorted(CODES[:2])): {"field": "part_digests", "digests": [ab],
                                   "bid_ids": ["bid-000", "bid-001"]},
        tuple(sorted([CODES[0], CODES[2]])): {"field": "part_digests", "digests": [ac],
                                              "bid_ids": ["bid-000", "bid-002"]},
        tuple(sorted(CODES[:3])): {"field": "part_digests", "digests": [abc],
                                   "bid_ids": ["bid-000", "bid-001", "bid-002"]}}


def test_a_file_of_the_tender_documents_in_every_package_is_no_evidence_tiaoli40_5() -> None:
    """条例40(五): every bidder downloads the tender documents (招标文件) and may include
    their forms as they are; bidding leaves those files out of the fingerprints it sends
    at the opening, so that credit finds nothing in them. A file of one bid in another's
    package is still found beside them."""
    form = part("投标函格式.docx")  # a file of the tender documents
    mixed = part("施工组织设计-1")
    bids = [{"_id": f"bid-{i:03d}", "digest": f"sha-{i}",
             "fingerprint": {"part_digests": [form, part(f"商务标-{i}"),
                                              *([mixed] if i in (1, 2) else [])]}}
            for i in range(5)]
    lines = [BidderLine(bid_id=b["_id"], bidder_uscc=CODES[i], bidder_name=f"投标人{i}",
                        price_fen=HONEST_PRICES[i], status="valid") for i, b in enumerate(bids)]

    def sent(tender_files: set[str]) -> list[BidFingerprint]:
        [event] = opening.fingerprints("2026ABCDEFGHIJKLM001", "2026ABCDEFGHIJKLM001001",
                                       bids, lines, datetime.now(UTC), tender_files)
        return event.fingerprints
    kept = sent({form})
    assert all(form not in p.part_digests for p in kept)
    f = only(check_section(kept, {}))
    assert (f.indicator, f.bidders) == (RiskIndicator.MIXED_DOCUMENTS, tuple(sorted(CODES[1:3])))
    assert f.evidence["digests"] == [mixed]
    unfiltered = check_section(sent(set()), {})  # the form would name every bidder
    assert [f.bidders for f in unfiltered] == [tuple(sorted(CODES[:5])), tuple(sorted(CODES[1:3]))]


def test_bids_without_part_digests_are_no_evidence_of_mixing_tiaoli40_5() -> None:
    """条例40(五): a bid whose tool gave no part digests (or blank ones) shares no file."""
    prints = [bid(i, part_digests=[] if i % 2 else ["", " "]) for i in range(5)]
    assert check_section(prints, {}) == []


def test_one_bidders_own_bids_sharing_a_value_are_not_collusion() -> None:
    """条例40 concerns different bidders: one bidder's two bids share what they like."""
    twin = bid(0, bid_id="bid-100", price_fen=12_600_000)
    assert check_section([*honest_section(), twin], {}) == []


def test_withdrawn_bids_are_ignored_but_revoked_and_invalid_ones_checked() -> None:
    """20号令: a bid withdrawn before the deadline was never extracted; a revoked one
    (视为撤销) and one invalid as related (条例34) were submitted, so they count."""
    withdrawn = [bid(0), bid(1, upload_ip="1.1.1.1"), bid(2, upload_ip="1.1.1.1",
                                                        status="withdrawn")]
    assert check_section(withdrawn, {}) == []
    revoked = [bid(0), bid(1, upload_ip="1.1.1.1"),
               bid(2, upload_ip="1.1.1.1", status="revoked", price_fen=None),
               bid(3, upload_ip="1.1.1.1", status="invalid_related")]
    f = only(check_section(revoked, {}))
    assert f.bidders == tuple(sorted(CODES[1:4]))


def test_empty_values_are_never_shared() -> None:
    """A missing fingerprint value is no evidence (条例40)."""
    blank: dict[str, Any] = {
        "file_digest": "", "machine_serials": ["", " "], "part_digests": [""],
        "upload_ip": "", "upload_mac": " ",
        "contact_person": "", "agent": "", "project_manager": "", "deposit_account": ""}
    assert check_section([bid(i, **blank) for i in range(5)], {}) == []


# prices (条例40(四)) ------------------------------------------------------------------
def priced(prices: Sequence[int | None]) -> list[BidFingerprint]:
    return [bid(i, price=p) if p is not None else bid(i, price_fen=None, status="revoked")
            for i, p in enumerate(prices)]


def test_equal_price_differences_are_a_pattern_tiaoli40_4() -> None:
    """条例40(四): prices with regular differences; an honest price far off is left out."""
    f = only(check_section(priced([12_000_000, 10_100_000, 10_000_000, 10_200_000, None]), {}))
    assert (f.indicator, f.article) == (RiskIndicator.PRICE_PATTERN, "条例40(四)")
    assert f.bidders == tuple(sorted([CODES[1], CODES[2], CODES[3]]))
    assert f.evidence["patterns"] == ["equal_difference"]  # 1% then 0.99%: ratios differ
    assert f.evidence["steps_fen"] == [100_000, 100_000]
    assert f.evidence["prices_fen"] == [10_000_000, 10_100_000, 10_200_000]
    assert f.evidence["bid_ids"] == ["bid-002", "bid-001", "bid-003"]


def test_equal_price_ratios_are_a_pattern_tiaoli40_4() -> None:
    """条例40(四): each price 10% above the last (equal ratios, unequal differences)."""
    f = only(check_section(priced([8_000_000, 8_800_000, 9_680_000, 12_500_000]), {}))
    assert f.evidence["patterns"] == ["equal_ratio"]
    assert f.evidence["ratios"] == ["1.10000000", "1.10000000"]
    assert f.bidders == tuple(sorted(CODES[:3]))


def test_abnormally_close_prices_are_a_pattern_tiaoli40_4() -> None:
    """条例40(四): three prices within 0.5% of each other (max/min - 1 = 0.45%)."""
    f = only(check_section(priced([10_000_000, 10_020_000, 10_045_000, 14_000_000]), {}))
    assert f.evidence["patterns"] == ["closeness"]
    assert f.evidence["spread_pct"] == "0.4500"
    assert float(f.evidence["closeness_chance"]) < 0.005
    edge = only(check_section(priced([10_000_000, 10_020_000, 10_050_000, 14_000_000]), {}))
    assert edge.evidence["spread_pct"] == "0.5000"  # exactly 0.5% is within
    assert not check_section(priced([10_000_000, 10_020_000, 10_050_001, 14_000_000]), {})


def test_closeness_that_chance_explains_is_no_pattern() -> None:
    """条例40(四) asks for *abnormal* closeness: three of 50 honest prices within 0.5% of
    each other is the rule, not the exception, so the section's own spacing judges it."""
    rng = random.Random(2026)
    flagged = 0
    for _ in range(100):
        prices = rng.sample(range(8_000_000_00, 12_000_000_00), 50)
        crowded = [bid(i % 32, price=p, bid_id=f"b{i}", bidder_uscc=new_uscc(rng))
                   for i, p in enumerate(prices)]
        flagged += any(f.indicator == RiskIndicator.PRICE_PATTERN
                       for f in check_section(crowded, {}))
    assert flagged <= 1  # pattern_alpha 0.5% per kind of pattern, Bonferroni-bounded
    filler = [8_130_411_07, 8_702_950_31, 9_411_876_54, 10_870_112_93, 11_562_004_18]
    tight = [bid(i, price=p) for i, p in enumerate(
        [10_000_000_00, 10_001_000_00, 10_002_500_00, *filler])]
    f = only([f for f in check_section(tight, {}) if f.indicator == RiskIndicator.PRICE_PATTERN])
    assert f.evidence["prices_fen"][:3] == [10_000_000_00, 10_001_000_00, 10_002_500_00]


def test_ratios_indistinguishable_from_one_are_no_ratio_pattern() -> None:
    """条例40(四): a ratio within the tolerance of 1 is no step (closeness is checked apart)."""
    exact_only = CollusionConfig(closeness_pct=Decimal(0))
    assert check_section(priced([10_000_000, 10_000_005, 10_000_011]), {}, exact_only) == []


def test_difference_tolerance_is_configurable() -> None:
    """条例40(四) with a tolerance: steps within 100 fen of each other count as equal."""
    prices = priced([10_000_000, 11_000_000, 12_000_050, 15_000_000])
    assert check_section(prices, {}) == []
    loose = CollusionConfig(equal_difference_tolerance_fen=100)
    f = only(check_section(prices, {}, loose))
    assert f.evidence["steps_fen"] == [1_000_000, 1_000_050]


def test_a_progression_broken_by_a_price_in_between_is_not_a_run() -> None:
    """The documented limit of 条例40(四) here: only consecutive sorted prices form a run."""
    assert check_section(priced([10_000_000, 11_000_000, 12_000_000, 10_300_000]), {}) == []


# related entities (条例34) ------------------------------------------------------------
def test_same_legal_representative_is_related_tiaoli34() -> None:
    """条例34: units with the same legal representative may not bid on one section."""
    entities = {CODES[0]: {"legal_representative_ref": "rid-1"},
                CODES[2]: {"legal_representative_ref": "rid-1"},
                CODES[3]: {"legal_representative_ref": ""}, CODES[4]: {}}
    f = only(check_section(honest_section(), entities))
    assert (f.indicator, f.article) == (RiskIndicator.RELATED_ENTITIES, "条例34")
    assert f.bidders == tuple(sorted([CODES[0], CODES[2]]))
    assert f.evidence == {"relation": "same_legal_representative",
                          "legal_representative_ref": "rid-1"}


def test_control_and_common_controller_are_related_tiaoli34() -> None:
    """条例34: one bidder controls another; two bidders controlled by one absent unit."""
    entities = {CODES[1]: {"controlled_by": [CODES[0]]},
                CODES[3]: {"controlled_by": [CODES[9]]}, CODES[4]: {"controlled_by": [CODES[9]]}}
    control, common = check_section(honest_section(), entities)
    assert control.bidders == tuple(sorted(CODES[:2]))
    assert control.evidence == {"relation": "control", "controller": CODES[0],
                                "controlled": [CODES[1]]}
    assert common.bidders == tuple(sorted(CODES[3:5]))
    assert common.evidence == {"relation": "common_controller", "controller": CODES[9]}


# config ------------------------------------------------------------------------------
def test_config_from_yaml_mapping_is_exact_and_refuses_unknown_keys() -> None:
    config = CollusionConfig.from_mapping({"closeness_pct": 0.3, "equal_ratio_tolerance": 0.001,
                                           "excluded_statuses": ["withdrawn", "late"]})
    assert config.closeness_pct == Decimal("0.3")
    assert config.equal_ratio_tolerance == Decimal("0.001")
    assert config.excluded_statuses == frozenset({"withdrawn", "late"})
    with pytest.raises(ValueError, match="closenes_pct"):
        CollusionConfig.from_mapping({"closenes_pct": 0.3})
    with pytest.raises(ValueError, match="min_pattern_bids"):
        CollusionConfig.from_mapping({"min_pattern_bids": 2})


# properties --------------------------------------------------------------------------
_value = st.sampled_from(["", "a", "b", "c"])
_print = st.builds(
    lambda b, n, price, status, vals, serials, parts: BidFingerprint(
        bid_id=f"bid-{n}", bidder_uscc=CODES[b], digest="d", price_fen=price, status=status,
        file_digest=vals[0], upload_ip=vals[1], upload_mac=vals[2], contact_person=vals[3],
        agent=vals[4], project_manager=vals[5], deposit_account=vals[6], machine_serials=serials,
        part_digests=parts),
    st.integers(0, 5), st.integers(0, 10**6),
    st.one_of(st.none(), st.integers(1, 40).map(lambda k: k * 250_000),
              st.integers(1, 10**8)),
    st.sampled_from(["valid", "revoked", "withdrawn", "invalid_related"]),
    st.tuples(*[_value] * 7), st.lists(_value, max_size=3), st.lists(_value, max_size=3))
_prints = st.lists(_print, max_size=14, unique_by=lambda p: p.bid_id)
_entities = st.dictionaries(st.sampled_from(CODES[:6]), st.fixed_dictionaries(
    {}, optional={"legal_representative_ref": _value,
                  "controlled_by": st.lists(st.sampled_from(CODES[:8]), max_size=2)}))


@given(_prints, _entities)
def test_no_finding_names_a_single_bidder_or_one_twice(
        prints: list[BidFingerprint], entities: dict[str, dict[str, Any]]) -> None:
    bidders = {p.bidder_uscc for p in prints if p.status != "withdrawn"}
    for f in check_section(prints, entities):
        assert len(f.bidders) >= 2
        assert list(f.bidders) == sorted(set(f.bidders))
        assert set(f.bidders) <= bidders


@given(_prints, _entities, st.randoms(use_true_random=False))
def test_check_is_invariant_under_permutation(
        prints: list[BidFingerprint], entities: dict[str, dict[str, Any]],
        rnd: random.Random) -> None:
    shuffled = list(prints)
    rnd.shuffle(shuffled)
    assert check_section(shuffled, entities) == check_section(prints, entities)


@given(_prints)
def test_mixed_documents_are_the_files_shared_by_each_set_of_bidders_tiaoli40_5(
        prints: list[BidFingerprint]) -> None:
    """条例40(五): for each set of two or more bidders, one finding listing exactly the
    files held by those bidders and no other, and the bids that hold them."""
    checked = [p for p in prints if p.status != "withdrawn"]
    holders: dict[str, set[str]] = {}
    for p in checked:
        for d in filter(None, p.part_digests):
            holders.setdefault(d, set()).add(p.bidder_uscc)
    shared: dict[tuple[str, ...], list[str]] = {}
    for d, who in sorted(holders.items()):
        if len(who) > 1:
            shared.setdefault(tuple(sorted(who)), []).append(d)
    expected = {who: {"field": "part_digests", "digests": ds, "bid_ids": sorted(
        p.bid_id for p in checked if set(ds) & set(p.part_digests))}
        for who, ds in shared.items()}
    assert {f.bidders: f.evidence for f in check_section(prints, {})
            if f.indicator is RiskIndicator.MIXED_DOCUMENTS} == expected


@given(st.integers(10**5, 10**9), st.integers(1, 10**7), st.integers(3, 8),
       st.lists(st.integers(0, 10**6), max_size=4), st.randoms(use_true_random=False))
def test_any_arithmetic_progression_of_distinct_prices_is_found(
        start: int, step: int, k: int, others: list[int], rnd: random.Random) -> None:
    """条例40(四): k >= 3 prices with one non-zero step, among prices outside their range."""
    ap = [start + n * step for n in range(k)]
    top = ap[-1]
    extra = [2 * top + 3 * top * n + o for n, o in enumerate(others, 1)]
    prints = [bid(i, price=p) for i, p in enumerate(ap + extra)]
    rnd.shuffle(prints)
    runs = [f for f in check_section(prints, {}) if "equal_difference" in f.evidence.get(
        "patterns", [])]
    assert any({f"bid-{i:03d}" for i in range(k)} <= set(f.evidence["bid_ids"]) for f in runs)


def _patterned(prices: list[int], config: CollusionConfig) -> bool:
    """Reference oracle: does any consecutive sorted triple match a pattern of 条例40(四)?"""
    p = sorted(prices)
    for a, b, c in zip(p, p[1:], p[2:], strict=False):
        if b - a == c - b or c * 100 <= a * (100 + Fraction(config.closeness_pct)):
            return True
        r1, r2 = Fraction(b, a), Fraction(c, b)
        tol = Fraction(config.equal_ratio_tolerance)
        if abs(r1 - r2) <= tol and min(r1, r2) - 1 > tol:
            return True
    return False


@given(st.integers(10**6, 10**10).flatmap(lambda est: st.lists(
    st.integers(est * 8 // 10, est * 12 // 10), min_size=1, max_size=8, unique=True)))
def test_honest_prints_with_unpatterned_prices_raise_nothing(prices: list[int]) -> None:
    """Unique fingerprints, prices in ±20% of an estimate with no triple in a pattern."""
    assume(not _patterned(prices, CollusionConfig()))
    prints = [bid(i, price=p) for i, p in enumerate(prices)]
    assert check_section(prints, {CODES[i]: {"legal_representative_ref": f"r{i}"}
                                  for i in range(len(prices))}) == []


@given(_prints, _entities)
def test_finding_id_is_deterministic(prints: list[BidFingerprint],
                                     entities: dict[str, dict[str, Any]]) -> None:
    for f in check_section(prints, entities):
        again = Finding(f.indicator, f.article, f.bidders, dict(reversed(f.evidence.items())))
        assert finding_id("T", "S", f) == finding_id("T", "S", again)
        assert len(finding_id("T", "S", f)) == 64
        assert finding_id("T", "S", f) != finding_id("T", "S2", f)


def test_distinct_findings_have_distinct_ids() -> None:
    prints = [bid(0, upload_ip="1.1.1.1", agent="甲"), bid(1, upload_ip="1.1.1.1", agent="甲"),
              *[bid(i) for i in range(2, 5)]]
    findings = check_section(prints, {})
    assert len(findings) == 2
    assert len({finding_id("T", "S", f) for f in findings}) == 2


# fast paths against their references ---------------------------------------------------
def _reference_difference_runs(p: Sequence[int], tol: int, k: int) -> list[tuple[int, int]]:
    """The greedy walk over every price, as it was before the walk skipped ahead."""
    runs, i, n = [], 0, len(p)
    while i < n - 1:
        low = high = p[i + 1] - p[i]
        j = i + 1
        if low > tol:
            while j < n - 1:
                step = p[j + 1] - p[j]
                if step <= tol or max(high, step) - min(low, step) > tol:
                    break
                low, high, j = min(low, step), max(high, step), j + 1
            if j - i + 1 >= k:
                runs.append((i, j))
        i = j
    return runs


def _reference_ratio_runs(p: Sequence[int], tol: Fraction, k: int) -> list[tuple[int, int]]:
    """The greedy walk over every price with exact fractions."""
    runs, i, n = [], 0, len(p)
    while i < n - 1:
        j = i + 1
        if Fraction(p[j], p[i]) - 1 > tol:
            low = high = Fraction(p[j], p[i])
            while j < n - 1:
                r = Fraction(p[j + 1], p[j])
                if r - 1 <= tol or max(high, r) - min(low, r) > tol:
                    break
                low, high, j = min(low, r), max(high, r), j + 1
            if j - i + 1 >= k:
                runs.append((i, j))
        i = j
    return runs


# prices built from a few steps so that progressions, ties and near misses are common
_steps = st.lists(st.sampled_from([0, 1, 2, 3, 100, 101, 103, 1_000]), max_size=40)


def _prices_from(start: int, steps: list[int]) -> list[int]:
    prices = [start]
    for s in steps:
        prices.append(prices[-1] + s)
    return prices


@given(st.integers(1, 10**9), _steps, st.sampled_from([0, 1, 2, 5]), st.integers(3, 8))
def test_difference_runs_match_the_plain_greedy_walk(start: int, steps: list[int], tol: int,
                                                     k: int) -> None:
    prices = _prices_from(start, steps)
    expected = [r for r in _reference_difference_runs(prices, tol, 3) if r[1] - r[0] + 1 >= k]
    assert collusion._equal_difference_runs(prices, tol, k) == expected


@given(st.integers(1, 2_000), st.lists(st.sampled_from([0, 1, 2, 10, 11, 100]), max_size=30),
       st.sampled_from(["0", "0.000001", "0.001", "0.01", "0.1"]), st.integers(3, 8))
def test_ratio_runs_match_the_plain_greedy_walk(start: int, factors: list[int], tol: str,
                                                k: int) -> None:
    """Ratios from a few steps of 1 + f/1000 (rounded to fen): equal ratios and near misses."""
    prices = [start * 1_000]
    for f in factors:
        prices.append(prices[-1] * (1_000 + f) // 1_000)
    exact = Fraction(Decimal(tol))
    expected = [r for r in _reference_ratio_runs(prices, exact, 3) if r[1] - r[0] + 1 >= k]
    assert collusion._equal_ratio_runs(prices, Decimal(tol), k) == expected


@given(st.lists(st.integers(1, 50), max_size=60), st.randoms(use_true_random=False))
def test_price_order_is_by_price_then_bid_then_bidder(prices: list[int],
                                                      rnd: random.Random) -> None:
    column: list[int | None] = [*prices, None, 0, -5]
    bid_ids = [f"b{rnd.randint(0, 9)}" for _ in column]
    bidders = [rnd.choice(CODES[:3]) for _ in column]
    expected = sorted(range(len(prices)), key=lambda i: (prices[i], bid_ids[i], bidders[i]))
    got, ordered = collusion._price_order(column, bid_ids, bidders)
    assert ordered == sorted(prices)
    key = [(column[i], bid_ids[i], bidders[i]) for i in got]
    assert key == [(column[i], bid_ids[i], bidders[i]) for i in expected]


_texts = st.lists(st.text(alphabet=st.sampled_from(
    ["a", "B", "Σ", "σ", "ß", "İ", " ", "\t", "\u3000", "\0", ":", "-", ".", "张", "'", "\u0301"]),
    max_size=8), max_size=12)


@given(_texts)
def test_joined_normalisers_equal_value_by_value(values: list[str]) -> None:
    """One call on the values joined by NUL changes each value as changing it alone would."""
    assert collusion._lower(values) == [v.strip().lower() for v in values]
    assert collusion._compact(values) == ["".join(v.split()).casefold() for v in values]
    assert collusion._mac(values) == [
        v.strip().upper().replace(":", "").replace("-", "").replace(".", "") for v in values]
    assert collusion._account(values) == ["".join(v.split()).replace("-", "") for v in values]
    assert collusion._serial(values) == [v.strip().upper() for v in values]


@given(st.floats(1, 600), st.integers(1, 2_000))
def test_erlang_tail_from_logarithms_matches_the_direct_sum(x: float, shape: int) -> None:
    direct = collusion._erlang_cdf(x, shape)
    large = collusion._erlang_cdf_large(x, shape)
    assert large == pytest.approx(direct, rel=1e-9, abs=1e-300)


def test_erlang_tail_does_not_underflow_for_large_sections() -> None:
    """exp(-x) is 0 past x ~ 745: the chance of ~1,000 prices in 978 mean gaps is ~1/4."""
    assert collusion._erlang_cdf(978, 999) == pytest.approx(0.2551, abs=1e-3)
    assert collusion._erlang_cdf(1_000, 1_000) == pytest.approx(0.5042, abs=1e-3)
    assert collusion._erlang_cdf(1_000, 1_200) < 1e-8
    assert collusion._erlang_cdf(5_000, 4_000) == 1.0


def test_a_large_honest_section_has_no_closeness_pattern() -> None:
    """100,000 honest prices lie ~1,000 to each 0.5%: chance, not collusion (条例40(四))."""
    rng = random.Random(40)
    prices = sorted(rng.randint(8_000_000_00, 12_000_000_00) for _ in range(100_000))
    runs = collusion._price_runs(prices, CollusionConfig())
    assert not [r for r, matched in runs.items() if "closeness" in matched]


@given(st.integers(3, 100_000), st.floats(0.5, 10**7), st.floats(1, 10**6))
def test_shortest_rare_run_is_the_first_length_chance_rarely_makes(
        n: int, gap_width: float, width: float) -> None:
    odds = collusion.Chance([10**9 + round(i * gap_width) for i in range(2)], CollusionConfig())
    odds.n, odds.gap = n, gap_width
    m = odds.shortest_rare(width)
    assert 3 <= m <= n + 1
    if m <= n:
        assert odds.rare(odds.equal_steps(0, m - 1, width))
    if m > 3:
        assert not odds.rare(odds.equal_steps(0, m - 2, width))


@given(_prints, _entities)
def test_any_mapping_of_entities_reads_as_plain_dicts(
        prints: list[BidFingerprint], entities: dict[str, dict[str, Any]]) -> None:
    """The C-speed reading of plain dicts finds what reading any Mapping finds (条例34)."""
    proxied = {k: MappingProxyType(v) for k, v in entities.items()}
    assert check_section(prints, proxied) == check_section(prints, entities)
    numbered = {k: {**v, "legal_representative_ref": 1 + len(v.get("legal_representative_ref", ""))}
                for k, v in entities.items()}  # never 0: a falsy reference is no reference
    as_text = {k: {**v, "legal_representative_ref": str(v["legal_representative_ref"])}
               for k, v in numbered.items()}
    assert check_section(prints, numbered) == check_section(prints, as_text)


@pytest.mark.parametrize(("tol", "factor"), [("0.000001", 1_000_003), ("0.0001", 1_000_300)])
def test_ratio_runs_of_a_large_section_match_the_plain_greedy_walk(tol: str,
                                                                    factor: int) -> None:
    """A section of thousands of prices (where the test on steps alone leaves most places
    out) with planted equal-ratio runs, one of them broken by a near miss: the runs found
    are the reference walk's."""
    rng = random.Random(11)
    planted = {1_000: 6, 9_000: 12, 15_000: 4}
    prices = [800_000_000]
    while len(prices) < 20_000:
        length = planted.get(len(prices), 0)
        for m in range(length):
            prices.append(prices[-1] * factor // 1_000_000 + (1_000 if m == 6 else 0))
        prices.append(prices[-1] + rng.randint(1, 40_000))
    for k in (3, 5):
        expected = [r for r in _reference_ratio_runs(prices, Fraction(Decimal(tol)), 3)
                    if r[1] - r[0] + 1 >= k]
        assert collusion._equal_ratio_runs(prices, Decimal(tol), k) == expected
        assert expected  # the planted runs are found


def _reference_close_groups(p: Sequence[int], pct: Fraction, k: int) -> list[tuple[int, int]]:
    """The greedy walk from every lowest price not yet grouped, with exact fractions."""
    runs, i, n = [], 0, len(p)
    while i < n:
        j = i
        while j + 1 < n and Fraction(p[j + 1]) <= p[i] * (1 + pct / 100):
            j += 1
        if j - i + 1 >= k:
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    return runs


@given(st.integers(1, 10**6), st.lists(st.sampled_from([0, 1, 2, 5, 50, 500, 5_000]),
                                       max_size=60),
       st.sampled_from(["0", "0.5", "1", "3"]), st.integers(3, 8))
def test_close_groups_match_the_plain_greedy_walk(start: int, steps: list[int], pct: str,
                                                  k: int) -> None:
    prices = _prices_from(start, steps)
    expected = _reference_close_groups(prices, Fraction(Decimal(pct)), k)
    assert collusion._close_groups(prices, Decimal(pct), k) == expected


# session 12: fast paths against their references -----------------------------------------

@given(_texts)
def test_a_column_needing_no_change_is_kept_as_it_is(values: list[str]) -> None:
    """Normal forms already (stripped, lower case): the same values, not copies of them."""
    normal = [v.strip().lower() for v in values]
    assume(normal and "\0" not in "".join(normal))
    assume(all(v == "".join(v.split()) for v in normal))
    assert collusion._lower(normal) is normal
    changed = [*normal, " X "]
    assert collusion._lower(changed) == [*normal, "x"]


@given(_texts)
def test_gathered_strings_are_the_values_stripped(values: list[str]) -> None:
    assert collusion._gathered(values) == [v.strip() for v in values]


def _unordered(found: list[Finding]) -> list[Finding]:
    return sorted(found, key=collusion._sort_key)


@given(st.sets(st.sampled_from(CODES[:8]), min_size=4, max_size=8), _entities,
       st.sampled_from(CODES[:8]))
def test_related_entities_read_in_either_order_find_the_same(
        bidders: set[str], entities: dict[str, dict[str, Any]], emptied: str) -> None:
    """The bidders' own entities read in the mapping's order (as the store gives them) find
    what looking each bidder up finds (a registry much larger than the section, 条例34);
    an empty entity, or one of a unit that does not bid, is no entity of a bidder."""
    own = {**entities, emptied: {}}
    registry = {**own, **{code: {"legal_representative_ref": "r", "controlled_by": [code]}
                          for code in CODES[8:]}}
    assert len(own) <= 2 * max(len(bidders), 1) < len(registry)
    by_lookup = collusion.related_findings(bidders, registry)
    assert _unordered(collusion.related_findings(bidders, own)) == _unordered(by_lookup)
    assert all(set(f.bidders) <= bidders | {u for e in entities.values()
                                            for u in e.get("controlled_by", [])}
               for f in by_lookup)


@given(st.integers(1, 10**6), st.lists(st.sampled_from([0, 1, 5, 500, 50_000, 5_000_000]),
                                       min_size=100, max_size=400),
       st.sampled_from(["0.5", "1"]), st.integers(3, 6))
def test_close_groups_far_apart_match_the_plain_greedy_walk(start: int, steps: list[int],
                                                            pct: str, k: int) -> None:
    """Groups apart by long stretches of lone prices (the next start is looked for over
    stretches that double in length)."""
    prices = _prices_from(start, steps)
    expected = _reference_close_groups(prices, Fraction(Decimal(pct)), k)
    assert collusion._close_groups(prices, Decimal(pct), k) == expected


@given(st.text(alphabet=st.sampled_from(["a", " ", "\t", "\u3000", "\u00a0", "\0", "\x1f", "张"])))
def test_spaced_text_is_text_holding_whitespace(text: str) -> None:
    assert collusion._spaced(text) == any(c.isspace() for c in text)
