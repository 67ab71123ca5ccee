"""Credit's subscribers: registration's entities, bidding's events of every category, and
announcement's record of objections to publicised results."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts.announcement import (
    PublicityObjectionAnswered,
    PublicityObjectionFiled,
    PublicityObjectionOverdue,
)
from contracts.bidding import (
    Awarded,
    BidFingerprintsExtracted,
    EvaluationCompleted,
    ExpertReplaced,
    ExpertsDrawn,
    ObjectionMatter,
    ReplacementReason,
    TenderObjectionAnswered,
    TenderObjectionFiled,
    TenderObjectionOverdue,
    TenderPublished,
)
from contracts.credit import ComplaintMatter, CreditRecordsDue
from contracts.registration import EntityRegistered, EntityUpdated
from contracts.topics import Stage
from ggzy.runtime.aggregates import Cause
from ggzy.runtime.consumer import Batched, Incoming, Subscription
from ggzy.runtime.service import Runtime
from services.credit.handlers import RECORDED, Credit

# Credit's consumers poll every 2 x 100 ms when idle, not 2 x 20 ms (the runtime's): at 20 ms
# two idle consumers' polls were a third of an idle credit's CPU, and a credit record or
# a projection 100 ms later changes nothing for anyone.
IDLE_WAIT_MS = 100


def _cause(msg: Incoming[Any]) -> Cause:
    return Cause(message_id=msg.envelope.id, correlation_id=msg.envelope.correlationid)


def _category(msg: Incoming[Any]) -> str:
    return msg.envelope.category.value if msg.envelope.category else ""


def subscriptions(rt: Runtime, app: Credit) -> list[Subscription]:
    """What credit consumes."""
    store = app.store

    async def on_entity(msg: Incoming[Any]) -> None:
        e = msg.message
        await store.project_entity(e.entity.uscc, e.entity_version,
                                   e.entity.model_dump(mode="json"))
        if isinstance(e, EntityRegistered):
            await app.accounts.on_registered(e.entity.uscc, _cause(msg))

    async def on_published(msg: Incoming[TenderPublished]) -> None:
        e = msg.message
        await store.project_tender(e.tender_id, {"tenderee_uscc": e.tenderee_uscc,
                                                 "agency_uscc": e.agency_uscc,
                                                 "category": e.category.value})

    async def on_recorded(msg: Incoming[Any]) -> None:  # BidsOpened, ContractOverdue, ...
        await app.records.add(msg.message, _cause(msg))

    async def on_drawn(msg: Incoming[ExpertsDrawn]) -> None:
        e = msg.message
        await store.project_committee(e.tender_id, e.section_code, e.expert_ids, _category(msg))

    async def on_replaced(msg: Incoming[ExpertReplaced]) -> None:
        """The sitting committee after a replacement (条例48): the one out is not reviewed
        for this evaluation, the one in is."""
        e = msg.message
        await store.project_committee(e.tender_id, e.section_code, e.expert_ids, _category(msg))
        if e.reason is ReplacementReason.ABSENT:  # 擅离职守 / 缺席: a record (条例71(二))
            await app.records.on_expert_absent(e.tender_id, e.section_code,
                                               e.replaced_expert_id, _category(msg),
                                               e.replaced_at, _cause(msg))

    async def on_evaluated(msg: Incoming[EvaluationCompleted]) -> None:
        e = msg.message
        await app.reviews.on_evaluated(e.tender_id, e.section_code, _category(msg))

    async def on_awarded(msg: Incoming[Awarded]) -> None:
        e = msg.message
        await store.record_winner(e.tender_id, e.section_code, e.winner.bidder_uscc)

    async def on_fingerprints(msg: Incoming[BidFingerprintsExtracted]) -> None:
        e = msg.message
        await app.collusion.on_fingerprints(e.tender_id, e.section_code, e.part, e.parts,
                                            _category(msg), e.fingerprints, _cause(msg))

    async def on_objection(msg: Incoming[Any]) -> None:
        """Objections as the platform recorded them, for complaints (条例60): to the
        documents and to an opening in bidding (条例22, 44), to a publicised result in
        announcement (条例54)."""
        e = msg.message
        if isinstance(e, PublicityObjectionFiled | PublicityObjectionAnswered
                      | PublicityObjectionOverdue):
            matter = ComplaintMatter.EVALUATION_RESULT
        else:  # bidding's: to the documents (条例22) or to an opening (条例44)
            matter = ComplaintMatter.OPENING if e.matter is ObjectionMatter.OPENING \
                else ComplaintMatter.TENDER_DOCUMENTS
        fields: dict[str, Any] = {"objector_uscc": e.objector_uscc, "matter": matter.value}
        if isinstance(e, TenderObjectionFiled | PublicityObjectionFiled):
            fields["filed_on"] = _day(e.filed_at)
        elif isinstance(e, TenderObjectionOverdue | PublicityObjectionOverdue):
            # unanswered at its due time: the objector may complain (条例60; 政府采购法55:
            # 答复期满后); the time to complain counts from the due day (``due_on``)
            fields["due_on"] = _day(e.answer_due)
            await store.project_objection(e.tender_id, e.objection_id, fields)
            await app.records.on_late_answer(e.tender_id, e.objection_id, matter.value,
                                             e.article, type(e).__name__, _cause(msg),
                                             answerer=e.answerer_uscc,
                                             category=_category(msg) or None, due=e.answer_due)
            return
        else:
            fields["answered_on"] = _day(e.answered_at)
        await store.project_objection(e.tender_id, e.objection_id, fields)
        if not isinstance(e, TenderObjectionFiled | PublicityObjectionFiled) and e.late:
            await app.records.on_late_answer(e.tender_id, e.objection_id, matter.value,
                                             e.article, type(e).__name__, _cause(msg))

    async def add_records(msgs: list[Incoming[Any]]) -> list[Exception | None]:
        return await app.records.add_batch([(msg.message, _cause(msg)) for msg in msgs])

    async def on_records_due(msg: Incoming[CreditRecordsDue]) -> None:
        await app.records.on_records_due(msg.message, _cause(msg))

    bidding = [rt.topic(Stage.BIDDING, c) for c in sorted(rt.categories)]
    announcement = [rt.topic(Stage.ANNOUNCEMENT, c) for c in sorted(rt.categories)]
    return [replace(sub, idle_wait_ms=IDLE_WAIT_MS) for sub in (
        rt.subscription("credit.records", [rt.topic(Stage.CREDIT, kind="records")],
                        {CreditRecordsDue: on_records_due}),
        rt.subscription("credit.registration", [rt.topic(Stage.REGISTRATION)], {
            EntityRegistered: on_entity, EntityUpdated: on_entity}),
        rt.subscription("credit.bidding", bidding, {
            TenderPublished: on_published, **dict.fromkeys(RECORDED, on_recorded),
            ExpertsDrawn: on_drawn, ExpertReplaced: on_replaced, EvaluationCompleted: on_evaluated,
            Awarded: on_awarded,
            BidFingerprintsExtracted: on_fingerprints,
            TenderObjectionFiled: on_objection, TenderObjectionAnswered: on_objection,
            TenderObjectionOverdue: on_objection},
            Batched(frozenset(RECORDED), add_records)),
        rt.subscription("credit.announcement", announcement, {
            PublicityObjectionFiled: on_objection, PublicityObjectionAnswered: on_objection,
            PublicityObjectionOverdue: on_objection}),
    )]


def _day(at: datetime) -> str:
    """The calendar day of a moment, as complaints count days (local time)."""
    return at.astimezone().date().isoformat()

