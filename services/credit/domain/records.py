"""Credit accounts (信用档案): records, restrictions and standing, as decisions. Pure.

One account per entity (by credit code) or expert (by expert id). A decision
returns the runtime's ``Change``: the fields to set and the events to emit
(EntityBanned / ExpertBlacklisted, EntityReinstated / ExpertReinstated,
CreditChanged), written in one conditional update with its outbox.

A restriction blocks exactly when it covers the trade type, today is within
[start, end] and it is neither revoked nor expired (national data standard,
BLACK_LIST / EXPERT_CREDIT_RECORD). A level with a ban in the model, or a
serious case, becomes a market ban with its period (国办发〔2015〕63号; 条例67).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contracts.base import Message
from contracts.categories import Category
from contracts.credit import (
    CreditChanged,
    EntityBanned,
    EntityReinstated,
    ExpertBlacklisted,
    ExpertReinstated,
    LiftedBy,
    SubjectKind,
)
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, NotFound
from services.credit.domain.rules import ScoringModel
from services.credit.domain.scoring import deduction, standing

State = Mapping[str, Any]
ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"
ALL_CATEGORIES = [c.value for c in Category]


@dataclass(frozen=True, slots=True)
class Record:
    """A credit record (信用记录): what happened, where it came from, its basis."""

    record_id: str
    kind: str
    source: str  # the event type or "supervisor"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Restriction:
    """A restriction or ban (限制/禁入) decided by a document."""

    restriction_id: str
    action: str
    categories: list[str]
    start: date
    end: date
    decision_no: str
    reason: str
    recorded_by: str = "platform"
    basis: str | None = None  # a basis whose law fixes the period (rules: restriction_bases)


def account_id(kind: SubjectKind, subject_id: str) -> str:
    return f"{kind.value}:{subject_id}"


def key(identifier: str) -> str:
    """An id usable as a field name of a map (no dots, no leading $)."""
    return identifier.replace(".", "_").replace("$", "_")


def new_account(kind: SubjectKind, subject_id: str, model: ScoringModel) -> dict[str, Any]:
    """A fresh account at the model's base score."""
    s = standing(model, [])
    return {"subject_kind": kind.value, "subject_id": subject_id, "records": {},
            "restrictions": {}, "score": s.score, "level": s.level,
            "deposit_reduction_pct": s.deposit_reduction_pct}


def opened_with(state: State, change: Change) -> dict[str, Any]:
    """The state of a new account after its first change (dotted paths applied)."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in state.items()}
    for path, value in change.set.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node[part] = dict(node.get(part, {}))
            node = node[part]
        node[leaf] = value
    return out


def in_force(r: Mapping[str, Any], today: date) -> bool:
    """The restriction applies today (dates inclusive, not revoked or expired)."""
    return bool(r["status"] == ACTIVE and r["start"] <= today.isoformat() <= r["end"])


def blocking(state: State, category: str, today: date) -> list[dict[str, Any]]:
    """The restrictions that block the account's subject from ``category`` today."""
    return [dict(r) for r in state.get("restrictions", {}).values()
            if in_force(r, today) and category in r["categories"]]


def kinds_in_force(records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The kinds of the records that count (``counts``)."""
    return [r["kind"] for r in records.values() if counts(r)]


def counts(r: Mapping[str, Any]) -> bool:
    """The record counts in the score: not revoked, past its period, or repaired."""
    return not (r.get("revoked") or r.get("expired") or r.get("repaired"))


def next_expiry(records: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The first day a record still counting stops counting (ISO date), if any."""
    return min((str(r["until"]) for r in records.values() if r.get("until") and counts(r)),
               default=None)


def expire_records(state: State, model: ScoringModel, today: date, now: datetime) -> Change:
    """The records whose period ended by ``today`` stop counting (信用修复 of a record: it
    stays in the account, marked ``expired``); the account is scored again. Nothing to do
    (already done, or none due): no change."""
    day = today.isoformat()
    due = sorted(rk for rk, r in state["records"].items() if r.get("until")
                 and r["until"] <= day and counts(r))
    if not due:  # none due; the account's marker follows what is left (a record revoked)
        return marker(state, next_expiry(state["records"]))
    records = {**state["records"], **{rk: {**state["records"][rk], "expired": 1} for rk in due}}
    sets: dict[str, Any] = {f"records.{rk}.expired": 1 for rk in due}
    return stopped_counting(state, model, records, sets,
                            state["records"][due[0]].get("record_id"), "record_expired", now)


def stopped_counting(state: State, model: ScoringModel, records: Mapping[str, Mapping[str, Any]],
                     sets: dict[str, Any], record_id: str | None, reason: str,
                     now: datetime) -> Change:
    """``records`` (the account's, some no longer counting) scored again, with the
    account's ``next_record_expiry`` following what still counts (none left: removed, so
    no sweep finds the account)."""
    change = rescore(state, model, records, record_id, reason, now, sets)
    following = marker(state, next_expiry(records))
    change.set.update(following.set)
    change.unset.extend(following.unset)
    return change


def initial_rating(state: State, now: datetime) -> Change:
    """An entity's standing published once, when it registers (a level from the start, so
    the incentives of its level, e.g. a deposit reduction, apply to it like to any other)."""
    if state.get("rated"):
        return Change()
    event = CreditChanged(subject_kind=SubjectKind(state["subject_kind"]),
                          subject_id=state["subject_id"], reason="rated", score=state["score"],
                          level=state["level"], previous_level=None,
                          deposit_reduction_pct=state["deposit_reduction_pct"], changed_at=now)
    return Change(set={"rated": 1}, events=[Outgoing(event)])


def marker(state: State, following: str | None) -> Change:
    """The account's ``next_record_expiry`` set to ``following`` (removed for None)."""
    if state.get("next_record_expiry") == following:
        return Change()
    if following is None:
        return Change(unset=["next_record_expiry"])
    return Change(set={"next_record_expiry": following})


def add_record(state: State, model: ScoringModel, record: Record, now: datetime, *,
               ages: bool = True) -> Change:
    """Add a record (once: a known record id changes nothing); re-score; ban if due.

    A record of a kind with a period (``days``) counts until ``until`` (its day plus the
    period) and then stops counting (``expire_records``); one that does not ``age`` (a
    restriction's penalty record) counts until revoked."""
    rk = key(record.record_id)
    if rk in state["records"]:
        return Change()
    deduction(model, record.kind)  # refuses a kind the model does not know
    rule = model.deductions[record.kind]
    entry = {"kind": record.kind, "source": record.source, "detail": record.detail,
             "article": rule.article, "at": now.isoformat(), "revoked": 0}
    if ages and rule.days:
        entry.update(until=(now.date() + timedelta(days=rule.days)).isoformat(),
                     period_article=rule.days_article, record_id=record.record_id)
    records = {**state["records"], rk: entry}
    sets: dict[str, Any] = {f"records.{rk}": entry}
    if entry.get("until"):
        sets["next_record_expiry"] = next_expiry(records)
    ban = model.serious_bans.get(record.kind)  # a serious case's own ban replaces the level's
    change = rescore(state, model, records, record.record_id, record.kind, now, sets,
                     level_ban=ban is None)
    if ban is not None:
        _ban(state, change, f"{record.record_id}:ban", ban.days, ban.article,
             record.detail.get("categories") or ALL_CATEGORIES,
             str(record.detail.get("decision_no") or record.record_id), now, penalty=True)
    return change


def rescore(state: State, model: ScoringModel, records: Mapping[str, Mapping[str, Any]],
            record_id: str | None, reason: str, now: datetime,
            sets: dict[str, Any], level_ban: bool = True) -> Change:
    s = standing(model, kinds_in_force(records))
    sets.update(score=s.score, level=s.level, deposit_reduction_pct=s.deposit_reduction_pct)
    event = CreditChanged(subject_kind=state["subject_kind"],  # validated as SubjectKind
                          subject_id=state["subject_id"], record_id=record_id, reason=reason,
                          score=s.score, level=s.level, previous_level=state["level"],
                          deposit_reduction_pct=s.deposit_reduction_pct, changed_at=now)
    change = Change(set=sets, events=[Outgoing(event)])
    ban = model.level_bans.get(s.level)
    if ban is not None and level_ban and state["level"] != s.level:
        _ban(state, change, f"level-{s.level}:{record_id or now.isoformat()}", ban.days,
             ban.article, ALL_CATEGORIES, f"credit level {s.level}", now, penalty=False)
    return change


def _ban(state: State, change: Change, rid: str, days: int, article: str,
         categories: list[str], decision_no: str, now: datetime, *, penalty: bool) -> None:
    """A ban: a serious case's (a penalty, e.g. 条例67) or a credit level's (not one)."""
    start = now.date()
    entity = state["subject_kind"] == SubjectKind.ENTITY.value
    action = "market_ban" if entity else "expert_blacklist"
    r = Restriction(rid, action, categories, start, start + timedelta(days=days - 1),
                    decision_no, article)
    change.set.update(_restriction_sets(r, now))
    change.events.append(Outgoing(_restriction_event(state, r, penalty=penalty)))


def add_restriction(state: State, model: ScoringModel, r: Restriction, now: datetime) -> Change:
    """Record a supervisor's restriction (and its penalty record, if the model has one)."""
    if key(r.restriction_id) in state["restrictions"]:
        raise Conflict("restriction_exists", f"restriction {r.restriction_id} already exists",
                       restriction_id=r.restriction_id)
    sets = _restriction_sets(r, now)
    events = [Outgoing(_restriction_event(state, r, penalty=True))]
    if "administrative_penalty" not in model.deductions:
        return Change(set=sets, events=events)
    record = Record(r.restriction_id, "administrative_penalty", "supervisor",
                    {"decision_no": r.decision_no, "reason": r.reason})
    change = add_record(state, model, record, now, ages=False)  # the decision's period
    change.set.update(sets)
    change.events[:0] = events
    return change


def _restriction_sets(r: Restriction, now: datetime) -> dict[str, Any]:
    data = {**asdict(r), "start": r.start.isoformat(), "end": r.end.isoformat(),
            "status": ACTIVE, "recorded_at": now.isoformat()}
    return {f"restrictions.{key(r.restriction_id)}": data}


def _restriction_event(state: State, r: Restriction, *, penalty: bool) -> Message:
    common: dict[str, Any] = {
        "restriction_id": r.restriction_id, "categories": r.categories, "start": r.start,
        "end": r.end, "decision_no": r.decision_no, "reason": r.reason, "penalty": penalty}
    if state["subject_kind"] == SubjectKind.ENTITY.value:
        return EntityBanned(uscc=state["subject_id"], **common)
    return ExpertBlacklisted(expert_id=state["subject_id"], **common)


def _reinstated(state: State, restriction_id: str, by: LiftedBy) -> Message:
    if state["subject_kind"] == SubjectKind.ENTITY.value:
        return EntityReinstated(uscc=state["subject_id"], restriction_id=restriction_id,
                                lifted_by=by)
    return ExpertReinstated(expert_id=state["subject_id"], restriction_id=restriction_id,
                            lifted_by=by)


def revoke_restriction(state: State, model: ScoringModel, restriction_id: str, by: str,
                       reason: str, now: datetime) -> Change:
    """Revoke a restriction (撤销): it stops blocking, its penalty record stops counting."""
    rk = key(restriction_id)
    r = state["restrictions"].get(rk)
    if r is None:
        raise NotFound("restriction_not_found", f"no restriction {restriction_id}")
    if r["status"] != ACTIVE:
        raise Conflict("restriction_not_active", f"restriction {restriction_id} is {r['status']}")
    sets: dict[str, Any] = {f"restrictions.{rk}.status": REVOKED,
                            f"restrictions.{rk}.revocation": {"by": by, "reason": reason,
                                                              "at": now.isoformat()}}
    events = [Outgoing(_reinstated(state, restriction_id, LiftedBy.REVOCATION))]
    if rk not in state["records"]:
        return Change(set=sets, events=events)
    records = {**state["records"], rk: {**state["records"][rk], "revoked": 1}}
    sets[f"records.{rk}.revoked"] = 1
    change = rescore(state, model, records, restriction_id, "record_revoked", now, sets)
    change.events[:0] = events
    return change


def expire_restriction(state: State, restriction_id: str, today: date) -> Change:
    """After the end date: credit repair (信用修复) lifts the restriction."""
    rk = key(restriction_id)
    r = state["restrictions"].get(rk)
    if r is None or r["status"] != ACTIVE:
        return Change()
    if today.isoformat() <= r["end"]:
        raise Conflict("restriction_not_ended", f"{restriction_id} runs until {r['end']}")
    return Change(set={f"restrictions.{rk}.status": EXPIRED},
                  events=[Outgoing(_reinstated(state, restriction_id, LiftedBy.EXPIRY))])


def active_restrictions(state: State) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """Restrictions still to expire (for their expiry timers)."""
    return ((r["restriction_id"], r) for r in state.get("restrictions", {}).values()
            if r["status"] == ACTIVE)
