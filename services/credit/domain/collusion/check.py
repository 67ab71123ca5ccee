"""The check of one section: every deemed-collusion finding, in a stable order. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.bidding import BidFingerprint
from contracts.credit import RiskIndicator
from services.credit.domain.collusion.config import CollusionConfig
from services.credit.domain.collusion.findings import ARTICLES, Finding
from services.credit.domain.collusion.prices import _price_findings
from services.credit.domain.collusion.related import related_findings
from services.credit.domain.collusion.shared import (
    _MULTI_VALUED,
    _SINGLE_VALUED,
    _columns,
    _multi_valued_findings,
    _picked,
    _shared,
)
from services.credit.domain.fingerprints import FingerprintColumns, columns_of

_ORDER = {indicator: n for n, indicator in enumerate(RiskIndicator)}
_DEFAULT_CONFIG = CollusionConfig()  # the checks' default, made once as a default argument is


def check_section(prints: Sequence[BidFingerprint], entities: Mapping[str, Mapping[str, Any]],
                  config: CollusionConfig = _DEFAULT_CONFIG) -> list[Finding]:
    """Every deemed-collusion finding of one section's extracted bids, in a stable order.

    The result depends only on the set of bids, not on their order.
    """
    return check_columns(columns_of(prints), entities, config)


def check_columns(prints: FingerprintColumns, entities: Mapping[str, Mapping[str, Any]],
                  config: CollusionConfig = _DEFAULT_CONFIG) -> list[Finding]:
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
