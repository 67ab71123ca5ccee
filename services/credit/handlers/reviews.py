"""Expert evaluations (专家评价): each committee expert's evaluation is pending once the
evaluation is done, and a supervisor or the tender's tenderee rates it (a record)."""

from __future__ import annotations

from contracts.credit import SubjectKind
from ggzy.runtime.aggregates import Doc
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict, Forbidden, NotFound
from services.credit.domain.records import Record
from services.credit.handlers.accounts import Accounts
from services.credit.handlers.context import Context
from services.credit.store import RATED


class Reviews:
    """Experts' evaluations to rate, and their ratings."""

    def __init__(self, ctx: Context, accounts: Accounts) -> None:
        self.ctx = ctx
        self.accounts = accounts

    async def on_evaluated(self, tender_id: str, section: str, category: str) -> None:
        """After the evaluation, each committee expert's evaluation record is pending."""
        committee = await self.ctx.store.committee(tender_id, section)
        if committee is None:
            raise LookupError(f"no committee known for {tender_id}:{section} yet")
        await self.ctx.store.open_reviews(tender_id, section, committee["experts"], category)

    async def rate(self, review_id: str, rating: str, note: str, who: Principal) -> Doc:
        """A supervisor, or the tenderee of the tender, rates an expert's evaluation."""
        store = self.ctx.store
        review = await store.review(review_id)
        if review is None:
            raise NotFound("review_not_found", f"no expert evaluation {review_id}")
        if review["status"] == RATED:
            raise Conflict("review_rated", f"{review_id} is already rated")
        if not who.has(Role.SUPERVISOR):
            tender = await store.tender(review["tender_id"]) or {}
            if who.uscc is None or who.uscc not in (tender.get("tenderee_uscc"),
                                                    tender.get("agency_uscc")):
                raise Forbidden("not_your_tender", "only the tenderee or a supervisor rates")
        rec = Record(f"review:{review_id}", f"rating_{rating}", "evaluation",
                     {"tender_id": review["tender_id"], "section_code": review["section_code"],
                      "note": note, "by": who.subject})
        await self.ctx.add_record(SubjectKind.EXPERT, review["expert_id"], rec)
        await store.rate_review(review_id, rating, who.subject, note)
        return await self.accounts.account(SubjectKind.EXPERT, review["expert_id"])
