"""Complaints' routes (投诉): a tender's parties file complaints, which supervisors accept
or refuse (受理, 不予受理), order the tender suspended while one is handled (条例62), and
decide in writing (条例61)."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import Field

from contracts.credit import ComplaintMatter, SubjectKind
from ggzy.runtime.auth import Role
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.credit.api.shared import query_int, subject
from services.credit.complaints import Complaints


class ObjectionIn(RequestBody):
    """The objection (异议/质疑) a complaint follows (条例60 second paragraph; 政府采购法55)."""

    ref: str = Field(min_length=1, max_length=100, description="The objection's reference, "
                     "e.g. its id on the announcement API.")
    filed_on: date = Field(description="When the objection was made.")
    answered_on: date | None = Field(default=None, description="When it was answered, or the "
                                     "day the time to answer ran out; null if still waiting.")


class ComplaintIn(RequestBody):
    """A complaint to the supervising department (投诉, 条例60)."""

    tender_id: str = Field(min_length=1, max_length=40, description="Tender project code.")
    section_code: str = Field(default="", max_length=40, description="Section, if one.")
    matter: ComplaintMatter = Field(description="What it is about.")
    respondent_uscc: str | None = Field(default=None, description="Whose conduct (被投诉人).")
    facts: str = Field(min_length=10, max_length=4000, description="The facts and evidence.")
    known_on: date = Field(description="When the complainant knew or should have known.")
    objection: ObjectionIn | None = Field(default=None, description="The objection it follows.")


class ComplaintAnswerIn(RequestBody):
    reason: str = Field(default="", max_length=1000, description="A note on the acceptance.")


class ComplaintRefusalIn(RequestBody):
    reason: str = Field(min_length=1, max_length=1000, description="Why it is not accepted.")


class ComplaintSuspensionIn(RequestBody):
    reason: str = Field(min_length=1, max_length=1000, description="Why the tender's "
                        "activities are suspended (责令暂停, 条例62).")


class ComplaintDecisionIn(RequestBody):
    """The written decision on an accepted complaint (书面处理决定, 条例61)."""

    upheld: bool = Field(description="The complaint is founded (投诉成立).")
    decision_no: str = Field(min_length=1, max_length=100, description="The decision's number.")
    reason: str = Field(min_length=1, max_length=1000, description="Findings and legal basis.")
    false_complaint: bool = Field(default=False, description="Dismissed as made up or forged "
                                  "(捏造事实、伪造材料; 条例61, 77): a record on the complainant.")


def complaint_routes(api: Api, rt: Runtime, app: Complaints) -> None:
    """Complaints (投诉): filed by an entity's user, handled by supervisors (条例60, 61)."""
    sup = Role.SUPERVISOR
    parties = (Role.BIDDER, Role.TENDEREE, Role.AGENCY)

    @api.route("POST", "/v1/complaints", summary="File a complaint about a tender (投诉)",
               body=ComplaintIn, status=201, roles=tuple(r.value for r in parties),
               errors=("401", "403", "404", "409", "422"))
    async def file(request: web.Request) -> web.Response:
        who = rt.principal(request, *parties)
        body = await read_json(request, ComplaintIn)
        if body.respondent_uscc is not None:
            body = body.model_copy(update={
                "respondent_uscc": subject(SubjectKind.ENTITY, body.respondent_uscc)})
        doc, new = await app.file(body.model_dump(), who)
        return json_response(doc, 201 if new else 200)

    @api.route("GET", "/v1/complaints", summary="Complaints, newest first", roles=("supervisor",),
               errors=("401", "403", "422"))
    async def complaints(request: web.Request) -> web.Response:
        rt.principal(request, sup)
        q = request.query
        query = {f: q[p] for p, f in (("tender", "tender_id"), ("status", "status"),
                                      ("category", "category")) if p in q}
        return json_response({"items": await app.list(query, query_int(request, "limit", 100))})

    @api.route("GET", "/v1/complaints/{complaint_id}", summary="A complaint, for supervisors "
               "and its complainant", errors=("401", "404"))
    async def complaint(request: web.Request) -> web.Response:
        who = rt.principal(request)
        return json_response(await app.view(request.match_info["complaint_id"], who))

    async def answer(request: web.Request, accepted: bool,
                     body: type[ComplaintAnswerIn | ComplaintRefusalIn]) -> web.Response:
        who = rt.principal(request, sup)
        reason = (await read_json(request, body)).reason
        return json_response(await app.answer(request.match_info["complaint_id"], accepted,
                                              reason, who))

    @api.route("POST", "/v1/complaints/{complaint_id}/acceptance", summary="Accept a "
               "complaint (受理)", body=ComplaintAnswerIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def accept(request: web.Request) -> web.Response:
        return await answer(request, True, ComplaintAnswerIn)

    @api.route("POST", "/v1/complaints/{complaint_id}/refusal", summary="Refuse to accept a "
               "complaint (不予受理)", body=ComplaintRefusalIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def refuse(request: web.Request) -> web.Response:
        return await answer(request, False, ComplaintRefusalIn)

    @api.route("POST", "/v1/complaints/{complaint_id}/suspension", summary="Order the "
               "tender suspended while the complaint is handled (条例62; 政府采购法57: at most "
               "30 days)", body=ComplaintSuspensionIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def suspend(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        reason = (await read_json(request, ComplaintSuspensionIn)).reason
        return json_response(await app.suspend(request.match_info["complaint_id"], reason, who))

    @api.route("DELETE", "/v1/complaints/{complaint_id}/suspension", summary="Lift the "
               "suspension before deciding (the decision lifts it too)", roles=("supervisor",),
               errors=("401", "403", "404", "409"))
    async def lift(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        return json_response(await app.lift(request.match_info["complaint_id"], who))

    @api.route("POST", "/v1/complaints/{complaint_id}/decision", summary="Decide an accepted "
               "complaint in writing", body=ComplaintDecisionIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def decide(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        b = await read_json(request, ComplaintDecisionIn)
        return json_response(await app.decide(request.match_info["complaint_id"], b.upheld,
                                              b.decision_no, b.reason, b.false_complaint, who))
