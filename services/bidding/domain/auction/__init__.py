"""Auctions and listings (拍卖/挂牌) as pure decisions: state in, change and events out.

An auction document holds what was announced, the secret base price (底价), the
current end ``end_ms`` (the durable timer compares integers), the offers (报价, by
paddle number only), the bidders' paddles (竞买号, private) and, once closed, the
result. Status: ``open`` -> (listing with a bidder who goes on) ``live`` -> ``closed``.

One-shot offers (网络竞价-一次报价, property) use the same offers and paddles, but are
sealed until the close: one offer per buyer, never changed, no event and no public
count before the end (``sealed``); the close ranks and publishes them all.

Articles of 39号令 (land), 32号令 (property) and the mining rules (矿业权交易规则) are
unverified; each rule's source says so (rules.yaml).

Callers use this package (``auction.offer``, ``auction.at_end``): it names what its
modules offer, each module importing only those before it here:

- ``model``: the record, its statuses, times, offers and outcome (imports no other);
- ``one_shot``: one-shot offers, sealed until the close;
- ``applications``: applications, the qualification review and the deposits;
- ``objections``: objections to the publicised result, and annulment;
- ``agreement``: a sale by agreement (协议出让): its terms and its conclusion;
- ``publication``: the announcement's checks and the first state;
- ``offers``: offers, extension and calls, going on to live bidding;
- ``close``: the end, live bidding or the close, its outcome and public result;
- ``contract``: the confirmation and the contract, and their lapse;
- ``price_cut``: a price cut with its new disclosure.
"""

from services.bidding.domain.auction.applications import apply, review, settle_deposits
from services.bidding.domain.auction.close import RESULT_FIELDS, at_end, decide
from services.bidding.domain.auction.contract import (
    confirm,
    confirmation_due,
    contract_due,
    sign_contract,
)
from services.bidding.domain.auction.model import (
    CLOSED,
    CONFIRMED,
    HELD,
    LIVE,
    OPEN,
    OVERDUE,
    PENDING,
    QUALIFIED,
    REJECTED,
    SIGNED,
    VOID,
    Offer,
    Outcome,
    State,
    at,
    minimum_offer,
    ms,
    offers_of,
    paddle_of,
    too_few_bidders,
    top_of,
)
from services.bidding.domain.auction.objections import (
    objection_answered,
    objection_filed,
    pending_objections,
)
from services.bidding.domain.auction.offers import go_on, offer
from services.bidding.domain.auction.one_shot import (
    decide_one_shot,
    offer_id_of,
    offer_lines,
    one_shot_offer,
    one_shot_ranking,
    own_offer,
    sealed,
)
from services.bidding.domain.auction.price_cut import reprice
from services.bidding.domain.auction.publication import publish, validate

__all__ = [
    "CLOSED", "CONFIRMED", "HELD", "LIVE", "OPEN", "OVERDUE", "PENDING", "QUALIFIED",
    "REJECTED", "RESULT_FIELDS", "SIGNED", "VOID", "Offer", "Outcome", "State", "apply", "at",
    "at_end", "confirm", "confirmation_due", "contract_due", "decide", "decide_one_shot",
    "go_on", "minimum_offer", "ms", "objection_answered", "objection_filed", "offer",
    "offer_id_of", "offer_lines", "offers_of", "one_shot_offer", "one_shot_ranking",
    "own_offer", "paddle_of", "pending_objections", "publish", "reprice", "review",
    "sealed", "settle_deposits", "sign_contract", "too_few_bidders", "top_of", "validate",
]
