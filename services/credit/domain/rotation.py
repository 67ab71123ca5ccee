"""Cross-tender bid rotation (轮流中标, 陪标): a group that bids together and takes turns. Pure.

Responsible for finding, in the outcomes of many sections, the groups of
bidders that appeared together in several sections while the wins in those
sections went round among them: the cross-tender side of 围标串标 (条例39:
bidders agreeing among themselves who wins, 约定中标人). A pattern is evidence
for a supervisor, not a decision.

Mining is frequent-closed-itemset mining (LCM, prefix-preserving closure
extension) over the sections as transactions: each candidate group is the
intersection of the bidder sets of the sections it appears in, so no subset of
a section is ever enumerated blindly. Only sections with at most
``max_section_bidders`` bidders (default 30) take part: a 10,000-bid section
would say nothing about a small cartel and would make the lattice explode.
Bidders seen in fewer than ``min_together`` sections are dropped first.

Cost: O(S·k) to index S sections of at most k bidders, then per closed group
found O(support·k) to count its extensions and O(k·support) per closure. The
number of closed groups is what the data makes it (a handful for real data,
none for sparse honest data; exponential only for adversarial lattices).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_SECTION_BIDDERS = 30


@dataclass(frozen=True)
class SectionOutcome:
    """Who bid in one section (标段/包) and who won it (None: not awarded yet, or failed)."""

    tender_id: str
    section_code: str
    category: str
    bidders: frozenset[str]
    winner: str | None


@dataclass(frozen=True)
class RotationPattern:
    """A group that bid together in ``tenders`` ("tender_id/section") and won in turns."""

    bidders: tuple[str, ...]
    tenders: tuple[str, ...]
    winners: dict[str, int]
    evidence: dict[str, Any]


def find_rotation(outcomes: Sequence[SectionOutcome], *, min_group: int = 3,
                  min_together: int = 3, min_distinct_winners: int = 2,
                  max_section_bidders: int = MAX_SECTION_BIDDERS) -> list[RotationPattern]:
    """Groups of >= min_group bidders, together in >= min_together sections, with wins rotating.

    A group qualifies when at least ``min_distinct_winners`` of its members won
    among the sections where the whole group bid. It is reported when it is
    maximal for those sections: no larger group bid in all of them (a closed
    group). A larger group seen in fewer sections is a pattern of its own.
    The result does not depend on the order of ``outcomes``.
    """
    if min_group < 2 or min_together < 1 or min_distinct_winners < 1:
        raise ValueError("need min_group >= 2, min_together >= 1, min_distinct_winners >= 1")
    sections = _eligible(outcomes, max_section_bidders)
    names, transactions, tids = _index(sections, min_together)
    found = []
    for members, support in _closed_groups(transactions, tids, min_together):
        if len(members) < min_group:
            continue
        group = frozenset(names[m] for m in members)
        pattern = _pattern(group, [sections[s] for s in sorted(support)])
        if sum(1 for n in pattern.winners.values() if n) >= min_distinct_winners:
            found.append(pattern)
    return sorted(found, key=lambda p: (-len(p.tenders), -len(p.bidders), p.bidders))


def _key(o: SectionOutcome) -> str:
    return f"{o.tender_id}/{o.section_code}"


def _eligible(outcomes: Sequence[SectionOutcome], cap: int) -> list[SectionOutcome]:
    """One outcome per section (a duplicate: the awarded one, then the larger), small sections."""
    by_key: dict[str, SectionOutcome] = {}
    for o in outcomes:
        if 2 <= len(o.bidders) <= cap:
            old = by_key.get(_key(o))
            if old is None or _rank(o) > _rank(old):
                by_key[_key(o)] = o
    return [by_key[k] for k in sorted(by_key)]


def _rank(o: SectionOutcome) -> tuple[bool, str, tuple[str, ...]]:
    return o.winner is not None, o.winner or "", tuple(sorted(o.bidders))


def _index(sections: Sequence[SectionOutcome], min_together: int
           ) -> tuple[list[str], list[tuple[int, ...]], list[frozenset[int]]]:
    """Bidder names (sorted), each section's frequent bidders by number, each bidder's sections."""
    seen = Counter(b for o in sections for b in o.bidders)
    names = sorted(b for b, n in seen.items() if n >= min_together)
    number = {b: i for i, b in enumerate(names)}
    transactions = [tuple(sorted(number[b] for b in o.bidders if b in number))
                    for o in sections]
    where: list[set[int]] = [set() for _ in names]
    for s, members in enumerate(transactions):
        for m in members:
            where[m].add(s)
    return names, transactions, [frozenset(w) for w in where]


def _closed_groups(transactions: Sequence[tuple[int, ...]], tids: Sequence[frozenset[int]],
                   min_support: int) -> list[tuple[tuple[int, ...], frozenset[int]]]:
    """Every closed group of bidders with support >= min_support, each once (LCM)."""
    everything = frozenset(s for s, t in enumerate(transactions) if t)
    if len(everything) < min_support:
        return []
    root = _closure(everything, transactions, tids)
    found = [(root, everything)] if root else []
    stack: list[tuple[tuple[int, ...], frozenset[int], int]] = [(root, everything, -1)]
    while stack:
        group, support, core = stack.pop()
        inside = set(group)
        counts = Counter(m for s in support for m in transactions[s] if m > core)
        for item in sorted(m for m, n in counts.items() if n >= min_support and m not in inside):
            narrower = support & tids[item]
            closed = _closure(narrower, transactions, tids)
            if [m for m in closed if m < item] == [m for m in group if m < item]:
                found.append((closed, narrower))
                stack.append((closed, narrower, item))
    return found


def _closure(support: frozenset[int], transactions: Sequence[tuple[int, ...]],
             tids: Sequence[frozenset[int]]) -> tuple[int, ...]:
    """The bidders present in every one of the sections ``support``."""
    return tuple(m for m in transactions[min(support)] if support <= tids[m])


def _pattern(group: frozenset[str], sections: Sequence[SectionOutcome]) -> RotationPattern:
    """The group's pattern with its evidence: who won each section it bid in together."""
    wins: Mapping[str, int] = Counter(o.winner for o in sections if o.winner in group)
    winners = {b: wins.get(b, 0) for b in sorted(group)}
    evidence = {
        "sections": len(sections),
        "categories": sorted({o.category for o in sections if o.category}),
        "winner_by_section": {_key(o): o.winner for o in sections},
        "won_outside_group": sum(1 for o in sections
                                 if o.winner is not None and o.winner not in group),
        "not_awarded": sum(1 for o in sections if o.winner is None),
        "distinct_winners": sum(1 for n in winners.values() if n),
    }
    return RotationPattern(tuple(sorted(group)), tuple(_key(o) for o in sections),
                           winners, evidence)
