"""Credit's HTTP API: thin routes, one handler call each.

Anyone may read an entity's level and the restrictions in force (信用查询);
supervisors record and revoke restrictions, read full records, and decide
alerts; supervisors or the tenderee rate experts' evaluations; a tender's parties
file complaints (投诉), which supervisors accept or refuse and decide.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from contracts.categories import Category
from contracts.codes import CodeError, validate_uscc
from contracts.credit import ComplaintMatter, RiskIndicator, SubjectKind
from ggzy.runtime.aggregates import state_of
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import BadRequest, DomainError, Forbidden
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.credit.complaints import Complaints
from services.credit.handlers import Credit, is_subject

EXPERT_ID = r"^EXP-[0-9A-F]{12}$"


class RestrictionIn(RequestBody):
    """A restriction decided by a document (national data standard BLACK_LIST)."""

    subject_kind: SubjectKind = Field(description="entity (by credit code) or expert.")
    subject_id: str = Field(min_length=1, max_length=40, description="USCC or expert id.")
    action: str = Field(min_length=1, max_length=100, description="The restricted action.")
    categories: list[Category] = Field(min_length=1, description="Trade types covered.")
    start: date = Field(description="First day (inclusive).")
    end: date = Field(description="Last day (inclusive).")
    decision_no: str = Field(min_length=1, max_length=100, description="处罚决定书文号.")
    reason: str = Field(min_length=1, max_length=500, description="Why, with the article.")
    basis: str | None = Field(default=None, max_length=64, description="The legal basis, "
                              "where the law fixes the period (rules.yaml "
                              "`restriction_bases`, e.g. bid_collusion: 条例67, 1-2 years): "
                              "the period, subject and trade types are checked against it.")

    @model_validator(mode="after")
    def _dates(self) -> RestrictionIn:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class RestrictionOut(BaseModel):
    restriction_id: str


class RevocationIn(RequestBody):
    reason: str = Field(min_length=1, max_length=500, description="Why it is revoked.")


class RepairIn(RequestBody):
    correction: str = Field(min_length=1, max_length=2000, description="How the conduct "
                            "was corrected (整改情况), as the application states it.")


class RepairDecisionIn(RequestBody):
    approve: bool = Field(description="Approve (the record stops counting) or refuse.")
    reason: str = Field(min_length=1, max_length=500, description="The decision's reason.")


class PublicRestriction(BaseModel):
    restriction_id: str
    action: str
    categories: list[str]
    start: str
    end: str
    decision_no: str


class PublicCredit(BaseModel):
    """What anyone may see of an entity's credit (信用信息公开)."""

    uscc: str
    level: str
    deposit_reduction_pct: int
    restrictions: list[PublicRestriction]


class Rating(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    BAD = "bad"


class RatingIn(RequestBody):
    rating: Rating = Field(description="How the expert performed (条例71, 72).")
    note: str = Field(default="", max_length=500)


class DecisionIn(RequestBody):
    serious: bool = Field(default=False, description="Serious collusion: a ban (条例67).")
    decision_no: str = Field(default="", max_length=100, description="Deciding document.")
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _serious_needs_document(self) -> DecisionIn:
        if self.serious and not self.decision_no:
            raise ValueError("a serious finding needs the deciding document's number")
        return self


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


def subject(kind: SubjectKind, value: str) -> str:
    """A checked subject id: a valid credit code (GB 32100-2015) or an expert id."""
    if kind is SubjectKind.EXPERT:
        if not re.fullmatch(EXPERT_ID, value):
            raise DomainError("invalid_expert_id", f"{value!r} is not an expert id")
        return value
    try:
        return validate_uscc(value.upper())
    except CodeError as exc:
        raise DomainError(exc.code, str(exc)) from exc


def _int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequest("invalid_query", f"{name} must be an integer from 1 to 1000")
    return int(raw)


def routes(rt: Runtime, app: Credit, complaints: Complaints) -> Api:
    api = Api("ggzy credit")
    sup = Role.SUPERVISOR

    @api.route("POST", "/v1/restrictions", summary="Record a restriction", body=RestrictionIn,
               response=RestrictionOut, status=201, roles=("supervisor",),
               errors=("401", "403", "409", "422"))
    async def restrict(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, RestrictionIn)
        sid = subject(body.subject_kind, body.subject_id)
        rid = await app.restrict(body.subject_kind, sid, body.model_dump(), who)
        return json_response({"restriction_id": rid}, 201)

    @api.route("POST", "/v1/restrictions/{restriction_id}/revocation",
               summary="Revoke a restriction", body=RevocationIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def revoke(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, RevocationIn)
        await app.revoke(request.match_info["restriction_id"], body.reason, who)
        return json_response({"revoked": True})

    @api.route("GET", "/v1/credit/{uscc}", summary="An entity's public credit: level and "
               "restrictions in force", response=PublicCredit, errors=("422",))
    async def public(request: web.Request) -> web.Response:
        uscc = subject(SubjectKind.ENTITY, request.match_info["uscc"])
        return json_response(await app.public(uscc))

    @api.route("GET", "/v1/accounts/{kind}/{subject_id}", summary="A full credit record "
               "(supervisors; and the subject its own)", errors=("401", "403", "422"))
    async def account(request: web.Request) -> web.Response:
        who = rt.principal(request)
        kind, subject_id = _account_of(request)
        doc = _without_bookkeeping(await app.account(kind, subject_id))
        if who.has(sup):
            return json_response(doc)
        if not is_subject(who, kind, subject_id):
            raise Forbidden("role_required", "a full credit record is for supervisors and "
                            "its own subject")
        return json_response(subject_view(doc))

    record = "/v1/accounts/{kind}/{subject_id}/records/{record_id}/repair"

    @api.route("POST", record, summary="Apply for a record's repair (信用修复申请; the "
               "record's subject, after the kind's waiting time)", body=RepairIn,
               status=202, errors=("401", "403", "404", "409", "422"))
    async def apply_for_repair(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, RepairIn)
        kind, subject_id = _account_of(request)
        await app.apply_for_repair(kind, subject_id, request.match_info["record_id"],
                                   body.correction, who)
        return json_response({"status": "pending"}, 202)

    @api.route("POST", record + "/decision", summary="Decide an application for repair "
               "(approved: the record stops counting)", body=RepairDecisionIn,
               roles=("supervisor",), errors=("401", "403", "404", "409", "422"))
    async def decide_repair(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, RepairDecisionIn)
        kind, subject_id = _account_of(request)
        await app.decide_repair(kind, subject_id, request.match_info["record_id"],
                                body.approve, body.reason, who)
        return json_response({"status": "approved" if body.approve else "refused"})

    @api.route("GET", "/v1/expert-reviews", summary="Expert evaluations to rate",
               roles=("supervisor", "tenderee", "agency"), errors=("401", "403"))
    async def reviews(request: web.Request) -> web.Response:
        rt.principal(request, sup, Role.TENDEREE, Role.AGENCY)
        q = request.query
        query = {f: q[p] for p, f in (("expert", "expert_id"), ("tender", "tender_id"),
                                      ("status", "status")) if p in q}
        return json_response({"items": await app.store.reviews_of(query)})

    @api.route("POST", "/v1/expert-reviews/{review_id}/rating", summary="Rate an expert's "
               "evaluation", body=RatingIn, roles=("supervisor", "tenderee", "agency"),
               errors=("401", "403", "404", "409", "422"))
    async def rate(request: web.Request) -> web.Response:
        who = rt.principal(request, sup, Role.TENDEREE, Role.AGENCY)
        body = await read_json(request, RatingIn)
        doc = await app.rate(request.match_info["review_id"], body.rating.value, body.note, who)
        return json_response({"expert_id": doc["subject_id"], "score": doc["score"],
                              "level": doc["level"]})

    @api.route("GET", "/v1/alerts", summary="Collusion and risk alerts", roles=("supervisor",),
               errors=("401", "403", "422"))
    async def alerts(request: web.Request) -> web.Response:
        rt.principal(request, sup)
        q = request.query
        if "indicator" in q and q["indicator"] not in RiskIndicator._value2member_map_:
            raise BadRequest("invalid_query", f"unknown indicator {q['indicator']!r}")
        query = {f: q[p] for p, f in (("tender", "tender_id"), ("indicator", "indicator"),
                                      ("status", "status"), ("category", "category"))
                 if p in q}
        docs = await app.store.alerts_of(query, _int(request, "limit", 100))
        return json_response({"items": [_without_bookkeeping(d) for d in docs]})

    async def decide(request: web.Request, confirmed: bool) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, DecisionIn)
        doc = await app.decide_alert(request.match_info["alert_id"], confirmed,
                                     body.model_dump(), who)
        return json_response({"alert_id": doc["_id"], "status": doc["status"]})

    @api.route("POST", "/v1/alerts/{alert_id}/confirmation", summary="Confirm an alert: a "
               "collusion record against each bidder", body=DecisionIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def confirm(request: web.Request) -> web.Response:
        return await decide(request, True)

    @api.route("POST", "/v1/alerts/{alert_id}/dismissal", summary="Dismiss an alert",
               body=DecisionIn, roles=("supervisor",), errors=("401", "403", "404", "409"))
    async def dismiss(request: web.Request) -> web.Response:
        return await decide(request, False)

    @api.route("GET", "/v1/risk/rotation", summary="Cross-tender bid rotation (the same "
               "group taking turns to win), with the evidence", roles=("supervisor",),
               errors=("401", "403", "422"))
    async def rotation(request: web.Request) -> web.Response:
        rt.principal(request, sup)
        patterns = await app.rotation(
            request.query.get("category"), min_group=_int(request, "min_group", 3),
            min_together=_int(request, "min_together", 3),
            min_distinct_winners=_int(request, "min_distinct_winners", 2))
        return json_response({"items": [{"bidders": list(p.bidders), "tenders": list(p.tenders),
                                         "winners": p.winners, "evidence": p.evidence}
                                        for p in patterns]})

    complaint_routes(api, rt, complaints)
    return api


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
        return json_response({"items": await app.list(query, _int(request, "limit", 100))})

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


# What the subject sees of its own account (信用主体查询自身信用信息): its records and
# restrictions as decided, without the supervisors' bookkeeping (who recorded or decided,
# a rater's note, a confirmed alert's evidence naming other bidders).
_RECORD_FIELDS = ("kind", "source", "article", "at", "until", "period_article", "revoked",
                  "expired", "repaired")
_DETAIL_FIELDS = ("tender_id", "section_code", "auction_id", "decision_no", "due")
_REPAIR_FIELDS = ("status", "correction", "applied_at", "decided_at", "reason", "article")
_RESTRICTION_FIELDS = ("restriction_id", "action", "categories", "start", "end",
                       "decision_no", "reason", "status")


def subject_view(doc: dict[str, Any]) -> dict[str, Any]:
    """A credit account as its own subject reads it."""
    def record(r: dict[str, Any]) -> dict[str, Any]:
        out = {k: r[k] for k in _RECORD_FIELDS if k in r}
        out["detail"] = {k: v for k, v in (r.get("detail") or {}).items() if k in _DETAIL_FIELDS}
        if r.get("repair"):
            out["repair"] = {k: r["repair"][k] for k in _REPAIR_FIELDS if k in r["repair"]}
        return out
    return {
        **{k: doc.get(k) for k in ("_id", "subject_kind", "subject_id", "score", "level",
                                   "deposit_reduction_pct")},
        "records": {rk: record(r) for rk, r in doc.get("records", {}).items()},
        "restrictions": {rk: {k: r[k] for k in _RESTRICTION_FIELDS if k in r}
                         for rk, r in doc.get("restrictions", {}).items()}}


def _account_of(request: web.Request) -> tuple[SubjectKind, str]:
    """The account a path names: its kind and its checked subject id."""
    try:
        kind = SubjectKind(request.match_info["kind"])
    except ValueError as exc:
        raise BadRequest("invalid_kind", "kind is entity or expert") from exc
    return kind, subject(kind, request.match_info["subject_id"])


def _without_bookkeeping(doc: dict[str, Any]) -> dict[str, Any]:
    """The aggregate's own fields and its id (the runtime's outbox bookkeeping left out)."""
    return {"_id": doc["_id"], "version": doc.get("version"), **state_of(doc)}
