"""Bidding's subscribers: projections of registration and credit, and publicity ends."""

from __future__ import annotations

from typing import Any

from contracts.announcement import (
    PublicityObjectionAnswered,
    PublicityObjectionFiled,
    PublicityPeriodEnded,
)
from contracts.credit import (
    CreditChanged,
    EntityBanned,
    EntityReinstated,
    ExpertBlacklisted,
    ExpertReinstated,
    LiftedBy,
    SubjectKind,
    TenderSuspensionLifted,
    TenderSuspensionOrdered,
)
from contracts.registration import (
    EntityRegistered,
    EntityUpdated,
    ExpertRegistered,
    ExpertUpdated,
)
from contracts.topics import Stage
from ggzy.runtime.aggregates import Cause
from ggzy.runtime.consumer import Incoming, Subscription
from ggzy.runtime.service import Runtime
from services.bidding.auctions import Auctions
from services.bidding.handlers import Bidding


def subscriptions(rt: Runtime, app: Bidding, sales: Auctions) -> list[Subscription]:
    """What bidding consumes."""
    store = app.ctx.store

    async def on_entity(msg: Incoming[Any]) -> None:
        e = msg.message
        await store.project("entity", e.entity.uscc, e.entity_version,
                            e.entity.model_dump(mode="json"))

    async def on_expert(msg: Incoming[Any]) -> None:
        e = msg.message
        await store.project("expert", e.expert.expert_id, e.expert_version,
                            e.expert.model_dump(mode="json"))

    async def on_restriction(msg: Incoming[Any]) -> None:
        e = msg.message
        subject = e.uscc if isinstance(e, EntityBanned) else e.expert_id
        await store.restrict(e.restriction_id, subject, e.model_dump(mode="json"))

    async def on_credit(msg: Incoming[CreditChanged]) -> None:
        e = msg.message
        if e.subject_kind == SubjectKind.ENTITY:
            await store.project_credit(e.subject_id, int(e.changed_at.timestamp() * 1000),
                                       e.deposit_reduction_pct)

    async def on_reinstated(msg: Incoming[Any]) -> None:
        e = msg.message
        await store.lift(e.restriction_id, ended=e.lifted_by == LiftedBy.EXPIRY)

    async def on_suspension(msg: Incoming[Any]) -> None:
        e = msg.message
        cause = Cause(message_id=msg.envelope.id, correlation_id=msg.envelope.correlationid)
        if isinstance(e, TenderSuspensionOrdered):
            await app.objections.on_suspension_ordered(e, cause)
        else:
            await app.objections.on_suspension_lifted(e, cause)

    async def on_publicity(msg: Incoming[PublicityPeriodEnded]) -> None:
        e = msg.message
        cause = Cause(message_id=msg.envelope.id, correlation_id=msg.envelope.correlationid)
        await app.award.on_publicity_ended(e.tender_id, e.section_code, e.objection_upheld, cause)

    async def on_sale_objection(msg: Incoming[Any]) -> None:
        cause = Cause(message_id=msg.envelope.id, correlation_id=msg.envelope.correlationid)
        await sales.on_objection(msg.message, cause)

    announcements = [rt.topic(Stage.ANNOUNCEMENT, c) for c in sorted(rt.categories)]
    return [
        rt.subscription("bidding.registration", [rt.topic(Stage.REGISTRATION)], {
            EntityRegistered: on_entity, EntityUpdated: on_entity,
            ExpertRegistered: on_expert, ExpertUpdated: on_expert}),
        rt.subscription("bidding.credit", [rt.topic(Stage.CREDIT)], {
            EntityBanned: on_restriction, ExpertBlacklisted: on_restriction,
            EntityReinstated: on_reinstated, ExpertReinstated: on_reinstated,
            CreditChanged: on_credit, TenderSuspensionOrdered: on_suspension,
            TenderSuspensionLifted: on_suspension}),
        rt.subscription("bidding.announcement", announcements,
                        {PublicityPeriodEnded: on_publicity,
                         PublicityObjectionFiled: on_sale_objection,
                         PublicityObjectionAnswered: on_sale_objection}),
    ]
