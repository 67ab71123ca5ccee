"""Complaints to the supervising department (投诉): when one may be filed, and its steps.
Pure.

- Filed by a bidder or other interested party within the category's time (条例60: 10
  days from the day it knew or should have known; 政府采购法55: 15 working days after
  the answer to its 质疑). For the matters the law names, only after an objection
  (异议) to the tenderee, and the time the objection waited for its answer does not
  count (条例60 second paragraph). An objection left unanswered past its due time (the
  platform records it overdue) counts as answered on its due day: 政府采购法55 (未在规定
  的时间内作出答复的，可以在答复期满后十五个工作日内投诉), and 条例60 does not count the
  answer's period.
- The supervisor accepts or refuses it within the category's time (条例61: 3 working
  days), then decides in writing within the next period (30 working days).
- While handling an accepted complaint the supervisor may order the tender's activities
  suspended (条例62; 政府采购法57: at most 30 days, the category's ``suspend_at_most``);
  the decision, or the supervisor, lifts it.
- Upheld against a named respondent: a ``complaint_upheld`` record on the respondent.
  Dismissed as made up or forged (捏造事实、伪造材料: 条例61 third paragraph, 77): a
  ``false_complaint`` record on the complainant. The record goes out with the decision
  (``CreditRecordsDue``, one write) and credit applies it to the account once.

A step is decided once: the same decision again changes nothing (a retried request),
a different one is refused with the complaint's status.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from contracts.calendar import Calendar
from contracts.credit import (
    ComplaintAccepted,
    ComplaintDecided,
    ComplaintFiled,
    ComplaintMatter,
    ComplaintOutcome,
    CreditRecordsDue,
    RecordDue,
    SubjectKind,
    TenderSuspensionLifted,
    TenderSuspensionOrdered,
)
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError
from services.credit.domain.records import Record
from services.credit.domain.rules import ComplaintRules, Period, SuspensionLimit

FILED, ACCEPTED = "filed", "accepted"
UPHELD_RECORD, FALSE_RECORD = "complaint_upheld", "false_complaint"


@dataclass(frozen=True)
class Objection:
    """The objection (异议/质疑) a complaint follows: when it was made and answered, or,
    unanswered, the day its answer was due (``due_on``: known once it is overdue)."""

    ref: str
    filed_on: date
    answered_on: date | None
    due_on: date | None = None

    @property
    def answer_period_end(self) -> date | None:
        """The answer's day, or the due day of an answer that never came."""
        return self.answered_on or self.due_on


def complaint_id(complainant: str, tender_id: str, section: str, matter: str,
                 facts: str) -> str:
    """One complaint per complainant, tender, section, matter and facts: a retried
    request finds the one it filed."""
    digest = hashlib.sha256(
        f"{complainant}|{tender_id}|{section}|{matter}|{facts}".encode()).hexdigest()
    return "CP-" + digest[:16].upper()


def last_filing_day(rules: ComplaintRules, cal: Calendar, known_on: date,
                    objection: Objection | None) -> date:
    """The last day a complaint may be filed (条例60; 政府采购法55)."""
    period = rules.file_within
    if period.counted_from == "objection_answered_on":
        if objection is None or objection.answer_period_end is None:
            raise DomainError("objection_answer_required",
                              f"the time to complain runs from the answer to the objection "
                              f"({period.source}): give objection.answered_on",
                              rule=period.source)
        start = objection.answer_period_end  # or the end of the time to answer (答复期满)
        paused = 0
    else:
        start = known_on
        # The objection's wait for its answer is not counted (条例60 second paragraph).
        end = objection.answer_period_end if objection is not None else None
        paused = (end - objection.filed_on).days \
            if objection is not None and end is not None else 0
    return _after(period, cal, start) + timedelta(days=max(paused, 0))


def check_filing(rules: ComplaintRules, cal: Calendar, matter: ComplaintMatter,
                 known_on: date, objection: Objection | None, today: date) -> None:
    """Refuse a complaint the law does not let be filed now, with the rule it breaks."""
    if known_on > today:
        raise DomainError("known_on_in_future", f"known_on {known_on} is after today {today}")
    if objection is not None:
        if objection.filed_on > today or (objection.answered_on or today) > today:
            raise DomainError("objection_in_future", "the objection's dates are after today")
        if objection.answered_on is not None and objection.answered_on < objection.filed_on:
            raise DomainError("objection_answered_before_filed",
                              "objection.answered_on is before objection.filed_on")
    first = rules.objection_first
    if matter in first.matters and objection is None:
        raise DomainError("objection_first",
                          f"a complaint about {matter.value} must follow an objection to the "
                          f"tenderee ({first.source}): give the objection", rule=first.source)
    last = last_filing_day(rules, cal, known_on, objection)
    if today > last:
        raise DomainError("complaint_too_late",
                          f"the time to complain ended on {last} ({rules.file_within.source})",
                          last_day=last.isoformat(), rule=rules.file_within.source)


def filed(cid: str, body: Mapping[str, Any], category: str, complainant: str,
          rules: ComplaintRules, cal: Calendar, now: datetime) -> tuple[dict[str, Any],
                                                                      ComplaintFiled]:
    """A new complaint's state and its event; the supervisor's time to accept runs."""
    event = ComplaintFiled(
        complaint_id=cid, tender_id=body["tender_id"], category=category,
        complainant_uscc=complainant, section_code=body.get("section_code") or "",
        respondent_uscc=body.get("respondent_uscc"), matter=body["matter"], filed_at=now,
        acceptance_due=_after_moment(rules.accept_within, cal, now),
        article=rules.file_within.source)
    state = {**event.model_dump(mode="json"), "facts": body["facts"],
             "known_on": str(body["known_on"]), "objection": body.get("objection"),
             "status": FILED, "steps": []}
    return state, event


def accept(state: Mapping[str, Any], accepted: bool, reason: str, by: str,
           rules: ComplaintRules, cal: Calendar, now: datetime) -> Change:
    """The supervisor accepts (受理) or refuses (不予受理) a filed complaint (条例61)."""
    status = ACCEPTED if accepted else ComplaintOutcome.REFUSED.value
    if state["status"] == status:
        return Change()  # the same answer again: a retried request
    if state["status"] != FILED:
        raise Conflict("complaint_answered", f"complaint {state['complaint_id']} is "
                                             f"{state['status']}", status=state["status"])
    step = {"step": status, "by": by, "reason": reason, "at": now.isoformat()}
    if accepted:
        due = _after_moment(rules.decide_within, cal, now)
        event: ComplaintAccepted | ComplaintDecided = ComplaintAccepted(
            **_ids(state), accepted_at=now, decision_due=due)
        sets: dict[str, Any] = {"decision_due": event.model_dump(mode="json")["decision_due"]}
    else:
        event = _decided(state, ComplaintOutcome.REFUSED, "", reason, False, now)
        sets = {}
    return Change(set={**sets, "status": status, "steps": [*state["steps"], step],
                       "overdue_answer": now > datetime.fromisoformat(state["acceptance_due"])},
                  events=[Outgoing(event)])


def decide(state: Mapping[str, Any], upheld: bool, decision_no: str, reason: str,
           false_complaint: bool, by: str, now: datetime) -> Change:
    """The written decision on an accepted complaint (书面处理决定, 条例61)."""
    if false_complaint and upheld:
        raise DomainError("false_complaint_upheld", "a complaint found made up cannot be upheld")
    outcome = ComplaintOutcome.UPHELD if upheld else ComplaintOutcome.DISMISSED
    if state["status"] == outcome.value and bool(state.get("false_complaint")) == false_complaint:
        return Change()  # the same decision again: a retried request
    if state["status"] != ACCEPTED:
        raise Conflict("complaint_not_accepted" if state["status"] == FILED
                       else "complaint_decided",
                       f"complaint {state['complaint_id']} is {state['status']}",
                       status=state["status"])
    step = {"step": outcome.value, "by": by, "reason": reason, "decision_no": decision_no,
            "at": now.isoformat()}
    decision_due = state.get("decision_due")
    sets: dict[str, Any] = {"status": outcome.value, "decision_no": decision_no,
                            "false_complaint": false_complaint,
                            "steps": [*state["steps"], step],
                            "overdue_decision": decision_due is not None
                            and now > datetime.fromisoformat(str(decision_due))}
    events = [Outgoing(_decided(state, outcome, decision_no, reason, false_complaint, now))]
    due = [RecordDue(subject_kind=SubjectKind.ENTITY, subject_id=uscc,
                     record_id=rec.record_id, kind=rec.kind, source=rec.source,
                     detail=rec.detail)
           for uscc, rec in records_of({**state, **sets})]
    if due:  # applied by credit from its records topic: with the decision, in one write
        events.append(Outgoing(CreditRecordsDue(decision_id=state["complaint_id"],
                                                records=due, decided_at=now)))
    held = state.get("suspension")
    if held and not held.get("lifted_at"):  # the decision ends the suspension it ordered
        sets["suspension.lifted_at"] = now.isoformat()
        events.append(Outgoing(TenderSuspensionLifted(**_ids(state), lifted_at=now,
                                                      cause="decided")))
    return Change(set=sets, events=events)


def order_suspension(state: Mapping[str, Any], reason: str, by: str, rules: ComplaintRules,
                     cal: Calendar, now: datetime) -> Change:
    """Suspend the tender while the complaint is handled (条例62; 政府采购法57)."""
    if state["status"] != ACCEPTED:
        raise Conflict("complaint_not_accepted" if state["status"] == FILED
                       else "complaint_decided",
                       f"only an accepted complaint's handling suspends a tender; complaint "
                       f"{state['complaint_id']} is {state['status']}", status=state["status"])
    held = state.get("suspension")
    if held and not held.get("lifted_at"):
        return Change()  # in force already: a retried request
    limit = rules.suspend_at_most
    until = _after_moment(limit, cal, now) if limit.value > 0 else None
    event = TenderSuspensionOrdered(**_ids(state), ordered_at=now, until=until, reason=reason,
                                    article=limit.source)
    step = {"step": "suspension_ordered", "by": by, "reason": reason, "at": now.isoformat()}
    return Change(set={"suspension": {"ordered_at": now.isoformat(), "by": by,
                                      "until": until.isoformat() if until else None,
                                      "reason": reason, "article": limit.source},
                       "steps": [*state["steps"], step]},
                  events=[Outgoing(event)])


def lift_suspension(state: Mapping[str, Any], by: str, now: datetime) -> Change:
    """The supervisor lifts the suspension before deciding."""
    held = state.get("suspension")
    if not held or held.get("lifted_at"):
        raise Conflict("not_suspended", f"complaint {state['complaint_id']} has no suspension "
                       f"in force")
    step = {"step": "suspension_lifted", "by": by, "at": now.isoformat()}
    return Change(set={"suspension.lifted_at": now.isoformat(),
                       "steps": [*state["steps"], step]},
                  events=[Outgoing(TenderSuspensionLifted(**_ids(state), lifted_at=now,
                                                          cause="lifted"))])


def records_of(state: Mapping[str, Any]) -> list[tuple[str, Record]]:
    """The credit records a decided complaint adds: (credit code, record) each."""
    detail = {"complaint_id": state["complaint_id"], "tender_id": state["tender_id"],
              "categories": [state["category"]], "decision_no": state.get("decision_no")}
    if state["status"] == ComplaintOutcome.UPHELD.value and state.get("respondent_uscc"):
        return [(state["respondent_uscc"], Record(f"complaint:{state['complaint_id']}",
                                                  UPHELD_RECORD, "ComplaintDecided", detail))]
    if state["status"] == ComplaintOutcome.DISMISSED.value and state.get("false_complaint"):
        return [(state["complainant_uscc"], Record(f"complaint:{state['complaint_id']}",
                                                   FALSE_RECORD, "ComplaintDecided", detail))]
    return []


def _ids(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: state[k] for k in ("complaint_id", "tender_id", "category", "complainant_uscc")}


def _decided(state: Mapping[str, Any], outcome: ComplaintOutcome, decision_no: str,
             reason: str, false_complaint: bool, now: datetime) -> ComplaintDecided:
    return ComplaintDecided(**_ids(state), respondent_uscc=state.get("respondent_uscc"),
                            outcome=outcome, decision_no=decision_no, reason=reason,
                            false_complaint=false_complaint, decided_at=now)


def _after(period: Period, cal: Calendar, start: date) -> date:
    """The last day of a period that starts the day after ``start``."""
    if period.unit == "working_days":
        return cal.add_working_days(datetime.combine(start, datetime.min.time()),
                                    period.value).date()
    return start + timedelta(days=period.value)


def _after_moment(period: Period | SuspensionLimit, cal: Calendar,
                  start: datetime) -> datetime:
    if period.unit == "working_days":
        return cal.add_working_days(start, period.value)
    return start + timedelta(days=period.value)
