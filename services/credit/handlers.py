"""Credit use cases: load, decide (domain), save with events (outbox), timers.

Accounts (``accounts``) and alerts (``alerts``) are aggregates: one conditional
write per decision with its events. Events consumed twice change nothing: the
envelope id is recorded with the effect (Cause) and records have deterministic ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contracts.bidding import (
    AuctionConfirmationOverdue,
    AuctionContractOverdue,
    AwardDeclined,
    BidFingerprint,
    BidsOpened,
    ContractAccepted,
    ContractOverdue,
)
from contracts.credit import CreditRecordsDue, RecordDue, RiskAlertRaised, SubjectKind
from ggzy.runtime.aggregates import Aggregates, Applied, Cause, Change, Doc, Outgoing, now_ms
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, Forbidden, NotFound
from ggzy.runtime.steps import Step, apply_many
from ggzy.runtime.timers import Timer, Timers
from services.credit.domain import collusion, fingerprints, records, repair
from services.credit.domain.records import Record, Restriction, account_id, key
from services.credit.domain.rotation import RotationPattern, SectionOutcome, find_rotation
from services.credit.domain.rules import CreditRules, ScoringModel, check_basis
from services.credit.store import RATED, CreditStore

EXPIRY = "restriction_expiry"
RECORD_SWEEP = "record_sweep"  # once a day: records past their period stop counting
SWEEP_BATCH = 200  # accounts a sweep reads at once
Decide = Callable[[Mapping[str, Any]], Change]
# each adds credit records (records_of)
RecordedEvent = (BidsOpened | ContractOverdue | AwardDeclined | AuctionConfirmationOverdue
                 | AuctionContractOverdue | ContractAccepted)
RECORDED = (BidsOpened, ContractOverdue, AwardDeclined, AuctionConfirmationOverdue,
            AuctionContractOverdue, ContractAccepted)


def now() -> datetime:
    return datetime.now(UTC)


def expiry_ms(end: str) -> int:
    """Local midnight after the last day of a restriction (the end date is inclusive)."""
    day = date.fromisoformat(end) + timedelta(days=1)
    return int(datetime.combine(day, time.min).timestamp() * 1000)


def records_of(e: RecordedEvent) -> list[tuple[str, Record]]:
    """The credit records an event of bidding adds: (credit code, record) each."""
    if isinstance(e, BidsOpened):  # a bid that failed to decrypt counts as revoked
        return [(line.bidder_uscc, Record(f"bid_revoked:{line.bid_id}", "bid_revoked",
                                          "BidsOpened", {"tender_id": e.tender_id,
                                                         "section_code": e.section_code}))
                for line in e.lines if line.status == "revoked"]
    if isinstance(e, AwardDeclined):
        return [(e.bidder_uscc, Record(
            f"award_declined:{e.tender_id}:{e.section_code}:{e.bidder_uscc}", "award_declined",
            "AwardDeclined", {"tender_id": e.tender_id, "section_code": e.section_code,
                              "reason": e.reason}))]
    if isinstance(e, AuctionConfirmationOverdue):  # a sale's winner that did not sign
        return [(e.winner_uscc, Record(
            f"sale_unconfirmed:{e.auction_id}", "sale_unconfirmed", "AuctionConfirmationOverdue",
            {"auction_id": e.auction_id, "due": e.due.isoformat()}))]
    if isinstance(e, AuctionContractOverdue):  # ... or the sale contract
        return [(e.winner_uscc, Record(
            f"sale_contract_unsigned:{e.auction_id}", "sale_contract_unsigned",
            "AuctionContractOverdue", {"auction_id": e.auction_id, "due": e.due.isoformat()}))]
    if isinstance(e, ContractAccepted):  # 履约验收不合格: one record per contract, however
        if e.passed:                       # many rounds fail before one passes
            return []
        return [(e.winner_uscc, Record(
            f"performance_failed:{e.tender_id}:{e.section_code}", "performance_failed",
            "ContractAccepted", {"tender_id": e.tender_id, "section_code": e.section_code,
                                 "round": e.round, "article": e.article,
                                 "unmet": [i.standard for i in e.items if not i.met]}))]
    return [(e.winner_uscc, Record(
        f"contract_overdue:{e.tender_id}:{e.section_code}", "contract_overdue",
        "ContractOverdue", {"tender_id": e.tender_id, "section_code": e.section_code,
                            "due": e.due.isoformat()}))]


def _arms_expiry(applied: Applied) -> bool:
    """After this outcome the account's restrictions get their expiry timers (a
    redelivery arms them again, in case the first attempt stopped short)."""
    return applied.duplicate or any(e.type.endswith(("Banned.v1", "Blacklisted.v1"))
                                    for e in applied.envelopes)


def _recording(model: ScoringModel, rec: Record) -> Decide:
    """The decision that adds ``rec`` to an account scored by ``model``."""
    return lambda s: records.add_record(s, model, rec, now())


def is_subject(who: Principal, kind: SubjectKind, subject: str) -> bool:
    """The caller is the account's subject: a user of the entity, or the expert."""
    return (who.uscc == subject) if kind is SubjectKind.ENTITY else (who.expert_id == subject)


def _expiring(model: ScoringModel, today: date) -> Decide:
    """The decision that ends the records of an account scored by ``model`` due by ``today``."""
    return lambda s: records.expire_records(s, model, today, now())


def _opening(kind: SubjectKind, subject: str, model: ScoringModel) -> Callable[[], Doc]:
    """A fresh account of ``subject``, at ``model``'s base score."""
    return lambda: records.new_account(kind, subject, model)


def restriction_id(kind: SubjectKind, subject: str, decision_no: str) -> str:
    """One decision against one subject is one restriction (a retried request finds it)."""
    digest = hashlib.sha256(f"{kind.value}|{subject}|{decision_no}".encode()).hexdigest()
    return "R-" + digest[:16].upper()


class Credit:
    """The credit application: accounts, restrictions, records, expert reviews, alerts."""

    def __init__(self, *, accounts: Aggregates, alerts: Aggregates, store: CreditStore,
                 timers: Timers, rules: CreditRules) -> None:
        self.accounts = accounts
        self.alerts = alerts
        self.store = store
        self.timers = timers
        self.rules = rules
        self.collusion = collusion.CollusionConfig.from_mapping(rules.collusion)
        timers.on(EXPIRY, self.on_expiry)
        timers.on(RECORD_SWEEP, self.on_record_sweep)

    # accounts --------------------------------------------------------------------------
    async def apply(self, kind: SubjectKind, subject: str, decide: Decide,
                    cause: Cause | None = None) -> Applied:
        """Decide on an account (opened at the base score on first use); arm expiry timers."""
        aid = account_id(kind, subject)
        try:
            applied = await self.accounts.update(aid, lambda s, v: decide(s), cause)
        except NotFound as exc:
            if exc.code != "not_found":
                raise
            applied = await self._open(kind, subject, decide, cause)
        if _arms_expiry(applied):
            await self._arm_expiry(aid)
        return applied

    async def _open(self, kind: SubjectKind, subject: str, decide: Decide,
                    cause: Cause | None) -> Applied:
        """A first decision opens the account in one insert, with its events."""
        aid = account_id(kind, subject)
        fresh = records.new_account(kind, subject, self.rules.model_for(kind))
        change = decide(fresh)
        try:
            return await self.accounts.create(aid, records.opened_with(fresh, change),
                                              change.events, cause)
        except Conflict:  # a concurrent first use opened it: decide on what is there
            return await self.accounts.update(aid, lambda s, v: decide(s), cause)

    async def _arm_expiry(self, aid: str) -> None:
        doc = await self.accounts.get(aid) or {}
        kind, subject = doc.get("subject_kind"), doc.get("subject_id")
        for rid, r in records.active_restrictions(doc):
            await self.timers.schedule(f"{EXPIRY}:{aid}:{key(rid)}", EXPIRY, expiry_ms(r["end"]),
                                       {"kind": kind, "subject": subject, "rid": rid})

    async def on_expiry(self, timer: Timer) -> None:
        """Credit repair at the end of the period (信用修复): the subject is reinstated."""
        p = timer.payload
        await self.apply(SubjectKind(p["kind"]), p["subject"],
                         lambda s: records.expire_restriction(s, p["rid"], date.today()),
                         Cause(message_id=f"timer:{timer.timer_id}"))

    # records' periods (有效期) ------------------------------------------------------------
    async def arm_record_sweep(self, day: date | None = None) -> None:
        """The day's sweep of records whose period ended (once a day, whichever replica;
        at start it is due at once, so days the service was down are caught up)."""
        day = day or date.today()
        await self.timers.schedule(f"{RECORD_SWEEP}:{day.isoformat()}", RECORD_SWEEP,
                                   now_ms(), {"day": day.isoformat()})

    async def on_record_sweep(self, timer: Timer) -> None:
        """Expire the records due by the timer's day, then arm the next day's sweep."""
        day = date.fromisoformat(timer.payload["day"])
        await self.expire_records(day)
        following = day + timedelta(days=1)
        await self.timers.schedule(f"{RECORD_SWEEP}:{following.isoformat()}", RECORD_SWEEP,
                                   expiry_ms(day.isoformat()), {"day": following.isoformat()})

    async def expire_records(self, today: date) -> int:
        """Every account's records whose period ended by ``today`` stop counting and the
        account is scored again (``CreditChanged``, reason ``record_expired``); the number of
        accounts re-scored. Idempotent: an account done before finds nothing due."""
        seen: set[str] = set()
        while due := await self.store.accounts_with_records_due(today.isoformat(), SWEEP_BATCH):
            if seen.issuperset(d["_id"] for d in due):
                break  # nothing changed them (not expected): never loop on them
            seen.update(d["_id"] for d in due)
            for doc in due:
                kind = SubjectKind(doc["subject_kind"])
                await self.apply(kind, doc["subject_id"],
                                 _expiring(self.rules.model_for(kind), today))
        return len(seen)

    async def on_registered(self, uscc: str, cause: Cause) -> None:
        """A newly registered entity is rated at once (its level and the level's incentives)."""
        await self.apply(SubjectKind.ENTITY, uscc, lambda s: records.initial_rating(s, now()),
                         cause)

    async def account(self, kind: SubjectKind, subject: str) -> Doc:
        aid = account_id(kind, subject)
        doc = await self.accounts.get(aid)
        if doc is None:  # nothing recorded yet: the account as it would open (version 0)
            model = self.rules.model_for(kind)
            return {"_id": aid, "version": 0, **records.new_account(kind, subject, model)}
        return doc

    def record(self, kind: SubjectKind, rec: Record) -> Decide:
        return _recording(self.rules.model_for(kind), rec)

    # restrictions ----------------------------------------------------------------------
    async def restrict(self, kind: SubjectKind, subject: str, body: Mapping[str, Any],
                       who: Principal) -> str:
        """A supervisor's restriction, decided by a document (处罚决定). Naming a
        ``basis`` whose law fixes the period (条例67, 68; 政府采购法77) has the period, the
        subject and the trade types checked against it first."""
        basis = body.get("basis")
        if basis is not None:
            check_basis(self.rules.restriction_bases, basis, kind, body["categories"],
                        body["start"], body["end"])
        rid = restriction_id(kind, subject, body["decision_no"])
        r = Restriction(rid, body["action"], [c.value for c in body["categories"]],
                        body["start"], body["end"], body["decision_no"], body["reason"],
                        who.subject, basis)
        model = self.rules.model_for(kind)
        await self.apply(kind, subject, lambda s: records.add_restriction(s, model, r, now()))
        return rid

    async def revoke(self, rid: str, reason: str, who: Principal) -> None:
        """Revoke a restriction (撤销): the subject is reinstated at once."""
        doc = await self.store.account_with_restriction(key(rid))
        if doc is None:
            raise NotFound("restriction_not_found", f"no restriction {rid}")
        kind = SubjectKind(doc["subject_kind"])
        model = self.rules.model_for(kind)
        await self.apply(kind, doc["subject_id"], lambda s: records.revoke_restriction(
            s, model, rid, who.subject, reason, now()))

    # credit repair by application (信用修复申请) --------------------------------------------
    async def apply_for_repair(self, kind: SubjectKind, subject: str, record_id: str,
                               correction: str, who: Principal) -> None:
        """The subject's own application to repair one of its records."""
        if not is_subject(who, kind, subject):
            raise Forbidden("not_the_subject", "only the record's subject applies for its "
                            "repair (a user of the entity, or the expert)")
        model = self.rules.model_for(kind)
        await self._on_existing(kind, subject, lambda s: repair.apply_for_repair(
            s, model, record_id, correction=correction, by=who.subject, today=date.today(),
            now=now()))

    async def decide_repair(self, kind: SubjectKind, subject: str, record_id: str,
                            approve: bool, reason: str, who: Principal) -> None:
        """A supervisor approves (the record stops counting) or refuses an application."""
        model = self.rules.model_for(kind)
        await self._on_existing(kind, subject, lambda s: repair.decide_repair(
            s, model, record_id, approve=approve, reason=reason, by=who.subject, now=now()))

    async def _on_existing(self, kind: SubjectKind, subject: str, decide: Decide) -> None:
        """A decision on an account that must exist (none: no record to repair)."""
        try:
            await self.accounts.update(account_id(kind, subject), lambda s, v: decide(s))
        except NotFound as exc:
            if exc.code != "not_found":
                raise
            raise NotFound("record_not_found", f"{subject} has no credit record") from None

    async def public(self, uscc: str) -> dict[str, Any]:
        """What anyone may see: the level and the restrictions in force today."""
        doc = await self.account(SubjectKind.ENTITY, uscc)
        today = date.today()
        shown = ("restriction_id", "action", "categories", "start", "end", "decision_no")
        current = [{k: r[k] for k in shown} for r in doc["restrictions"].values()
                   if records.in_force(r, today)]
        return {"uscc": uscc, "level": doc["level"], "restrictions": current,
                "deposit_reduction_pct": doc["deposit_reduction_pct"]}

    # records from the platform's events --------------------------------------------------
    async def add_records(self, e: RecordedEvent, cause: Cause) -> None:
        """The credit records of one bidding event (``records_of``): a bid that failed to
        decrypt counts as revoked (视为撤销, 20号令; 条例35); the winner gave up the award
        (放弃中标; 条例74) or did not sign within the rule's days (法46; 条例74); a sale's
        winner did not sign the confirmation in time (39号令第22条, unverified); a contract
        failed its acceptance (履约验收不合格, 政采条例45)."""
        for uscc, rec in records_of(e):
            await self.apply(SubjectKind.ENTITY, uscc, self.record(SubjectKind.ENTITY, rec),
                             cause)

    async def add_records_of(self, events: list[tuple[RecordedEvent, Cause]]
                             ) -> list[Exception | None]:
        """The records of many events in one pass (``steps.apply_many``): each event's
        outcome, None when all its records are applied."""
        kind = SubjectKind.ENTITY
        model = self.rules.model_for(kind)
        steps: list[Step] = []
        of_event: list[int] = []
        for n, (e, cause) in enumerate(events):
            for uscc, rec in records_of(e):
                steps.append(Step(account_id(kind, uscc), _recording(model, rec), cause,
                                  _opening(kind, uscc, model)))
                of_event.append(n)
        outcomes: list[Exception | None] = [None] * len(events)
        for n, step, applied in zip(of_event, steps, await apply_many(self.accounts, steps),
                                    strict=True):
            if outcomes[n] is not None:
                continue
            try:
                if isinstance(applied, Exception):
                    raise applied
                if _arms_expiry(applied):
                    await self._arm_expiry(step.aggregate_id)
            except Exception as exc:
                outcomes[n] = exc
        return outcomes

    async def on_late_answer(self, tender_id: str, objection_id: str, matter: str,
                             article: str, source: str, cause: Cause, *,
                             answerer: str | None = None, category: str | None = None,
                             due: datetime | None = None) -> None:
        """An objection not answered by its due time, found overdue then (bidding's and
        announcement's ``...ObjectionOverdue``) or answered late: a record against the one
        whose duty the answer is (条例22, 44, 54; 条例77第2款), the tenderee (``answerer``
        when the event names it: a sale's seller), once per objection: an answer after the
        overdue adds nothing (the same record)."""
        tender = await self.store.tender(tender_id)
        if answerer is None or category is None:
            if tender is None or not tender.get("tenderee_uscc"):
                raise LookupError(f"no tenderee known for {tender_id} yet")
            answerer = answerer or tender["tenderee_uscc"]
            category = category or tender["category"]
        detail: dict[str, Any] = {"tender_id": tender_id, "objection_id": objection_id,
                                  "matter": matter, "article": article,
                                  "categories": [category]}
        if due is not None:
            detail["due"] = due.isoformat()
        rec = Record(f"objection_late:{tender_id}:{objection_id}", "objection_answer_late",
                     source, detail)
        await self.apply(SubjectKind.ENTITY, answerer, self.record(SubjectKind.ENTITY, rec),
                         cause)

    async def on_expert_absent(self, tender_id: str, section: str, expert_id: str,
                               category: str, at: datetime, cause: Cause) -> None:
        """A committee member the platform replaced as absent (擅离职守, 条例71第(二)项;
        缺席, 87号令第49条): a record against the expert, once per evaluation. A member
        who declared its own recusal or health is not recorded (条例48 asks it to)."""
        rec = Record(f"absent:{tender_id}:{section}:{expert_id}", "evaluation_absent",
                     "ExpertReplaced", {"tender_id": tender_id, "section_code": section,
                                        "replaced_at": at.isoformat(),
                                        **({"categories": [category]} if category else {})})
        await self.apply(SubjectKind.EXPERT, expert_id, self.record(SubjectKind.EXPERT, rec),
                         cause)

    # expert evaluations (专家评价) ---------------------------------------------------------
    async def on_evaluated(self, tender_id: str, section: str, category: str) -> None:
        """After the evaluation, each committee expert's evaluation record is pending."""
        committee = await self.store.committee(tender_id, section)
        if committee is None:
            raise LookupError(f"no committee known for {tender_id}:{section} yet")
        await self.store.open_reviews(tender_id, section, committee["experts"], category)

    async def rate(self, review_id: str, rating: str, note: str, who: Principal) -> Doc:
        """A supervisor, or the tenderee of the tender, rates an expert's evaluation."""
        review = await self.store.review(review_id)
        if review is None:
            raise NotFound("review_not_found", f"no expert evaluation {review_id}")
        if review["status"] == RATED:
            raise Conflict("review_rated", f"{review_id} is already rated")
        if not who.has(Role.SUPERVISOR):
            tender = await self.store.tender(review["tender_id"]) or {}
            if who.uscc is None or who.uscc not in (tender.get("tenderee_uscc"),
                                                    tender.get("agency_uscc")):
                raise Forbidden("not_your_tender", "only the tenderee or a supervisor rates")
        rec = Record(f"review:{review_id}", f"rating_{rating}", "evaluation",
                     {"tender_id": review["tender_id"], "section_code": review["section_code"],
                      "note": note, "by": who.subject})
        await self.apply(SubjectKind.EXPERT, review["expert_id"],
                         self.record(SubjectKind.EXPERT, rec))
        await self.store.rate_review(review_id, rating, who.subject, note)
        return await self.account(SubjectKind.EXPERT, review["expert_id"])

    # collusion (围标串标) -----------------------------------------------------------------
    async def on_fingerprints(self, tender_id: str, section: str, part: int, parts: int,
                              category: str, prints: list[BidFingerprint], cause: Cause) -> int:
        """Keep a part; once a section is complete, check it (条例40; 87号令37)."""
        held = await self.store.add_part(tender_id, section, part, parts, category,
                                         fingerprints.stored_part(prints))
        if held < parts:
            return 0
        every = fingerprints.columns_of_parts(await self.store.section_parts(tender_id, section))
        await self.store.record_bidders(tender_id, section, category, list(every.bidder_uscc))
        entities = await self.store.entities_by_id(sorted(set(every.bidder_uscc)))
        findings = collusion.check_columns(every, entities, self.collusion)
        raised = 0
        for f in findings:
            fid = collusion.finding_id(tender_id, section, f)
            raised += await self._raise(fid, tender_id, section, category, f.indicator.value,
                                        f.article, list(f.bidders), f.evidence, cause)
        return raised

    async def _raise(self, alert_id: str, tender_id: str, section: str, category: str,
                     indicator: str, article: str, bidders: list[str],
                     evidence: dict[str, Any], cause: Cause) -> int:
        event = RiskAlertRaised(alert_id=alert_id, tender_id=tender_id, section_code=section,
                                category=category, indicator=indicator, article=article,
                                bidders=bidders, evidence=evidence, raised_at=now())
        state = {**event.model_dump(mode="json"), "status": "open"}
        try:
            await self.alerts.create(alert_id, state, [Outgoing(event)],
                                     Cause(correlation_id=cause.correlation_id))
        except Conflict:  # the same evidence was raised before: redelivery
            return 0
        return 1

    async def decide_alert(self, alert_id: str, confirmed: bool, body: Mapping[str, Any],
                           who: Principal) -> Doc:
        """A supervisor confirms (records against each bidder) or dismisses an alert."""
        status = "confirmed" if confirmed else "dismissed"

        def decide(s: Mapping[str, Any], v: int) -> Change:
            if s["status"] == status:
                return Change()  # a retried decision
            if s["status"] != "open":
                raise Conflict("alert_decided", f"alert {alert_id} is {s['status']}")
            at = now()
            events = [Outgoing(_collusion_records(alert_id, s, body, at))] if confirmed else []
            return Change(set={"status": status, "decided_by": who.subject,
                               "decision": dict(body), "decided_at": at.isoformat()},
                          events=events)

        if await self.alerts.get(alert_id) is None:
            raise NotFound("alert_not_found", f"no alert {alert_id}")
        await self.alerts.update(alert_id, decide)
        return await self.alerts.get(alert_id) or {}

    async def on_records_due(self, e: CreditRecordsDue, cause: Cause) -> None:
        """Apply a decision's records, each to its account once."""
        for i, due in enumerate(e.records):
            rec = Record(due.record_id, due.kind, due.source, dict(due.detail))
            await self.apply(due.subject_kind, due.subject_id, self.record(due.subject_kind, rec),
                             Cause(message_id=f"{cause.message_id}-{i}",
                                   correlation_id=cause.correlation_id))

    async def rotation(self, category: str | None, **thresholds: int
                       ) -> list[RotationPattern]:
        """Cross-tender: the same group bidding together and taking turns to win."""
        outcomes = [SectionOutcome(d["tender_id"], d["section_code"], d.get("category", ""),
                                   frozenset(d["bidders"]), d.get("winner"))
                    for d in await self.store.outcomes_of(category)]
        return find_rotation(outcomes, **thresholds)


def _collusion_records(alert_id: str, alert: Mapping[str, Any], body: Mapping[str, Any],
                       at: datetime) -> CreditRecordsDue:
    """A confirmed alert's collusion record against each of its bidders (条例40, 67)."""
    kind = "collusion_serious" if body.get("serious") else "collusion"
    detail = {"alert_id": alert_id, "indicator": alert["indicator"],
              "tender_id": alert["tender_id"], "categories": [alert["category"]],
              "decision_no": body.get("decision_no") or alert_id}
    return CreditRecordsDue(decision_id=alert_id, decided_at=at, records=[
        RecordDue(subject_kind=SubjectKind.ENTITY, subject_id=bidder,
                  record_id=f"collusion:{alert_id}", kind=kind, source="RiskAlertRaised",
                  detail=detail) for bidder in alert["bidders"]])

