"""Bidding's HTTP API: thin routes, one handler call each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AwareDatetime, Field

from contracts.bidding import (
    AcceptanceItem,
    EvaluationMethod,
    ProcurementMethod,
    ReplacementReason,
    Section,
    TenderDocument,
    TenderPublished,
)
from contracts.categories import Category
from contracts.codes import USCC, CodeError, section_code, tender_project_code
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from ggzy.runtime.http import Api, RequestBody, json_response, read_json
from ggzy.runtime.service import Runtime
from services.bidding.domain import audit, performance, tender
from services.bidding.domain import draw as draws
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


class ObjectionIn(RequestBody):
    """An objection to the tender documents (异议, 条例22; 质疑, 政采法52)."""

    text: str = Field(min_length=1, max_length=4000, description="The grounds.")


class AnswerIn(RequestBody):
    """The tenderee's answer to an objection (条例22: within 3 days)."""

    answer: str = Field(min_length=1, max_length=4000, description="The answer.")


class FingerprintIn(RequestBody):
    """The bid's fingerprint (投标文件特征码), recorded by the bidder's tool; never public."""

    file_digest: str = Field(default="", max_length=128, description="Bid document digest.")
    machine_serials: list[str] = Field(default_factory=list, max_length=8,
                                       description="CPU/disk/board serials of the maker machine.")
    part_digests: list[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = Field(
        default_factory=list, max_length=50, description="SHA-256 (lowercase hex) of each "
        "file in the bid package (投标文件各组成文件), as the bidder's tool computed them.")
    upload_ip: str = Field(default="", max_length=45, description="Upload IP address as the "
                           "bidder's tool saw it; the platform records the address it sees "
                           "(a different one is kept as declared_upload_ip).")
    upload_mac: str = Field(default="", max_length=17, description="Upload MAC address.")
    contact_person: str = Field(default="", max_length=50, description="Contact person.")
    agent: str = Field(default="", max_length=100, description="Entrusted agent.")
    project_manager: str = Field(default="", max_length=50, description="Project manager.")
    deposit_account: str = Field(default="", max_length=40, description="Deposit payer account.")


class DepositIn(RequestBody):
    """The bid deposit as paid (投标保证金), from the bidder's own account (条例26)."""

    payer_account: str = Field(pattern=r"^[0-9A-Za-z-]{6,40}$", description="Payer account.")
    amount_fen: int = Field(ge=0, description="Amount paid, in fen.")


class BidIn(RequestBody):
    ciphertext: str = Field(description="base64 AES-256-GCM ciphertext of the bid content.")
    nonce: str = Field(description="base64 12-byte nonce.")
    digest: str = Field(description="SHA-256 hex of the ciphertext.")
    fingerprint: FingerprintIn = Field(default_factory=FingerprintIn,
                                       description="The bid's fingerprint (条例40 checks).")
    deposit: DepositIn | None = Field(default=None, description="Required when the section "
                                      "asks a deposit.")


class KeyIn(RequestBody):
    key: str = Field(description="base64 32-byte content key.")


class SheetIn(RequestBody):
    bid_id: str
    points: float = Field(ge=0, le=100)
    compliant: bool = True


class ScoresIn(RequestBody):
    sheets: list[SheetIn] = Field(min_length=1)


class DeclineIn(RequestBody):
    reason: str = Field(min_length=1, max_length=500, description="Why the winner declines.")


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


class ContractIn(RequestBody):
    price_fen: int = Field(ge=0, description="The contract price: the winning bid's "
                                             "(条例57; 政府采购法46).")
    performance_bond_fen: int | None = Field(
        default=None, ge=0, description="The performance bond (履约保证金) the documents "
                                        "ask, if any: at most 10% of the price (条例58).")


class AcceptanceIn(RequestBody):
    items: list[AcceptanceItem] = Field(min_length=1, max_length=100, description=(
        "Each technical, service and safety standard the contract sets, and whether it was "
        "met (政府采购法实施条例第45条): the acceptance passes only if all were"))
    public_service: bool = Field(default=False, description="A public service to the public "
                                 "(公共服务项目): its recipients' opinion is asked (政采条例45)")
    recipients_opinion: str | None = Field(default=None, max_length=2000, description=(
        "The service recipients' opinion (服务对象意见)"))
    inspection_body_uscc: USCC | None = Field(default=None, description=(
        "The quality inspection body that took part (政府采购法第41条)"))


AWARDED = ("awarded", "contracted", "contract_overdue")
SCHEDULE = ("evaluation_at", "evaluation_venue", "evaluation_remote")  # not in the event


def _first_committee(committee: list[str], replaced: list[dict[str, Any]]
                     ) -> list[str]:
    """The committee as first drawn: the replacements undone, last first."""
    seats = list(committee)
    for r in reversed(replaced):
        seats[seats.index(r["by"])] = r["expert_id"]
    return seats


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


def routes(rt: Runtime, app: Bidding) -> Api:
    api = Api("ggzy bidding")
    party = (Role.TENDEREE, Role.AGENCY)

    @api.route("POST", "/v1/tenders", summary="Publish a tender", body=TenderIn, status=201,
               roles=("tenderee", "agency"), errors=("401", "403", "422"))
    async def publish(request: web.Request) -> web.Response:
        who = rt.principal(request, *party)
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
        return json_response(public_view(await app.ctx.tender(request.match_info["tender_id"])))

    @api.route("POST", "/v1/tenders/{tender_id}/documents/obtained", status=201,
               summary="Record that you obtained the tender documents (获取招标文件): you are "
               "then told of every clarification and modification (法23). Downloading needs "
               "no sign-up (the files are public in GET /v1/tenders/{id}); who and how many "
               "obtained them stays secret before the deadline (20号令)",
               roles=("bidder",), errors=("401", "403", "404", "409"))
    async def obtain(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        return json_response(await app.publication.obtain_documents(
            request.match_info["tender_id"], who), 201)

    @api.route("GET", "/v1/tenders/{tender_id}/documents/obtained",
               summary="Who obtained the documents: supervisors and operators; the tenderee "
               "and its agency after the deadline (20号令: before it, nobody)",
               errors=("401", "403", "404", "409"))
    async def recipients(request: web.Request) -> web.Response:
        who = rt.principal(request)
        return json_response(await app.publication.document_recipients(
            request.match_info["tender_id"], who))

    @api.route("POST", "/v1/tenders/{tender_id}/modifications", body=Modification,
               summary="Clarify or modify the documents (法23)", roles=("tenderee", "agency"))
    async def modify(request: web.Request) -> web.Response:
        who = rt.principal(request, *party)
        body = await read_json(request, Modification)
        return json_response(await app.publication.modify(
            request.match_info["tender_id"], body.summary, body.affects_bids, who))

    @api.route("POST", "/v1/tenders/{tender_id}/objections", body=ObjectionIn, status=201,
               summary="Object to the tender documents (条例22: >= 10 days before the "
               "deadline; the tender is suspended until the answer)",
               errors=("401", "403", "404", "409", "422"))
    async def object_to(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, ObjectionIn)
        return json_response(await app.objections.object_to_documents(
            request.match_info["tender_id"], body.text, who), 201)

    @api.route("POST", "/v1/tenders/{tender_id}/sections/{section}/opening/objections",
               body=ObjectionIn, status=201, roles=("bidder",),
               summary="Object to a section's opening (条例44: at the opening, i.e. within "
               "the rule's time of the opening record; answered on the spot)",
               errors=("401", "403", "404", "409", "422"))
    async def object_to_opening(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, ObjectionIn)
        return json_response(await app.objections.object_to_opening(
            request.match_info["tender_id"], request.match_info["section"], body.text, who), 201)

    @api.route("GET", "/v1/tenders/{tender_id}/objections", summary="Objections to the "
               "documents and to the openings: all for the tenderee, its agency and "
               "supervisors; one's own otherwise (objectors are named to no one else)",
               errors=("401", "404"))
    async def objections(request: web.Request) -> web.Response:
        found = await app.objections.objections_of(request.match_info["tender_id"],
                                                   rt.principal(request))
        return json_response({"objections": found})

    @api.route("POST", "/v1/tenders/{tender_id}/objections/{objection_id}/answer",
               body=AnswerIn, summary="Answer an objection (条例22: within 3 days; the last "
               "answer resumes the tender)", roles=("tenderee", "agency"),
               errors=("401", "403", "404", "409"))
    async def answer(request: web.Request) -> web.Response:
        who = rt.principal(request, *party)
        body = await read_json(request, AnswerIn)
        return json_response(await app.objections.answer_objection(
            request.match_info["tender_id"], request.match_info["objection_id"], body.answer,
            who))

    @api.route("GET", "/v1/tenders/{tender_id}/evaluation", summary="Each section's "
               "evaluation time and place (评标时间、地点), as stated and moved with the "
               "deadline: the tenderee, its agency, supervisors and operators (never public; "
               "the drawn experts are told theirs, and nobody learns who they are)",
               errors=("401", "403", "404"))
    async def evaluation(request: web.Request) -> web.Response:
        found = await app.publication.evaluation_schedule(request.match_info["tender_id"],
                                                          rt.principal(request))
        return json_response({"tender_id": request.match_info["tender_id"],
                              "sections": schedule_view(found)})

    @api.route("GET", "/v1/tenders/{tender_id}/audit", summary="The audit trail, verified "
               "(supervisors and operators: it names the experts who scored and each "
               "operator's address)", roles=("supervisor", "operator"),
               errors=("401", "403", "404"))
    async def audit_trail(request: web.Request) -> web.Response:
        rt.principal(request, Role.SUPERVISOR, Role.OPERATOR)
        chain = (await app.ctx.tender(request.match_info["tender_id"])).get("audit", [])
        return json_response({"entries": chain, "broken_at": audit.verify(chain)})

    _bid_routes(api, rt, app)
    return api


def _bid_routes(api: Api, rt: Runtime, app: Bidding) -> None:
    base = "/v1/tenders/{tender_id}/sections/{section}"

    def ids(request: web.Request) -> tuple[str, str]:
        return request.match_info["tender_id"], request.match_info["section"]

    @api.route("PUT", base + "/bid", summary="Submit or replace a sealed bid", body=BidIn,
               status=201, roles=("bidder",), errors=("401", "403", "409", "422"))
    async def submit(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, BidIn)
        return json_response(await app.bids.submit_bid(*ids(request), who, body.model_dump()), 201)

    @api.route("DELETE", base + "/bid", summary="Withdraw a bid before the deadline",
               roles=("bidder",))
    async def withdraw(request: web.Request) -> web.Response:
        await app.bids.withdraw_bid(*ids(request), rt.principal(request, Role.BIDDER))
        return json_response({"withdrawn": True})

    @api.route("POST", base + "/bid/key", summary="Reveal the content key at opening",
               body=KeyIn, roles=("bidder",))
    async def reveal(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, KeyIn)
        return json_response(await app.opening.reveal_key(*ids(request), who, body.key))

    @api.route("GET", base + "/opening", summary="The opening record (after opening)")
    async def opening(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = (await app.ctx.tender(tender_id))["section_state"].get(code, {})
        lines = tender.lines_of(sec)
        if lines is None:
            raise DomainError("not_opened", "the section has not been opened")
        return json_response({"status": sec["status"], "lines": lines})

    @api.route("GET", base + "/award", summary="The award (public from the award, as the "
               "result announcement): the winner, its price (the contract's, 条例57) and the "
               "contract's due time (法46)", errors=("404", "409"))
    async def award(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = tender.section_of(await app.ctx.tender(tender_id), code)
        if not sec.get("winner") or sec["status"] not in AWARDED:  # failed if all declined
            raise Conflict("not_awarded", f"section {code} has no award (status "
                           f"{sec['status']})")
        due = datetime.fromtimestamp(int(sec["contract_due_ms"]) / 1000, UTC).isoformat()
        return json_response({"status": sec["status"], "winner": sec["winner"],
                              "contract_due": due})

    @api.route("POST", base + "/scores", summary="An expert's score sheets", body=ScoresIn,
               roles=("expert",))
    async def scores(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.EXPERT)
        body = await read_json(request, ScoresIn)
        return json_response(await app.committee.score(*ids(request), who,
                                                       [s.model_dump() for s in body.sheets]))

    @api.route("GET", base + "/draw", summary="The draw's commitment (from publication); "
               "after the award its seed and record, to re-run it (draw.replay), and each "
               "replacement's (条例48) with its own record")
    async def draw(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = (await app.ctx.tender(tender_id))["section_state"].get(code, {})
        out: dict[str, Any] = {"commitment": sec.get("commitment")}
        if sec.get("status") in ("awarded", "contracted", "contract_overdue") \
                and sec.get("seed"):
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

    @api.route("GET", base + "/sealed", summary="After the deadline: the section's sealed "
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

    @api.route("GET", base + "/operations", summary="After the deadline: each bid's "
               "operations (投标操作记录: submission, resubmission, withdrawal, key reveal, each "
               "with its time, user and source address; 20号令) as hash chains, checked "
               "against the root the close wrote into the audit trail: supervisors and "
               "operators every bid, a bidder its own", errors=("401", "403", "404", "409"))
    async def bid_operations(request: web.Request) -> web.Response:
        return json_response(await app.bids.bid_operations(*ids(request), rt.principal(request)))

    @api.route("POST", base + "/decrypt-faults", summary="Record that a fault not the "
               "bidder's keeps its bid from being decrypted (20号令第31条: 视为撤回, not 撤销): "
               "operators and supervisors, within the decryption window",
               body=DecryptFaultIn, roles=("operator", "supervisor"),
               errors=("401", "403", "409", "422"))
    async def decrypt_fault(request: web.Request) -> web.Response:
        who = rt.principal(request)
        body = await read_json(request, DecryptFaultIn)
        return json_response(await app.opening.record_decrypt_fault(
            *ids(request), body.bidder_uscc, body.cause, body.note, who), status=201)

    @api.route("POST", base + "/committee", summary="Draw the committee of a section left "
               "awaiting_draw at its opening (too few eligible experts then): operators and "
               "supervisors", roles=("operator", "supervisor"),
               errors=("401", "403", "409", "422"))
    async def draw_again(request: web.Request) -> web.Response:
        return json_response(await app.opening.draw_again(*ids(request), rt.principal(request)),
                             status=201)

    @api.route("POST", base + "/committee/replacements", summary="Replace a sitting member "
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

    @api.route("POST", base + "/award/decline", summary="The winner declines the award "
               "(条例55: the next candidate wins)", body=DeclineIn, roles=("bidder",),
               errors=("401", "403", "409"))
    async def decline(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.BIDDER)
        body = await read_json(request, DeclineIn)
        return json_response(await app.award.decline_award(*ids(request), who, body.reason))

    @api.route("POST", base + "/contract", summary="Record the signed contract",
               body=ContractIn, roles=("tenderee", "agency"))
    async def contract(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.AGENCY)
        body = await read_json(request, ContractIn)
        await app.award.sign_contract(*ids(request), body.price_fen, who, body.performance_bond_fen)
        return json_response({"signed": True})

    @api.route("POST", base + "/acceptance", summary="Record a round of the contract's "
               "acceptance (履约验收: 政府采购法第41条; 政采条例45; 建设工程质量管理条例第16条): "
               "passed when every standard was met; after a failed round another may follow, "
               "a passed one is final", body=AcceptanceIn, status=201,
               roles=("tenderee", "agency"), errors=("401", "403", "404", "409", "422"))
    async def acceptance(request: web.Request) -> web.Response:
        who = rt.principal(request, Role.TENDEREE, Role.AGENCY)
        body = await read_json(request, AcceptanceIn)
        out = await app.award.accept_contract(
            *ids(request), who, body.items, public_service=body.public_service,
            recipients_opinion=body.recipients_opinion,
            inspection_body_uscc=body.inspection_body_uscc)
        return json_response(out, status=201)

    @api.route("GET", base + "/acceptance", summary="The contract's acceptance rounds (public: "
               "履约信息, 国办发〔2015〕63号)", errors=("404",))
    async def acceptances(request: web.Request) -> web.Response:
        tender_id, code = ids(request)
        sec = tender.section_of(await app.ctx.tender(tender_id), code)
        rounds = [performance.public(r) for r in sec.get("acceptances") or []]
        return json_response({"status": sec["status"], "rounds": rounds,
                              "passed": any(r["passed"] for r in rounds)})

    @api.route("GET", base + "/committee", summary="The committee (supervisors; secret)",
               roles=("operator", "supervisor"))
    async def committee(request: web.Request) -> web.Response:
        who = rt.principal(request)
        if not who.has(Role.OPERATOR, Role.SUPERVISOR):
            raise Forbidden("confidential", "the committee is secret until the award")
        tender_id, code = ids(request)
        sec = (await app.ctx.tender(tender_id))["section_state"].get(code, {})
        return json_response({"committee": sec.get("committee", [])})
