"""How likely chance alone makes a run of prices (the Poisson scatter of honest prices). Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

from services.credit.domain.collusion.config import CollusionConfig


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
