"""Each section's evaluation time and place (``evaluation_schedule``): as the tender
states it, as it moves with the deadline or a decryption window, and as the drawn
committee is told it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from contracts.bidding import ExpertsDrawn
from services.bidding.domain.tender.core import iso
from services.bidding.domain.timeline import Evaluation

# Each section's evaluation time and place, {code: Evaluation.to_state()} (not "evaluation":
# that is the evaluation method, as published).
SCHEDULE = "evaluation_schedule"


def evaluation_of(state: Mapping[str, Any], code: str) -> Evaluation | None:
    """When and where section ``code`` is evaluated, as its tender states it (None for a
    tender published before tenders stated it)."""
    raw = (state.get(SCHEDULE) or {}).get(code)
    return None if raw is None else Evaluation.of_state(raw)


def shifted_evaluations(state: Mapping[str, Any], by_ms: int,
                        codes: Collection[str] | None = None) -> dict[str, Any]:
    """The fields that move the stated evaluation times (of ``codes``, else of every
    section) by ``by_ms``: with a deadline that moved (法23; a suspension, 条例22) or a
    decryption window a suspension moved (条例62), the evaluation keeps its distance from
    the opening. A time left to the draw (None) needs no move."""
    sets: dict[str, Any] = {}
    if by_ms == 0:
        return sets
    for code, raw in (state.get(SCHEDULE) or {}).items():
        if raw.get("at") is not None and (codes is None or code in codes):
            moved = datetime.fromisoformat(raw["at"]) + timedelta(milliseconds=by_ms)
            sets[f"{SCHEDULE}.{code}.at"] = iso(moved)
    return sets


def drawn_event(state: Mapping[str, Any], code: str, draw: Mapping[str, Any],
                now: datetime) -> ExpertsDrawn:
    """The committee drawn for section ``code`` with its evaluation's time and place: the
    stated time (never before the draw), or the draw's own when the tender left it."""
    return ExpertsDrawn(tender_id=state["tender_id"], section_code=code,
                        expert_ids=draw["committee"], commitment=draw["commitment"],
                        **evaluation_told(state, code, now))


def evaluation_told(state: Mapping[str, Any], code: str, now: datetime) -> dict[str, Any]:
    """Section ``code``'s evaluation time and place as its committee is told them at
    ``now`` (``evaluation_at``, ``evaluation_venue``, ``evaluation_remote``): the stated
    time, never before ``now``; ``now`` where the tender left the time to the draw."""
    plan = evaluation_of(state, code)
    at = None if plan is None else max(plan.at or now, now)
    return {"evaluation_at": at, "evaluation_venue": plan.venue if plan else None,
            "evaluation_remote": plan.remote if plan else False}
