"""The deemed-collusion check of one section at opening (视为串通投标, 围标串标). Pure.

Responsible for turning a section's bid fingerprints and its bidders'
registration snapshots into findings, each naming the indicator, its article,
the bidders (two or more different ones) and the evidence:

- same document digest or maker machine serial: 条例40(一) (prepared by one unit);
- same upload IP or MAC, same entrusted agent: 条例40(二); same contact person: 87号令37;
- same project manager: 条例40(三); deposits from one account: 条例40(五);
- prices in a regular pattern or abnormally close: 条例40(四) (:func:`price_findings`);
- related entities (same legal representative, control): 条例34 (政采条例18).

Every check groups by key in a dict (O(n)); prices are sorted once
(O(n log n)). No pair of bids is ever compared directly. Money is integer fen,
ratios are exact (integer cross-multiplication; Decimal only in the evidence).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from operator import attrgetter
from typing import Any

from contracts.bidding import BidFingerprint
from contracts.credit import RiskIndicator

ARTICLES: Mapping[RiskIndicator, str] = {
    RiskIndicator.SAME_DOCUMENT: "条例40(一)",
    RiskIndicator.SAME_MACHINE: "条例40(一)",
    RiskIndicator.SAME_UPLOAD_IP: "条例40(二)",
    RiskIndicator.SAME_UPLOAD_MAC: "条例40(二)",
    RiskIndicator.SAME_AGENT: "条例40(二)",
    RiskIndicator.SAME_CONTACT: "87号令37",
    RiskIndicator.SAME_PROJECT_MANAGER: "条例40(三)",
    RiskIndicator.SAME_DEPOSIT_ACCOUNT: "条例40(五)",
    RiskIndicator.PRICE_PATTERN: "条例40(四)",
    RiskIndicator.RELATED_ENTITIES: "条例34",
}
_ORDER = {indicator: n for n, indicator in enumerate(RiskIndicator)}


@dataclass(frozen=True)
class CollusionConfig:
    """The thresholds of the check, as data (a category's YAML block).

    ``excluded_statuses``: bids in these opening statuses were never extracted
    and are ignored (a bid withdrawn before the deadline). Revoked bids (视为撤销)
    and bids invalid as related (条例34) were submitted, so they are checked.
    """

    closeness_pct: Decimal = Decimal("0.5")
    min_pattern_bids: int = 3
    equal_difference_tolerance_fen: int = 0
    equal_ratio_tolerance: Decimal = Decimal("0.000001")
    excluded_statuses: frozenset[str] = field(default=frozenset({"withdrawn"}))
    pattern_alpha: Decimal = Decimal("0.005")
    honest_spread_pct: Decimal = Decimal("10")

    def __post_init__(self) -> None:
        if self.min_pattern_bids < 3:
            raise ValueError("min_pattern_bids must be >= 3: any two prices form a progression")
        if self.equal_difference_tolerance_fen < 0:
            raise ValueError("equal_difference_tolerance_fen must be >= 0")
        if self.closeness_pct < 0 or self.equal_ratio_tolerance < 0:
            raise ValueError("closeness_pct and equal_ratio_tolerance must be >= 0")
        if not 0 < self.pattern_alpha < 1 or self.honest_spread_pct <= 0:
            raise ValueError("pattern_alpha must be in (0, 1) and honest_spread_pct > 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CollusionConfig:
        """The config from a YAML mapping; an unknown key is a ValueError naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown collusion config key(s): {', '.join(unknown)}")
        convert: dict[str, Callable[[Any], Any]] = {
            "closeness_pct": _decimal, "equal_ratio_tolerance": _decimal,
            "pattern_alpha": _decimal, "honest_spread_pct": _decimal,
            "min_pattern_bids": _integer, "equal_difference_tolerance_fen": _integer,
            "excluded_statuses": lambda v: frozenset(str(s) for s in v)}
        return cls(**{k: convert[k](v) for k, v in data.items()})


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    return Decimal(str(value))  # str() first: YAML 0.5 is a float, Decimal("0.5") is exact


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not an integer")
    return value


@dataclass(frozen=True)
class Finding:
    """One deemed-collusion finding: an indicator, its article, the bidders, the evidence."""

    indicator: RiskIndicator
    article: str
    bidders: tuple[str, ...]
    evidence: dict[str, Any]


# normalisers: formatting must not hide a shared value (one list at a time: fast) ------
_Normalise = Callable[[Iterable[str]], list[str]]


def _lower(vs: Iterable[str]) -> list[str]:
    return [v.strip().lower() for v in vs]


def _compact(vs: Iterable[str]) -> list[str]:
    return ["".join(v.split()).casefold() for v in vs]


def _mac(vs: Iterable[str]) -> list[str]:
    return [v.strip().upper().replace(":", "").replace("-", "").replace(".", "") for v in vs]


def _account(vs: Iterable[str]) -> list[str]:
    return ["".join(v.split()).replace("-", "") for v in vs]


_SINGLE_VALUED: tuple[tuple[RiskIndicator, str, _Normalise], ...] = (
    (RiskIndicator.SAME_DOCUMENT, "file_digest", _lower),
    (RiskIndicator.SAME_UPLOAD_IP, "upload_ip", _lower),
    (RiskIndicator.SAME_UPLOAD_MAC, "upload_mac", _mac),
    (RiskIndicator.SAME_AGENT, "agent", _compact),
    (RiskIndicator.SAME_CONTACT, "contact_person", _compact),
    (RiskIndicator.SAME_PROJECT_MANAGER, "project_manager", _compact),
    (RiskIndicator.SAME_DEPOSIT_ACCOUNT, "deposit_account", _account),
)


def check_section(prints: Sequence[BidFingerprint], entities: Mapping[str, Mapping[str, Any]],
                  config: CollusionConfig = CollusionConfig()) -> list[Finding]:
    """Every deemed-collusion finding of one section's extracted bids, in a stable order.

    The result depends only on the set of bids, not on their order.
    """
    checked = [p for p in prints if p.status not in config.excluded_statuses]
    found: list[Finding] = []
    for indicator, name, norm in _SINGLE_VALUED:
        column = list(map(attrgetter(name), checked))  # a column at a time: C-speed reads
        found += _shared_value_findings(indicator, name, _shared(checked, norm(column)))
    found += _machine_findings(checked)
    found += price_findings(checked, config)
    found += related_findings({p.bidder_uscc for p in checked}, entities)
    return sorted(found, key=_sort_key)


def _sort_key(f: Finding) -> tuple[int, tuple[str, ...], str]:
    return _ORDER[f.indicator], f.bidders, json.dumps(f.evidence, sort_keys=True)


def _shared(prints: Sequence[BidFingerprint],
            values: Sequence[str]) -> dict[str, list[BidFingerprint]]:
    """The bids per value (``values[i]`` is that of ``prints[i]``) held by different bidders.

    Counting first (C speed) keeps the usual case, all values distinct, cheap.
    """
    counts = Counter(values)
    counts.pop("", None)  # an empty value is no evidence
    if sum(counts.values()) == len(counts):
        return {}
    repeated = {v for v, n in counts.items() if n > 1}
    groups: dict[str, list[BidFingerprint]] = {}
    for i in [i for i, v in enumerate(values) if v in repeated]:
        groups.setdefault(values[i], []).append(prints[i])
    return {v: g for v, g in groups.items() if len({p.bidder_uscc for p in g}) > 1}


def _bidders(bids: Iterable[BidFingerprint]) -> tuple[str, ...]:
    return tuple(sorted({p.bidder_uscc for p in bids}))


def _bid_ids(bids: Iterable[BidFingerprint]) -> list[str]:
    return sorted({p.bid_id for p in bids})


def _shared_value_findings(indicator: RiskIndicator, name: str,
                           groups: Mapping[str, list[BidFingerprint]]) -> list[Finding]:
    """One finding per value shared by different bidders (条例40; 87号令37)."""
    return [Finding(indicator, ARTICLES[indicator], _bidders(bids),
                    {"field": name, "value": value, "bid_ids": _bid_ids(bids)})
            for value, bids in groups.items()]


def _machine_findings(prints: Sequence[BidFingerprint]) -> list[Finding]:
    """Bids made on one machine (条例40(一)): one finding per set of bidders sharing serials.

    A machine has several serials (CPU, disk, board); the serials that the
    same bidders share are one finding, not one per serial.
    """
    owners = [p for p in prints for _ in p.machine_serials]
    serials = [s.strip().upper() for p in prints for s in p.machine_serials]
    by_group: dict[tuple[str, ...], tuple[list[str], set[str]]] = {}
    for serial, bids in _shared(owners, serials).items():
        listed, union = by_group.setdefault(_bidders(bids), ([], set()))
        listed.append(serial)
        union.update(p.bid_id for p in bids)
    return [Finding(RiskIndicator.SAME_MACHINE, ARTICLES[RiskIndicator.SAME_MACHINE], bidders,
                    {"field": "machine_serials", "serials": sorted(listed),
                     "bid_ids": sorted(union)})
            for bidders, (listed, union) in by_group.items()]


# prices (条例40(四)) ---------------------------------------------------------------
_Run = tuple[int, int]  # first and last index (inclusive) of a run of sorted prices


def price_findings(prints: Sequence[BidFingerprint], config: CollusionConfig) -> list[Finding]:
    """Prices with a regular pattern or abnormally close (条例40(四)).

    Only bids with a positive price count. Prices are sorted (ascending, ties by
    bid id) and only runs of *consecutive* sorted prices are patterns, each of
    at least ``min_pattern_bids`` bids of at least two different bidders:

    - equal differences: every step between neighbours exceeds
      ``equal_difference_tolerance_fen`` and all steps lie within that
      tolerance of each other (tolerance 0: an exact arithmetic progression);
    - equal ratios: every ratio between neighbours exceeds 1 by more than
      ``equal_ratio_tolerance`` and all ratios lie within it of each other;
    - abnormal closeness: max/min - 1 <= ``closeness_pct`` %.

    Progression runs are greedy and maximal: a run extends while it can and the
    next one starts at the price where it broke (with tolerance 0 these are
    exactly the maximal runs of equal steps, sharing at most an end price).
    Closeness groups are disjoint: from the lowest price not yet grouped, take
    every price within ``closeness_pct`` of it. One finding per set of bids,
    listing every pattern it matches. O(n log n) for the sort, O(n) after.

    A pattern hidden by an honest price in between is not seen (finding every
    progression among all subsets is quadratic).

    Chance makes patterns too: among 50 honest prices some three are within
    0.5% of each other almost always. So a run counts only when chance would
    rarely make it (:func:`chance`): below ``pattern_alpha``, counted over
    every place in the section where such a run could have appeared
    (Bonferroni). The yardstick is the section's own spacing of prices, and
    at least ``honest_spread_pct`` % of the lowest price spread over its bids,
    so three colluders alone in a section are judged against how far honest
    prices usually lie apart, not against each other.
    """
    priced = sorted((p.price_fen, p.bid_id, p.bidder_uscc)
                    for p in prints if p.price_fen is not None and p.price_fen > 0)
    article = ARTICLES[RiskIndicator.PRICE_PATTERN]
    found = []
    for (first, last), matched in _price_runs([p[0] for p in priced], config).items():
        bids = priced[first:last + 1]
        bidders = tuple(sorted({b[2] for b in bids}))
        if len(bidders) > 1:
            details = {k: v for d in matched.values() for k, v in d.items()}
            evidence = {"patterns": sorted(matched), **details,
                        "bid_ids": [b[1] for b in bids], "prices_fen": [b[0] for b in bids]}
            found.append(Finding(RiskIndicator.PRICE_PATTERN, article, bidders, evidence))
    return found


def _price_runs(prices: Sequence[int], config: CollusionConfig
                ) -> dict[_Run, dict[str, dict[str, Any]]]:
    """Each run of sorted prices with the patterns it matches and their figures."""
    k = config.min_pattern_bids
    odds = Chance(prices, config)
    patterns: dict[_Run, dict[str, dict[str, Any]]] = {}
    tol = config.equal_difference_tolerance_fen
    for first, last in _equal_difference_runs(prices, tol, k):
        if odds.rare(c := odds.equal_steps(first, last, 2 * tol + 1)):
            patterns.setdefault((first, last), {})["equal_difference"] = {
                "steps_fen": [prices[m + 1] - prices[m] for m in range(first, last)],
                "difference_chance": _odds(c)}
    for first, last in _equal_ratio_runs(prices, config.equal_ratio_tolerance, k):
        width = 2 * float(config.equal_ratio_tolerance) * prices[first] + 1
        if odds.rare(c := odds.equal_steps(first, last, width)):
            patterns.setdefault((first, last), {})["equal_ratio"] = {"ratios": [
                str((Decimal(prices[m + 1]) / prices[m]).quantize(_RATIO_PLACES))
                for m in range(first, last)], "ratio_chance": _odds(c)}
    for first, last in _close_groups(prices, config.closeness_pct, k):
        low, high = prices[first], prices[last]
        if odds.rare(c := odds.close(first, last)):
            patterns.setdefault((first, last), {})["closeness"] = {
                "spread_pct": str((Decimal(high - low) * 100 / low).quantize(_PCT_PLACES)),
                "closeness_chance": _odds(c)}
    return patterns


def _odds(chance: float) -> str:
    """The chance as evidence: a short decimal string (stable in the finding's id)."""
    return f"{chance:.2e}"


class Chance:
    """How likely chance alone makes a run, with honest prices as a Poisson scatter.

    Honest prices sorted lie apart by gaps of mean ``gap`` (the section's range,
    or ``honest_spread_pct`` % of its lowest price if wider, over the gaps).
    ``m`` prices within a span s: the sum of m-1 gaps is at most s, an Erlang
    (m-1, gap) probability. Equal steps: each further gap falls within a window
    of ``width`` fen around the first, 1 - exp(-width/gap) each. Either is
    multiplied by the places a run of m could start (n - m + 1). These odds are
    statistics, not money: floats.
    """

    def __init__(self, prices: Sequence[int], config: CollusionConfig) -> None:
        n = len(prices)
        spread = float(config.honest_spread_pct) / 100 * (prices[0] if prices else 0)
        self.n = n
        self.gap = max(float(prices[-1] - prices[0]) if prices else 0.0, spread) / max(n - 1, 1)
        self.prices = prices
        self.alpha = float(config.pattern_alpha)

    def rare(self, chance: float) -> bool:
        return chance < self.alpha

    def equal_steps(self, first: int, last: int, width: float) -> float:
        m = last - first + 1
        each = -math.expm1(-width / self.gap) if self.gap > 0 else 1.0
        return each ** (m - 2) * (self.n - m + 1)

    def close(self, first: int, last: int) -> float:
        m = last - first + 1
        span = self.prices[last] - self.prices[first]
        return _erlang_cdf(span / self.gap, m - 1) * (self.n - m + 1) if self.gap > 0 else 1.0


def _erlang_cdf(x: float, shape: int) -> float:
    """P(sum of ``shape`` unit exponentials <= x) = P(Poisson(x) >= shape)."""
    if x <= 0:
        return 0.0
    term = math.exp(-x)
    below = 0.0
    for i in range(shape):
        below += term
        term *= x / (i + 1)
    if x < shape:  # the tail directly: exact where 1 - below would cancel
        tail, i = 0.0, shape
        while term > 1e-300 and (tail == 0.0 or term > tail * 1e-17):
            tail += term
            i += 1
            term *= x / i
        return min(tail, 1.0)
    return max(0.0, 1.0 - below)


_RATIO_PLACES = Decimal("0.00000001")
_PCT_PLACES = Decimal("0.0001")


def _equal_difference_runs(p: Sequence[int], tol: int, k: int) -> list[_Run]:
    """Greedy maximal runs of >= k prices with equal steps (within tol), each step > tol."""
    runs: list[_Run] = []
    i, n = 0, len(p)
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


def _equal_ratio_runs(p: Sequence[int], tol: Decimal, k: int) -> list[_Run]:
    """Greedy maximal runs of >= k prices with equal ratios (within tol), each ratio > 1 + tol.

    A ratio is the pair (next, this); comparisons cross-multiply integers: exact.
    """
    tn, td = tol.as_integer_ratio()
    runs: list[_Run] = []
    i, n = 0, len(p)
    while i < n - 1:
        j = i + 1
        if (p[j] - p[i]) * td > tn * p[i]:
            low = high = (p[j], p[i])
            while j < n - 1:
                r = (p[j + 1], p[j])
                if (r[0] - r[1]) * td <= tn * r[1]:
                    break
                lo2 = r if r[0] * low[1] < low[0] * r[1] else low
                hi2 = r if r[0] * high[1] > high[0] * r[1] else high
                if (hi2[0] * lo2[1] - lo2[0] * hi2[1]) * td > tn * hi2[1] * lo2[1]:
                    break
                low, high, j = lo2, hi2, j + 1
            if j - i + 1 >= k:
                runs.append((i, j))
        i = j
    return runs


def _close_groups(p: Sequence[int], pct: Decimal, k: int) -> list[_Run]:
    """Disjoint groups of >= k prices with max <= min * (1 + pct/100), lowest first."""
    num, den = pct.as_integer_ratio()
    scale, grow = 100 * den, 100 * den + num  # hi*100*den <= lo*(100*den + num)
    runs: list[_Run] = []
    i, n = 0, len(p)
    while i < n:
        limit, j = p[i] * grow, i
        while j + 1 < n and p[j + 1] * scale <= limit:
            j += 1
        if j - i + 1 >= k:
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    return runs

def related_findings(bidders: set[str],
                     entities: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """Related bidders of one section (条例34; 政采条例18).

    - the same ``legal_representative_ref``: one finding per representative;
    - control: per unit U, the bidders ``controlled_by`` U; when U bids too it is
      named with them (relation ``control``), otherwise two or more of them share
      a controller (relation ``common_controller``).
    Only direct control is read (no transitive chains).
    """
    reps: list[tuple[str, str]] = []  # (representative, bidder)
    by_controller: dict[str, set[str]] = {}
    for uscc in bidders:
        if not (entity := entities.get(uscc)):
            continue
        if rep := entity.get("legal_representative_ref"):
            reps.append((str(rep).strip(), uscc))
        for unit in entity.get("controlled_by") or ():
            if unit and unit != uscc:
                by_controller.setdefault(unit, set()).add(uscc)
    counts = Counter(rep for rep, _ in reps)
    by_rep: dict[str, set[str]] = {}
    for rep, uscc in reps:
        if rep and counts[rep] > 1:
            by_rep.setdefault(rep, set()).add(uscc)
    article = ARTICLES[RiskIndicator.RELATED_ENTITIES]
    found = [Finding(RiskIndicator.RELATED_ENTITIES, article, tuple(sorted(group)),
                     {"relation": "same_legal_representative", "legal_representative_ref": rep})
             for rep, group in by_rep.items() if len(group) > 1]
    for unit, controlled in by_controller.items():
        if unit in bidders:
            found.append(Finding(RiskIndicator.RELATED_ENTITIES, article,
                                 tuple(sorted(controlled | {unit})),
                                 {"relation": "control", "controller": unit,
                                  "controlled": sorted(controlled)}))
        elif len(controlled) > 1:
            found.append(Finding(RiskIndicator.RELATED_ENTITIES, article,
                                 tuple(sorted(controlled)),
                                 {"relation": "common_controller", "controller": unit}))
    return found


def finding_id(tender_id: str, section_code: str, finding: Finding) -> str:
    """A deterministic alert id: the SHA-256 of the section, indicator, bidders and evidence."""
    payload = {"tender_id": tender_id, "section_code": section_code,
               "indicator": str(finding.indicator), "article": finding.article,
               "bidders": list(finding.bidders), "evidence": finding.evidence}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
