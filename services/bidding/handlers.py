"""Bidding use cases: load, decide (domain), save with events (outbox), timers."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.bidding import (
    AcceptanceItem,
    BidderLine,
    BidSubmitted,
    BidWithdrawn,
    Candidate,
    DepositRefund,
    EvaluationMethod,
    ObjectionMatter,
    Period,
    ReplacementReason,
    TenderPublished,
)
from contracts.categories import Category
from contracts.credit import TenderSuspensionLifted, TenderSuspensionOrdered
from ggzy.runtime.aggregates import Aggregates, Cause, Change, Doc, Outgoing
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.cache import TTLCache
from ggzy.runtime.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable
from ggzy.runtime.timers import Timer, Timers
from services.bidding.domain import (
    audit,
    deposits,
    evaluation,
    objections,
    performance,
    sealed,
    tender,
)
from services.bidding.domain import draw as draws
from services.bidding.domain.rules import CategoryRules, RuleBook
from services.bidding.domain.timeline import (
    Evaluation,
    RuleViolation,
    committee_shape,
    validate_deposit,
    validate_invitations,
    validate_timeline,
)
from services.bidding.opening import fingerprints, opening_lines, revoked_bids
from services.bidding.store import LATE, SUBMITTED, WITHDRAWN, BiddingStore, bidder_snapshot

log = logging.getLogger("ggzy.bidding")
DEADLINE, DECRYPT_END, CONTRACT_DUE = "deadline", "decrypt_end", "contract_due"
SEAL_WAIT_S = 10.0  # how long a bid written as bidding closed waits for the opening's close
SUSPENSION_END = "suspension_end"
OBJECTION_DUE = "objection_due"  # an objection's answer falls due (条例22, 44; 政采法53)
DEFAULT_VENUE = "公共资源交易平台评标区"  # GGZY_EVALUATION_VENUE
CLOCK_TIMERS = {Period.DECRYPTION: DECRYPT_END, Period.CONTRACT: CONTRACT_DUE}  # their timers


def now() -> datetime:
    return datetime.now(UTC)


class Bidding:
    """The bidding application: tenders, sealed bids, opening, evaluation, award."""

    def __init__(self, *, tenders: Aggregates, bids: Aggregates, store: BiddingStore,
                 timers: Timers, categories: frozenset[Category], book: RuleBook,
                 grace_ms: int = 1000, open_tender_s: float = 1.0,
                 evaluation_venue: str = DEFAULT_VENUE) -> None:
        self.book = book
        self.evaluation_venue = evaluation_venue  # where a tender stating none evaluates
        self.tenders = tenders
        self.bids = bids
        self.store = store
        self.timers = timers
        self.categories = categories
        self.grace_ms = grace_ms
        self.receipt_key: Ed25519PrivateKey | None = None
        # Tenders open for bids, as read at most ``open_tender_s`` ago (see open_tender).
        self.open_tenders: TTLCache[str, Doc] = TTLCache(open_tender_s, max_size=1000)
        timers.on(DEADLINE, self.on_deadline)
        timers.on(DECRYPT_END, self.on_decrypt_end)
        timers.on(CONTRACT_DUE, self.on_contract_due)
        timers.on(SUSPENSION_END, self.on_suspension_end)
        timers.on(OBJECTION_DUE, self.on_objection_due)

    def rules(self, state: Mapping[str, Any]) -> CategoryRules:
        return self.book.for_tender(Category(state["category"]), state.get("method"))

    async def tender(self, tender_id: str) -> dict[str, Any]:
        doc = await self.tenders.get(tender_id)
        if doc is None:
            raise NotFound("tender_not_found", f"no tender {tender_id}")
        return doc

    # publication -------------------------------------------------------------------
    async def publish(self, event: TenderPublished, who: Principal,
                      extra: dict[str, Any]) -> None:
        """Publish a tender after checking its parties, timeline, deposits and committee."""
        if event.category not in self.categories:
            raise DomainError("category_not_served", f"this deployment does not serve "
                              f"{event.category.value}")
        if who.uscc not in {event.tenderee_uscc, event.agency_uscc} and not who.has(
                Role.OPERATOR):
            raise Forbidden("not_your_tender", "only the tenderee or its agency may publish")
        await self.check_party(event.tenderee_uscc, "tenderee")
        if event.agency_uscc:
            await self.check_party(event.agency_uscc, "agency")
        rules = self.book.for_tender(event.category, event.method)
        if rules.lowest_price_only.value >= 1 and event.evaluation != EvaluationMethod.LOWEST_PRICE:
            raise RuleViolation("evaluation_not_allowed", rules.lowest_price_only,
                                f"a {event.method.value} procurement is awarded on the lowest "
                                f"price, not by {event.evaluation.value}")
        validate_timeline(rules, self.book.calendar, issued_at=event.issued_at,
                          sale_start=event.sale_start, sale_end=event.sale_end,
                          bid_deadline=event.bid_deadline,
                          budget_fen=sum(s.estimated_price_fen for s in event.sections),
                          evaluations={code: Evaluation.of_state(raw) for code, raw
                                       in (extra.get(tender.SCHEDULE) or {}).items()})
        for s in event.sections:
            validate_deposit(rules, s.estimated_price_fen, s.deposit_fen)
        validate_invitations(rules, event.invited, {event.tenderee_uscc, event.agency_uscc})
        for invitee in event.invited:  # invited bidders are registered ones (法17)
            await self.check_party(invitee, "bidder")
        size = sum(extra["expert_mix"].values())
        committee_shape(rules, sum(s.estimated_price_fen for s in event.sections), size, size)
        await self.claim_project(event.project_code, owner=event.tenderee_uscc,
                                 region=event.region_code, name=event.project_name,
                                 first_id=event.tender_id)
        state, change = tender.publish(event, who.subject, extra, who.address)
        await self.tenders.create(event.tender_id, {**state, **change.set}, change.events)
        await self.timers.schedule(f"{DEADLINE}:{event.tender_id}", DEADLINE,
                                   tender.ms(event.bid_deadline) + self.grace_ms,
                                   {"tender_id": event.tender_id})

    async def evaluation_schedule(self, tender_id: str, who: Principal) -> dict[str, Any]:
        """Each section's evaluation time and place, for the tender's owners, supervisors
        and operators: it names no expert (the drawn ones hear theirs from notify)."""
        state = await self.tenders.view(tender_id, without=("audit",))
        if state is None:
            raise NotFound("tender_not_found", f"no tender {tender_id}")
        if not who.has(Role.SUPERVISOR, Role.OPERATOR):
            self._owner(state, who)
        return dict(state.get(tender.SCHEDULE) or {})

    async def check_party(self, uscc: str, kind: str) -> Doc:
        """The party's entity, if registered (registration's projection) as ``kind``."""
        return _registered_as(await self.store.entity(uscc), uscc, kind)

    async def obtain_documents(self, tender_id: str, who: Principal) -> dict[str, Any]:
        """A bidder obtained the documents: its record, and the files (also public)."""
        if who.uscc is None:
            raise Forbidden("role_required", "the documents are obtained by a bidder")
        at = now()
        await self.tenders.update(tender_id, lambda s, v: tender.obtain_documents(
            s, str(who.uscc), at, who.address))
        state = await self.tender(tender_id)
        return {"tender_id": tender_id, "obtained_at": state["obtained"][str(who.uscc)],
                "documents": state.get("documents") or []}

    async def document_recipients(self, tender_id: str, who: Principal) -> dict[str, Any]:
        """Who obtained the documents, and when: for supervisors and operators, and for the
        tender's owners once the deadline has passed (before it, 20号令 forbids telling who
        or how many obtained them)."""
        state = await self.tender(tender_id)
        if not who.has(Role.SUPERVISOR, Role.OPERATOR):
            self._owner(state, who)
            if tender.ms(now()) < int(state["deadline_ms"]):
                raise Conflict("before_deadline", "who obtained the documents is told after "
                               "the bid deadline (电子招标投标办法)",
                               bid_deadline=state["bid_deadline"])
        obtained = state.get("obtained") or {}
        return {"tender_id": tender_id, "recipients": [
            {"bidder_uscc": uscc, "obtained_at": at} for uscc, at in sorted(
                obtained.items(), key=lambda item: item[1])]}

    async def modify(self, tender_id: str, summary: str, affects_bids: bool,
                     who: Principal) -> dict[str, Any]:
        """Issue a clarification/modification; the deadline may be postponed (法23)."""
        state = await self.tender(tender_id)
        self._owner(state, who)
        rules = self.rules(state)
        mod_id = uuid.uuid4().hex[:12]
        await self.tenders.update(tender_id, lambda s, v: tender.modify(
            s, rules, modification_id=mod_id, summary=summary, affects_bids=affects_bids,
            actor=who.subject, now=now(), source=who.address))
        self.open_tenders.drop(tender_id)
        state = await self.tender(tender_id)
        await self._move_deadline(state)
        return {"bid_deadline": state["bid_deadline"]}

    async def _move_deadline(self, state: Mapping[str, Any]) -> None:
        """Move the deadline's timer to the tender's deadline."""
        tender_id = state["tender_id"]
        await self._move_timer(f"{DEADLINE}:{tender_id}", DEADLINE,
                               int(state["deadline_ms"]) + self.grace_ms, {"tender_id": tender_id})

    async def _move_timer(self, timer_id: str, kind: str, due: int,
                          payload: dict[str, Any]) -> None:
        """Move a timer to ``due``; if it fired already (while the tender was suspended,
        doing nothing then), a new timer for ``due``."""
        if not await self.timers.reschedule(timer_id, due):
            await self.timers.schedule(f"{timer_id}:{due}", kind, due, payload)

    # objections to the documents (条例22; 政采法52) ----------------------------------
    async def object_to_documents(self, tender_id: str, text: str,
                                  who: Principal) -> dict[str, Any]:
        """A registered entity's objection to the documents; it may suspend the tender."""
        if not who.uscc:
            raise Forbidden("role_required", "an objection is filed by an entity's user")
        if await self.store.entity(who.uscc) is None:
            raise DomainError("party_not_registered", f"{who.uscc} is not a registered entity")
        state = await self.tender(tender_id)
        rules, oid, at = self.rules(state), uuid.uuid4().hex[:12], now()
        due = objections.answer_due(rules, ObjectionMatter.DOCUMENTS, at, self.book.calendar)
        await self._filing(tender_id, oid, due, lambda s, v: objections.file(
            s, rules, self.book.calendar, objection_id=oid, objector=str(who.uscc),
            text=text, now=at, source=who.address))
        self.open_tenders.drop(tender_id)
        state = await self.tender(tender_id)
        return {**_own_objection(state, who, oid), "suspended": bool(state.get("suspensions"))}

    async def object_to_opening(self, tender_id: str, section: str, text: str,
                                who: Principal) -> dict[str, Any]:
        """A bidder's objection to a section's opening (条例44), answered by the owners."""
        if not who.has(Role.BIDDER) or not who.uscc:
            raise Forbidden("role_required", "an objection to the opening is a bidder's")
        state = await self.tender(tender_id)
        rules, oid, at = self.rules(state), uuid.uuid4().hex[:12], now()
        due = objections.answer_due(rules, ObjectionMatter.OPENING, at, self.book.calendar)
        await self._filing(tender_id, oid, due, lambda s, v: objections.file_at_opening(
            s, rules, section=section, objection_id=oid, objector=str(who.uscc), text=text,
            now=at, source=who.address, cal=self.book.calendar))
        return _own_objection(await self.tender(tender_id), who, oid)

    async def _filing(self, tender_id: str, oid: str, due: datetime,
                      decide: Callable[[Doc, int], Change]) -> None:
        """Write objection ``oid``, its answer's timer armed first: a crash after the write
        cannot leave it without one (a timer whose filing was refused, or never written,
        finds no objection and does nothing)."""
        await self.timers.armed_for(f"{OBJECTION_DUE}:{tender_id}:{oid}", OBJECTION_DUE,
                                    tender.ms(due), {"tender_id": tender_id,
                                                     "objection_id": oid},
                                    lambda: self.tenders.update(tender_id, decide))

    async def on_objection_due(self, timer: Timer) -> None:
        """An objection's answer fell due: if still unanswered, it is overdue (once); the
        tender stays suspended until the answer (条例22)."""
        tender_id, oid = timer.payload["tender_id"], timer.payload["objection_id"]
        state = await self.tenders.view(tender_id, without=("audit",))
        objection = ((state or {}).get("objections") or {}).get(oid)
        if state is None or objection is None or objection["status"] != objections.PENDING:
            return  # answered in time, or a filing that was refused
        due = int(objection["answer_due_ms"])
        at = now()
        if tender.ms(at) < due:  # fired early (a clock behind): again at the due time
            await self.timers.schedule(f"{timer.timer_id}:{due}", OBJECTION_DUE, due,
                                       timer.payload)
            return
        rules = self.rules(state)
        await self.tenders.update(tender_id, lambda s, v: objections.overdue(
            s, rules, objection_id=oid, now=at), Cause(message_id=f"timer:{timer.timer_id}"))

    async def answer_objection(self, tender_id: str, objection_id: str, text: str,
                               who: Principal) -> dict[str, Any]:
        """The tenderee's (or agency's) answer; the last one resumes a suspended tender."""
        state = await self.tender(tender_id)
        self._owner(state, who)
        rules = self.rules(state)
        await self.tenders.update(tender_id, lambda s, v: objections.answer(
            s, rules, objection_id=objection_id, text=text, actor=who.subject, now=now(),
            source=who.address))
        self.open_tenders.drop(tender_id)
        state = await self.tender(tender_id)
        await self._after_resumption(state)
        return {"suspended": bool(state.get("suspensions")),
                "bid_deadline": state["bid_deadline"]}

    # suspensions ordered while a complaint is handled (条例62; 政府采购法57) ---------------
    async def on_suspension_ordered(self, e: TenderSuspensionOrdered, cause: Cause) -> None:
        """Suspend the tender a complaint is about, until lifted, decided or ``e.until``."""
        if e.category not in self.categories or await self.tenders.view(
                e.tender_id, without=("audit",)) is None:
            return  # another deployment's tender, or not a tender of this service
        await self.tenders.update(e.tender_id, lambda s, v: objections.complaint_suspension(
            s, e.complaint_id, e.article, now()), cause)
        self.open_tenders.drop(e.tender_id)
        if e.until is not None:
            await self.timers.schedule(
                f"{SUSPENSION_END}:{e.tender_id}:{e.complaint_id}", SUSPENSION_END,
                tender.ms(e.until), {"tender_id": e.tender_id, "complaint_id": e.complaint_id})

    async def on_suspension_lifted(self, e: TenderSuspensionLifted, cause: Cause) -> None:
        if e.category in self.categories:
            await self._end_suspension(e.tender_id, e.complaint_id, e.cause, cause)

    async def on_suspension_end(self, timer: Timer) -> None:
        """The longest suspension the rules allow is over (政府采购法57: 30 days)."""
        await self._end_suspension(timer.payload["tender_id"], timer.payload["complaint_id"],
                                   "expired", Cause(message_id=f"timer:{timer.timer_id}"))

    async def _end_suspension(self, tender_id: str, complaint_id: str, why: str,
                              cause: Cause) -> None:
        state = await self.tenders.view(tender_id, without=("audit",))
        if state is None:
            return
        rules = self.rules(state)
        await self.tenders.update(tender_id, lambda s, v: objections.end_complaint_suspension(
            s, rules, complaint_id, why, now()), cause)
        self.open_tenders.drop(tender_id)
        await self._after_resumption(await self.tender(tender_id))

    async def _after_resumption(self, state: Mapping[str, Any]) -> None:
        """Once nothing suspends the tender: its deadline's timer, and the awards that
        waited for the resumption."""
        if state.get("suspensions"):
            return
        if state["status"] == "open":
            await self._move_deadline(state)
        tender_id = state["tender_id"]
        for code, sec in state["section_state"].items():  # the periods that stood still
            period = objections.CLOCK_STATUS.get(sec["status"])
            field = objections.CLOCK_FIELDS[period] if period else None
            if period is not None and field in sec:
                kind = CLOCK_TIMERS[period]
                await self._move_timer(f"{kind}:{tender_id}:{code}", kind, int(sec[field]),
                                       {"tender_id": tender_id, "section": code})
        for code, sec in state["section_state"].items():
            if sec["status"] == "publicity" and "award_waits" in sec:
                await self.on_publicity_ended(
                    state["tender_id"], code, bool(sec["award_waits"]["upheld"]),
                    Cause(message_id=f"resumed:{code}:{len(state.get('audit', []))}"))

    async def objections_of(self, tender_id: str, who: Principal) -> list[dict[str, Any]]:
        """All objections for the owners and supervisors; a caller's own otherwise."""
        state = await self.tender(tender_id)
        owner = who.has(Role.SUPERVISOR, Role.OPERATOR) or _owns(state, who)
        return objections.visible(state, who.uscc, owner=owner)

    async def claim_project(self, code: str, *, owner: str, region: str, name: str,
                            first_id: str) -> None:
        """Record a project code's owner and region at its first tender or sale, or check a
        later one against them (项目代码: one project, one tenderee, one region)."""
        tender.check_project(await self.store.claim_project(code, tender.project_record(
            owner=owner, region=region, name=name, first_id=first_id)),
            code=code, owner=owner, region=region)

    def _owner(self, state: Mapping[str, Any], who: Principal) -> None:
        if not _owns(state, who):
            raise Forbidden("not_your_tender", "only the tenderee or its agency may do this")

    # sealed bids ---------------------------------------------------------------------
    async def submit_bid(self, tender_id: str, section: str, who: Principal,
                         upload: Mapping[str, Any]) -> dict[str, Any]:
        """Receive a sealed bid; return a signed, timestamped receipt (20号令)."""
        at = now()
        state = await self.open_tender(tender_id, at)
        rules = self.rules(state)
        tender.refuse_after_deadline(state, at, rules)
        tender.section_of(state, section)
        deposit = upload.get("deposit")
        deposit_fen = tender.published_section(state, section)["deposit_fen"]
        bidder, entity, reduction = await self.eligible_bidder(
            who, Category(state["category"]), deposits.reduction_matters(deposit_fen, deposit))
        tender.refuse_uninvited(state, bidder, rules)
        deposits.check_deposit(deposit_fen, deposit, reduction)
        bid = sealed.receive(upload["ciphertext"], upload["nonce"], upload["digest"])
        fingerprint = observed(dict(upload.get("fingerprint") or {}), who.address)
        if deposit and not fingerprint.get("deposit_account"):
            fingerprint["deposit_account"] = deposit["payer_account"]
        bid_id = f"{tender_id}:{section}:{bidder}"
        doc = {"tender_id": tender_id, "section_code": section, "bidder_uscc": bidder,
               "status": SUBMITTED, "ciphertext": upload["ciphertext"],
               "nonce": upload["nonce"], "digest": bid.digest, "received_ms": tender.ms(at),
               "fingerprint": fingerprint, "deposit": deposit,
               "bidder": bidder_snapshot(entity)}
        event = BidSubmitted(tender_id=tender_id, section_code=section, bid_id=bid_id,
                             bidder_uscc=bidder, digest=bid.digest, received_at=at)
        out = [Outgoing(event, Category(state["category"]))]

        def op(current: dict[str, Any] | None, action: str) -> dict[str, Any]:
            return audit.operation(current, at=at.isoformat(), actor=who.subject,
                                   action=action, data={"digest": bid.digest},
                                   source=who.address)
        try:
            await self.bids.create(bid_id, {**doc, **op(None, "submit")}, out)
        except Conflict:  # a resubmission before the deadline replaces the sealed bid
            if rules.one_price.value >= 1:  # ... unless its price may not change (询价)
                raise Conflict("price_unchangeable", f"a bid here is one price that cannot "
                               f"be changed or submitted again ({rules.one_price.source})",
                               article=rules.one_price.source) from None
            await self.bids.update(bid_id, lambda s, v: Change(
                set={**doc, **op(s, "resubmit")}, events=out))
        if time.time_ns() // 1_000_000 >= int(state["deadline_ms"]) + self.grace_ms // 2:
            await self.confirm_taken(tender_id, section, bid_id, bidder, rules)
        return self._receipt(tender_id, section, bidder, bid.digest, at)

    async def confirm_taken(self, tender_id: str, section: str, bid_id: str, bidder: str,
                            rules: CategoryRules) -> None:
        """A bid received before the deadline whose write ended as bidding closed: it gets
        its receipt only if the opening has it (20号令: a receipted bid is opened).

        The opening seals the tender (``sealed_for``: the deadline it closes) before it
        reads the bids. This bid was written before this read, so if the tender is not
        sealed now, the opening's read comes after the write and finds it. If it is
        sealed, the opening may have read the bids before the write: once the tender is
        closed, the bid is in the section's dossier or its failed count, or it was too
        late, is set aside (``late``, its deposit refunded) and refused. A write that
        ends within half the grace after the deadline never asks: the deadline's timer
        fires a whole grace after it (clocks of replicas agree to far better than that).
        """
        give_up = time.monotonic() + SEAL_WAIT_S
        while True:
            state = await self.tenders.view(tender_id, without=("audit",))
            if state is None:
                raise NotFound("tender_not_found", f"no tender {tender_id}")
            if state["status"] != "open":
                break
            if state.get("sealed_for") != state["deadline_ms"]:
                return  # the opening reads the bids after this write
            if time.monotonic() > give_up:  # the opening stopped between seal and close
                raise Unavailable("bid_unconfirmed", "bidding closed while the bid was "
                                  "written; ask for it again to learn whether it was taken",
                                  tender_id=tender_id)
            await asyncio.sleep(0.1)
        sec = tender.section_of(state, section)
        if sec["status"] == "failed" and sec.get("reason") == "too_few_bids":
            taken = bidder in sec.get("received", ())
        else:
            dossier = await self.store.dossier(tender_id, section)
            taken = dossier is None or any(b["bidder_uscc"] == bidder for b in dossier)
        if taken:
            return
        at = now()
        await self.bids.update(bid_id, lambda s, v: self._withdrawal(
            state, rules, s, bid_id, LATE, at, actor="platform", source=None)
            if s["status"] == SUBMITTED else Change())
        raise RuleViolation("bid_deadline_passed", rules.late_bids, "the bid was written "
                            "after bidding closed and is not opened: it is refused and its "
                            "deposit refunded")

    async def open_tender(self, tender_id: str, at: datetime) -> Doc:
        """The tender as a bid needs it (no audit trail).

        While a tender is open for bids, what a bid reads of it changes only by a
        modification, which may only postpone the deadline (法23), and by the close
        after the deadline. So a copy read less than ``open_tender_s`` ago answers
        while it says bids are still taken at ``at``; anything that would refuse the
        bid (the deadline passed, the tender closed) is decided on a fresh read.
        """
        cached = self.open_tenders.get(tender_id)
        if cached is not None and cached["status"] == "open" \
                and tender.ms(at) < int(cached["deadline_ms"]):
            return cached
        state = await self.tenders.view(tender_id, without=("audit",))
        if state is None:
            raise NotFound("tender_not_found", f"no tender {tender_id}")
        if state["status"] == "open":
            self.open_tenders.put(tender_id, state)
        return state

    async def eligible_bidder(self, who: Principal, category: Category,
                              with_reduction: bool = True) -> tuple[str, Doc, int]:
        """The caller's credit code, entity and deposit reduction (%; 0 unless
        ``with_reduction``), if it is a registered bidder not restricted for the category
        (credit's projection); also for auctions and listings (竞买人)."""
        if not who.has(Role.BIDDER) or not who.uscc:
            raise Forbidden("role_required", "bids are submitted by a bidder's user")
        entity, reduction = await self.eligible(who.uscc, category, with_reduction)
        return who.uscc, entity, reduction

    async def eligible(self, uscc: str, category: Category,
                       with_reduction: bool = False) -> tuple[Doc, int]:
        """``uscc``'s entity and deposit reduction, if it is a registered bidder not
        restricted for the category (also the named buyer of a sale by agreement)."""
        found, banned, reduction = await self.store.bidder_facts(
            uscc, category.value, date.today(), with_reduction)
        entity = _registered_as(found, uscc, "bidder")
        if banned is not None:
            raise Forbidden("bidder_restricted", f"{uscc} is restricted from "
                            f"{category.value} until {banned['end']}: {banned['reason']}",
                            decision_no=banned["decision_no"], until=banned["end"])
        return entity, reduction

    def _receipt(self, tender_id: str, section: str, bidder: str, digest: str,
                 at: datetime) -> dict[str, Any]:
        receipt = {"tender_id": tender_id, "section_code": section, "bidder_uscc": bidder,
                   "digest": digest, "received_at": at.isoformat()}
        assert self.receipt_key is not None
        return {"receipt": receipt, "signature": sealed.sign_receipt(self.receipt_key, receipt)}

    async def withdraw_bid(self, tender_id: str, section: str, who: Principal) -> None:
        """Withdraw before the deadline (撤回)."""
        state = await self.tender(tender_id)
        rules, at = self.rules(state), now()
        tender.refuse_after_deadline(state, at, rules)
        bid_id = f"{tender_id}:{section}:{who.uscc}"

        def decide(s: dict[str, Any], v: int) -> Change:
            if s["status"] != SUBMITTED:
                raise Conflict("bid_not_submitted", "there is no submitted bid to withdraw")
            return self._withdrawal(state, rules, s, bid_id, WITHDRAWN, at,
                                    actor=who.subject, source=who.address)

        await self.bids.update(bid_id, decide)

    def _withdrawal(self, state: Mapping[str, Any], rules: CategoryRules, bid: Mapping[str, Any],
                    bid_id: str, status: str, at: datetime, *, actor: str,
                    source: str | None) -> Change:
        """A submitted bid taken out of the tender (``status``: withdrawn by its bidder, or
        set aside as late): ``BidWithdrawn``, its deposit's refund and the operation on
        the bid's record (20号令), in one write."""
        tender_id, section = state["tender_id"], bid["section_code"]
        items = deposits.refunds(rules, self.book.calendar, [{**bid, "_id": bid_id}], at)
        trigger = "withdrawn" if status == WITHDRAWN else status
        event = BidWithdrawn(tender_id=tender_id, section_code=section, bid_id=bid_id,
                             bidder_uscc=bid["bidder_uscc"])
        action = "withdraw" if status == WITHDRAWN else audit.SET_ASIDE_LATE
        recorded = audit.operation(bid, at=at.isoformat(), actor=actor, action=action,
                                   data={"digest": bid["digest"]}, source=source)
        return Change(set={"status": status, **recorded}, events=[
            Outgoing(e, Category(state["category"]))
            for e in (event, *deposits.scheduled(tender_id, section, trigger, items, at))])

    async def bid_operations(self, tender_id: str, code: str, who: Principal
                             ) -> dict[str, Any]:
        """After the deadline: the section's bids' operations (投标操作记录: each submission,
        resubmission and withdrawal with its time, user and address; 20号令) checked against
        what the close fixed; supervisors and operators see every bid, a bidder its own."""
        state = await self.tender(tender_id)
        tender.section_of(state, code)
        everyone = who.has(Role.SUPERVISOR, Role.OPERATOR)
        if not everyone and not (who.has(Role.BIDDER) and who.uscc):
            raise Forbidden("role_required", "a section's bid operations are for supervisors, "
                            "operators and, each its own, bidders")
        close = tender.close_entry(state)
        recorded = ((close["data"].get("sealed") or {}).get(code) or {}).get("operations")
        bids, leaves = await asyncio.gather(
            self.store.bid_operations(tender_id, code),
            self.store.kept_operations(tender_id, code))
        report = audit.operations_report(bids, recorded, leaves)
        if not everyone:
            report["bids"] = [b for b in report["bids"] if b["bidder_uscc"] == who.uscc]
        return {"tender_id": tender_id, "section_code": code, "audit_entry": close["n"],
                "leaves": leaves, **report}  # (the leaves name nobody: for re-computing)

    # deadline and opening ------------------------------------------------------------
    async def on_deadline(self, timer: Timer) -> None:
        """At the deadline: close bidding, fail thin sections, open the decryption window."""
        tender_id = timer.payload["tender_id"]
        state = await self.tender(tender_id)
        if int(state["deadline_ms"]) + self.grace_ms > timer.due_ms:  # postponed since
            return
        if state.get("suspensions"):  # opens when it resumes, at its deadline then (条例22)
            log.info("deadline while suspended", extra={"tender_id": tender_id})
            return
        rules = self.rules(state)
        if state["status"] == "open" and state.get("sealed_for") != state["deadline_ms"]:
            # sealed before the bids are read: a bid whose write ends after this asks
            # whether the read had it (``confirm_taken``)
            await self.tenders.update(tender_id, lambda s, v: tender.seal(s))  # idempotent
        received, every = await self.store.at_close(tender_id, int(state["deadline_ms"]))
        counts = {code: len(bids) for code, bids in received.items()}
        at = now()
        refunds = {code: deposits.refunds(rules, self.book.calendar, bids, at)  # failing ones
                   for code, bids in received.items() if len(bids) < rules.minimum_bidders.n}
        if state["status"] == "open":  # the sections that will decrypt get their dossier
            for code, bids in received.items():
                if len(bids) >= rules.minimum_bidders.n:
                    await self.store.write_dossier(tender_id, code, bids)
        cause = Cause(message_id=f"timer:{timer.timer_id}")
        thin = {code: [b["bidder_uscc"] for b in bids] for code, bids in received.items()
                if len(bids) < rules.minimum_bidders.n}
        roots = {code: audit.sealed_of(bids) for code, bids in received.items()}
        if state["status"] == "open":  # each bid's operations, withdrawn ones too (20号令)
            for code, bids in every.items():
                kept = await self.store.keep_operations(tender_id, code,
                                                        audit.operations_of(bids))
                roots[code] = {**roots.get(code, audit.sealed_of([])), "operations": kept}
        await self.tenders.update(tender_id, lambda s, v: tender.close(
            s, rules, self.book.calendar, counts, at, refunds, thin, roots), cause)
        state = await self.tender(tender_id)
        for code, sec in state["section_state"].items():
            if sec["status"] == "decrypting":
                await self.timers.schedule(f"{DECRYPT_END}:{tender_id}:{code}", DECRYPT_END,
                                           int(sec["decrypt_end_ms"]),
                                           {"tender_id": tender_id, "section": code})

    async def reveal_key(self, tender_id: str, section: str, who: Principal,
                         key_b64: str) -> dict[str, Any]:
        """A bidder reveals its content key during the decryption window."""
        state = await self.tender(tender_id)
        sec = tender.section_of(state, section)
        if sec["status"] != "decrypting" or tender.ms(now()) >= sec["decrypt_end_ms"]:
            raise Conflict("not_decrypting", "the decryption window is not open")
        tender.refuse_while_suspended(state, "no key is revealed (the window gets back the "
                                      "time it had left when the tender resumes)")
        bid_id = f"{tender_id}:{section}:{who.uscc}"
        doc = await self.bids.get(bid_id)
        if doc is None or doc["status"] != SUBMITTED:
            raise NotFound("bid_not_found", "you have no bid in this section")
        key = base64.b64decode(key_b64)
        bid = sealed.SealedBid(base64.b64decode(doc["ciphertext"]),
                               base64.b64decode(doc["nonce"]), doc["digest"])
        content = sealed.open_bid(bid, key, tender_id=tender_id, section_code=section,
                                  bidder_uscc=str(who.uscc))
        # the operation (20号令: time, operator, address), chained on the bid's last one
        op = audit.entry(list(doc.get("ops") or []), at=tender.iso(now()), actor=who.subject,
                         action=audit.REVEAL_KEY, data={}, source=who.address)
        if not await self.store.record_reveal(tender_id, section, str(who.uscc), key_b64,
                                              int(content["price_fen"]), op):
            await self.bids.update(bid_id, lambda s, v: Change(set={  # no reveal ledger
                "key": key_b64, "price_fen": content["price_fen"], "opened": 1}))
        return {"price_fen": content["price_fen"]}

    async def on_decrypt_end(self, timer: Timer) -> None:
        """The opening record: read out names and prices; draw the committee (条例46)."""
        tender_id, code = timer.payload["tender_id"], timer.payload["section"]
        started = time.perf_counter()
        state = await self.tender(tender_id)
        sec = tender.section_of(state, code)
        if state.get("suspensions") or int(sec.get("decrypt_end_ms", 0)) > timer.due_ms:
            return  # suspended (opens when it resumes) or its window moved since
        rules = self.rules(state)
        docs = await self._extracted(tender_id, code)
        bids_read = time.perf_counter()
        entities = await self.store.bidders_at_opening(docs)
        penalised = await self._penalised(rules, docs)
        read = time.perf_counter()
        faults = tender.decrypt_faults(sec)
        lines = opening_lines(docs, entities, int(state["deadline_ms"]), penalised, faults)
        valid = [ln.bidder_uscc for ln in lines if ln.status == "valid"]
        drawing = time.perf_counter()
        digests = {d["bidder_uscc"]: d["digest"] for d in docs}
        picked = await self._draw(state, code, valid, entities,
                                  [digests[b] for b in valid if b in digests])
        drawn = time.perf_counter()
        at = now()
        evidence = fingerprints(tender_id, code, docs, lines, at,
                                {d["digest"] for d in state.get("documents") or []})
        # only a section that fails at opening refunds its deposits now (条例57)
        refunds = self._refunds(rules, docs, lines, at) \
            if tender.fails_at_opening(rules, lines) else []
        decided = time.perf_counter()
        await self.tenders.update(tender_id, lambda s, v: tender.open_section(
            s, rules, code, lines, picked, at, evidence, refunds, faults),
            Cause(message_id=f"timer:{timer.timer_id}"))
        log.info("section opened", extra={
            "tender_id": tender_id, "section": code, "bids": len(docs),
            "read_s": round(read - started, 3), "bids_read_s": round(bids_read - started, 3),
            "decide_s": round(decided - read, 3), "draw_s": round(drawn - drawing, 3),
            "write_s": round(time.perf_counter() - decided, 3)})

    async def _extracted(self, tender_id: str, code: str) -> list[dict[str, Any]]:
        """A section's bids as its opening reads them: the dossier the deadline kept, or,
        for a section closed before dossiers existed, every bid as it stands."""
        docs = await self.store.dossier(tender_id, code)
        return docs if docs is not None else await self.store.section_bids(tender_id, code)

    async def _penalised(self, rules: CategoryRules, docs: list[dict[str, Any]]) -> set[str]:
        """The bidders penalised within the category's look-back (政府采购法第22条(五)),
        disqualified at the opening; none where the category has no look-back."""
        years = int(rules.clean_record_years.value)
        if years <= 0:
            return set()
        today = date.today()
        since = today.replace(year=today.year - years, day=28 if today.month == 2
                              and today.day == 29 else today.day)
        return await self.store.penalised_since(sorted({d["bidder_uscc"] for d in docs}), since)

    def _refunds(self, rules: CategoryRules, docs: list[dict[str, Any]],
                 lines: list[BidderLine], at: datetime) -> list[DepositRefund]:
        """Deposits of a section's extracted bids; revoked ones withheld (条例35)."""
        revoked = revoked_bids(lines)
        received = {ln.bid_id for ln in lines}
        return deposits.refunds(rules, self.book.calendar,
                                [d for d in docs if d["_id"] in received], at, revoked)

    async def record_decrypt_fault(self, tender_id: str, code: str, bidder: str, cause: str,
                                   note: str, who: Principal) -> dict[str, Any]:
        """20号令第31条: a fault not the bidder's (the platform, the CA's service, the
        network) keeps its bid from being decrypted: recorded by the platform's operator or
        a supervisor, before the window ends, for a bidder whose bid the deadline has. If
        the bid is still not decrypted at the opening it is withdrawn (撤回), not revoked."""
        if not who.has(Role.OPERATOR, Role.SUPERVISOR):
            raise Forbidden("role_required", "a decryption fault is recorded by the "
                            "platform's operator or a supervisor")
        state = await self.tender(tender_id)
        tender.section_of(state, code)
        bid = await self.bids.get(f"{tender_id}:{code}:{bidder}")
        if bid is None or bid["status"] != SUBMITTED:
            raise DomainError("no_bid", f"{bidder} has no bid in section {code} that the "
                              "deadline received")
        at = now()
        await self.tenders.update(tender_id, lambda s, v: tender.record_decrypt_fault(
            s, code, bidder, cause, note, who.subject, at, who.address))
        return {"bidder_uscc": bidder, "cause": str(cause), "recorded_at": at.isoformat(),
                "counts_as": "withdrawn", "article": tender.DECRYPT_FAULT_ARTICLE}

    async def draw_again(self, tender_id: str, code: str, who: Principal) -> dict[str, Any]:
        """The committee of a section the opening left ``awaiting_draw`` (too few eligible
        experts then), drawn by an operator or supervisor once the pool allows: on the
        committed seed and the opening's valid bids, like the opening's own draw. Still
        too few: ``422 not_enough_experts`` with the specialty and the numbers, and the
        section keeps waiting."""
        if not who.has(Role.OPERATOR, Role.SUPERVISOR):
            raise Forbidden("role_required", "the committee is drawn again by the platform's "
                            "operator or a supervisor")
        state = await self.tender(tender_id)
        valid = tender.valid_bidders(tender.awaiting_draw(state, code))
        digests = {d["bidder_uscc"]: d["digest"] for d in await self._extracted(tender_id, code)}
        picked = await self._draw(state, code, valid, {},  # NotEnoughExperts: 422
                                  [digests[b] for b in valid if b in digests], strict=True)
        assert picked is not None
        await self.tenders.update(tender_id, lambda s, v: tender.draw_again(
            s, code, picked, who.subject, now(), who.address))
        return {"status": "evaluating", "committee": len(picked["committee"])}

    async def _draw(self, state: Mapping[str, Any], code: str, bidders: list[str],
                    known: Mapping[str, Mapping[str, Any]], digests: list[str],
                    strict: bool = False) -> dict[str, Any] | None:
        """The committee drawn for a section's ``bidders``; ``known``: the bidders'
        entities as the opening read them (``bidders_at_opening``: as registration
        last told), so only the experts' employers and the owners are read here.

        The seed is the one committed at publication, mixed with the valid bids'
        ``digests``; the draw's record is kept (``store.keep_draw``) for anyone to re-run
        it once the seed is revealed at the award. A tender published before seeds were
        committed draws on a fresh seed, committed at the draw, as it did. Too few
        eligible experts: None, or with ``strict`` ``NotEnoughExperts`` (its numbers)."""
        pool, ctx = await self._pool(state, bidders, known)
        committed = state["section_state"][code].get("draw_seed")
        seed = committed or secrets.token_hex(32)
        try:
            result = draws.draw(pool, ctx, state["expert_mix"],
                                draws.mixed(seed, digests) if committed else seed)
        except draws.NotEnoughExperts:
            if strict:
                raise
            return None
        if committed:
            record = draws.record_of(pool, result, digests, state["expert_mix"])
            await self.store.keep_draw(state["tender_id"], code, record.as_doc())
        return {"committee": list(result.committee), "seed": seed,
                "commitment": draws.commitment(seed)}

    async def _pool(self, state: Mapping[str, Any], bidders: list[str],
                    known: Mapping[str, Mapping[str, Any]]
                    ) -> tuple[list[draws.ExpertCandidate], draws.DrawContext]:
        """The expert pool as a draw sees it (bars, employers and their ties read now) and
        the parties its experts must have no tie to (条例46; 暂行规定12)."""
        (banned, penalised), experts = await asyncio.gather(
            self.store.expert_bars(state["category"], date.today()), self.store.experts_all())
        owners = [state["tenderee_uscc"], *([state["agency_uscc"]] if state.get("agency_uscc")
                                            else [])]
        parties = [*owners, *bidders]
        employers = {e["employer_uscc"] for e in experts if e.get("employer_uscc")}
        read = employers | set(owners) | {b for b in bidders if b not in known}
        entities: dict[str, Mapping[str, Any]] = {b: known[b] for b in bidders if b in known}
        entities.update(await self.store.entities_of(sorted(read)))

        def facts(uscc: str | None, key: str) -> frozenset[str]:
            return frozenset(entities.get(uscc or "", {}).get(key) or ())

        pool = [draws.ExpertCandidate(
            expert_id=e["_id"], specialties=frozenset(e.get("specialties", [])),
            employer_uscc=e.get("employer_uscc"),
            related_usccs=frozenset(e.get("related_usccs", [])),
            restricted=e["_id"] in banned, available=bool(e.get("available", True)),
            employer_kinds=facts(e.get("employer_uscc"), "kinds"),
            employer_controllers=facts(e.get("employer_uscc"), "controlled_by"),
            penalised=e["_id"] in penalised)
            for e in experts]
        ctx = draws.DrawContext(
            state["tenderee_uscc"], state.get("agency_uscc"), frozenset(bidders),
            party_controllers=frozenset(c for p in parties  # (one set, not one per party)
                                        for c in entities.get(p, {}).get("controlled_by") or ()),
            recuse_penalised=self.rules(state).expert_penalty_recusal.value >= 1)
        return pool, ctx

    async def replace_expert(self, tender_id: str, code: str, out: str,
                             reason: ReplacementReason, who: Principal,
                             note: str | None = None) -> dict[str, Any]:
        """A sitting member who cannot go on is replaced at once by one drawn at random in
        its seat (条例48: 有回避事由、擅离职守或者因健康等原因不能继续评标的，应当及时更换;
        87号令第49条): by the member itself (it declares a recusal cause or its health), or
        by the platform's operator or a supervisor at the evaluation. The tenderee and the
        agency cannot: they never learn who sits (法37: 名单保密). The draw runs on the
        committed seed and the section's bids' digests in the replacement's own round, with
        the first draw's recusal rules, and its record is kept to re-run it after the
        award. Too few eligible experts left: 422 ``not_enough_experts``, nothing changed."""
        self_recusal = who.expert_id is not None and who.expert_id == out
        if not (who.has(Role.OPERATOR, Role.SUPERVISOR) or self_recusal):
            raise Forbidden("role_required", "a member is replaced by itself, the platform's "
                            "operator or a supervisor (the committee is secret, 法37)")
        if self_recusal and not who.has(Role.OPERATOR, Role.SUPERVISOR) \
                and reason not in (ReplacementReason.RECUSAL, ReplacementReason.HEALTH):
            raise DomainError("reason_not_own", "a member replaces itself for a recusal "
                              "cause or its health; absence is recorded by the platform")
        state = await self.tender(tender_id)
        rules = self.rules(state)
        sec = tender.section_of(state, code)
        if sec["status"] != "evaluating":
            raise Conflict("not_evaluating", f"section {code} is not being evaluated")
        committee = list(sec["committee"])
        if out not in committee:
            raise DomainError("not_on_committee", f"{out} is not a sitting member of "
                              f"section {code}'s committee")
        replaced = [r["expert_id"] for r in sec.get("replaced") or []]
        round_no = len(replaced) + 1
        bidders = tender.valid_bidders(sec)
        first = await self.store.draw_record(tender_id, code)
        digests = list(first["digests"]) if first else []
        pool, ctx = await self._pool(state, bidders, {})
        new, record = draws.replacement(pool, ctx, state["expert_mix"], str(sec["seed"]),
                                        digests, committee, out, round_no=round_no,
                                        replaced=replaced)
        await self.store.keep_draw(tender_id, code, record.as_doc(), round_no=round_no)
        await self.tenders.update(tender_id, lambda s, v: tender.replace_expert(
            s, rules, code, out=out, new=new, reason=reason, round_no=round_no,
            actor=str(who.expert_id if self_recusal else who.subject), now=now(),
            note=note, source=who.address))
        voided = out in (sec.get("sheets") or {})
        out_view: dict[str, Any] = {"round": round_no, "voided_sheets": voided,
                                    "committee": len(committee)}
        if who.has(Role.OPERATOR, Role.SUPERVISOR):
            out_view["expert_id"] = new  # those who may see the committee see who sits now
        return out_view

    # evaluation and award ------------------------------------------------------------
    async def score(self, tender_id: str, code: str, who: Principal,
                    sheets: list[dict[str, Any]]) -> dict[str, Any]:
        """An expert's sheets; the last one completes the evaluation report."""
        if not who.expert_id:
            raise Forbidden("role_required", "scores are submitted by a drawn expert")
        by_bid = {s["bid_id"]: {"points": str(s["points"]), "compliant": bool(s["compliant"])}
                  for s in sheets}
        await self.tenders.update(tender_id, lambda s, v: tender.record_scores(
            s, code, str(who.expert_id), by_bid, now(), who.address))
        state = await self.tender(tender_id)
        sec = state["section_state"][code]
        if set(sec["sheets"]) >= set(sec["committee"]):
            await self._report(state, code)
        return {"submitted": len(sec["sheets"]), "committee": len(sec["committee"])}

    async def _report(self, state: Mapping[str, Any], code: str) -> None:
        sec = state["section_state"][code]
        lines = {ln["bid_id"]: ln for ln in tender.lines_of(sec) or [] if ln["status"] == "valid"}
        bids = [evaluation.OpenedBid(bid_id, ln["price_fen"], i)
                for i, (bid_id, ln) in enumerate(lines.items())]
        sheets = [evaluation.ScoreSheet(expert, bid_id, Decimal(v["points"]), v["compliant"])
                  for expert, by_bid in sec["sheets"].items() for bid_id, v in by_bid.items()]
        comprehensive = state["evaluation"] == "comprehensive_scoring"
        ranked = evaluation.evaluate(bids, sheets, sec["committee"], comprehensive=comprehensive,
                                     price_weight=Decimal(str(state.get("price_weight", 30))))
        candidates = [Candidate(rank=r.rank, bid_id=r.bid_id,
                                bidder_uscc=lines[r.bid_id]["bidder_uscc"],
                                bidder_name=lines[r.bid_id]["bidder_name"],
                                price_fen=r.price_fen, score=str(r.score)) for r in ranked]
        await self.tenders.update(state["_id"], lambda s, v: tender.report(
            s, code, candidates, state["evaluation"], now()))

    async def on_publicity_ended(self, tender_id: str, code: str, upheld: bool,
                                 cause: Cause) -> None:
        """Award after the candidates' publicity with no upheld objection (条例54, 55)."""
        state = await self.tender(tender_id)
        rules = self.rules(state)
        committee = state["section_state"].get(code, {}).get("committee", [])
        found = await self.store.expert_names(committee)
        names = [found.get(e, e) for e in committee]
        at, losers = now(), None
        if rules.losers_refund_at_award.value >= 1 and not upheld:  # 政采条例33
            docs = await self.store.section_bids(tender_id, code)
            lines = [BidderLine.model_validate(ln)
                     for ln in tender.lines_of(tender.section_of(state, code)) or []]

            def losers(winner_bid: str) -> list[DepositRefund]:
                return self._refunds(rules, [d for d in docs if d["_id"] != winner_bid],
                                     lines, at)
        await self.tenders.update(tender_id, lambda s, v: tender.award(
            s, rules, self.book.calendar, code, upheld=upheld, names=names, now=at,
            losers=losers), cause)
        state = await self.tender(tender_id)
        sec = state["section_state"][code]
        if sec["status"] == "awarded":
            await self.timers.schedule(f"{CONTRACT_DUE}:{tender_id}:{code}", CONTRACT_DUE,
                                       int(sec["contract_due_ms"]),
                                       {"tender_id": tender_id, "section": code})

    async def decline_award(self, tender_id: str, code: str, who: Principal,
                            reason: str) -> dict[str, Any]:
        """The winner declines; the next candidate is awarded, with its own contract due."""
        if not who.has(Role.BIDDER) or not who.uscc:
            raise Forbidden("role_required", "the award is declined by the winner's user")
        state = await self.tender(tender_id)
        rules = self.rules(state)
        committee = tender.section_of(state, code).get("committee", [])
        found = await self.store.expert_names(committee)
        names = [found.get(e, e) for e in committee]
        await self.tenders.update(tender_id, lambda s, v: tender.decline_award(
            s, rules, self.book.calendar, code, str(who.uscc), reason, names, now(),
            who.address))
        sec = tender.section_of(await self.tender(tender_id), code)
        if sec["status"] == "awarded":
            await self.timers.reschedule(f"{CONTRACT_DUE}:{tender_id}:{code}",
                                         int(sec["contract_due_ms"]))
        return {"status": sec["status"], "winner": sec.get("winner", {}).get("bidder_uscc")
                if sec["status"] == "awarded" else None}

    async def sign_contract(self, tender_id: str, code: str, price_fen: int,
                            who: Principal, bond_fen: int | None = None) -> None:
        state = await self.tender(tender_id)
        self._owner(state, who)
        rules, at = self.rules(state), now()
        docs = await self.store.section_bids(tender_id, code)
        lines = [BidderLine.model_validate(ln)
                 for ln in tender.lines_of(tender.section_of(state, code)) or []]
        refunds = self._refunds(rules, docs, lines, at)
        await self.tenders.update(tender_id, lambda s, v: tender.sign_contract(
            s, rules, code, price_fen, who.subject, at, refunds, who.address, bond_fen))

    async def accept_contract(self, tender_id: str, code: str, who: Principal,
                              items: Sequence[AcceptanceItem], **facts: Any) -> dict[str, Any]:
        """One round of the contract's acceptance (履约验收; see domain.performance), by the
        tenderee or its agency; the round as recorded."""
        state = await self.tender(tender_id)
        self._owner(state, who)
        rules, at = self.rules(state), now()
        await self.tenders.update(tender_id, lambda s, v: performance.accept(
            s, rules, code, items, actor=who.subject, now=at, source=who.address, **facts))
        sec = tender.section_of(await self.tender(tender_id), code)
        return performance.public(sec["acceptances"][-1])

    async def on_contract_due(self, timer: Timer) -> None:
        tender_id, code = timer.payload["tender_id"], timer.payload["section"]
        await self.tenders.update(tender_id, lambda s, v: tender.contract_overdue(s, code, now()),
                                  Cause(message_id=f"timer:{timer.timer_id}"))


def _own_objection(state: Mapping[str, Any], who: Principal, oid: str) -> dict[str, Any]:
    """Objection ``oid`` as its objector sees it."""
    return next(o for o in objections.visible(dict(state), who.uscc, owner=False)
                if o["objection_id"] == oid)


def _owns(state: Mapping[str, Any], who: Principal) -> bool:
    """Whether ``who`` acts for the tender's tenderee or its agency."""
    return who.uscc is not None and who.uscc in {state["tenderee_uscc"],
                                                 state.get("agency_uscc")}


def observed(fingerprint: dict[str, Any], address: str | None) -> dict[str, Any]:
    """The fingerprint with the upload IP the platform saw (条例40(二) compares those: a
    declared one costs nothing to fake); a different declared one is kept beside it."""
    if not address:
        return fingerprint
    declared = fingerprint.get("upload_ip") or ""
    if declared and declared != address:
        fingerprint["declared_upload_ip"] = declared
    fingerprint["upload_ip"] = address
    return fingerprint


def _registered_as(entity: Doc | None, uscc: str, kind: str) -> Doc:
    """The entity, if registered (registration's projection) as ``kind``."""
    if entity is None:
        raise DomainError("party_not_registered", f"{uscc} is not a registered entity")
    if kind not in entity.get("kinds", []):
        raise DomainError("party_wrong_kind", f"{uscc} is not registered as a {kind}")
    return entity


__all__ = ["BidderLine", "Bidding"]
