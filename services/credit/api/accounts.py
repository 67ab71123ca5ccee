"""Credit accounts' routes: supervisors record and revoke restrictions (处罚决定, 撤销);
anyone reads an entity's level and the restrictions in force (信用查询); supervisors
read full records, and a subject its own (信用主体查询自身信用信息)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from contracts.categories import Category
from contracts.credit import SubjectKind
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import Forbidden
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.credit.api.shared import account_of, subject, without_bookkeeping
from services.credit.handlers import Credit, is_subject


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


def account_routes(api: Api, rt: Runtime, app: Credit) -> None:
    """Restrictions, and accounts as anyone, supervisors and their subjects read them."""
    sup = Role.SUPERVISOR

    @api.route("POST", "/v1/restrictions", summary="Record a restriction", body=RestrictionIn,
               response=RestrictionOut, status=201, roles=("supervisor",),
               errors=("401", "403", "409", "422"))
    async def restrict(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, RestrictionIn)
        sid = subject(body.subject_kind, body.subject_id)
        rid = await app.accounts.restrict(body.subject_kind, sid, body.model_dump(), who)
        return json_response({"restriction_id": rid}, 201)

    @api.route("POST", "/v1/restrictions/{restriction_id}/revocation",
               summary="Revoke a restriction", body=RevocationIn, roles=("supervisor",),
               errors=("401", "403", "404", "409", "422"))
    async def revoke(request: web.Request) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, RevocationIn)
        await app.accounts.revoke(request.match_info["restriction_id"], body.reason, who)
        return json_response({"revoked": True})

    @api.route("GET", "/v1/credit/{uscc}", summary="An entity's public credit: level and "
               "restrictions in force", response=PublicCredit, errors=("422",))
    async def public(request: web.Request) -> web.Response:
        uscc = subject(SubjectKind.ENTITY, request.match_info["uscc"])
        return json_response(await app.accounts.public(uscc))

    @api.route("GET", "/v1/accounts/{kind}/{subject_id}", summary="A full credit record "
               "(supervisors; and the subject its own)", errors=("401", "403", "422"))
    async def account(request: web.Request) -> web.Response:
        who = rt.principal(request)
        kind, subject_id = account_of(request)
        doc = without_bookkeeping(await app.accounts.account(kind, subject_id))
        if who.has(sup):
            return json_response(doc)
        if not is_subject(who, kind, subject_id):
            raise Forbidden("role_required", "a full credit record is for supervisors and "
                            "its own subject")
        return json_response(subject_view(doc))


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
