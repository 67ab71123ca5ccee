"""Complaint use cases (投诉): file, accept or refuse, decide; records on the decision.

A complaint is an aggregate (``complaints``): each step is one conditional write with
its events. A decision that adds a credit record writes it as ``CreditRecordsDue`` in
that same write; credit applies it to the account from its records topic, once (a
record id derived from the complaint).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from contracts.categories import Category
from contracts.credit import ComplaintMatter
from ggzy.runtime.aggregates import Aggregates, Doc, Outgoing, state_of
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, Forbidden, NotFound
from services.credit.domain import complaints as c
from services.credit.domain.rules import CreditRules
from services.credit.handlers import Credit
from services.credit.store import CreditStore


def now() -> datetime:
    return datetime.now(UTC)


class Complaints:
    """Complaints about a tender, to the supervising department."""

    def __init__(self, *, complaints: Aggregates, store: CreditStore, credit: Credit,
                 rules: CreditRules) -> None:
        self.complaints = complaints
        self.store = store
        self.credit = credit
        self.rules = rules

    async def file(self, body: Mapping[str, Any], who: Principal) -> tuple[Doc, bool]:
        """File a complaint as the entity ``who`` acts for; returns it and whether it is new
        (the same complaint again returns the one filed)."""
        if who.uscc is None:
            raise Forbidden("entity_user_required", "a complaint is filed by an entity's user")
        tender = await self.store.tender(body["tender_id"])
        if tender is None:
            raise NotFound("tender_not_found", f"no tender {body['tender_id']} is known")
        if body.get("respondent_uscc") == who.uscc:
            raise Conflict("respondent_is_complainant", "a complaint names another party")
        category = Category(tender["category"])
        rules = self.rules.complaints_of(category)
        cid = c.complaint_id(who.uscc, body["tender_id"], body.get("section_code") or "",
                             body["matter"], body["facts"])
        held = await self.complaints.get(cid)
        if held is not None:  # a retried request: the one filed, as a read shows it
            return _view(held), False
        objection = _recorded(tender, who.uscc, body) or body.get("objection")
        if objection is not None:
            body = {**body, "objection": objection}
        c.check_filing(rules, self.rules.calendar, ComplaintMatter(body["matter"]),
                       body["known_on"], c.Objection(
                           objection["ref"], objection["filed_on"], objection.get("answered_on"),
                           objection.get("due_on")) if objection else None, date.today())
        state, event = c.filed(cid, _json(body), category.value, who.uscc, rules,
                               self.rules.calendar, now())
        with contextlib.suppress(Conflict):  # filed concurrently by a retried request
            await self.complaints.create(cid, state, [Outgoing(event)])
        return await self._get(cid), True

    async def answer(self, cid: str, accepted: bool, reason: str, who: Principal) -> Doc:
        """Accept (受理) or refuse (不予受理) a filed complaint (条例61)."""
        doc = await self._get(cid)
        rules = self.rules.complaints_of(Category(doc["category"]))
        await self.complaints.update(cid, lambda s, v: c.accept(
            s, accepted, reason, who.subject, rules, self.rules.calendar, now()))
        return await self._get(cid)

    async def suspend(self, cid: str, reason: str, who: Principal) -> Doc:
        """Order the tender suspended while the complaint is handled (条例62)."""
        doc = await self._get(cid)
        rules = self.rules.complaints_of(Category(doc["category"]))
        await self.complaints.update(cid, lambda s, v: c.order_suspension(
            s, reason, who.subject, rules, self.rules.calendar, now()))
        return await self._get(cid)

    async def lift(self, cid: str, who: Principal) -> Doc:
        """Lift the suspension before the decision."""
        await self._get(cid)
        await self.complaints.update(cid, lambda s, v: c.lift_suspension(s, who.subject, now()))
        return await self._get(cid)

    async def decide(self, cid: str, upheld: bool, decision_no: str, reason: str,
                     false_complaint: bool, who: Principal) -> Doc:
        """The written decision; its credit record, if any, goes out with it
        (``CreditRecordsDue``), for credit to apply to the account from its records topic."""
        await self._get(cid)
        await self.complaints.update(cid, lambda s, v: c.decide(
            s, upheld, decision_no, reason, false_complaint, who.subject, now()))
        return await self._get(cid)

    async def view(self, cid: str, who: Principal) -> Doc:
        """A complaint, for the supervisors and its complainant."""
        doc = await self._get(cid)
        if not who.has(Role.SUPERVISOR) and who.uscc != doc["complainant_uscc"]:
            raise NotFound("complaint_not_found", f"no complaint {cid}")  # not even its existence
        return doc

    async def list(self, query: Mapping[str, str], limit: int) -> list[Doc]:
        """Complaints for supervisors, newest first, by tender, status or category."""
        docs = await self.complaints.collection.find(dict(query)).sort(
            "filed_at", -1).limit(limit).to_list(None)
        return [_view(d) for d in docs]

    async def _get(self, cid: str) -> Doc:
        doc = await self.complaints.get(cid)
        if doc is None:
            raise NotFound("complaint_not_found", f"no complaint {cid}")
        return _view(doc)


def _view(doc: Doc) -> Doc:
    return {"complaint_id": doc["_id"], **state_of(doc)}


# The platform records each matter's objection that 条例60 second paragraph names: the
# documents' and the opening's in bidding (条例22, 44), the result's in announcement
# (条例54). An objection projected before matters were kept is one to the documents.
RECORDED_MATTERS = {ComplaintMatter.TENDER_DOCUMENTS.value, ComplaintMatter.OPENING.value,
                    ComplaintMatter.EVALUATION_RESULT.value}


def _recorded(tender: Mapping[str, Any], complainant: str,
              body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The complainant's objection about the complaint's matter as the platform recorded it
    (bidding's and announcement's events), which the complaint follows: its dates, not the
    declared ones (条例60 second paragraph). None when the platform has none of it."""
    matter = body["matter"]
    if matter not in RECORDED_MATTERS:
        return None
    documents = ComplaintMatter.TENDER_DOCUMENTS.value
    mine = sorted(((oid, o) for oid, o in (tender.get("objections") or {}).items()
                   if o.get("objector_uscc") == complainant and o.get("filed_on")
                   and o.get("matter", documents) == matter),
                  key=lambda item: str(item[1]["filed_on"]))
    if not mine:
        return None
    oid, o = mine[-1]
    return {"ref": oid, "filed_on": date.fromisoformat(o["filed_on"]),
            "answered_on": date.fromisoformat(o["answered_on"]) if o.get("answered_on")
            else None,
            "due_on": date.fromisoformat(o["due_on"]) if o.get("due_on") else None,
            "recorded": True}


def _json(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields as stored (dates as ISO text)."""
    def plain(v: Any) -> Any:
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        return v
    return {k: plain(v) for k, v in body.items()}
