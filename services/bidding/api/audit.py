"""Routes that show what the record proves: the tender's audit trail, the draw's replay and
the sealed bids as the close fixed them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ggzy.runtime.auth import Role
from ggzy.runtime.http import Api, json_response
from ggzy.runtime.service import Runtime
from services.bidding.api.common import AWARDED, SECTION, ids
from services.bidding.domain import audit, tender
from services.bidding.domain import draw as draws
from services.bidding.handlers import Bidding


def _first_committee(committee: list[str], replaced: list[dict[str, Any]]
                     ) -> list[str]:
    """The committee as first drawn: the replacements undone, last first."""
    seats = list(committee)
    for r in reversed(replaced):
        seats[seats.index(r["by"])] = r["expert_id"]
    return seats


def audit_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    """Add the routes of the audit trail, the draw and the sealed bids."""

    @api.route("GET", "/v1/tenders/{tender_id}/audit", summary="The audit trail, verified "
               "(supervisors and operators: it names the experts who scored and each "
               "operator's address)", roles=("supervisor", "operator"),
               errors=("401", "403", "404"))
    async def audit_trail(request: web.Request) -> web.Response:
        rt.principal(request, Role.SUPERVISOR, Role.OPERATOR)
        chain = (await app.ctx.tender(request.match_info["tender_id"])).get("audit", [])
        return json_response({"entries": chain, "broken_at": audit.verify(chain)})

    @api.route("GET", SECTION + "/draw", summary="The draw's commitment (from publication); "
               "after the award its seed and record, to re-run it (draw.replay), and each "
               "replacement's (条例48) with its own record")
    async def draw(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = (await app.ctx.tender(tender_id))["section_state"].get(code, {})
        out: dict[str, Any] = {"commitment": sec.get("commitment")}
        if sec.get("status") in AWARDED and sec.get("seed"):
            seed, commitment = str(sec["seed"]), str(sec["commitment"])
            replaced = list(sec.get("replaced") or [])
            first = _first_committee(sec["committee"], replaced)
            out.update(seed=seed, committee=sec.get("committee"), drawn=first)
            doc = await app.ctx.store.draw_record(tender_id, code)
            if doc is not None:
                out.update(record=doc, verified=draws.verify_replay(
                    commitment, seed, draws.DrawRecord.of_doc(doc), first))
            rounds = []
            for r in replaced:
                doc = await app.ctx.store.draw_record(tender_id, code, int(r["round"]))
                rounds.append({**r, "record": doc, "verified": doc is not None
                               and draws.verify_replay(commitment, seed,
                                                       draws.DrawRecord.of_doc(doc),
                                                       [r["by"]])})
            out["replacements"] = rounds
        return json_response(out)

    @api.route("GET", SECTION + "/sealed", summary="After the deadline: the section's sealed "
               "bids as the audit trail fixed them at the close (count, root, each bid's "
               "receipt leaf; no bidder named), for a bidder to find its own receipt",
               errors=("404", "409"))
    async def sealed_bids(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        state = await app.ctx.tender(tender_id)
        tender.section_of(state, code)
        close = tender.close_entry(state)
        recorded = (close["data"].get("sealed") or {}).get(code)
        bids = (await app.ctx.store.received(tender_id, int(state["deadline_ms"]))).get(code, [])
        now_ = audit.sealed_of(bids)
        leaves = sorted(audit.receipt_leaf(b["_id"], b["digest"], b["received_ms"])
                        for b in bids)
        return json_response({"recorded": recorded, "audit_entry": close["n"],
                              "bids": now_["bids"], "root": now_["root"], "leaves": leaves,
                              "matches": recorded is not None
                              and recorded["root"] == now_["root"]})
