"""The thresholds of the collusion check as data, read from a category's YAML block. Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any


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
