"""Routes of collusion and risk (围标串标): supervisors read the alerts, confirm one (a
collusion record against each bidder) or dismiss it, and look for bid rotation across
tenders."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field, model_validator

from contracts.credit import RiskIndicator
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import BadRequest
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.credit.api.shared import query_int, without_bookkeeping
from services.credit.handlers import Credit


class DecisionIn(RequestBody):
    serious: bool = Field(default=False, description="Serious collusion: a ban (条例67).")
    decision_no: str = Field(default="", max_length=100, description="Deciding document.")
    note: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _serious_needs_document(self) -> DecisionIn:
        if self.serious and not self.decision_no:
            raise ValueError("a serious finding needs the deciding document's number")
        return self


def collusion_routes(api: Api, rt: Runtime, app: Credit) -> None:
    """Alerts and their decisions, and bid rotation: for supervisors."""
    sup = Role.SUPERVISOR

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
        docs = await app.store.alerts_of(query, query_int(request, "limit", 100))
        return json_response({"items": [without_bookkeeping(d) for d in docs]})

    async def decide(request: web.Request, confirmed: bool) -> web.Response:
        who = rt.principal(request, sup)
        body = await read_json(request, DecisionIn)
        doc = await app.collusion.decide_alert(request.match_info["alert_id"], confirmed,
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
        patterns = await app.collusion.rotation(
            request.query.get("category"), min_group=query_int(request, "min_group", 3),
            min_together=query_int(request, "min_together", 3),
            min_distinct_winners=query_int(request, "min_distinct_winners", 2))
        return json_response({"items": [{"bidders": list(p.bidders), "tenders": list(p.tenders),
                                         "winners": p.winners, "evidence": p.evidence}
                                        for p in patterns]})
