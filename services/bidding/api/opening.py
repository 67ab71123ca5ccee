"""Routes of a section's opening and committee: the opening record, decryption faults, the
committee's draw, replacements and membership, and the experts' score sheets."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from contracts.bidding import ReplacementReason
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import DomainError, Forbidden
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.api.common import SECTION, ids
from services.bidding.domain import tender
from services.bidding.handlers import Bidding


class SheetIn(RequestBody):
    bid_id: str
    points: float = Field(ge=0, le=100)
    compliant: bool = True


class ScoresIn(RequestBody):
    sheets: list[SheetIn] = Field(min_length=1)

class ReplaceIn(RequestBody):
    expert_id: str = Field(min_length=1, max_length=64,
                           description="The sitting member to replace (oneself, for an "
                                       "expert's own recusal).")
    reason: ReplacementReason = Field(description="条例48: recusal (回避事由), absent (擅离"
                                                  "职守), health (健康等原因), other.")
    note: str | None = Field(default=None, max_length=500, description="What happened.")


class DecryptFaultIn(RequestBody):
    bidder_uscc: str = Field(min_length=18, max_length=18, description="The bidder whose bid "
                             "a fault not its own keeps from being decrypted.")
    cause: tender.DecryptFaultCause = Field(
        description="platform (交易平台故障), ca (数字证书服务), network (网络、不可抗力), other.")
    note: str = Field(min_length=1, max_length=500, description="What happened, for the "
                      "record (the bidder may claim damages from whoever was at fault).")


def opening_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    """Add the routes of the opening, the committee and its evaluation."""

    @api.route("GET", SECTION + "/opening", summary="The opening record (after opening)")
    async def opening(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = (await app.ctx.tender(tender_id))["section_state"].get(code, {})
        lines = tender.lines_of(sec)
        if lines is None:
            raise DomainError("not_opened", "the section has not been opened")
        return json_response({"status": sec["status"], "lines": lines})

    @api.route("POST", SECTION + "/scores", summary="An expert's score sheets", body=ScoresIn,
               roles=("expert",))
    async def scores(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.EXPERT)
        body = await read_json(request, ScoresIn)
        return json_response(await app.committee.score(*ids(request), who,
                                                       [s.model_dump() for s in body.sheets]))

    @api.route("POST", SECTION + "/decrypt-faults", summary="Record that a fault not the "
               "bidder's keeps its bid from being decrypted (20号令第31条: 视为撤回, not 撤销): "
               "operators and supervisors, within the decryption window",
               body=DecryptFaultIn, roles=("operator", "supervisor"),
               errors=("401", "403", "409", "422"))
    async def decrypt_fault(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, DecryptFaultIn)
        return json_response(await app.opening.record_decrypt_fault(
            *ids(request), body.bidder_uscc, body.cause, body.note, who), status=201)

    @api.route("POST", SECTION + "/committee", summary="Draw the committee of a section left "
               "awaiting_draw at its opening (too few eligible experts then): operators and "
               "supervisors", roles=("operator", "supervisor"),
               errors=("401", "403", "409", "422"))
    async def draw_again(request: web.Request) -> web.Response:
        return json_response(await app.opening.draw_again(*ids(request), rt.principal(request)),
                             status=201)

    @api.route("POST", SECTION + "/committee/replacements", summary="Replace a sitting member "
               "who cannot go on (条例48; 87号令第49条): by the member itself (recusal, "
               "health), the operator or a supervisor; its sheets are void",
               body=ReplaceIn, roles=("expert", "operator", "supervisor"),
               errors=("401", "403", "409", "422"))
    async def replace(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, ReplaceIn)
        out = await app.committee.replace_expert(*ids(request), body.expert_id, body.reason,
                                                 who, body.note)
        return json_response(out, status=201)

    @api.route("GET", SECTION + "/committee", summary="The committee (supervisors; secret)",
               roles=("operator", "supervisor"))
    async def committee(request: web.Request) -> web.Response:
        who = rt.principal(request)
        if not who.has(Role.OPERATOR, Role.SUPERVISOR):
            raise Forbidden("confidential", "the committee is secret until the award")
        tender_id, code = ids(request)
        sec = (await app.ctx.tender(tender_id))["section_state"].get(code, {})
        return json_response({"committee": sec.get("committee", [])})
