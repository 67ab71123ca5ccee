"""Routes of a tender's publication: the tender, its documents and their modifications,
its evaluation schedule; the request models and public views they use."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, Field

from contracts.bidding import (
    EvaluationMethod,
    ProcurementMethod,
    Section,
    TenderDocument,
    TenderPublished,
)
from contracts.categories import Category
from contracts.codes import CodeError, section_code, tender_project_code
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import DomainError
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.api.common import PARTY, tender_id
from services.bidding.domain import tender
from services.bidding.domain.timeline import Evaluation
from services.bidding.handlers import Bidding


class SectionIn(RequestBody):
    name: str
    estimated_price_fen: int = Field(ge=0)
    deposit_fen: int = Field(ge=0)
    evaluation_at: AwareDatetime | None = Field(
        default=None, description="This section's evaluation time, if not the tender's.")
    evaluation_venue: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="This section's evaluation venue, if not the tender's.")
    evaluation_remote: bool | None = Field(
        default=None, description="Whether this section is evaluated remotely, if not as "
        "the tender says.")


class TenderIn(RequestBody):
    """A tender to publish."""

    project_code: str
    tender_no: int = Field(ge=1, le=999, description="Tender number within the project.")
    project_name: str
    category: Category
    region_code: str
    tenderee_uscc: str
    agency_uscc: str | None = None
    method: ProcurementMethod = ProcurementMethod.OPEN_TENDER
    evaluation: EvaluationMethod = EvaluationMethod.LOWEST_PRICE
    state_funded: bool = True
    price_weight: int = Field(default=30, ge=1, le=100)
    sections: list[SectionIn] = Field(min_length=1, max_length=999)
    issued_at: datetime
    sale_start: datetime
    sale_end: datetime
    bid_deadline: datetime
    expert_mix: dict[str, int] = Field(description="Specialty -> experts to draw.")
    qualifications: list[str] = Field(default_factory=list)
    documents: list[TenderDocument] = Field(default_factory=list, max_length=100)
    invited: list[str] = Field(default_factory=list, max_length=1000, description=(
        "Credit codes of the bidders invited (邀请招标 and the methods that invite, 法17): "
        "only they may bid. Not shown publicly."))
    evaluation_at: AwareDatetime | None = Field(default=None, description=(
        "When the evaluation (评标) begins: at or after the opening record (the bid deadline "
        "plus the decryption window), when the committee is drawn (422 "
        "evaluation_before_opening); in procurement within 2 working days of it, as experts "
        "are drawn no earlier (财库〔2016〕198号第14条; 422 evaluation_too_late; remote "
        "evaluations, negotiation and consultation exempt). It moves with the deadline. "
        "Default: as soon as the committee is drawn. Told to the drawn experts only; not "
        "public."))
    evaluation_venue: str | None = Field(default=None, min_length=1, max_length=200,
                                         description="Where (评标场所). Default: the "
                                         "platform's evaluation venue (GGZY_EVALUATION_VENUE).")
    evaluation_remote: bool = Field(default=False, description=(
        "A remote evaluation (远程异地评标, 异地评审): each expert evaluates at the venue of "
        "its own place."))


class Modification(RequestBody):
    summary: str = Field(min_length=1)
    affects_bids: bool = True


SCHEDULE = ("evaluation_at", "evaluation_venue", "evaluation_remote")  # not in the event


def to_event(body: TenderIn, tenderee_name: str) -> TenderPublished:
    """The TenderPublished event of a request (codes derived from the project code)."""
    try:
        tid = tender_project_code(body.project_code, body.tender_no)
        sections = [Section(section_code=section_code(tid, i + 1),
                            **s.model_dump(exclude=set(SCHEDULE)))
                    for i, s in enumerate(body.sections)]
    except CodeError as exc:
        raise DomainError(exc.code, str(exc)) from exc
    data = body.model_dump(exclude={"tender_no", "sections", "price_weight", "expert_mix",
                                    *SCHEDULE})
    try:
        return TenderPublished(tender_id=tid, sections=sections, tenderee_name=tenderee_name,
                               **data)
    except ValueError as exc:
        raise DomainError("invalid_tender", str(exc)) from exc


def schedule_of(body: TenderIn, event: TenderPublished, venue: str) -> dict[str, Any]:
    """Each section's evaluation time and place (评标时间、地点), as kept in the tender's
    state: the section's own, else the tender's, else the defaults (at the draw; the
    platform's ``venue``)."""
    out = {}
    for sec_in, sec in zip(body.sections, event.sections, strict=True):
        remote = body.evaluation_remote if sec_in.evaluation_remote is None \
            else sec_in.evaluation_remote
        plan = Evaluation(at=sec_in.evaluation_at or body.evaluation_at,
                          venue=sec_in.evaluation_venue or body.evaluation_venue or venue,
                          remote=remote)
        out[sec.section_code] = plan.to_state()
    return out


PUBLIC = ("tender_id", "project_code", "project_name", "category", "region_code",
          "tenderee_uscc", "tenderee_name", "agency_uscc", "method", "evaluation",
          "state_funded", "sections", "issued_at", "sale_start", "sale_end", "bid_deadline",
          "status", "qualifications", "documents")


def schedule_view(schedule: dict[str, Any]) -> dict[str, Any]:
    """The schedule as the API shows it (``evaluation_at`` None: at the draw)."""
    return {code: {"evaluation_at": raw.get("at"), "evaluation_venue": raw["venue"],
                   "evaluation_remote": bool(raw.get("remote"))}
            for code, raw in schedule.items()}


def public_view(state: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: no bid counts, bidders, keys, seeds or committee before award."""
    out = {k: state.get(k) for k in PUBLIC}
    out["sections_status"] = {code: sec["status"] for code, sec in state["section_state"].items()}
    suspended = state.get("suspended")
    if state.get("suspensions") and suspended:  # who objected stays unnamed
        out["suspended_since"] = datetime.fromtimestamp(suspended["at_ms"] / 1000,
                                                        UTC).isoformat()
        out["suspension_articles"] = sorted({s["article"]
                                             for s in state["suspensions"].values()})
    return out


def tender_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    """Add the routes of publication: tenders, documents, modifications, schedule."""

    @api.route("POST", "/v1/tenders", summary="Publish a tender", body=TenderIn, status=201,
               roles=("tenderee", "agency"), errors=("401", "403", "422"))
    async def publish(request: web.Request) -> web.Response:
        who = rt.principal(request, *PARTY)
        body = await read_json(request, TenderIn)
        tenderee = await app.ctx.store.entity(body.tenderee_uscc.upper()) or {}
        event = to_event(body, str(tenderee.get("name", body.tenderee_uscc)))
        schedule = schedule_of(body, event, app.ctx.evaluation_venue)
        await app.publication.publish(event, who, {"expert_mix": body.expert_mix,
                                                   "price_weight": body.price_weight,
                                                   tender.SCHEDULE: schedule})
        return json_response({"id": event.tender_id,
                              "sections": [s.section_code for s in event.sections],
                              "evaluation": schedule_view(schedule)}, 201)

    @api.route("GET", "/v1/tenders/{tender_id}", summary="A tender (public data)",
               errors=("404",))
    async def get_tender(request: web.Request) -> web.Response:
        return json_response(public_view(await app.ctx.tender(tender_id(request))))

    @api.route("POST", "/v1/tenders/{tender_id}/documents/obtained", status=201,
               summary="Record that you obtained the tender documents (获取招标文件): you are "
               "then told of every clarification and modification (法23). Downloading needs "
               "no sign-up (the files are public in GET /v1/tenders/{id}); who and how many "
               "obtained them stays secret before the deadline (20号令)",
               roles=("bidder",), errors=("401", "403", "404", "409"))
    async def obtain(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        return json_response(await app.publication.obtain_documents(
            tender_id(request), who), 201)

    @api.route("GET", "/v1/tenders/{tender_id}/documents/obtained",
               summary="Who obtained the documents: supervisors and operators; the tenderee "
               "and its agency after the deadline (20号令: before it, nobody)",
               errors=("401", "403", "404", "409"))
    async def recipients(request: web.Request) -> web.Response:
        who = rt.principal(request)
        return json_response(await app.publication.document_recipients(
            tender_id(request), who))

    @api.route("POST", "/v1/tenders/{tender_id}/modifications", body=Modification,
               summary="Clarify or modify the documents (法23)", roles=("tenderee", "agency"))
    async def modify(request: web.Request) -> web.Response:
        who = rt.principal(request, *PARTY)
        body = await read_json(request, Modification)
        return json_response(await app.publication.modify(
            tender_id(request), body.summary, body.affects_bids, who))

    @api.route("GET", "/v1/tenders/{tender_id}/evaluation", summary="Each section's "
               "evaluation time and place (评标时间、地点), as stated and moved with the "
               "deadline: the tenderee, its agency, supervisors and operators (never public; "
               "the drawn experts are told theirs, and nobody learns who they are)",
               errors=("401", "403", "404"))
    async def evaluation(request: web.Request) -> web.Response:
        found = await app.publication.evaluation_schedule(tender_id(request),
                                                          rt.principal(request))
        return json_response({"tender_id": tender_id(request),
                              "sections": schedule_view(found)})
