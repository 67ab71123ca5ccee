"""Routes of a section's award and after: the award, a winner's decline, the contract and
its acceptance (履约验收)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import Field

from contracts.bidding import AcceptanceItem
from contracts.codes import USCC
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import Conflict
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.api.common import AWARDED, PARTY, SECTION, ids
from services.bidding.domain import performance, tender
from services.bidding.handlers import Bidding


class DeclineIn(RequestBody):
    reason: str = Field(min_length=1, max_length=500, description="Why the winner declines.")

class ContractIn(RequestBody):
    price_fen: int = Field(ge=0, description="The contract price: the winning bid's "
                                             "(条例57; 政府采购法46).")
    performance_bond_fen: int | None = Field(
        default=None, ge=0, description="The performance bond (履约保证金) the documents "
                                        "ask, if any: at most 10% of the price (条例58).")


class AcceptanceIn(RequestBody):
    items: list[AcceptanceItem] = Field(min_length=1, max_length=100, description=(
        "Each technical, service and safety standard the contract sets, and whether it was "
        "met (政府采购法实施条例第45条): the acceptance passes only if all were"))
    public_service: bool = Field(default=False, description="A public service to the public "
                                 "(公共服务项目): its recipients' opinion is asked (政采条例45)")
    recipients_opinion: str | None = Field(default=None, max_length=2000, description=(
        "The service recipients' opinion (服务对象意见)"))
    inspection_body_uscc: USCC | None = Field(default=None, description=(
        "The quality inspection body that took part (政府采购法第41条)"))


def award_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    """Add the routes of the award, the contract and its acceptance."""

    @api.route("GET", SECTION + "/award", summary="The award (public from the award, as the "
               "result announcement): the winner, its price (the contract's, 条例57) and the "
               "contract's due time (法46)", errors=("404", "409"))
    async def award(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = tender.section_of(await app.ctx.tender(tender_id), code)
        if not sec.get("winner") or sec["status"] not in AWARDED:  # failed if all declined
            raise Conflict("not_awarded", f"section {code} has no award (status "
                           f"{sec['status']})")
        due = datetime.fromtimestamp(int(sec["contract_due_ms"]) / 1000, UTC).isoformat()
        return json_response({"status": sec["status"], "winner": sec["winner"],
                              "contract_due": due})

    @api.route("POST", SECTION + "/award/decline", summary="The winner declines the award "
               "(条例55: the next candidate wins)", body=DeclineIn, roles=("bidder",),
               errors=("401", "403", "409"))
    async def decline(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, DeclineIn)
        return json_response(await app.award.decline_award(*ids(request), who, body.reason))

    @api.route("POST", SECTION + "/contract", summary="Record the signed contract",
               body=ContractIn, roles=("tenderee", "agency"))
    async def contract(request: web.Request) -> web.Response:
        who = rt.principal(request, *PARTY)
        body = await read_json(request, ContractIn)
        await app.award.sign_contract(*ids(request), body.price_fen, who, body.performance_bond_fen)
        return json_response({"signed": True})

    @api.route("POST", SECTION + "/acceptance", summary="Record a round of the contract's "
               "acceptance (履约验收: 政府采购法第41条; 政采条例45; 建设工程质量管理条例第16条): "
               "passed when every standard was met; after a failed round another may follow, "
               "a passed one is final", body=AcceptanceIn, status=201,
               roles=("tenderee", "agency"), errors=("401", "403", "404", "409", "422"))
    async def acceptance(request: web.Request) -> web.Response:
        who = rt.principal(request, *PARTY)
        body = await read_json(request, AcceptanceIn)
        out = await app.award.accept_contract(
            *ids(request), who, body.items, public_service=body.public_service,
            recipients_opinion=body.recipients_opinion,
            inspection_body_uscc=body.inspection_body_uscc)
        return json_response(out, status=201)

    @api.route("GET", SECTION + "/acceptance", summary="The contract's acceptance rounds (public: "
               "履约信息, 国办发〔2015〕63号)", errors=("404",))
    async def acceptances(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = tender.section_of(await app.ctx.tender(tender_id), code)
        rounds = [performance.public(r) for r in sec.get("acceptances") or []]
        return json_response({"status": sec["status"], "rounds": rounds,
                              "passed": any(r["passed"] for r in rounds)})
