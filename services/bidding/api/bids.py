"""Routes of sealed bids: submission, withdrawal, the key reveal at opening, and each bid's
operations (投标操作记录)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from ggzy.runtime.auth import Role
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.api.common import SECTION, ids
from services.bidding.handlers import Bidding


class FingerprintIn(RequestBody):
    """The bid's fingerprint (投标文件特征码), recorded by the bidder's tool; never public."""

    file_digest: str = Field(default="", max_length=128, description="Bid document digest.")
    machine_serials: list[str] = Field(default_factory=list, max_length=8,
                                       description="CPU/disk/board serials of the maker machine.")
    part_digests: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=50, description="SHA-256 (lowercase hex) of each "
        "file in the bid package (投标文件各组成文件), as the bidder's tool computed them.")
    upload_ip: str = Field(default="", max_length=45, description="Upload IP address as the "
                           "bidder's tool saw it; the platform records the address it sees "
                           "(a different one is kept as declared_upload_ip).")
    upload_mac: str = Field(default="", max_length=17, description="Upload MAC address.")
    contact_person: str = Field(default="", max_length=50, description="Contact person.")
    agent: str = Field(default="", max_length=100, description="Entrusted agent.")
    project_manager: str = Field(default="", max_length=50, description="Project manager.")
    deposit_account: str = Field(default="", max_length=40, description="Deposit payer account.")


class DepositIn(RequestBody):
    """The bid deposit as paid (投标保证金), from the bidder's own account (条例26)."""

    payer_account: str = Field(pattern=r"^[0-9A-Za-z-]{6,40}$", description="Payer account.")
    amount_fen: int = Field(ge=0, description="Amount paid, in fen.")


class BidIn(RequestBody):
    ciphertext: str = Field(description="base64 AES-256-GCM ciphertext of the bid content.")
    nonce: str = Field(description="base64 12-byte nonce.")
    digest: str = Field(description="SHA-256 hex of the ciphertext.")
    fingerprint: FingerprintIn = Field(default_factory=FingerprintIn,
                                       description="The bid's fingerprint (条例40 checks).")
    deposit: DepositIn | None = Field(default=None, description="Required when the section "
                                      "asks a deposit.")


class KeyIn(RequestBody):
    key: str = Field(description="base64 32-byte content key.")


def bid_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    """Add the routes of a section's bids."""

    @api.route("PUT", SECTION + "/bid", summary="Submit or replace a sealed bid", body=BidIn,
               status=201, roles=("bidder",), errors=("401", "403", "409", "422"))
    async def submit(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, BidIn)
        return json_response(await app.bids.submit_bid(*ids(request), who, body.model_dump()), 201)

    @api.route("DELETE", SECTION + "/bid", summary="Withdraw a bid before the deadline",
               roles=("bidder",))
    async def withdraw(request: web.Request) -> web.Response:
        await app.bids.withdraw_bid(*ids(request), rt.principal(request, Role.BIDDER))
        return json_response({"withdrawn": True})

    @api.route("POST", SECTION + "/bid/key", summary="Reveal the content key at opening",
               body=KeyIn, roles=("bidder",))
    async def reveal(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, KeyIn)
        return json_response(await app.opening.reveal_key(*ids(request), who, body.key))

    @api.route("GET", SECTION + "/operations", summary="After the deadline: each bid's "
               "operations (投标操作记录: submission, resubmission, withdrawal, key reveal, each "
               "with its time, user and source address; 20号令) as hash chains, checked "
               "against the root the close wrote into the audit trail: supervisors and "
               "operators every bid, a bidder its own", errors=("401", "403", "404", "409"))
    async def bid_operations(request: web.Request) -> web.Response:
        return json_response(await app.bids.bid_operations(*ids(request), rt.principal(request)))
