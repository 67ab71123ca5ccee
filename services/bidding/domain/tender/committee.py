"""The evaluation committee at work (评标): its members' score sheets, a member's
replacement, and its report."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import Candidate, EvaluationCompleted, ExpertReplaced, ReplacementReason
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError
from services.bidding.domain.rules import CategoryRules, Rule
from services.bidding.domain.tender.core import (
    State,
    _change,
    iso,
    refuse_while_suspended,
    section_of,
)
from services.bidding.domain.tender.schedule import evaluation_told


def record_scores(state: State, code: str, expert_id: str, sheets: dict[str, Any],
                  now: datetime, source: str | None = None) -> Change:
    """An expert's score sheets (only a sitting member, only while evaluating)."""
    sec = section_of(state, code)
    if sec["status"] != "evaluating":
        raise Conflict("not_evaluating", f"section {code} is not being evaluated")
    if expert_id not in sec["committee"]:
        raise DomainError("not_on_committee", "you are not on this section's committee")
    refuse_while_suspended(state, "no score is taken")
    sets = {f"section_state.{code}.sheets.{expert_id}": sheets}
    return _change(state, expert_id, "score", {"section": code}, sets, [], now, source)


def replace_expert(state: State, rules: CategoryRules, code: str, *, out: str, new: str,
                   reason: ReplacementReason, round_no: int, actor: str, now: datetime,
                   note: str | None = None, source: str | None = None) -> Change:
    """Member ``out`` replaced by ``new`` in its seat (条例48: 应当及时更换; 87号令第49条),
    only while the section is evaluated. Its sheets, if any, are void and kept apart
    (``void_sheets``: 被更换的评标委员会成员作出的评审结论无效); the new member scores
    afresh. ``round_no`` is the replacement's number, decided on the state read before
    the draw: another replacement in between is a conflict (409), not a second change."""
    sec = section_of(state, code)
    rule = rules.expert_replacement
    _check_replacement(sec, rule, code, out=out, new=new, round_no=round_no)
    committee = list(sec["committee"])
    replaced = list(sec.get("replaced") or [])
    committee[committee.index(out)] = new
    base = f"section_state.{code}"
    sheets = (sec.get("sheets") or {}).get(out)
    entry = {"expert_id": out, "by": new, "reason": reason.value, "round": round_no,
             "at": iso(now), "voided_sheets": sheets is not None}
    if note:
        entry["note"] = note
    sets: dict[str, Any] = {f"{base}.committee": committee,
                            f"{base}.replaced": [*replaced, entry]}
    unset: list[str] = []
    if sheets is not None:
        sets[f"{base}.void_sheets.{out}"] = sheets
        unset.append(f"{base}.sheets.{out}")
    event = ExpertReplaced(
        tender_id=state["tender_id"], section_code=code, replaced_expert_id=out,
        expert_id=new, reason=reason, expert_ids=committee, round=round_no,
        voided_sheets=sheets is not None, replaced_at=now, commitment=sec["commitment"],
        article=rule.source, **evaluation_told(state, code, now))
    data = {"section": code, "replaced": out, "by": new, "reason": reason.value,
            "round": round_no, "voided_sheets": sheets is not None, "article": rule.source}
    return _change(state, actor, "replace_expert", data, sets, [event], now, source, unset)


def _check_replacement(sec: Mapping[str, Any], rule: Rule, code: str, *, out: str, new: str,
                       round_no: int) -> None:
    """A replacement the category allows, of a sitting member while the section is
    evaluated, on the committee as it was read (``round_no``); else a specific refusal."""
    if rule.value < 1:
        raise DomainError("replacement_not_allowed", f"no replacement in this category "
                          f"({rule.source})", rule=rule.source)
    if sec["status"] != "evaluating":
        raise Conflict("not_evaluating", f"section {code} is not being evaluated: a member "
                       f"is replaced during the evaluation ({rule.source})")
    committee = list(sec["committee"])
    if out not in committee:
        raise DomainError("not_on_committee", f"{out} is not a sitting member of section "
                          f"{code}'s committee")
    replaced = list(sec.get("replaced") or [])
    if len(replaced) + 1 != round_no or new in committee \
            or new in {r["expert_id"] for r in replaced}:
        raise Conflict("committee_changed", "the committee changed meanwhile; try again")


def report(state: State, code: str, candidates: list[Candidate], method: Any,
           now: datetime) -> Change:
    """The evaluation report: ranked candidates go to publicity (条例54)."""
    event = EvaluationCompleted(tender_id=state["tender_id"], section_code=code, method=method,
                                candidates=candidates, reported_at=now)
    sets = {f"section_state.{code}.status": "publicity",
            f"section_state.{code}.candidates": [c.model_dump(mode="json") for c in candidates]}
    return _change(state, "committee", "report", {"section": code, "candidates": len(candidates)},
                   sets, [event], now)
