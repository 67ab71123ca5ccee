"""Bids sharing a fingerprint value: the fields checked, their columns, the groups. Pure.

Single-valued fields (one value a bid: digest, upload address, agent ...) and
fields of several values a bid (machine serials, part digests) are grouped by
normal value in a dict (O(n)); only values held by different bidders count.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, repeat
from operator import gt

from contracts.credit import RiskIndicator
from services.credit.domain.collusion.findings import ARTICLES, Finding
from services.credit.domain.collusion.normalise import (
    _account,
    _compact,
    _lower,
    _mac,
    _Normalise,
    _serial,
)
from services.credit.domain.fingerprints import FingerprintColumns

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
