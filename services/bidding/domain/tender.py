"""The tender's life (招标项目生命周期) as pure decisions: state in, change and events out.

A tender document holds its published data, ``deadline_ms`` (the durable timer
compares integers), one state per section and the hash-chained audit trail.
Section states: bidding -> decrypting -> evaluating (committee drawn) ->
publicity -> awarded -> contracted; or failed (流标) / awaiting_draw. Each section's
evaluation time and place (``evaluation_schedule``, by section) moves with the deadline
and with a decryption window a suspension moved, and goes to the drawn experts alone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from contracts.bidding import (
    AwardDeclined,
    Awarded,
    BidderLine,
    BidFingerprintsExtracted,
    BidsOpened,
    Candidate,
    ContractOverdue,
    ContractSigned,
    DepositRefund,
    EvaluationCompleted,
    ExpertReplaced,
    ExpertsDrawn,
    ReplacementReason,
    TenderDocumentsObtained,
    TenderFailed,
    TenderModified,
    TenderPublished,
)
from contracts.calendar import Calendar
from contracts.categories import Category
from ggzy.runtime.aggregates import Change, Outgoing
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from services.bidding.domain import audit, deposits
from services.bidding.domain import draw as draws
from services.bidding.domain.rules import CategoryRules
from services.bidding.domain.timeline import (
    Evaluation,
    RuleViolation,
    contract_due,
    deadline_after_modification,
    decryption_end,
)

State = dict[str, Any]
# A section's opening record keeps its lines as one JSON text (``opening_lines``), not
# 10,000 sub-documents: the embedded store walks each sub-document of the tender in
# Python on every write and read of it (see lines_of).
_LINES: TypeAdapter[list[BidderLine]] = TypeAdapter(list[BidderLine])

# Each section's evaluation time and place, {code: Evaluation.to_state()} (not "evaluation":
# that is the evaluation method, as published).
SCHEDULE = "evaluation_schedule"
DECLINE_ARTICLE = "招标投标法实施条例第55条 (依次确定其他中标候选人); 第74条"


def ms(at: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(at.timestamp() * 1000)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _change(state: State, actor: str, action: str, data: dict[str, Any], sets: dict[str, Any],
            events: list[Any], now: datetime, source: str | None = None,
            unset: Sequence[str] = ()) -> Change:
    """A change that also appends to the audit trail (same atomic write)."""
    chain = audit.appended(state, at=iso(now), actor=actor, action=action, data=data,
                           source=source)
    category = Category(state["category"])
    return Change(set={**sets, "audit": chain}, unset=list(unset),
                  events=[Outgoing(e, category) for e in events])


def committed() -> dict[str, str]:
    """A section's draw seed, fixed at publication before any bid, and its commitment
    (published: ``GET .../draw``); the seed itself stays secret until the award."""
    seed = secrets.token_hex(32)
    return {"draw_seed": seed, "commitment": draws.commitment(seed)}


PROJECT_CODE_ARTICLE = ("全国投资项目在线审批监管平台运行管理暂行办法 (发改投资〔2017〕1044号) "
                        "(unverified): 项目代码是项目整个建设周期的唯一身份标识")


def close_entry(state: State) -> dict[str, Any]:
    """The close's entry in the tender's audit trail; until the deadline has closed bidding
    nothing about the bids is shown (20号令: nobody learns who or how many have bid)."""
    closes = [e for e in state.get("audit") or [] if e["action"] == "close"]
    if state["status"] == "open" or not closes:
        raise Conflict("not_closed", "the bids are sealed until the deadline: nobody "
                       "learns who or how many have bid (20号令)")
    return dict(closes[0])


def project_record(*, owner: str, region: str, name: str, first_id: str) -> dict[str, Any]:
    """What a project code's first tender or sale fixes about the project: its owner (the
    tenderee, or a sale's seller, registered as one), its region."""
    return {"tenderee_uscc": owner, "region_code": region, "project_name": name,
            "first_tender_id": first_id}


def check_project(project: Mapping[str, Any], *, code: str, owner: str, region: str) -> None:
    """A tender or sale under a known project code is the same project's: its owner's, in
    its region (项目代码 names one project for its whole life); else a specific refusal."""
    if project["tenderee_uscc"] != owner:
        raise Conflict("project_of_another_tenderee", f"project {code} is another "
                       f"tenderee's: its first tender {project['first_tender_id']} named it "
                       f"({PROJECT_CODE_ARTICLE})", first_tender_id=project["first_tender_id"])
    if project["region_code"] != region:
        raise DomainError("project_region_mismatch", f"project {code} is in region "
                          f"{project['region_code']}, not {region}",
                          region_code=project["region_code"])


def publish(event: TenderPublished, actor: str, extra: dict[str, Any],
            source: str | None = None) -> tuple[State, Change]:
    """The first state of a published tender."""
    sections = {s.section_code: {"status": "bidding", **committed()} for s in event.sections}
    state = {**event.model_dump(mode="json"), **extra, "status": "open",
             "deadline_ms": ms(event.bid_deadline), "section_state": sections, "audit": []}
    data: dict[str, Any] = {"deadline": iso(event.bid_deadline)}
    if SCHEDULE in extra:
        data[SCHEDULE] = extra[SCHEDULE]
    change = _change(state, actor, "publish", data, {}, [event], event.issued_at, source)
    return state, change


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
    plan = evaluation_of(state, code)
    at = None if plan is None else max(plan.at or now, now)
    return ExpertsDrawn(tender_id=state["tender_id"], section_code=code,
                        expert_ids=draw["committee"], commitment=draw["commitment"],
                        evaluation_at=at, evaluation_venue=plan.venue if plan else None,
                        evaluation_remote=plan.remote if plan else False)


def obtain_documents(state: State, uscc: str, at: datetime, source: str | None = None
                     ) -> Change:
    """A potential bidder obtained the documents (获取招标文件), once: it is told of each
    clarification and modification from now on (法23). Within the sale period (条例16;
    政采条例31), by an invitee where the tender invites (法17)."""
    if uscc in (state.get("obtained") or {}):
        return Change()
    if state["status"] != "open":
        raise Conflict("tender_closed", "the bid deadline has passed")
    if at < datetime.fromisoformat(state["sale_start"]):
        raise Conflict("sale_not_started", f"the documents are on sale from "
                       f"{state['sale_start']}", sale_start=state["sale_start"])
    if at > datetime.fromisoformat(state["sale_end"]):
        raise Conflict("sale_ended", f"the documents were on sale until {state['sale_end']} "
                       "(招标投标法实施条例第16条)", sale_end=state["sale_end"])
    invited = state.get("invited") or []
    if invited and uscc not in invited:
        raise Forbidden("not_invited", "this tender invites its bidders (招标投标法第17条): "
                        "you were not invited")
    event = TenderDocumentsObtained(tender_id=state["tender_id"], bidder_uscc=uscc,
                                    obtained_at=at)
    return _change(state, uscc, "obtain_documents", {"bidder": uscc},
                   {f"obtained.{uscc}": iso(at)}, [event], at, source)


def published_section(state: State, section_code: str) -> dict[str, Any]:
    """A section as published (name, estimated price, deposit)."""
    for sec in state["sections"]:
        if sec["section_code"] == section_code:
            return dict(sec)
    raise DomainError("section_not_found", f"tender {state['tender_id']} has no section "
                      f"{section_code}")


def section_of(state: State, section_code: str) -> dict[str, Any]:
    """A section's state, or a specific 404-like refusal."""
    sec = state["section_state"].get(section_code)
    if sec is None:
        raise DomainError("section_not_found", f"tender {state['tender_id']} has no section "
                          f"{section_code}")
    return dict(sec)


def modify(state: State, rules: CategoryRules, *, modification_id: str, summary: str,
           affects_bids: bool, actor: str, now: datetime, source: str | None = None) -> Change:
    """A clarification/modification; the deadline moves when <15 days remain (法23)."""
    if state["status"] != "open":
        raise Conflict("tender_closed", "the bid deadline has passed")
    old = datetime.fromisoformat(state["bid_deadline"])
    new = deadline_after_modification(rules, modified_at=now, deadline=old,
                                      affects_bids=affects_bids)
    event = TenderModified(tender_id=state["tender_id"], modification_id=modification_id,
                           summary=summary, affects_bids=affects_bids, modified_at=now,
                           previous_deadline=old, bid_deadline=new, postponed_by_rule=new != old)
    data = {"summary": summary, "deadline": iso(new), "postponed": new != old,
            "article": rules.modification_notice.source}
    sets = {"bid_deadline": iso(new), "deadline_ms": ms(new),
            **shifted_evaluations(state, ms(new) - ms(old))}
    return _change(state, actor, "modify", data, sets, [event], now, source)


def seal(state: State) -> Change:
    """Before the opening reads the bids at the deadline: mark the deadline it closes, so a
    bid whose write ends after this knows to ask whether the read had it."""
    if state["status"] != "open" or state.get("sealed_for") == state["deadline_ms"]:
        return Change()
    return Change(set={"sealed_for": state["deadline_ms"]})


def close(state: State, rules: CategoryRules, cal: Calendar, counts: dict[str, int],
          now: datetime, refunds: Mapping[str, list[DepositRefund]] | None = None,
          thin: Mapping[str, list[str]] | None = None,
          sealed: Mapping[str, Mapping[str, Any]] | None = None) -> Change:
    """At the deadline: sections with too few bids fail (条例44); the rest decrypt.

    ``sealed`` (per section: the count and root of its bids' receipt leaves,
    ``audit.sealed_of``, and the root of its bids' operation chains, withdrawn bids too,
    ``audit.operations_of``) goes into the close's audit entry: the chain fixes which
    sealed bids the deadline had and every operation on them, bidders unnamed.

    A failed section's deposits are scheduled for refund in the same write (条例57), and
    it keeps who had bid (``thin``: fewer than the minimum, so a few credit codes), for a
    bid whose write ended as bidding closed to learn whether it was counted.
    """
    if state["status"] != "open" or state.get("suspensions"):  # suspended: opens later
        return Change()
    deadline = datetime.fromisoformat(state["bid_deadline"])
    sets: dict[str, Any] = {"status": "closed"}
    events: list[Any] = []
    end = decryption_end(rules, cal, deadline)
    for code in state["section_state"]:
        n = counts.get(code, 0)
        if n < rules.minimum_bidders.n:
            items = (refunds or {}).get(code, [])
            fields = {"status": "failed", "reason": "too_few_bids",
                      "received": list((thin or {}).get(code, [])), **_refund_state(items)}
            events.append(_failed(state, code, n, rules))
            events.extend(deposits.scheduled(state["tender_id"], code, "failed", items, now))
        else:
            fields = {"status": "decrypting", "decrypt_end_ms": ms(end), "bids": n}
        # set field by field: the section keeps what it had (its draw seed, bound at
        # publication)
        sets.update({f"section_state.{code}.{k}": v for k, v in fields.items()})
    data: dict[str, Any] = {"counts": counts, "decrypt_end": iso(end)}
    if sealed:
        data["sealed"] = {code: dict(v) for code, v in sorted(sealed.items())}
    return _change(state, "platform", "close", data, sets, events, now)


def _failed(state: State, code: str, valid: int, rules: CategoryRules) -> TenderFailed:
    return TenderFailed(tender_id=state["tender_id"], section_code=code,
                        reason="fewer_than_minimum_bids", article=rules.minimum_bidders.source,
                        valid_bids=valid)


def fails_at_opening(rules: CategoryRules, lines: Sequence[BidderLine]) -> bool:
    """Too few valid bids in the opening record: the section fails (条例44)."""
    return sum(line.status == "valid" for line in lines) < rules.minimum_bidders.n


DECRYPT_FAULT_ARTICLE = "电子招标投标办法 (20号令) 第31条"


class DecryptFaultCause(StrEnum):
    """What kept a bid from being decrypted that was not its bidder's (20号令第31条)."""

    PLATFORM = "platform"  # 交易平台故障
    CA = "ca"  # 数字证书 (CA) 服务
    NETWORK = "network"  # 网络、不可抗力
    OTHER = "other"


def decrypt_faults(sec: Mapping[str, Any]) -> frozenset[str]:
    """The bidders whose bids a fault not theirs kept from being decrypted, as recorded."""
    return frozenset(sec.get("decrypt_faults") or {})


def record_decrypt_fault(state: State, code: str, bidder: str, cause: str, note: str,
                         actor: str, now: datetime, source: str | None = None) -> Change:
    """A fault not the bidder's keeps its bid from being decrypted (20号令第31条: 因投标人之外
    的原因造成投标文件未解密的，视为撤回其投标文件，投标人有权要求责任方赔偿): recorded by the
    platform's operator or a supervisor within the decryption window, so that the opening
    counts the bid, if still not decrypted, as withdrawn (撤回: its deposit refunded, no
    credit record) rather than revoked (撤销, the bidder's fault: 条例35). A bid its key
    decrypts after all is read out as any other. Recorded once per bidder."""
    sec = section_of(state, code)
    if sec["status"] != "decrypting":
        raise Conflict("not_decrypting", f"section {code} is not in its decryption window "
                       f"(status {sec['status']})")
    if ms(now) >= int(sec.get("decrypt_end_ms", 0)):
        raise Conflict("decryption_ended", "the decryption window has ended: the opening "
                       "record is being made")
    causes = [c.value for c in DecryptFaultCause]
    if cause not in causes:
        raise DomainError("unknown_cause", f"cause must be one of {causes}")
    cause = str(cause)  # as kept: the value, also of the API's enum
    faults = dict(sec.get("decrypt_faults") or {})
    if bidder in faults:
        return Change()
    faults[bidder] = {"cause": cause, "note": note, "at": iso(now), "by": actor}
    sec["decrypt_faults"] = faults
    return _change(state, actor, "decrypt_fault", {
        "section": code, "bidder_uscc": bidder, "cause": cause,
        "article": DECRYPT_FAULT_ARTICLE}, {f"section_state.{code}": sec}, [], now, source)


def open_section(state: State, rules: CategoryRules, code: str, lines: list[BidderLine],
                 draw: dict[str, Any] | None, now: datetime,
                 evidence: Sequence[BidFingerprintsExtracted] = (),
                 refunds: Sequence[DepositRefund] = (),
                 faults: Collection[str] = ()) -> Change:
    """The opening record; too few valid bids fail the section, else the committee is set.

    ``evidence`` (the bids' fingerprints) goes out in the same write, for credit;
    a failed section schedules its ``refunds`` (条例57). ``faults``: the decryption faults
    the ``lines`` were made with (20号令第31条); one recorded since is refused
    (``decrypt_faults_changed``: the opening is decided again on what is recorded).
    """
    sec = section_of(state, code)
    if sec["status"] != "decrypting" or state.get("suspensions"):  # suspended: opens later
        return Change()
    if decrypt_faults(sec) != frozenset(faults):
        raise Conflict("decrypt_faults_changed", "a decryption fault was recorded while the "
                       "opening was decided: decided again")
    opened = BidsOpened(tender_id=state["tender_id"], section_code=code, opened_at=now,
                        lines=lines)
    valid = sum(line.status == "valid" for line in lines)
    events: list[Any] = [opened, *evidence]
    told: datetime | None = None  # the evaluation's time told to the drawn experts
    if fails_at_opening(rules, lines):
        sec.update(status="failed", reason="too_few_valid_bids", **_refund_state(refunds))
        events.append(_failed(state, code, valid, rules))
        events.extend(deposits.scheduled(state["tender_id"], code, "failed", list(refunds), now))
    elif draw is None:
        sec.update(status="awaiting_draw")
    else:
        drawn = _seat(state, code, sec, draw, now)
        events.append(drawn)
        told = drawn.evaluation_at
    sec["opening_lines"] = _LINES.dump_json(lines).decode()
    sec["opened_ms"] = ms(now)  # objections to the opening run from here (条例44)
    data: dict[str, Any] = {"section": code, "valid": valid, "status": sec["status"]}
    if told is not None:
        data["evaluation_at"] = iso(told)
    return _change(state, "platform", "open", data, {f"section_state.{code}": sec}, events, now)


def awaiting_draw(state: State, code: str) -> dict[str, Any]:
    """Section ``code``, which its opening left ``awaiting_draw``; ``409`` otherwise."""
    sec = section_of(state, code)
    if sec["status"] != "awaiting_draw":
        raise Conflict("not_awaiting_draw", f"section {code} is not waiting for its "
                       f"committee (status {sec['status']})")
    return sec


def valid_bidders(sec: Mapping[str, Any]) -> list[str]:
    """The bidders of the valid bids in a section's opening record, in its order."""
    return [ln["bidder_uscc"] for ln in lines_of(sec) or [] if ln["status"] == "valid"]


def _seat(state: State, code: str, sec: dict[str, Any], draw: dict[str, Any],
          now: datetime) -> ExpertsDrawn:
    """The drawn committee takes its seats in ``sec`` (evaluating, no sheets yet)."""
    sec.update(status="evaluating", **draw, sheets={})
    return drawn_event(state, code, draw, now)


def draw_again(state: State, code: str, draw: dict[str, Any], actor: str, now: datetime,
               source: str | None = None) -> Change:
    """A section left ``awaiting_draw`` at its opening (too few eligible experts then) gets
    its committee once the pool allows (法37; 条例46): the same decision the opening would
    have made, with the same seed (its record kept by the caller)."""
    sec = awaiting_draw(state, code)
    refuse_while_suspended(state, "no committee is drawn")
    drawn = _seat(state, code, sec, draw, now)
    data: dict[str, Any] = {"section": code, "status": "evaluating"}
    if drawn.evaluation_at is not None:
        data["evaluation_at"] = iso(drawn.evaluation_at)
    return _change(state, actor, "draw", data, {f"section_state.{code}": sec}, [drawn], now,
                   source)


def lines_of(sec: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The lines of a section's opening record as JSON objects (``BidderLine``), None
    before its opening. A section opened before the record became one text keeps
    them as a list (``lines``)."""
    text = sec.get("opening_lines")
    if text is not None:
        return list(json.loads(text))
    old = sec.get("lines")
    return None if old is None else list(old)


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
    plan = evaluation_of(state, code)
    event = ExpertReplaced(
        tender_id=state["tender_id"], section_code=code, replaced_expert_id=out,
        expert_id=new, reason=reason, expert_ids=committee, round=round_no,
        voided_sheets=sheets is not None, replaced_at=now, commitment=sec["commitment"],
        evaluation_at=None if plan is None else max(plan.at or now, now),
        evaluation_venue=plan.venue if plan else None,
        evaluation_remote=plan.remote if plan else False, article=rule.source)
    data = {"section": code, "replaced": out, "by": new, "reason": reason.value,
            "round": round_no, "voided_sheets": sheets is not None, "article": rule.source}
    return _change(state, actor, "replace_expert", data, sets, [event], now, source, unset)


def report(state: State, code: str, candidates: list[Candidate], method: Any,
           now: datetime) -> Change:
    """The evaluation report: ranked candidates go to publicity (条例54)."""
    event = EvaluationCompleted(tender_id=state["tender_id"], section_code=code, method=method,
                                candidates=candidates, reported_at=now)
    sets = {f"section_state.{code}.status": "publicity",
            f"section_state.{code}.candidates": [c.model_dump(mode="json") for c in candidates]}
    return _change(state, "committee", "report", {"section": code, "candidates": len(candidates)},
                   sets, [event], now)


def award(state: State, rules: CategoryRules, cal: Calendar, code: str, *, upheld: bool,
          names: list[str], now: datetime,
          losers: Callable[[str], Sequence[DepositRefund]] | None = None) -> Change:
    """After the publicity: award to the first-ranked (条例55), or re-evaluate if upheld.

    Where the category refunds all but the winner from the award (``losers_refund_at_award``,
    政采条例33), ``losers(winner's bid id)`` are scheduled in the same write; the contract
    then refunds the rest."""
    sec = section_of(state, code)
    if sec["status"] != "publicity":
        return Change()
    waits = f"section_state.{code}.award_waits"
    if state.get("suspensions"):  # suspended (条例62): the award waits for the resumption
        return _change(state, "platform", "award_deferred", {"section": code},
                       {waits: {"upheld": upheld}}, [], now)
    if upheld:
        again = {f"section_state.{code}.status": "evaluating", f"section_state.{code}.sheets": {}}
        return _change(state, "platform", "reevaluate", {"section": code}, again, [], now,
                       unset=[waits])
    winner = Candidate.model_validate(sec["candidates"][0])
    due = contract_due(rules, cal, now)
    event = Awarded(tender_id=state["tender_id"], section_code=code, winner=winner,
                    awarded_at=now, contract_due=due, committee=names, draw_seed=sec["seed"])
    sets: dict[str, Any] = {f"section_state.{code}.status": "awarded",
            f"section_state.{code}.winner": winner.model_dump(mode="json"),
            f"section_state.{code}.contract_due_ms": ms(due)}
    data = {"section": code, "winner": winner.bidder_uscc, "article": rules.contract_within.source}
    events: list[Any] = [event]
    if losers is not None and rules.losers_refund_at_award.value >= 1:
        items = list(losers(winner.bid_id))
        sets[f"section_state.{code}.refunded_at_award"] = [r.bid_id for r in items]
        events.extend(deposits.scheduled(state["tender_id"], code, "awarded", items, now))
    return _change(state, "platform", "award", data, sets, events, now, unset=[waits])


def decline_award(state: State, rules: CategoryRules, cal: Calendar, code: str, bidder: str,
                  reason: str, names: list[str], now: datetime,
                  source: str | None = None) -> Change:
    """The winner declines (放弃中标): award the next candidate in rank, or fail (条例55)."""
    sec = section_of(state, code)
    if sec["status"] != "awarded":
        raise Conflict("not_awarded", f"section {code} has no award to decline")
    winner = Candidate.model_validate(sec["winner"])
    if winner.bidder_uscc != bidder:
        raise Forbidden("not_the_winner", "only the winner may decline the award")
    refuse_while_suspended(state, "the award is not declined")
    declined = [*sec.get("declined", []), bidder]
    nxt = next((Candidate.model_validate(c) for c in sec["candidates"]
                if c["rank"] > winner.rank and c["bidder_uscc"] not in declined), None)
    article = DECLINE_ARTICLE
    event = AwardDeclined(tender_id=state["tender_id"], section_code=code, bidder_uscc=bidder,
                          reason=reason, declined_at=now, next_winner=nxt, article=article)
    sets: dict[str, Any] = {f"section_state.{code}.declined": declined}
    events: list[Any] = [event]
    if nxt is None:
        sets[f"section_state.{code}.status"] = "failed"
        sets[f"section_state.{code}.reason"] = "winner_declined"
        events.append(TenderFailed(tender_id=state["tender_id"], section_code=code,
                                   reason="winner_declined", article=article, valid_bids=0))
    else:
        due = contract_due(rules, cal, now)
        events.append(Awarded(tender_id=state["tender_id"], section_code=code, winner=nxt,
                              awarded_at=now, contract_due=due, committee=names,
                              draw_seed=sec["seed"]))
        sets.update({f"section_state.{code}.winner": nxt.model_dump(mode="json"),
                     f"section_state.{code}.contract_due_ms": ms(due)})
    data = {"section": code, "declined": bidder, "next": nxt.bidder_uscc if nxt else None}
    return _change(state, bidder, "decline", data, sets, events, now, source)


def contract_terms(rules: CategoryRules, winner: Mapping[str, Any], price_fen: int,
                   bond_fen: int | None) -> None:
    """A contract's terms as the law bounds them: its price the winning bid's
    (``contract_as_awarded``: 条例57; 政府采购法46), and a performance bond, where the
    documents ask one, of at most ``performance_bond_percent`` of the contract price
    (条例58: 履约保证金不得超过中标合同金额的10%; 政采条例48)."""
    bid = int(winner["price_fen"])
    if rules.contract_as_awarded.value and price_fen != bid:
        raise RuleViolation("contract_price_mismatch", rules.contract_as_awarded,
                            f"the contract price must be the winning bid's {bid} fen",
                            awarded_price_fen=bid)
    cap = price_fen * int(rules.performance_bond_percent.value) // 100
    if bond_fen is not None and bond_fen > cap:
        raise RuleViolation("performance_bond_too_high", rules.performance_bond_percent,
                            f"the performance bond may be at most {cap} fen "
                            f"({int(rules.performance_bond_percent.value)}% of the contract "
                            "price)", cap_fen=cap)


def sign_contract(state: State, rules: CategoryRules, code: str, price_fen: int, actor: str,
                  now: datetime, refunds: Sequence[DepositRefund] = (),
                  source: str | None = None, bond_fen: int | None = None) -> Change:
    """The contract with the winner (法46) on the terms the law allows
    (:func:`contract_terms`); every deposit is scheduled for refund (条例57)."""
    sec = section_of(state, code)
    if sec["status"] != "awarded":
        raise Conflict("not_awarded", f"section {code} has no award to contract")
    refuse_while_suspended(state, "no contract is recorded")
    winner = sec["winner"]
    contract_terms(rules, winner, price_fen, bond_fen)
    done = set(sec.get("refunded_at_award") or ())  # 政采条例33: the others at the award
    refunds = [r for r in refunds if r.bid_id not in done]
    event = ContractSigned(tender_id=state["tender_id"], section_code=code,
                           winner_uscc=winner["bidder_uscc"], price_fen=price_fen, signed_at=now,
                           performance_bond_fen=bond_fen)
    sets = {f"section_state.{code}.status": "contracted",
            f"section_state.{code}.contract_price_fen": price_fen,
            **{f"section_state.{code}.{k}": v for k, v in _refund_state(refunds).items()}}
    refund = deposits.scheduled(state["tender_id"], code, "contract_signed", list(refunds), now)
    data: dict[str, Any] = {"section": code, "price_fen": price_fen}
    if bond_fen is not None:
        data["performance_bond_fen"] = bond_fen
    return _change(state, actor, "contract", data, sets,
                   [event, *refund], now, source)


def _refund_state(refunds: Sequence[DepositRefund]) -> dict[str, Any]:
    return {"refunds": [r.model_dump(mode="json") for r in refunds]}


def contract_overdue(state: State, code: str, now: datetime) -> Change:
    """The winner did not sign in time: a fact for credit (法46)."""
    sec = section_of(state, code)
    if sec["status"] != "awarded" or state.get("suspensions") \
            or ms(now) < int(sec["contract_due_ms"]):  # suspended, or moved by a suspension
        return Change()
    event = ContractOverdue(tender_id=state["tender_id"], section_code=code,
                            winner_uscc=sec["winner"]["bidder_uscc"],
                            due=datetime.fromtimestamp(sec["contract_due_ms"] / 1000, UTC))
    return _change(state, "platform", "contract_overdue", {"section": code},
                   {f"section_state.{code}.status": "contract_overdue"}, [event], now)


def refuse_after_deadline(state: State, now: datetime, rules: CategoryRules) -> None:
    """Bids are accepted only before the deadline (法28; 20号令: unfinished = not submitted),
    and neither taken nor withdrawn while the tender is suspended (条例22)."""
    if state["status"] != "open" or ms(now) >= int(state["deadline_ms"]):
        raise RuleViolation("bid_deadline_passed", rules.late_bids,
                            "the bid deadline has passed: bids are refused")
    refuse_while_suspended(state, "no bid is taken or withdrawn")


def refuse_uninvited(state: State, bidder: str, rules: CategoryRules) -> None:
    """A tender with an invitation list takes bids from its invitees only (法17)."""
    invited = state.get("invited")
    if invited and bidder not in invited:
        raise Forbidden("not_invited", f"{bidder} was not invited to this tender "
                        f"({rules.invitation_list.source})", article=rules.invitation_list.source)


def refuse_while_suspended(state: State, what: str) -> None:
    """A suspended tender (条例22, 62) does nothing of ``what`` until it resumes."""
    suspensions = state.get("suspensions")
    if suspensions:
        first = next(iter(suspensions.values()))
        raise Conflict("tender_suspended", f"the tender is suspended ({first['reason']}) "
                       f"until it resumes: {what} meanwhile ({first['article']})",
                       article=first["article"])
