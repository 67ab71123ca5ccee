"""Credit records from the platform's events (信用记录): bidding's (``records_of``), an
objection answered late, an expert replaced as absent, and a decision's records
(``CreditRecordsDue``: a complaint's, a confirmed alert's). Records have deterministic
ids: an event consumed twice adds nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts.bidding import (
    AuctionConfirmationOverdue,
    AuctionContractOverdue,
    AwardDeclined,
    BidsOpened,
    ContractAccepted,
    ContractOverdue,
)
from contracts.credit import CreditRecordsDue, SubjectKind
from ggzy.runtime.aggregates import Cause, Doc
from ggzy.runtime.steps import Step, apply_many
from services.credit.domain import records
from services.credit.domain.records import Record, account_id
from services.credit.domain.rules import ScoringModel
from services.credit.handlers.context import Context, arms_expiry, recording

# each adds credit records (records_of)
RecordedEvent = (BidsOpened | ContractOverdue | AwardDeclined | AuctionConfirmationOverdue
                 | AuctionContractOverdue | ContractAccepted)
RECORDED = (BidsOpened, ContractOverdue, AwardDeclined, AuctionConfirmationOverdue,
            AuctionContractOverdue, ContractAccepted)


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


def _opening(kind: SubjectKind, subject: str, model: ScoringModel) -> Callable[[], Doc]:
    """A fresh account of ``subject``, at ``model``'s base score."""
    return lambda: records.new_account(kind, subject, model)


class Records:
    """The credit records the platform's events and decisions add to accounts."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def add(self, e: RecordedEvent, cause: Cause) -> None:
        """The credit records of one bidding event (``records_of``): a bid that failed to
        decrypt counts as revoked (视为撤销, 20号令; 条例35); the winner gave up the award
        (放弃中标; 条例74) or did not sign within the rule's days (法46; 条例74); a sale's
        winner did not sign the confirmation in time (39号令第22条, unverified); a contract
        failed its acceptance (履约验收不合格, 政采条例45)."""
        for uscc, rec in records_of(e):
            await self.ctx.add_record(SubjectKind.ENTITY, uscc, rec, cause)

    async def add_batch(self, events: list[tuple[RecordedEvent, Cause]]
                        ) -> list[Exception | None]:
        """The records of many events in one pass (``steps.apply_many``): each event's
        outcome, None when all its records are applied."""
        kind = SubjectKind.ENTITY
        model = self.ctx.rules.model_for(kind)
        steps: list[Step] = []
        of_event: list[int] = []
        for n, (e, cause) in enumerate(events):
            for uscc, rec in records_of(e):
                steps.append(Step(account_id(kind, uscc), recording(model, rec), cause,
                                  _opening(kind, uscc, model)))
                of_event.append(n)
        outcomes: list[Exception | None] = [None] * len(events)
        for n, step, applied in zip(of_event, steps, await apply_many(self.ctx.accounts, steps),
                                    strict=True):
            if outcomes[n] is not None:
                continue
            try:
                if isinstance(applied, Exception):
                    raise applied
                if arms_expiry(applied):
                    await self.ctx.arm_expiry(step.aggregate_id)
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
        tender = await self.ctx.store.tender(tender_id)
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
        await self.ctx.add_record(SubjectKind.ENTITY, answerer, rec, cause)

    async def on_expert_absent(self, tender_id: str, section: str, expert_id: str,
                               category: str, at: datetime, cause: Cause) -> None:
        """A committee member the platform replaced as absent (擅离职守, 条例71第(二)项;
        缺席, 87号令第49条): a record against the expert, once per evaluation. A member
        who declared its own recusal or health is not recorded (条例48 asks it to)."""
        rec = Record(f"absent:{tender_id}:{section}:{expert_id}", "evaluation_absent",
                     "ExpertReplaced", {"tender_id": tender_id, "section_code": section,
                                        "replaced_at": at.isoformat(),
                                        **({"categories": [category]} if category else {})})
        await self.ctx.add_record(SubjectKind.EXPERT, expert_id, rec, cause)

    async def on_records_due(self, e: CreditRecordsDue, cause: Cause) -> None:
        """Apply a decision's records, each to its account once."""
        for i, due in enumerate(e.records):
            rec = Record(due.record_id, due.kind, due.source, dict(due.detail))
            await self.ctx.add_record(due.subject_kind, due.subject_id, rec,
                                      Cause(message_id=f"{cause.message_id}-{i}",
                                            correlation_id=cause.correlation_id))
