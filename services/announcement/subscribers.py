"""Announcement's subscribers: bidding's events in, one notice each."""

from __future__ import annotations

from contracts.bidding import (
    AuctionClosed,
    AuctionConfirmationOverdue,
    AuctionConfirmed,
    AuctionContractOverdue,
    AuctionContractSigned,
    AuctionPublished,
    AuctionResultAnnulled,
    Awarded,
    BidsOpened,
    ContractAccepted,
    ContractSigned,
    EvaluationCompleted,
    TenderFailed,
    TenderModified,
    TenderPublished,
    TenderResumed,
    TenderSuspended,
)
from contracts.topics import Stage
from ggzy.runtime.consumer import Subscription
from ggzy.runtime.service import Runtime
from services.announcement.handlers import Announcement

PUBLIC_EVENTS = (TenderPublished, TenderModified, BidsOpened, EvaluationCompleted, Awarded,
                 ContractSigned, TenderFailed, AuctionPublished, AuctionClosed, TenderSuspended,
                 TenderResumed, AuctionConfirmationOverdue, AuctionContractOverdue,
                 AuctionResultAnnulled, AuctionConfirmed, AuctionContractSigned,
                 ContractAccepted)


def subscriptions(rt: Runtime, app: Announcement) -> list[Subscription]:
    """The public steps of every tender, auction and listing of the categories served (never
    bids, draws or offers)."""
    topics = [rt.topic(Stage.BIDDING, c) for c in sorted(rt.categories)]
    return [rt.subscription("announcement.bidding", topics,
                            dict.fromkeys(PUBLIC_EVENTS, app.on_bidding_event))]
