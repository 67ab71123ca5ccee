"""A tender's publication: its project (项目代码), its sections' draw seeds, its first
state, and the sale of its documents (获取招标文件)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contracts.bidding import TenderDocumentsObtained, TenderPublished
from ggzy.runtime.aggregates import Change
from ggzy.runtime.errors import Conflict, DomainError, Forbidden
from services.bidding.domain import draw as draws
from services.bidding.domain.tender.core import State, _change, iso, ms
from services.bidding.domain.tender.schedule import SCHEDULE


def committed() -> dict[str, str]:
    """A section's draw seed, fixed at publication before any bid, and its commitment
    (published: ``GET .../draw``); the seed itself stays secret until the award."""
    seed = secrets.token_hex(32)
    return {"draw_seed": seed, "commitment": draws.commitment(seed)}


PROJECT_CODE_ARTICLE = ("全国投资项目在线审批监管平台运行管理暂行办法 (发改投资〔2017〕1044号) "
                        "(unverified): 项目代码是项目整个建设周期的唯一身份标识")


def project_record(*, owner: str, region: str, name: str, first_id: str) -> dict[str, Any]:
    """What a project code's first tender or sale fixes about the project: its owner (the
    tenderee, or a sale's seller, registered as one), its region."""
    return {"tenderee_uscc": owner, "region_code": region, "project_name": name,
            "first_tender_id": first_id}


def check_project(project: Mapping[str, Any], *, code: str, owner: str, region: str) -> None:
    """A tender or sale under a known project code is the same project's: its owner's, in
    its region (项目代码 names one project for its whole life); else a specific refusal."""
    if project["tenderee_uscc"] != owner:
        raise Conflict("project_of_another_tenderee", f"project {code} is another "
                       f"tenderee's: its first tender {project['first_tender_id']} named it "
                       f"({PROJECT_CODE_ARTICLE})", first_tender_id=project["first_tender_id"])
    if project["region_code"] != region:
        raise DomainError("project_region_mismatch", f"project {code} is in region "
                          f"{project['region_code']}, not {region}",
                          region_code=project["region_code"])


def publish(event: TenderPublished, actor: str, extra: dict[str, Any],
            source: str | None = None) -> tuple[State, Change]:
    """The first state of a published tender."""
    sections = {s.section_code: {"status": "bidding", **committed()} for s in event.sections}
    state = {**event.model_dump(mode="json"), **extra, "status": "open",
             "deadline_ms": ms(event.bid_deadline), "section_state": sections, "audit": []}
    data: dict[str, Any] = {"deadline": iso(event.bid_deadline)}
    if SCHEDULE in extra:
        data[SCHEDULE] = extra[SCHEDULE]
    change = _change(state, actor, "publish", data, {}, [event], event.issued_at, source)
    return state, change


def obtain_documents(state: State, uscc: str, at: datetime, source: str | None = None
                     ) -> Change:
    """A potential bidder obtained the documents (获取招标文件), once: it is told of each
    clarification and modification from now on (法23). Within the sale period (条例16;
    政采条例31), by an invitee where the tender invites (法17)."""
    if uscc in (state.get("obtained") or {}):
        return Change()
    if state["status"] != "open":
        raise Conflict("tender_closed", "the bid deadline has passed")
    if at < datetime.fromisoformat(state["sale_start"]):
        raise Conflict("sale_not_started", f"the documents are on sale from "
                       f"{state['sale_start']}", sale_start=state["sale_start"])
    if at > datetime.fromisoformat(state["sale_end"]):
        raise Conflict("sale_ended", f"the documents were on sale until {state['sale_end']} "
                       "(招标投标法实施条例第16条)", sale_end=state["sale_end"])
    invited = state.get("invited") or []
    if invited and uscc not in invited:
        raise Forbidden("not_invited", "this tender invites its bidders (招标投标法第17条): "
                        "you were not invited")
    event = TenderDocumentsObtained(tender_id=state["tender_id"], bidder_uscc=uscc,
                                    obtained_at=at)
    return _change(state, uscc, "obtain_documents", {"bidder": uscc},
                   {f"obtained.{uscc}": iso(at)}, [event], at, source)
