"""Routes of credit repair by application (信用修复申请): the record's subject applies,
a supervisor approves (the record stops counting) or refuses."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from ggzy.runtime.auth import Role
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.credit.api.shared import account_of
from services.credit.handlers import Credit


class RepairIn(RequestBody):
    correction: str = Field(min_length=1, max_length=2000, description="How the conduct "
                            "was corrected (整改情况), as the application states it.")


class RepairDecisionIn(RequestBody):
    approve: bool = Field(description="Approve (the record stops counting) or refuse.")
    reason: str = Field(min_length=1, max_length=500, description="The decision's reason.")


def repair_routes(api: Api, rt: Runtime, app: Credit) -> None:
    """An application to repair a record, and its decision."""
    sup = Role.SUPERVISOR
    record = "/v1/accounts/{kind}/{subject_id}/records/{record_id}/repair"

    @api.route("POST", record, summary="Apply for a record's repair (信用修复申请; the "
               "record's subject, after the kind's waiting time)", body=RepairIn,
               status=202, errors=("401", "403", "404", "409", "422"))
    async def apply_for_repair(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, RepairIn)
        kind, subject_id = account_of(request)
        await app.repair.apply_for_repair(kind, subject_id, request.match_info["record_id"],
                                          body.correction, who)
        return json_response({"status": "pending"}, 202)

    @api.route("POST", record + "/decision", summary="Decide an application for repair "
               "(approved: the record stops counting)", body=RepairDecisionIn,
               roles=("supervisor",), errors=("401", "403", "404", "409", "422"))
    async def decide_repair(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, RepairDecisionIn)
        kind, subject_id = account_of(request)
        await app.repair.decide_repair(kind, subject_id, request.match_info["record_id"],
                                       body.approve, body.reason, who)
        return json_response({"status": "approved" if body.approve else "refused"})
