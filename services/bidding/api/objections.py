"""Routes of objections (异议, 质疑) to the tender documents and to an opening, and their
answers."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from ggzy.runtime.auth import Role
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.api.common import PARTY, SECTION, ids, tender_id
from services.bidding.handlers import Bidding


class ObjectionIn(RequestBody):
    """An objection to the tender documents (异议, 条例22; 质疑, 政采法52)."""

    text: str = Field(min_length=1, max_length=4000, description="The grounds.")


class AnswerIn(RequestBody):
    """The tenderee's answer to an objection (条例22: within 3 days)."""

    answer: str = Field(min_length=1, max_length=4000, description="The answer.")


def objection_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    """Add the routes of objections and their answers."""

    @api.route("POST", "/v1/tenders/{tender_id}/objections", body=ObjectionIn, status=201,
               summary="Object to the tender documents (条例22: >= 10 days before the "
               "deadline; the tender is suspended until the answer)",
               errors=("401", "403", "404", "409", "422"))
    async def object_to(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, ObjectionIn)
        return json_response(await app.objections.object_to_documents(
            tender_id(request), body.text, who), 201)

    @api.route("POST", SECTION + "/opening/objections", body=ObjectionIn, status=201,
               roles=("bidder",), summary="Object to a section's opening (条例44: at the "
               "opening, i.e. within the rule's time of the opening record; answered on the "
               "spot)",
               errors=("401", "403", "404", "409", "422"))
    async def object_to_opening(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, ObjectionIn)
        return json_response(await app.objections.object_to_opening(
            *ids(request), body.text, who), 201)

    @api.route("GET", "/v1/tenders/{tender_id}/objections", summary="Objections to the "
               "documents and to the openings: all for the tenderee, its agency and "
               "supervisors; one's own otherwise (objectors are named to no one else)",
               errors=("401", "404"))
    async def objections(request: web.Request) -> web.Response:
        found = await app.objections.objections_of(tender_id(request), rt.principal(request))
        return json_response({"objections": found})

    @api.route("POST", "/v1/tenders/{tender_id}/objections/{objection_id}/answer",
               body=AnswerIn, summary="Answer an objection (条例22: within 3 days; the last "
               "answer resumes the tender)", roles=("tenderee", "agency"),
               errors=("401", "403", "404", "409"))
    async def answer(request: web.Request) -> web.Response:
        who = rt.principal(request, *PARTY)
        body = await read_json(request, AnswerIn)
        return json_response(await app.objections.answer_objection(
            tender_id(request), request.match_info["objection_id"], body.answer,
            who))
