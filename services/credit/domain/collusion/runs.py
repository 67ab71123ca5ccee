"""Runs of sorted prices: equal differences, equal ratios, abnormal closeness. Pure.

Each finder walks the sorted prices once (the candidate places found first at
C speed); comparisons are exact integer arithmetic.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from decimal import Decimal
from itertools import compress
from operator import and_, eq, gt, le, mul, sub

_Run = tuple[int, int]  # first and last index (inclusive) of a run of sorted prices


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
