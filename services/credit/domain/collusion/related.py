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
