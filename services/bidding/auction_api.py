"""HTTP routes of auctions and listings (拍卖/挂牌): thin, one use case each."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import Field, model_validator

from contracts.bidding import AuctionMethod
from contracts.categories import Category
from ggzy.runtime.aggregates import now_ms
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import Conflict
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.auctions import Auctions
from services.bidding.domain import auction, audit


class AuctionIn(RequestBody):
    """An auction or listing to announce (出让公告 / 产权转让信息披露)."""

    project_code: str = Field(description="Project code (17 characters).")
    lot_no: int = Field(ge=1, le=999, description="Lot (宗地/标的) number within the project.")
    name: str = Field(min_length=1, max_length=200, description="What is sold.")
    category: Category
    region_code: str
    seller_uscc: str = Field(description="Seller (出让人 / 转让方).")
    method: AuctionMethod
    starting_price_fen: int = Field(ge=1, description="Starting / listing price in fen.")
    increment_fen: int | None = Field(default=None, ge=1, description="Bid increment (加价幅度) "
                                      "in fen; required but for a sale by agreement and "
                                      "one-shot offers (一次报价), which take none.")
    appraised_fen: int | None = Field(default=None, ge=0, description="Appraised value.")
    base_price_fen: int | None = Field(default=None, ge=0, description="Secret base price "
                                       "(底价), never shown; required for land.")
    base_price_decision: str | None = Field(default=None, max_length=100, description=
                                            "Record number of the collective decision.")
    start_at: datetime = Field(description="When offers open.")
    end_at: datetime | None = Field(default=None, description="End of listing / online "
                                    "bidding; none for an auction.")
    description: str = Field(default="", max_length=5000)
    deposit_fen: int = Field(default=0, ge=0, description="Bidder's deposit (竞买保证金); above "
                             "0, bidders apply with it and the seller reviews each before it "
                             "gets a paddle.")
    applications_close_at: datetime | None = Field(default=None, description="Applications "
                                                   "close then (required with a deposit).")
    buyer_uscc: str | None = Field(default=None, description="A sale by agreement (协议出让): "
                                   "the named buyer, a registered bidder; start_at is then the "
                                   "end of the sale's publicity, when it concludes.")
    approval_no: str | None = Field(default=None, max_length=100, description="A sale by "
                                    "agreement: the people's government's consent (批准文号).")
    benchmark_price_fen: int | None = Field(default=None, ge=1, description="A land sale by "
                                            "agreement: the benchmark land price (基准地价) "
                                            "of the parcel's grade; the price may not be below "
                                            "the rule's share of it (21号令第5条).")

    @model_validator(mode="after")
    def _increment_unless_agreement(self) -> AuctionIn:
        agreed = self.method is AuctionMethod.AGREEMENT
        if self.increment_fen is None and not agreed and self.method is not AuctionMethod.ONE_SHOT:
            raise ValueError("increment_fen is required (but for a sale by agreement or "
                             "one-shot offers)")
        if self.increment_fen is not None and agreed:
            raise ValueError("a sale by agreement takes no offers: no increment_fen")
        return self


class ApplicationIn(RequestBody):
    """An application to bid (竞买申请) with the deposit paid."""

    deposit_account: str = Field(min_length=1, max_length=64, description="The bidder's own "
                                 "account the deposit was paid from (a refund goes back to it).")
    deposit_paid_fen: int = Field(ge=0, description="Deposit paid, in fen.")


class ReviewIn(RequestBody):
    """The seller's qualification review of one applicant (资格审查)."""

    qualified: bool
    reason: str = Field(default="", max_length=500, description="Why (required to reject).")

    @model_validator(mode="after")
    def _rejection_has_reason(self) -> ReviewIn:
        if not self.qualified and not self.reason.strip():
            raise ValueError("a rejection needs its reason")
        return self


class OfferIn(RequestBody):
    price_fen: int = Field(ge=1, description="Offered price in fen.")
    seen_offers: int | None = Field(default=None, ge=0, description="Number of offers the "
                                    "bidder saw: a different current number refuses the offer "
                                    "as stale (409 stale_offer). Not for one-shot offers, "
                                    "whose count is sealed (422 offers_sealed).")
    offer_id: str | None = Field(default=None, min_length=1, max_length=64,
                                 pattern=r"^[A-Za-z0-9_.:-]+$", description="One-shot offers "
                                 "(一次报价): the client's id of this offer; the same request "
                                 "again (a retry) gets the same answer and makes no second "
                                 "offer. Without it a repeated request is refused as a second "
                                 "offer (409 offer_already_made).")


class ContractIn(RequestBody):
    """The sale contract (出让合同) signed with the winner, as the seller records it."""

    contract_no: str = Field(min_length=1, max_length=100, description="The contract's number.")
    price_fen: int = Field(ge=0, description="Contract price in fen: must be the deal price.")


class PriceCutIn(RequestBody):
    starting_price_fen: int = Field(ge=1, description="New, lower price in fen.")
    start_at: datetime = Field(description="Offers open after the new disclosure.")
    end_at: datetime | None = None
    applications_close_at: datetime | None = Field(default=None, description="A sale with "
                                                   "a deposit: the new round's applications "
                                                   "close then.")
    approval_no: str | None = Field(default=None, min_length=1, max_length=100,
                                    description="Number of the approving unit's written "
                                    "consent; required below 90% of the appraisal "
                                    "(32号令第18条).")


PUBLIC = ("auction_id", "project_code", "name", "category", "region_code", "seller_uscc",
          "seller_name", "method", "starting_price_fen", "increment_fen", "appraised_fen",
          "has_base_price", "announced_at", "start_at", "end_at", "countdown_s",
          "extension_window_s", "description", "deposit_fen", "applications_close_at")


def public_view(state: dict[str, Any], now: int) -> dict[str, Any]:
    """What anyone may see: the top price and paddle and the number of offers, never who
    made them, and never the base price (after the close only whether it was met).
    One-shot offers are sealed until the close: no top, no paddle, no count."""
    offers = auction.offers_of(state)
    top = auction.top_of(offers)
    if state["method"] == AuctionMethod.ONE_SHOT:
        top = next(iter(auction.one_shot_ranking(offers)), None)
    hidden = auction.sealed(state)
    if hidden:
        top = None
    out = {k: state.get(k) for k in PUBLIC}
    out.update(status=_phase(state, now), offers=None if hidden else len(offers),
               sealed=hidden, top_price_fen=top.price_fen if top else None,
               top_paddle=top.paddle if top else None,
               minimum_offer_fen=auction.minimum_offer(state),
               ends_at=auction.at(int(state["end_ms"])).isoformat(),
               result=state.get("result"),
               # whether the winner signed (成交确认书), never who it is
               confirmation=_due(state.get("confirmation")),
               contract=_due(state.get("contract")),  # the sale contract (出让合同)
               annulled=state.get("annulled") is not None)
    return out


def _due(held: dict[str, Any] | None) -> dict[str, Any] | None:
    """A step the winner owes (the confirmation, the contract): its status and due time."""
    if held is None:
        return None
    return {"status": held["status"], "due": held["due"]}


def _phase(state: dict[str, Any], now: int) -> str:
    if state["status"] == auction.CLOSED:
        return "closed"
    if now < int(state["start_ms"]):
        return "announced"
    if now >= int(state["end_ms"]):
        return "closing"
    return "live" if state["status"] == auction.LIVE else "bidding"


def auction_routes(api: Api, rt: Runtime, app: Auctions) -> None:
    """Add the auction routes to bidding's API."""
    base = "/v1/auctions/{auction_id}"

    def aid(request: web.Request) -> str:
        return request.match_info["auction_id"]

    @api.route("POST", "/v1/auctions", summary="Announce an auction or listing", body=AuctionIn,
               status=201, roles=("tenderee", "operator"), errors=("401", "403", "422"))
    async def publish(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.OPERATOR)
        body = await read_json(request, AuctionIn)
        return json_response({"id": await app.publish(body.model_dump(), who)}, 201)

    @api.route("GET", base, summary="An auction or listing (public: no bidder, no base price)",
               errors=("404",))
    async def get(request: web.Request) -> web.Response:
        return json_response(public_view(await app.get(aid(request)), now_ms()))

    @api.route("POST", base + "/offers", summary="Make an offer (竞买人报价). One-shot offers "
               "(一次报价): one sealed offer per buyer, at least the listing price, before the "
               "end, never changed (409 offer_already_made); the answer is the buyer's own "
               "offer and signed receipt, nothing about any other", body=OfferIn,
               status=201, roles=("bidder",), errors=("401", "403", "409", "422"))
    async def offer(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, OfferIn)
        return json_response(await app.offer(aid(request), who, body.price_fen,
                                             body.seen_offers, body.offer_id), 201)

    @api.route("POST", base + "/confirmation", summary="The winner signs the confirmation "
               "of the sale (成交确认书) before it is due", roles=("bidder",),
               errors=("401", "403", "404", "409"))
    async def confirm(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        return json_response(await app.confirm(aid(request), who))

    @api.route("POST", base + "/contract", summary="Record the sale contract (出让合同) "
               "signed with the winner, after the confirmation and the result's publicity",
               body=ContractIn, roles=("tenderee", "operator"),
               errors=("401", "403", "404", "409", "422"))
    async def contract(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.OPERATOR)
        body = await read_json(request, ContractIn)
        return json_response(await app.sign_contract(aid(request), who, body.contract_no,
                                                     body.price_fen))

    @api.route("POST", base + "/applications", summary="Apply to bid with the deposit paid "
               "(竞买申请)", body=ApplicationIn, status=201, roles=("bidder",),
               errors=("401", "403", "409", "422"))
    async def apply(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, ApplicationIn)
        return json_response(await app.apply(aid(request), who, body.deposit_account,
                                             body.deposit_paid_fen), 201)

    @api.route("GET", base + "/applications", summary="The applicants (seller and operators "
               "only)", roles=("tenderee", "operator"), errors=("401", "403", "404"))
    async def applications(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.OPERATOR)
        return json_response({"items": await app.applications(aid(request), who)})

    @api.route("POST", base + "/applications/{bidder_uscc}/review", summary="Qualify or "
               "reject an applicant (资格审查): a qualified one gets its paddle", body=ReviewIn,
               roles=("tenderee", "operator"), errors=("401", "403", "404", "409", "422"))
    async def review(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.OPERATOR)
        body = await read_json(request, ReviewIn)
        return json_response(await app.review(aid(request), request.match_info["bidder_uscc"],
                                              body.qualified, body.reason, who))

    @api.route("POST", base + "/going-on", summary="Go on to live bidding at the end of "
               "listing (39号令第21条)", roles=("bidder",), errors=("401", "403", "409"))
    async def going_on(request: web.Request) -> web.Response:
        return json_response(await app.go_on(aid(request), rt.principal(request, Role.BIDDER)))

    @api.route("GET", base + "/me", summary="The caller's paddle and standing (one-shot "
               "offers before the end: only its own offer)", roles=("bidder",))
    async def mine(request: web.Request) -> web.Response:
        return json_response(await app.mine(aid(request), rt.principal(request, Role.BIDDER)))

    @api.route("GET", base + "/audit", summary="The sale's audit trail, verified (supervisors "
               "and operators: it names each bidder and its address); of one-shot offers "
               "only after the close (409 offers_sealed)",
               roles=("supervisor", "operator"), errors=("401", "403", "404", "409"))
    async def audit_trail(request: web.Request) -> web.Response:
        rt.principal(request, Role.SUPERVISOR, Role.OPERATOR)
        state = await app.get(aid(request))
        if auction.sealed(state):
            raise Conflict("offers_sealed", "the trail of a sale by one-shot offers names its "
                           "offers: it is read after the close", ends_at=auction.at(
                               int(state["end_ms"])).isoformat())
        chain = state.get("audit", [])
        return json_response({"entries": chain, "broken_at": audit.verify(chain)})

    @api.route("POST", base + "/price-cut", summary="Cut the price with a new disclosure "
               "(32号令第18条)", body=PriceCutIn, roles=("tenderee", "operator"),
               errors=("401", "403", "409", "422"))
    async def price_cut(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.OPERATOR)
        body = await read_json(request, PriceCutIn)
        return json_response(await app.cut_price(aid(request), who, body.starting_price_fen,
                                                 body.start_at, body.end_at,
                                                 body.applications_close_at,
                                                 body.approval_no))
