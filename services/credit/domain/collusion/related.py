"""Related bidders of one section (条例34; 政采条例18): one representative, control. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import compress, repeat
from operator import methodcaller
from typing import Any, cast

from contracts.credit import RiskIndicator
from services.credit.domain.collusion.findings import ARTICLES, Finding
from services.credit.domain.collusion.normalise import _gathered
from services.credit.domain.collusion.shared import _shared

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
    known, entries = _registered(bidders, entities)
    plain = set(map(type, entries)) <= {dict}  # as the store gives them: read at C speed
    reps = _representatives(_field(entries, plain, _REP, _REPRESENTATIVE))
    by_rep = {rep: {known[m] for m in at} for rep, at in _shared(reps, known.__getitem__).items()}
    article = ARTICLES[RiskIndicator.RELATED_ENTITIES]
    found = [Finding(RiskIndicator.RELATED_ENTITIES, article, tuple(sorted(group)),
                     {"relation": "same_legal_representative", "legal_representative_ref": rep})
             for rep, group in by_rep.items()]
    controllers = _field(entries, plain, _CONTROLLED_BY, _CONTROLLERS)
    return found + _control_findings(_by_controller(known, controllers), bidders, article)


def _registered(bidders: set[str], entities: Mapping[str, Mapping[str, Any]]
                ) -> tuple[list[str], list[Mapping[str, Any]]]:
    """The bidders with a registration entry, and their entries (an empty one is none)."""
    if len(entities) <= 2 * len(bidders):  # about the bidders' own, as the store gives them
        # read in the mapping's order (the order its documents lie in memory), not in the
        # bidders' hash order: a cache miss less per entity
        held = list(map(bidders.__contains__, entities))
        known, entries = list(compress(entities, held)), list(compress(entities.values(), held))
        if not all(entries):  # an empty entry is no entity, as below
            known, entries = list(compress(known, entries)), list(filter(None, entries))
        return known, entries
    users = list(bidders)
    looked_up = list(map(entities.get, users))
    return list(compress(users, looked_up)), list(filter(None, looked_up))


def _field(entries: list[Mapping[str, Any]], plain: bool, key: str,
           get: methodcaller) -> list[Any]:
    """The field ``key`` of each entry (None where absent); ``plain``: all are dicts."""
    if plain:  # read at C speed
        return list(map(dict.get, cast(list[dict[str, Any]], entries), repeat(key)))
    return list(map(get, entries))


def _representatives(reps: list[Any]) -> list[str]:
    """The legal representatives' refs as stripped text ("" for none)."""
    if set(map(type, reps)) <= {str}:  # as registration stores them: at C speed
        return _gathered(reps)
    return [str(r).strip() if r else "" for r in reps]


def _by_controller(known: list[str], controllers: list[Any]) -> dict[str, set[str]]:
    """Per unit, the bidders ``controlled_by`` it (a bidder never controls itself)."""
    by_controller: dict[str, set[str]] = {}
    for m in compress(range(len(controllers)), controllers):
        uscc = known[m]
        for unit in controllers[m]:
            if unit and unit != uscc:
                by_controller.setdefault(unit, set()).add(uscc)
    return by_controller


def _control_findings(by_controller: Mapping[str, set[str]], bidders: set[str],
                      article: str) -> list[Finding]:
    """Per unit, its bidders with it (``control``) or sharing it (``common_controller``)."""
    found: list[Finding] = []
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
