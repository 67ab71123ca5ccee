"""Routes of expert evaluations (专家评价): the evaluations to rate, and a rating by a
supervisor or the tender's tenderee (or its agency)."""

from __future__ import annotations

from enum import StrEnum

from aiohttp import web
from pydantic import Field

from ggzy.runtime.auth import Role
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.credit.handlers import Credit


class Rating(StrEnum):
    EXCELLENT = "excellent"
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    BAD = "bad"


class RatingIn(RequestBody):
    rating: Rating = Field(description="How the expert performed (条例71, 72).")
    note: str = Field(default="", max_length=500)


def review_routes(api: Api, rt: Runtime, app: Credit) -> None:
    """Experts' evaluations to rate, and their ratings."""
    sup = Role.SUPERVISOR

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
        doc = await app.reviews.rate(request.match_info["review_id"], body.rating.value,
                                     body.note, who)
        return json_response({"expert_id": doc["subject_id"], "score": doc["score"],
                              "level": doc["level"]})
