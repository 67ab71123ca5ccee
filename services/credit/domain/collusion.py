"""The deemed-collusion check of one section at opening (视为串通投标, 围标串标). Pure.

Responsible for turning a section's bid fingerprints and its bidders'
registration snapshots into findings, each naming the indicator, its article,
the bidders (two or more different ones) and the evidence:

- same document digest or maker machine serial: 条例40(一) (prepared by one unit);
- same upload IP or MAC, same entrusted agent: 条例40(二); same contact person: 87号令37;
- same project manager: 条例40(三); deposits from one account: 条例40(六);
- prices in a regular pattern or abnormally close: 条例40(四) (:func:`price_findings`);
- a file of one bid's package in another's (相互混装, same part digest): 条例40(五);
  bidding has left out the tender documents' own files, which any bid may include;
- related entities (same legal representative, control): 条例34 (政采条例18).

Every check groups by key in a dict (O(n)); prices are sorted once
(O(n log n)). No pair of bids is ever compared directly. Money is integer fen,
ratios are exact (integer cross-multiplication; Decimal only in the evidence).
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from itertools import accumulate, chain, compress, repeat
from operator import and_, eq, gt, is_not, le, methodcaller, mul, sub
from typing import Any, cast

from contracts.bidding import BidFingerprint
from contracts.credit import RiskIndicator
from services.credit.domain.fingerprints import FingerprintColumns, columns_of

ARTICLES: Mapping[RiskIndicator, str] = {
    RiskIndicator.SAME_DOCUMENT: "条例40(一)",
    RiskIndicator.SAME_MACHINE: "条例40(一)",
    RiskIndicator.SAME_UPLOAD_IP: "条例40(二)",
    RiskIndicator.SAME_UPLOAD_MAC: "条例40(二)",
    RiskIndicator.SAME_AGENT: "条例40(二)",
    RiskIndicator.SAME_CONTACT: "87号令37",
    RiskIndicator.SAME_PROJECT_MANAGER: "条例40(三)",
    RiskIndicator.SAME_DEPOSIT_ACCOUNT: "条例40(六)",
    RiskIndicator.PRICE_PATTERN: "条例40(四)",
    RiskIndicator.MIXED_DOCUMENTS: "条例40(五)",
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
_Normalise = Callable[[Sequence[str]], Sequence[str]]
_SEP = "\0"


def _joined(vs: Sequence[str], change: Callable[[str], str],
            strip: bool = False) -> Sequence[str]:
    """``[change(v.strip() if strip else v) for v in vs]``, as one call of ``change`` on the
    values joined by NUL; ``vs`` itself where that changes nothing.

    One call on one long string runs at C speed, without a call and a string per
    value per step. Exact for the changes below: they go character by character
    (case mapping, dropping spaces or separators) and keep NUL, which is neither
    a space nor cased nor case-ignorable, so it also bounds the one case rule
    that looks at neighbours (a final capital sigma lowers to ς) as the end of a
    value does. A value holding NUL itself is changed one at a time. The values
    are stripped one by one only where the joined text holds whitespace at all
    (``str.split`` and ``str.strip`` know the same whitespace). Where the change
    leaves the joined text as it is (values as the bids usually give them), each
    value is its own normal form: no fresh string is made for it.
    """
    text = _SEP.join(vs)
    if not vs or text.count(_SEP) != len(vs) - 1:
        return [change(v.strip() if strip else v) for v in vs]
    if strip and _spaced(text):  # some value holds whitespace
        vs = list(map(str.strip, vs))
        text = _SEP.join(vs)
    changed = change(text)
    return vs if changed == text else changed.split(_SEP)


def _spaced(text: str) -> bool:
    """Whether the text holds whitespace (as ``str.split`` and ``str.strip`` know it)."""
    return bool(text) and text.split(None, 1) != [text]


def _unspaced(v: str) -> str:
    return "".join(v.split())


def _lower(vs: Sequence[str]) -> Sequence[str]:
    return _joined(vs, str.lower, strip=True)


def _compact(vs: Sequence[str]) -> Sequence[str]:
    return _joined(vs, lambda v: _unspaced(v).casefold())


def _mac(vs: Sequence[str]) -> Sequence[str]:
    return _joined(vs, lambda v: v.upper().replace(":", "").replace("-", "").replace(".", ""),
                   strip=True)


def _account(vs: Sequence[str]) -> Sequence[str]:
    return _joined(vs, lambda v: _unspaced(v).replace("-", ""))


def _serial(vs: Sequence[str]) -> Sequence[str]:
    return _joined(vs, str.upper, strip=True)


_SINGLE_VALUED: tuple[tuple[RiskIndicator, str, _Normalise], ...] = (
    (RiskIndicator.SAME_DOCUMENT, "file_digest", _lower),
    (RiskIndicator.SAME_UPLOAD_IP, "upload_ip", _lower),
    (RiskIndicator.SAME_UPLOAD_MAC, "upload_mac", _mac),
    (RiskIndicator.SAME_AGENT, "agent", _compact),
    (RiskIndicator.SAME_CONTACT, "contact_person", _compact),
    (RiskIndicator.SAME_PROJECT_MANAGER, "project_manager", _compact),
    (RiskIndicator.SAME_DEPOSIT_ACCOUNT, "deposit_account", _account),
)
# fields holding several values a bid: (indicator, field, evidence key, normaliser)
_MULTI_VALUED: tuple[tuple[RiskIndicator, str, str, _Normalise], ...] = (
    (RiskIndicator.SAME_MACHINE, "machine_serials", "serials", _serial),
    (RiskIndicator.MIXED_DOCUMENTS, "part_digests", "digests", _lower),
)


def check_section(prints: Sequence[BidFingerprint], entities: Mapping[str, Mapping[str, Any]],
                  config: CollusionConfig = CollusionConfig()) -> list[Finding]:
    """Every deemed-collusion finding of one section's extracted bids, in a stable order.

    The result depends only on the set of bids, not on their order.
    """
    return check_columns(columns_of(prints), entities, config)


def check_columns(prints: FingerprintColumns, entities: Mapping[str, Mapping[str, Any]],
                  config: CollusionConfig = CollusionConfig()) -> list[Finding]:
    """:func:`check_section` of bids given as columns (as credit keeps a section's parts)."""
    cols = _columns(prints, config.excluded_statuses)
    bid_ids, bidders = cols.bid_ids, cols.bidders
    found: list[Finding] = []
    for (indicator, name, norm), column in zip(_SINGLE_VALUED, cols.values, strict=True):
        found += [Finding(indicator, ARTICLES[indicator], _picked(bidders, at),
                          {"field": name, "value": value, "bid_ids": list(_picked(bid_ids, at))})
                  for value, at in _shared(norm(column), bidders.__getitem__).items()]
    for multi, lists in zip(_MULTI_VALUED, cols.lists, strict=True):
        found += _multi_valued_findings(*multi, lists, bid_ids, bidders)
    found += _price_findings(cols.prices, bid_ids, bidders, config)
    found += related_findings(set(bidders), entities)
    return sorted(found, key=_sort_key)


def _sort_key(f: Finding) -> tuple[int, tuple[str, ...], str]:
    return _ORDER[f.indicator], f.bidders, json.dumps(f.evidence, sort_keys=True)


@dataclass(frozen=True)
class _Columns:
    """The checked bids as columns: ``bid_ids[i]``, ``bidders[i]`` ... are those of bid i."""

    bid_ids: Sequence[str]
    bidders: Sequence[str]
    prices: Sequence[int | None]
    lists: Sequence[Sequence[Sequence[str]]]  # one column per entry of _MULTI_VALUED
    values: Sequence[Sequence[str]]  # one column per entry of _SINGLE_VALUED


def _columns(prints: FingerprintColumns, excluded: frozenset[str]) -> _Columns:
    """The columns of the bids not in an excluded status."""
    status = prints.status
    bid_ids, bidders, prices = prints.bid_id, prints.bidder_uscc, prints.price_fen
    lists = [getattr(prints, name) for _, name, _, _ in _MULTI_VALUED]
    values = [getattr(prints, name) for _, name, _ in _SINGLE_VALUED]
    if excluded and not excluded.isdisjoint(status):
        keep = [s not in excluded for s in status]
        bid_ids, bidders, prices, *columns = (
            list(compress(column, keep)) for column in (bid_ids, bidders, prices, *lists, *values))
        lists, values = columns[:len(lists)], columns[len(lists):]
    return _Columns(bid_ids, bidders, prices, lists, values)


def _shared(values: Sequence[str], owner: Callable[[int], str]) -> dict[str, list[int]]:
    """The positions per non-empty value held by different owners (``owner(i)``: of ``values[i]``).

    Counting first (C speed) keeps the usual case, nearly all values distinct, cheap.
    """
    counts = Counter(values)
    empty = counts.pop("", 0)  # an empty value is no evidence
    if len(counts) == len(values) - empty:
        return {}
    repeated = set(compress(counts, map(gt, counts.values(), repeat(1))))
    groups: dict[str, list[int]] = {}
    for i in compress(range(len(values)), map(repeated.__contains__, values)):
        groups.setdefault(values[i], []).append(i)
    return {v: at for v, at in groups.items() if len({owner(i) for i in at}) > 1}


def _picked(column: Sequence[str], at: Iterable[int]) -> tuple[str, ...]:
    """The distinct values of ``column`` at the positions ``at``, sorted."""
    return tuple(sorted({column[i] for i in at}))


def _multi_valued_findings(indicator: RiskIndicator, name: str, key: str, norm: _Normalise,
                           lists: Sequence[Sequence[str]], bid_ids: Sequence[str],
                           bidders: Sequence[str]) -> list[Finding]:
    """One finding per set of bidders sharing values of a field of several values a bid.

    The values the same bidders share are one finding (listed under ``key``), not
    one per value: a machine has several serials (CPU, disk, board: 条例40(一)),
    and packages mixed into each other may share several files (条例40(五)).
    """
    flat = norm(list(chain.from_iterable(lists)))
    ends = list(accumulate(map(len, lists)))  # bid i's values end before flat[ends[i]]
    by_group: dict[tuple[str, ...], tuple[list[str], set[str]]] = {}
    for value, at in _shared(flat, lambda i: bidders[bisect_right(ends, i)]).items():
        bids = [bisect_right(ends, i) for i in at]
        listed, union = by_group.setdefault(_picked(bidders, bids), ([], set()))
        listed.append(value)
        union.update(bid_ids[b] for b in bids)
    return [Finding(indicator, ARTICLES[indicator], group,
                    {"field": name, key: sorted(listed), "bid_ids": sorted(union)})
            for group, (listed, union) in by_group.items()]


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
    cols = _columns(columns_of(prints), frozenset())
    return _price_findings(cols.prices, cols.bid_ids, cols.bidders, config)


def _price_findings(prices: Sequence[int | None], bid_ids: Sequence[str],
                    bidders: Sequence[str], config: CollusionConfig) -> list[Finding]:
    """:func:`price_findings` of bids given as columns."""
    order, ordered = _price_order(prices, bid_ids, bidders)
    article = ARTICLES[RiskIndicator.PRICE_PATTERN]
    found = []
    for (first, last), matched in _price_runs(ordered, config).items():
        bids = order[first:last + 1]
        named = _picked(bidders, bids)
        if len(named) > 1:
            details = {k: v for d in matched.values() for k, v in d.items()}
            evidence = {"patterns": sorted(matched), **details,
                        "bid_ids": [bid_ids[b] for b in bids],
                        "prices_fen": ordered[first:last + 1]}
            found.append(Finding(RiskIndicator.PRICE_PATTERN, article, named, evidence))
    return found


def _price_order(prices: Sequence[int | None], bid_ids: Sequence[str],
                 bidders: Sequence[str]) -> tuple[list[int], list[int]]:
    """The positions of the positive prices sorted by (price, bid id, bidder), and the prices.

    Sorted by price alone (no tuple per bid), then each run of equal prices,
    which is rare, by bid id and bidder.
    """
    held = cast(Sequence[int], prices)  # at the positions in order: ints
    priced = list(compress(range(len(prices)), map(is_not, prices, repeat(None))))
    order = list(compress(priced, map(gt, map(held.__getitem__, priced), repeat(0))))
    order.sort(key=held.__getitem__)
    ordered = list(map(held.__getitem__, order))
    for m in compress(range(len(ordered) - 1), map(eq, ordered, ordered[1:])):
        if m and ordered[m - 1] == ordered[m]:
            continue  # inside a run of equal prices already sorted
        end = m + 1
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[m]:
            end += 1
        order[m:end + 1] = sorted(order[m:end + 1], key=lambda i: (bid_ids[i], bidders[i]))
    return order, ordered


def _price_runs(prices: Sequence[int], config: CollusionConfig
                ) -> dict[_Run, dict[str, dict[str, Any]]]:
    """Each run of sorted prices with the patterns it matches and their figures."""
    k = config.min_pattern_bids
    odds = Chance(prices, config)
    patterns: dict[_Run, dict[str, dict[str, Any]]] = {}
    tol = config.equal_difference_tolerance_fen
    # runs too short to be rare are not even looked for: the shortest rare run of a
    # window at least this wide (a ratio's window grows with the price), less one
    # against rounding; every run found is still judged by itself below
    shortest = odds.shortest_rare(2 * tol + 1) - 1
    for first, last in _equal_difference_runs(prices, tol, max(k, shortest)):
        if odds.rare(c := odds.equal_steps(first, last, 2 * tol + 1)):
            patterns.setdefault((first, last), {})["equal_difference"] = {
                "steps_fen": [prices[m + 1] - prices[m] for m in range(first, last)],
                "difference_chance": _odds(c)}
    ratio_tol = float(config.equal_ratio_tolerance)
    shortest = odds.shortest_rare(2 * ratio_tol * (prices[0] if prices else 0) + 1) - 1
    for first, last in _equal_ratio_runs(prices, config.equal_ratio_tolerance, max(k, shortest)):
        width = 2 * ratio_tol * prices[first] + 1
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
        return self._steps(last - first + 1, width)

    def _steps(self, m: int, width: float) -> float:
        each = -math.expm1(-width / self.gap) if self.gap > 0 else 1.0
        return each ** (m - 2) * (self.n - m + 1)

    def shortest_rare(self, width: float) -> int:
        """The fewest prices a run of steps within ``width`` needs to be rare (n + 1: none).

        The odds fall as a run grows (a power below 1 times fewer places), and
        rise with the width: a bisection over 3..n.
        """
        low, high = 3, self.n + 1  # rare at high (n + 1: never), not below low
        while low < high:
            mid = (low + high) // 2
            if self.rare(self._steps(mid, width)):
                high = mid
            else:
                low = mid + 1
        return high

    def close(self, first: int, last: int) -> float:
        m = last - first + 1
        span = self.prices[last] - self.prices[first]
        return _erlang_cdf(span / self.gap, m - 1) * (self.n - m + 1) if self.gap > 0 else 1.0


def _erlang_cdf(x: float, shape: int) -> float:
    """P(sum of ``shape`` unit exponentials <= x) = P(Poisson(x) >= shape).

    Past ``_EXP_FLOOR`` exp(-x) underflows to 0 (a section of thousands of bids,
    its groups of hundreds of close prices): there the sums start from the
    Poisson term at ``shape``, taken in logarithms, and run outwards.
    """
    if x <= 0:
        return 0.0
    if x > _EXP_FLOOR:
        return _erlang_cdf_large(x, shape)
    term = math.exp(-x)
    below = 0.0
    for i in range(shape):
        below += term
        term *= x / (i + 1)
    if x < shape:  # the tail directly: exact where 1 - below would cancel
        return _poisson_tail(term, x, shape)
    return max(0.0, 1.0 - below)


def _poisson_tail(term: float, x: float, start: int) -> float:
    """Sum of the Poisson(x) terms from ``start`` up, ``term`` being the one at ``start``."""
    tail, i = 0.0, start
    while term > 1e-300 and (tail == 0.0 or term > tail * 1e-17):
        tail += term
        i += 1
        term *= x / i
    return min(tail, 1.0)


_EXP_FLOOR = 600.0  # exp(-600) ~ 1e-261: above the smallest normal float (1e-308)


def _erlang_cdf_large(x: float, shape: int) -> float:
    """:func:`_erlang_cdf` where exp(-x) underflows: from the Poisson term at ``shape``.

    x < shape: the tail from ``shape`` up; else 1 - the terms below ``shape``,
    summed from ``shape - 1`` down. Terms shrink geometrically away from the
    mode, so both sums stop after a few multiples of sqrt(x) terms.
    """
    log_term = -x + shape * math.log(x) - math.lgamma(shape + 1)
    if x < shape:
        return _poisson_tail(math.exp(log_term) if log_term > -745 else 0.0, x, shape)
    i = shape - 1
    term = math.exp(log_term + math.log(shape) - math.log(x)) if log_term > -745 else 0.0
    below = 0.0
    while i >= 0 and term > 1e-300 and (below == 0.0 or term > below * 1e-17):
        below += term
        term *= i / x
        i -= 1
    return max(0.0, 1.0 - below)


_RATIO_PLACES = Decimal("0.00000001")
_PCT_PLACES = Decimal("0.0001")


def _equal_difference_runs(p: Sequence[int], tol: int, k: int) -> list[_Run]:
    """Greedy maximal runs of >= k prices with equal steps (within tol), each step > tol.

    The greedy walk starts a run at each price in turn. Where the first two steps
    do not already agree (a *start*) the run has two prices at most and the walk
    moves on by one; a run of m prices has m - 2 starts in a row. So only the
    stretches of at least k - 2 starts in a row are walked, found first at C
    speed (no Python loop over every price): the walk enters each stretch at its
    first price whatever came before, so skipping a shorter one changes nothing.
    """
    steps = list(map(sub, p[1:], p))
    if tol == 0:  # exact steps: two equal steps, the first > 0 (so the second too)
        starts = map(and_, map(eq, steps[1:], steps), map(tol.__lt__, steps))
    else:
        valid = list(map(tol.__lt__, steps))
        agree = map(tol.__ge__, map(abs, map(sub, steps[1:], steps)))
        starts = map(and_, map(and_, agree, valid), valid[1:])
    runs: list[_Run] = []
    i = 0
    for start in _stretches(starts, k - 2):
        if start < i:
            continue  # inside the run just found
        i, j = start, start + 1
        low = high = steps[i]
        while j < len(steps):
            step = steps[j]
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
    As in :func:`_equal_difference_runs` the walk visits only stretches of
    starts: both ratios exceed 1 + tol and |p2/p1 - p1/p0| <= tol, that is
    |p2 p0 - p1²| <= tol p1 p0.
    """
    tn, td = tol.as_integer_ratio()
    runs: list[_Run] = []
    i, n = 0, len(p)
    for start in _ratio_starts(p, tn, td, k - 2):
        if start < i:
            continue  # inside the run just found
        i, j = start, start + 1
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


def _ratio_starts(p: Sequence[int], tn: int, td: int, length: int) -> list[int]:
    """The starts of :func:`_equal_ratio_runs` inside stretches of at least ``length``.

    A start m (prices p0, p1, p2 from m, steps s1, s2) needs |p2 p0 - p1²| <= t p1 p0
    (t = tn/td); as p2 p0 - p1² = p0 (s2 - s1) - s1², that implies |s2 - s1| <= t p1 +
    s1²/p0, at most ``bound`` over the section. That test on the steps alone is cheap
    (small integers, one pass), and a stretch of starts lies inside a stretch of places
    that pass it: the exact test runs only there.
    """
    n = len(p)
    if n < 3:
        return []
    steps = list(map(sub, p[1:], p))
    low, high, widest = min(p), max(p), max(map(abs, steps))
    bound = (tn * high) // td + 1 + widest**2 // max(low, 1) + 1
    if low <= 0 or bound >= widest * 2:  # nothing to gain: test every place
        return _stretches(_ratio_flags(p, tn, td, 0, n - 2), length)
    spans = _stretch_spans(map(bound.__ge__, map(abs, map(sub, steps[1:], steps))), length)
    if len(spans) * 64 > n:  # many short ones (short runs count here): one exact pass
        return _stretches(_ratio_flags(p, tn, td, 0, n - 2), length)
    starts: list[int] = []
    for a, b in spans:
        starts += (a + m for m in _stretches(_ratio_flags(p, tn, td, a, b), length))
    return starts


def _ratio_flags(p: Sequence[int], tn: int, td: int, a: int, b: int) -> Iterable[bool]:
    """Whether each place m in [a, b) starts a ratio run (both ratios > 1 + t, and they
    agree within t), exactly, by integer cross-multiplication."""
    q = p[a:b + 2]
    valid = list(map(gt, map(td.__mul__, map(sub, q[1:], q)), map(tn.__mul__, q)))
    near = map(abs, map(sub, map(mul, q[2:], q), map(mul, q[1:], q[1:])))
    agree = map(le, map(td.__mul__, near), map(tn.__mul__, map(mul, q[1:], q)))
    return map(and_, map(and_, agree, valid), valid[1:])


def _stretch_spans(flags: Iterable[bool], length: int) -> list[tuple[int, int]]:
    """Each stretch of at least ``length`` trues in a row, as [first, end)."""
    data, run = bytes(flags), b"\1" * max(length, 1)
    spans: list[tuple[int, int]] = []
    at = data.find(run)
    while at >= 0:
        end = data.find(b"\0", at)
        end = len(data) if end < 0 else end
        spans.append((at, end))
        at = data.find(run, end)
    return spans


def _stretches(flags: Iterable[bool], length: int) -> list[int]:
    """The positions of the flags inside a stretch of at least ``length`` trues in a row."""
    data, run = bytes(flags), b"\1" * max(length, 1)
    found: list[int] = []
    at = data.find(run)
    while at >= 0:
        end = data.find(b"\0", at)
        end = len(data) if end < 0 else end
        found += range(at, end)
        at = data.find(run, end)
    return found


def _close_groups(p: Sequence[int], pct: Decimal, k: int) -> list[_Run]:
    """Disjoint groups of >= k prices with max <= min * (1 + pct/100), lowest first."""
    num, den = pct.as_integer_ratio()
    scale, grow = 100 * den, 100 * den + num  # hi*100*den <= lo*(100*den + num)
    runs: list[_Run] = []
    i, n = 0, len(p)
    # The greedy walk from the lowest price: a group from i has k prices exactly when
    # p[i + k - 1] is within reach (sorted prices); from any other place the walk moves on
    # by one, so the next place that starts one is looked for at C speed. A group from i
    # ends at the last price with p[j]·scale <= p[i]·grow, that is p[j] <= ⌊p[i]·grow /
    # scale⌋ (integers, scale > 0): found by bisection, not a step per price.
    while i + k <= n:
        if p[i + k - 1] * scale > p[i] * grow:
            i = _next_close_start(p, i + 1, k, scale, grow)
            continue
        j = bisect_right(p, p[i] * grow // scale, i + k - 1) - 1
        runs.append((i, j))
        i = j + 1
    return runs


def _next_close_start(p: Sequence[int], i: int, k: int, scale: int, grow: int) -> int:
    """The first place from i where a group of k close prices starts (len(p): none).

    Looked for at C speed over stretches of places that double in length, so a
    near one costs a short stretch and a far one at most twice the distance.
    """
    n, width = len(p), 16
    while i + k <= n:
        end = min(n - k + 1, i + width)
        near = map(le, map(scale.__mul__, p[i + k - 1:end + k - 1]), map(grow.__mul__, p[i:end]))
        found = next(compress(range(i, end), near), None)
        if found is not None:
            return found
        i, width = end, width * 2
    return n


_REP, _CONTROLLED_BY = "legal_representative_ref", "controlled_by"
_REPRESENTATIVE, _CONTROLLERS = methodcaller("get", _REP), methodcaller("get", _CONTROLLED_BY)


def related_findings(bidders: set[str],
                     entities: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """Related bidders of one section (条例34; 政采条例18).

    - the same ``legal_representative_ref``: one finding per representative;
    - control: per unit U, the bidders ``controlled_by`` U; when U bids too it is
      named with them (relation ``control``), otherwise two or more of them share
      a controller (relation ``common_controller``).
    Only direct control is read (no transitive chains).
    """
    if len(entities) <= 2 * len(bidders):  # about the bidders' own, as the store gives them
        # read in the mapping's order (the order its documents lie in memory), not in the
        # bidders' hash order: a cache miss less per entity
        held = list(map(bidders.__contains__, entities))
        known, entries = list(compress(entities, held)), list(compress(entities.values(), held))
        if not all(entries):  # an empty entry is no entity, as below
            known, entries = list(compress(known, entries)), list(filter(None, entries))
    else:
        users = list(bidders)
        looked_up = list(map(entities.get, users))
        known, entries = list(compress(users, looked_up)), list(filter(None, looked_up))
    plain = set(map(type, entries)) <= {dict}  # as the store gives them: read at C speed
    dicts = cast(list[dict[str, Any]], entries)
    reps: list[Any] = list(map(dict.get, dicts, repeat(_REP)) if plain
                           else map(_REPRESENTATIVE, entries))
    if set(map(type, reps)) <= {str}:  # as registration stores them: at C speed
        reps = _gathered(reps)
    else:
        reps = [str(r).strip() if r else "" for r in reps]
    by_rep = {rep: {known[m] for m in at} for rep, at in _shared(reps, known.__getitem__).items()}
    by_controller: dict[str, set[str]] = {}
    controllers: list[Any] = list(map(dict.get, dicts, repeat(_CONTROLLED_BY)) if plain
                                  else map(_CONTROLLERS, entries))
    for m in compress(range(len(controllers)), controllers):
        uscc = known[m]
        for unit in controllers[m]:
            if unit and unit != uscc:
                by_controller.setdefault(unit, set()).add(uscc)
    article = ARTICLES[RiskIndicator.RELATED_ENTITIES]
    found = [Finding(RiskIndicator.RELATED_ENTITIES, article, tuple(sorted(group)),
                     {"relation": "same_legal_representative", "legal_representative_ref": rep})
             for rep, group in by_rep.items()]
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


def _gathered(vs: list[str]) -> list[str]:
    """The strings stripped, as copies made side by side (one join, one split).

    A field read from 100,000 entity documents lies scattered over the heap, a
    cache miss for each string a pass reads; grouping copies made one after the
    other costs a fraction of that (the join reads each string once). Only where
    the joined text holds whitespace are the copies stripped one by one.
    """
    text = _SEP.join(vs)
    if not vs or text.count(_SEP) != len(vs) - 1:  # a value holds NUL
        return list(map(str.strip, vs))
    copies = text.split(_SEP)
    return list(map(str.strip, copies)) if _spaced(text) else copies


def finding_id(tender_id: str, section_code: str, finding: Finding) -> str:
    """A deterministic alert id: the SHA-256 of the section, indicator, bidders and evidence."""
    payload = {"tender_id": tender_id, "section_code": section_code,
               "indicator": str(finding.indicator), "article": finding.article,
               "bidders": list(finding.bidders), "evidence": finding.evidence}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
