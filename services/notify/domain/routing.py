"""Who must hear what (通知对象): pure rules from an event and the facts known about it.

- a tender's parties: the tenderee and agency hear its public steps; each bidder
  hears its own bid's receipt and withdrawal, and the public steps of tenders it
  bid in. Nobody hears of another's bid before opening (the tenderee neither);
- a drawn expert hears of its own draw, and nobody else ever does (the draw is
  secret: a bidder must never learn who evaluates it); a member replaced (条例48) hears
  it is released, the one drawn in its place its seat and schedule;
- an objection left unanswered past its due time: its objector hears that it may now
  complain (条例60; 政府采购法55), the supervisors that it is overdue;
- supervisors hear risk alerts (围标串标预警) and new complaints (投诉); an entity or
  expert hears its own credit changes, bans and reinstatements; a complainant hears
  its complaint's steps, a named respondent its decision;
- subscribers hear of new public notices matching their precise-match
  subscription (category, region, keywords).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    ObjectionMatter,
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
    ComplaintOutcome,
    CreditChanged,
    CreditRepairDecided,
    EntityBanned,
    EntityReinstated,
    ExpertBlacklisted,
    ExpertReinstated,
    RiskAlertRaised,
    SubjectKind,
)
from services.notify.domain import recipients as r
from services.notify.domain.recipients import RecipientId

PUBLIC_STEPS: Mapping[type[Any], str] = {
    TenderModified: "tender_modified", BidsOpened: "bids_opened",
    TenderFailed: "tender_failed", EvaluationCompleted: "evaluation_completed",
    Awarded: "awarded", ContractSigned: "contract_signed",
    TenderSuspended: "tender_suspended", TenderResumed: "tender_resumed",
}


@dataclass(frozen=True)
class Parties:
    """The parties of one tender, as far as notify has seen them."""

    tenderee: str | None = None
    agency: str | None = None
    bidders: frozenset[str] = field(default_factory=frozenset)

    def owners(self) -> list[RecipientId]:
        """The tenderee and the agency."""
        return [r.entity(u) for u in (self.tenderee, self.agency) if u]

    def everyone(self) -> list[RecipientId]:
        """The owners and every bidder (for the public steps of the tender)."""
        return _unique([*self.owners(), *(r.entity(b) for b in sorted(self.bidders))])


@dataclass(frozen=True)
class Route:
    """One recipient of an event and what it is told (a template kind)."""

    recipient: RecipientId
    kind: str


@dataclass(frozen=True)
class Interest:
    """A precise-match subscription (精准订阅): all given criteria must hold."""

    recipient: RecipientId
    category: str | None = None  # None: any category
    regions: Sequence[str] = ()  # GB/T 2260 codes or prefixes; empty: anywhere
    keywords: Sequence[str] = ()  # any of them in the title or text; empty: any notice


OVERDUE = (TenderObjectionOverdue, PublicityObjectionOverdue)  # they reach the supervisors


def tender_routes(event: Any, parties: Parties,
                  supervisors: Iterable[RecipientId] = ()) -> list[Route]:
    """The recipients of a bidding event, from the tender's parties (and the supervisors,
    for an objection left unanswered)."""
    if isinstance(event, OVERDUE):  # the objector may now complain (条例60; 政府采购法55)
        return [Route(r.entity(event.objector_uscc), "objection_overdue"),
                *(Route(x, "objection_overdue_supervisor") for x in _unique(supervisors))]
    if isinstance(event, TenderPublished):  # and each invitee its invitation (法17)
        return [*(Route(x, "tender_published") for x in parties.owners()),
                *(Route(r.entity(u), "tender_invited") for u in _unique(event.invited))]
    if isinstance(event, BidSubmitted):
        return [Route(r.entity(event.bidder_uscc), "bid_received")]
    if isinstance(event, TenderDocumentsObtained):  # its own record; nobody else hears it
        return [Route(r.entity(event.bidder_uscc), "documents_obtained")]
    if isinstance(event, BidWithdrawn):
        return [Route(r.entity(event.bidder_uscc), "bid_withdrawn")]
    if isinstance(event, ExpertsDrawn):
        return [Route(r.expert(e), "expert_drawn") for e in _unique(event.expert_ids)]
    if isinstance(event, ExpertReplaced):  # the new member its seat, the one out its release
        return [Route(r.expert(event.expert_id), "expert_replacement_drawn"),
                Route(r.expert(event.replaced_expert_id), "expert_released")]
    if isinstance(event, ContractOverdue):
        told = [*parties.owners(), r.entity(event.winner_uscc)]
        return [Route(x, "contract_overdue") for x in _unique(told)]
    if isinstance(event, ContractAccepted):  # 履约验收: the owners and the winner
        kind = "contract_accepted" if event.passed else "contract_acceptance_failed"
        return [Route(x, kind) for x in _unique([*parties.owners(),
                                                 r.entity(event.winner_uscc)])]
    if isinstance(event, TenderObjectionFiled):  # the objector is named to the owners only
        kind = "opening_objection_filed" if event.matter is ObjectionMatter.OPENING \
            else "objection_filed"
        return [Route(x, kind) for x in parties.owners()]
    if isinstance(event, TenderObjectionAnswered):
        kind = "opening_objection_answered" if event.matter is ObjectionMatter.OPENING \
            else "objection_answered"
        return [Route(r.entity(event.objector_uscc), kind)]
    # to a publicised result: a section's candidates (条例54), or a sale's (成交公示, no section)
    if isinstance(event, PublicityObjectionFiled):
        kind = "result_objection_filed" if event.section_code else "sale_objection_filed"
        # named by the event: on announcement's topic it may come before notify has seen
        # the tender on bidding's
        told = [*parties.owners(), *(r.entity(u) for u in event.answerers)]
        return [Route(x, kind) for x in _unique(told)]
    if isinstance(event, PublicityObjectionAnswered):
        kind = "result_objection_answered" if event.section_code else "sale_objection_answered"
        return [Route(r.entity(event.objector_uscc), kind)]
    if isinstance(event, AwardDeclined):  # the next winner hears of it by its Awarded
        told = [*parties.owners(), r.entity(event.bidder_uscc)]
        return [Route(x, "award_declined") for x in _unique(told)]
    step = PUBLIC_STEPS.get(type(event))
    return [Route(x, step) for x in parties.everyone()] if step else []


def auction_routes(event: Any, parties: Parties) -> list[Route]:
    """The recipients of a sale's events: its seller (the owner), and the winner of its
    result and of its later steps (成交确认书, 出让合同, an annulled result). The other
    bidders learn the outcome from the public result notice."""
    if isinstance(event, AuctionPublished):
        return [Route(x, "auction_published") for x in parties.owners()]
    if isinstance(event, AuctionClosed):
        if not event.sold or event.winner_uscc is None:
            return [Route(x, "auction_unsold") for x in parties.owners()]
        winner = r.entity(event.winner_uscc)
        # a sale by agreement concludes with its contract due, no confirmation before it
        won = "sale_agreed" if event.contract_due is not None else "auction_won"
        return [*(Route(x, "auction_sold") for x in parties.owners() if x != winner),
                Route(winner, won)]
    kind = SALE_STEPS.get(type(event))
    if isinstance(event, AuctionConfirmed) and event.publicity_end is not None:
        kind = "sale_concluded"  # the confirmation is the contract (产权交易合同), announced
    if kind is not None:  # the winner's steps after the result: the seller and the winner
        return [Route(x, kind) for x in _unique([*parties.owners(),
                                                 r.entity(event.winner_uscc)])]
    return []


SALE_STEPS: dict[type, str] = {
    AuctionConfirmed: "sale_confirmed", AuctionConfirmationOverdue: "sale_confirmation_overdue",
    AuctionContractSigned: "sale_contract_signed",
    AuctionContractOverdue: "sale_contract_overdue", AuctionResultAnnulled: "sale_annulled"}


def credit_routes(event: Any, supervisors: Iterable[RecipientId]) -> list[Route]:
    """The recipients of a credit event: its subject, or the supervisors for alerts and
    new complaints; a complaint's steps reach its complainant, and its decision (once
    accepted, not a refusal) the respondent it names."""
    if isinstance(event, RiskAlertRaised):
        return [Route(x, "risk_alert") for x in _unique(supervisors)]
    if isinstance(event, ComplaintFiled):
        return [Route(x, "complaint_filed") for x in _unique(supervisors)]
    if isinstance(event, ComplaintAccepted):
        return [Route(r.entity(event.complainant_uscc), "complaint_accepted")]
    if isinstance(event, ComplaintDecided):
        told = [r.entity(event.complainant_uscc)]
        if event.respondent_uscc and event.outcome is not ComplaintOutcome.REFUSED:
            told.append(r.entity(event.respondent_uscc))
        return [Route(x, "complaint_decided") for x in _unique(told)]
    if isinstance(event, CreditChanged):
        subject = (r.entity(event.subject_id) if event.subject_kind == SubjectKind.ENTITY
                   else r.expert(event.subject_id))
        return [Route(subject, "credit_changed")]
    if isinstance(event, CreditRepairDecided):
        subject = (r.entity(event.subject_id) if event.subject_kind == SubjectKind.ENTITY
                   else r.expert(event.subject_id))
        return [Route(subject, "credit_repair_decided")]
    if isinstance(event, EntityBanned):
        return [Route(r.entity(event.uscc), "entity_banned")]
    if isinstance(event, EntityReinstated):
        return [Route(r.entity(event.uscc), "entity_reinstated")]
    if isinstance(event, ExpertBlacklisted):
        return [Route(r.expert(event.expert_id), "expert_blacklisted")]
    if isinstance(event, ExpertReinstated):
        return [Route(r.expert(event.expert_id), "expert_reinstated")]
    return []


def notice_routes(notice: NoticePublished, interests: Iterable[Interest]) -> list[Route]:
    """The subscribers whose subscription the notice matches (one route each)."""
    matched = [i.recipient for i in interests if matches(i, notice)]
    return [Route(x, "notice_published") for x in _unique(matched)]


def matches(interest: Interest, notice: NoticePublished) -> bool:
    """Whether a notice meets every criterion of a subscription."""
    if interest.category and interest.category != notice.category.value:
        return False
    if interest.regions and not any(in_region(notice.region_code, g) for g in interest.regions):
        return False
    if interest.keywords:
        text = f"{notice.title} {_text(notice.content)}".casefold()
        return any(k.casefold() in text for k in interest.keywords)
    return True


def in_region(code: str, region: str) -> bool:
    """GB/T 2260: 440000 is a province, 440300 a city in it, 440304 a district of the city."""
    prefix = region
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return code.startswith(prefix)


def _text(content: Any) -> str:
    if isinstance(content, Mapping):
        return " ".join(_text(v) for v in content.values())
    if isinstance(content, list | tuple):
        return " ".join(_text(v) for v in content)
    return str(content)


def _unique(items: Iterable[RecipientId | str]) -> list[Any]:
    return list(dict.fromkeys(items))
