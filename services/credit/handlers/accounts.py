"""Credit accounts (信用档案) and their restrictions: a new entity's first rating, the
account as read and as anyone may see it (信用查询), a supervisor's restriction
(处罚决定) and its revocation (撤销), and the restriction's end (its expiry timer)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from contracts.credit import SubjectKind
from ggzy.runtime.aggregates import Cause, Doc
from ggzy.runtime.auth import Principal
from ggzy.runtime.errors import NotFound
from ggzy.runtime.timers import Timer
from services.credit.domain import records
from services.credit.domain.records import Restriction, account_id, key
from services.credit.domain.rules import check_basis
from services.credit.handlers.context import Context, now


def restriction_id(kind: SubjectKind, subject: str, decision_no: str) -> str:
    """One decision against one subject is one restriction (a retried request finds it)."""
    digest = hashlib.sha256(f"{kind.value}|{subject}|{decision_no}".encode()).hexdigest()
    return "R-" + digest[:16].upper()


class Accounts:
    """Credit accounts of entities and experts, and the restrictions on them."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def on_expiry(self, timer: Timer) -> None:
        """Credit repair at the end of the period (信用修复): the subject is reinstated."""
        p = timer.payload
        await self.ctx.apply(SubjectKind(p["kind"]), p["subject"],
                             lambda s: records.expire_restriction(s, p["rid"], date.today()),
                             Cause(message_id=f"timer:{timer.timer_id}"))

    async def on_registered(self, uscc: str, cause: Cause) -> None:
        """A newly registered entity is rated at once (its level and the level's incentives)."""
        await self.ctx.apply(SubjectKind.ENTITY, uscc,
                             lambda s: records.initial_rating(s, now()), cause)

    async def account(self, kind: SubjectKind, subject: str) -> Doc:
        aid = account_id(kind, subject)
        doc = await self.ctx.accounts.get(aid)
        if doc is None:  # nothing recorded yet: the account as it would open (version 0)
            model = self.ctx.rules.model_for(kind)
            return {"_id": aid, "version": 0, **records.new_account(kind, subject, model)}
        return doc

    # restrictions ----------------------------------------------------------------------
    async def restrict(self, kind: SubjectKind, subject: str, body: Mapping[str, Any],
                       who: Principal) -> str:
        """A supervisor's restriction, decided by a document (处罚决定). Naming a
        ``basis`` whose law fixes the period (条例67, 68; 政府采购法77) has the period, the
        subject and the trade types checked against it first."""
        basis = body.get("basis")
        if basis is not None:
            check_basis(self.ctx.rules.restriction_bases, basis, kind, body["categories"],
                        body["start"], body["end"])
        rid = restriction_id(kind, subject, body["decision_no"])
        r = Restriction(rid, body["action"], [c.value for c in body["categories"]],
                        body["start"], body["end"], body["decision_no"], body["reason"],
                        who.subject, basis)
        model = self.ctx.rules.model_for(kind)
        await self.ctx.apply(kind, subject,
                             lambda s: records.add_restriction(s, model, r, now()))
        return rid

    async def revoke(self, rid: str, reason: str, who: Principal) -> None:
        """Revoke a restriction (撤销): the subject is reinstated at once."""
        doc = await self.ctx.store.account_with_restriction(key(rid))
        if doc is None:
            raise NotFound("restriction_not_found", f"no restriction {rid}")
        kind = SubjectKind(doc["subject_kind"])
        model = self.ctx.rules.model_for(kind)
        await self.ctx.apply(kind, doc["subject_id"], lambda s: records.revoke_restriction(
            s, model, rid, who.subject, reason, now()))

    async def public(self, uscc: str) -> dict[str, Any]:
        """What anyone may see: the level and the restrictions in force today."""
        doc = await self.account(SubjectKind.ENTITY, uscc)
        today = date.today()
        shown = ("restriction_id", "action", "categories", "start", "end", "decision_no")
        current = [{k: r[k] for k in shown} for r in doc["restrictions"].values()
                   if records.in_force(r, today)]
        return {"uscc": uscc, "level": doc["level"], "restrictions": current,
                "deposit_reduction_pct": doc["deposit_reduction_pct"]}
