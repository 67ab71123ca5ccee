"""Notify's subscribers: every stage's events in, one handler call each."""

from __future__ import annotations

from contracts.announcement import (
    NoticePublished,
    PublicityObjectionAnswered,
    PublicityObjectionFiled,
    PublicityObjectionOverdue,
)
from contracts.bidding import (
    AuctionClosed,
    AuctionConfirmationOverdue,
    AuctionConfirmed,
    AuctionContractOverdue,
    AuctionContractSigned,
    AuctionPublished,
    AuctionResultAnnulled,
    AwardDeclined,
    Awarded,
    BidsOpened,
    BidSubmitted,
    BidWithdrawn,
    ContractAccepted,
    ContractOverdue,
    ContractSigned,
    EvaluationCompleted,
    ExpertReplaced,
    ExpertsDrawn,
    TenderDocumentsObtained,
    TenderFailed,
    TenderModified,
    TenderObjectionAnswered,
    TenderObjectionFiled,
    TenderObjectionOverdue,
    TenderPublished,
    TenderResumed,
    TenderSuspended,
)
from contracts.credit import (
    ComplaintAccepted,
    ComplaintDecided,
    ComplaintFiled,
    CreditChanged,
    CreditRepairDecided,
    EntityBanned,
    EntityReinstated,
    ExpertBlacklisted,
    ExpertReinstated,
    RiskAlertRaised,
)
from contracts.notify import NotificationQueued
from contracts.registration import EntityRegistered, EntityUpdated, ExpertRegistered, ExpertUpdated
from contracts.topics import Audience, Stage
from ggzy.runtime.consumer import Batched, Subscription
from ggzy.runtime.service import Runtime
from services.notify.handlers import Notify
from services.notify.lanes import FastLane

BIDDING = (TenderPublished, TenderModified, TenderDocumentsObtained, BidSubmitted, BidWithdrawn,
           BidsOpened, TenderFailed, ExpertsDrawn, ExpertReplaced, EvaluationCompleted, Awarded,
           ContractSigned, ContractOverdue, ContractAccepted, AwardDeclined, TenderObjectionFiled,
           TenderObjectionAnswered, TenderObjectionOverdue, TenderSuspended, TenderResumed)
AUCTIONS = (AuctionPublished, AuctionClosed, AuctionConfirmed, AuctionConfirmationOverdue,
            AuctionContractSigned, AuctionContractOverdue, AuctionResultAnnulled)
RESULT_OBJECTIONS = (PublicityObjectionFiled, PublicityObjectionAnswered,  # announcement's
                     PublicityObjectionOverdue)
CREDIT = (CreditChanged, CreditRepairDecided, EntityBanned, EntityReinstated, ExpertBlacklisted,
          ExpertReinstated, RiskAlertRaised, ComplaintFiled, ComplaintAccepted, ComplaintDecided)
REGISTRATION = (EntityRegistered, EntityUpdated, ExpertRegistered, ExpertUpdated)


def subscriptions(rt: Runtime, app: Notify, lane: FastLane) -> list[Subscription]:
    """What notify consumes: bidding and announcement per category, credit and
    registration; and its own deliveries topic, where each lane is delivered in order."""
    cats = sorted(rt.categories)
    notices = [rt.topic(Stage.ANNOUNCEMENT, c, audience=Audience.PARTNER) for c in cats]
    return [
        rt.subscription("notify.bidding", [rt.topic(Stage.BIDDING, c) for c in cats],
                        {**dict.fromkeys(BIDDING, app.on_bidding),
                         **dict.fromkeys(AUCTIONS, app.on_auction)}),
        rt.subscription("notify.announcement", notices,
                        {NoticePublished: app.on_notice}),
        rt.subscription("notify.objections", [rt.topic(Stage.ANNOUNCEMENT, c) for c in cats],
                        dict.fromkeys(RESULT_OBJECTIONS, app.on_bidding)),
        rt.subscription("notify.credit", [rt.topic(Stage.CREDIT)],
                        dict.fromkeys(CREDIT, app.on_credit),
                        Batched(frozenset(CREDIT), app.on_credit_many)),
        rt.subscription("notify.registration", [rt.topic(Stage.REGISTRATION)],
                        dict.fromkeys(REGISTRATION, app.on_registration)),
        rt.subscription("notify.deliveries", [rt.topic(Stage.NOTIFY, kind="deliveries")],
                        {NotificationQueued: lane.on_queued}, listener=lane.listener),
    ]
