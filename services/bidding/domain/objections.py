"""Objections to the tender documents and to an opening, and suspensions of a tender, as
pure decisions.

Construction (条例22): a potential bidder or other interested party objects to the
tender documents at least 10 days before the bid deadline; the tenderee answers
within 3 days of receiving it, and until it answers the tendering is suspended
(暂停招标投标活动). Procurement (政采法52, 53; 财政部94号令第10条): a supplier
questions the documents (质疑) within 7 working days of the end of their sale and
the purchaser answers within 7 working days; the question does not suspend the
procurement (政采法57 leaves that to a supervisor handling a complaint). Every number
and the suspension itself come from the category's rules.

While suspended a tender takes and releases no bids and does not open at its
deadline. When the last suspension lifts the tender resumes; where the rules say
so, bidders get back the time they had left when it began (the deadline moves to
at least the resumption plus that time). A tenderee that also changes the
documents answers with a modification, which moves the deadline by its own rule
(法23).

An objection's answer is due by the rule's time from its filing (``answer_due``: 条例22
3 days, 政采法53 7 working days, 条例44 on the spot), shown to the objector. When it passes
unanswered the objection is overdue (``overdue``, once): a fact for credit, and the
objector may complain (条例60; 政府采购法55); a tender it suspended stays suspended until
the answer, which is still taken and marked late.

A supervisor handling a complaint may also order the tender's activities suspended
(条例62; 政府采购法57: at most 30 days), whenever in its life. Then nothing moves until
it resumes: no key is revealed, no section opens, no expert scores, no award is made or
declined when the candidates' publicity ends (it waits for the resumption), no contract
is recorded and none falls overdue. A decryption window or a contract period that was
running stands still: at the resumption it gets back the time it had left. The evaluation
time a tender stated moves with its deadline, or with its section's decryption window, by
as much (a section already drawn keeps the time its experts were told).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.bidding import (
    ObjectionMatter,
    Period,
    ResumedClock,
    TenderObjectionAnswered,
    TenderObjectionFiled,
    TenderObjectionOverdue,
    TenderResumed,
    TenderSuspended,
)
from contracts.calendar import Calendar
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, Forbidden, NotFound
from services.bidding.domain.rules import CategoryRules, Rule, after, duration
from services.bidding.domain.tender import (
    State,
    _change,
    iso,
    lines_of,
    ms,
    section_of,
    shifted_evaluations,
)
from services.bidding.domain.timeline import RuleViolation

OBJECTION, COMPLAINT = "objection", "complaint"
PENDING, ANSWERED = "pending", "answered"


def _at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def filing_closes(state: State, rules: CategoryRules,
                  cal: Calendar) -> tuple[datetime, Rule | None]:
    """The last moment an objection to the documents is taken, and the rule that sets it:
    10 days before the deadline (条例22) or the end of the window after the sale
    (政采法52), the earlier of those the category has; else the deadline itself."""
    deadline = datetime.fromisoformat(state["bid_deadline"])
    limits: list[tuple[datetime, Rule | None]] = [(deadline, None)]
    if rules.objection_before_deadline.value > 0:
        limits.append((deadline - duration(rules.objection_before_deadline),
                       rules.objection_before_deadline))
    if rules.objection_window.value > 0:
        limits.append((after(rules.objection_window,
                             datetime.fromisoformat(state["sale_end"]), cal),
                       rules.objection_window))
    return min(limits, key=lambda limit: limit[0])


def answer_rule(rules: CategoryRules, matter: ObjectionMatter) -> Rule:
    """The rule of the time to answer an objection about ``matter``: to the documents
    (条例22: 3 days; 政采法53: 7 working days) or to an opening (条例44: on the spot)."""
    return rules.opening_objection_answer if matter is ObjectionMatter.OPENING \
        else rules.objection_answer


def answer_due(rules: CategoryRules, matter: ObjectionMatter, filed_at: datetime,
               cal: Calendar) -> datetime:
    """When the answer to an objection filed at ``filed_at`` is due: the rule's days,
    calendar or working days (the platform's calendar) as the rule's unit says, or its
    minutes."""
    return after(answer_rule(rules, matter), filed_at, cal)


def file(state: State, rules: CategoryRules, cal: Calendar, *, objection_id: str,
         objector: str, text: str, now: datetime, source: str | None = None) -> Change:
    """An objection to the documents; it suspends the tender where the rules say so."""
    if state["status"] != "open" or ms(now) >= int(state["deadline_ms"]):
        raise Conflict("tender_closed", "the bid deadline has passed: the documents can no "
                       "longer be objected to here (a complaint goes to the supervisor)")
    if objector in {state["tenderee_uscc"], state.get("agency_uscc")}:
        raise Forbidden("own_tender", "the tenderee and its agency answer objections; they "
                        "do not file them")
    closes, rule = filing_closes(state, rules, cal)
    if now > closes and rule is not None:
        raise RuleViolation("objection_too_late", rule, f"objections to the documents were "
                            f"taken until {closes.isoformat()}", closed_at=closes.isoformat())
    due = answer_due(rules, ObjectionMatter.DOCUMENTS, now, cal)
    article = rules.objection_answer.source
    suspends = rules.objection_suspends.value >= 1
    filed = TenderObjectionFiled(tender_id=state["tender_id"], objection_id=objection_id,
                                 objector_uscc=objector, text=text, filed_at=now,
                                 answer_due=due, suspends=suspends, article=article)
    sets: dict[str, Any] = _pending(objection_id, objector, text, now, due,
                                    answer_article=article)
    events: list[Any] = [filed]
    if suspends:
        more, suspended = suspend(state, f"{OBJECTION}-{objection_id}", OBJECTION,
                                  objection_id, rules.objection_suspends.source, now)
        sets.update(more)
        events.extend(suspended)
    data = {"objection": objection_id, "answer_due": iso(due), "suspends": suspends,
            "article": article}
    return _change(state, objector, "object", data, sets, events, now, source)


def file_at_opening(state: State, rules: CategoryRules, *, section: str, objection_id: str,
                    objector: str, text: str, now: datetime,
                    source: str | None = None, cal: Calendar | None = None) -> Change:
    """A bidder's objection to a section's opening (条例44: 投标人对开标有异议的，应当在
    开标现场提出，招标人应当当场作出答复，并制作记录; 87号令第41条). Online, "at the
    opening" is the rule's time after the opening record, and the answer is due within the
    rule's time of the filing; both go into the audit trail (the record). It does not
    suspend the tender."""
    sec = section_of(state, section)
    opened = sec.get("opened_ms")
    if opened is None:
        raise Conflict("not_opened", f"section {section} has no opening record to object to")
    window = rules.opening_objection_window
    if objector not in {line["bidder_uscc"] for line in lines_of(sec) or []}:
        raise Forbidden("not_a_bidder", f"only a bidder in the opening record of section "
                        f"{section} objects to its opening ({window.source})")
    closes = _at(int(opened)) + duration(window)
    if now > closes:
        raise RuleViolation("objection_too_late", window, f"objections to the opening were "
                            f"taken until {closes.isoformat()}", closed_at=closes.isoformat())
    due = answer_due(rules, ObjectionMatter.OPENING, now, cal or Calendar())
    filed = TenderObjectionFiled(tender_id=state["tender_id"], objection_id=objection_id,
                                 objector_uscc=objector, text=text, filed_at=now,
                                 answer_due=due, suspends=False, article=window.source,
                                 matter=ObjectionMatter.OPENING, section_code=section)
    sets = _pending(objection_id, objector, text, now, due,
                    matter=ObjectionMatter.OPENING.value, section_code=section,
                    answer_article=rules.opening_objection_answer.source)
    data = {"objection": objection_id, "section": section, "answer_due": iso(due),
            "article": window.source}
    return _change(state, objector, "object_opening", data, sets, [filed], now, source)


def _pending(objection_id: str, objector: str, text: str, now: datetime, due: datetime,
             **more: Any) -> dict[str, Any]:
    """The field of a new objection, waiting for its answer."""
    return {f"objections.{objection_id}": {
        "objector_uscc": objector, "text": text, "status": PENDING, "filed_at": iso(now),
        "answer_due_ms": ms(due), **more}}


def answer(state: State, rules: CategoryRules, *, objection_id: str, text: str, actor: str,
           now: datetime, source: str | None = None) -> Change:
    """The tenderee's answer; the last pending one lifts the suspension (条例22)."""
    objection = (state.get("objections") or {}).get(objection_id)
    if objection is None:
        raise NotFound("objection_not_found", f"tender {state['tender_id']} has no "
                       f"objection {objection_id}")
    if objection["status"] != PENDING:
        raise Conflict("objection_answered", f"objection {objection_id} was answered already")
    late = ms(now) > int(objection["answer_due_ms"])
    matter = ObjectionMatter(objection.get("matter", ObjectionMatter.DOCUMENTS))
    article = answer_rule(rules, matter).source
    answered = TenderObjectionAnswered(
        tender_id=state["tender_id"], objection_id=objection_id,
        objector_uscc=objection["objector_uscc"], answer=text, answered_at=now, late=late,
        article=article, matter=matter, section_code=objection.get("section_code"))
    base = f"objections.{objection_id}"
    sets: dict[str, Any] = {f"{base}.status": ANSWERED, f"{base}.answer": text,
                            f"{base}.answered_at": iso(now), f"{base}.late": late}
    events: list[Any] = [answered]
    unset: list[str] = []
    key = f"{OBJECTION}-{objection_id}"
    if key in (state.get("suspensions") or {}):
        more, gone, resumed = lift(state, rules, key, now)
        sets.update(more)
        unset.extend(gone)
        events.extend(resumed)
    data = {"objection": objection_id, "late": late}
    return _change(state, actor, "answer_objection", data, sets, events, now, source, unset)


def overdue(state: State, rules: CategoryRules, *, objection_id: str,
            now: datetime) -> Change:
    """The answer's due time passed with no answer: ``TenderObjectionOverdue`` and an audit
    entry, once (a timer fired again, or on another replica, finds it recorded). The
    suspension stays (条例22: 作出答复前，应当暂停招标投标活动): only the answer lifts it.
    Nothing for an objection answered, unknown, or not yet due."""
    objection = (state.get("objections") or {}).get(objection_id)
    if objection is None or objection["status"] != PENDING or "overdue_at" in objection:
        return Change()
    due = int(objection["answer_due_ms"])
    if ms(now) < due:
        return Change()
    matter = ObjectionMatter(objection.get("matter", ObjectionMatter.DOCUMENTS))
    article = answer_rule(rules, matter).source
    suspended = f"{OBJECTION}-{objection_id}" in (state.get("suspensions") or {})
    complaint = rules.complaint_within.source
    event = TenderObjectionOverdue(
        tender_id=state["tender_id"], objection_id=objection_id,
        objector_uscc=objection["objector_uscc"], answerer_uscc=state["tenderee_uscc"],
        agency_uscc=state.get("agency_uscc"), answer_due=_at(due), overdue_at=now,
        article=article, matter=matter, section_code=objection.get("section_code"),
        suspended=suspended, complaint_article=complaint)
    base = f"objections.{objection_id}"
    sets = {f"{base}.overdue_at": iso(now), f"{base}.complaint_article": complaint}
    data = {"objection": objection_id, "answer_due": iso(_at(due)), "article": article,
            "suspended": suspended}
    return _change(state, "platform", "objection_overdue", data, sets, [event], now)


def suspend(state: State, key: str, reason: str, reference: str, article: str,
            now: datetime) -> tuple[dict[str, Any], list[Any]]:
    """The fields and events of one more suspension; the first one suspends the tender."""
    sets: dict[str, Any] = {f"suspensions.{key}": {"reason": reason, "reference": reference,
                                                   "article": article, "at": iso(now)}}
    if state.get("suspensions"):
        return sets, []
    sets["suspended"] = {"at_ms": ms(now), "deadline_ms": int(state["deadline_ms"])}
    return sets, [TenderSuspended(tender_id=state["tender_id"], reason=reason,
                                  reference=reference, suspended_at=now, article=article)]


def lift(state: State, rules: CategoryRules, key: str,
         now: datetime) -> tuple[dict[str, Any], list[str], list[Any]]:
    """Fields to set and unset, and events, when suspension ``key`` ends; the last one
    resumes the tender, giving back the time bidders had left where the rules say so."""
    others = [k for k in (state.get("suspensions") or {}) if k != key]
    if others:
        return {}, [f"suspensions.{key}"], []
    since = state["suspended"]
    deadline = int(state["deadline_ms"])
    if rules.suspension_restores_time.value >= 1 and state["status"] == "open":
        left = int(since["deadline_ms"]) - int(since["at_ms"])
        deadline = max(deadline, ms(now) + left)
    article = state["suspensions"][key]["article"]
    sets: dict[str, Any] = {"bid_deadline": iso(_at(deadline)), "deadline_ms": deadline,
                            **shifted_evaluations(state, deadline - int(state["deadline_ms"]))}
    clocks = restored_clocks(state, int(since["at_ms"]), ms(now))
    for clock in clocks:
        sets[f"section_state.{clock.section_code}.{CLOCK_FIELDS[clock.period]}"] = ms(clock.end)
        if clock.period is Period.DECRYPTION:  # the draw comes later: so does the evaluation
            sets.update(shifted_evaluations(state, ms(clock.end) - ms(clock.previous_end),
                                            {clock.section_code}))
    resumed = TenderResumed(tender_id=state["tender_id"], resumed_at=now,
                            suspended_at=_at(int(since["at_ms"])),
                            previous_deadline=_at(int(state["deadline_ms"])),
                            bid_deadline=_at(deadline), article=article, clocks=clocks)
    return sets, ["suspensions", "suspended"], [resumed]


# The section's field holding each period's end, by the status in which it runs.
CLOCK_FIELDS = {Period.DECRYPTION: "decrypt_end_ms", Period.CONTRACT: "contract_due_ms"}
CLOCK_STATUS = {"decrypting": Period.DECRYPTION, "awarded": Period.CONTRACT}


def restored_clocks(state: State, since_ms: int, now_ms: int) -> list[ResumedClock]:
    """The sections' running periods, each given back the time it had left when the
    suspension began (``since_ms``): while suspended nobody could reveal a key or sign,
    so neither a bidder's bid (revoked unrevealed, 20号令) nor a winner (a contract not
    signed in time, 法46; a credit record) may lose by the time it stood still (条例62)."""
    clocks = []
    for code, sec in state["section_state"].items():
        period = CLOCK_STATUS.get(sec["status"])
        if period is None or CLOCK_FIELDS[period] not in sec:
            continue
        end = int(sec[CLOCK_FIELDS[period]])
        if end > since_ms:  # it was still running when the suspension began
            moved = max(end, now_ms + end - since_ms)
            clocks.append(ResumedClock(section_code=code, period=period,
                                       previous_end=_at(end), end=_at(moved)))
    return clocks


def complaint_suspension(state: State, complaint_id: str, article: str, now: datetime,
                         actor: str = "supervisor") -> Change:
    """A supervisor's order, while handling a complaint, to suspend the tender (条例62)."""
    key = f"{COMPLAINT}-{complaint_id}"
    if key in (state.get("suspensions") or {}):
        return Change()
    sets, events = suspend(state, key, COMPLAINT, complaint_id, article, now)
    return _change(state, actor, "suspend", {"complaint": complaint_id, "article": article},
                   sets, events, now)


def end_complaint_suspension(state: State, rules: CategoryRules, complaint_id: str,
                             cause: str, now: datetime) -> Change:
    """The complaint's suspension ends (lifted, decided or at its longest); the last
    suspension resumes the tender."""
    key = f"{COMPLAINT}-{complaint_id}"
    if key not in (state.get("suspensions") or {}):
        return Change()
    sets, unset, events = lift(state, rules, key, now)
    return _change(state, "supervisor" if cause != "expired" else "platform", "resume",
                   {"complaint": complaint_id, "cause": cause}, sets, events, now, None, unset)


def visible(state: State, who_uscc: str | None, *, owner: bool) -> list[dict[str, Any]]:
    """The objections a caller may see: all for the tender's owners and supervisors, an
    objector's own otherwise (objectors are not named to anyone else)."""
    out = []
    for oid, o in sorted((state.get("objections") or {}).items(),
                         key=lambda kv: kv[1]["filed_at"]):
        if owner or o["objector_uscc"] == who_uscc:
            out.append({"objection_id": oid, **{k: v for k, v in o.items()
                                                if k != "answer_due_ms"},
                        "answer_due": iso(_at(int(o["answer_due_ms"])))})
    return out


__all__ = ["answer", "answer_due", "answer_rule", "complaint_suspension",
           "end_complaint_suspension", "file", "file_at_opening", "filing_closes", "lift",
           "overdue", "restored_clocks", "suspend", "visible"]
