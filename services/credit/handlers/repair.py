"""How a record stops counting (信用修复): its period ends (有效期: the daily sweep of
records past their period, whichever replica runs it) or a supervisor approves its
subject's application to repair it (信用修复申请)."""

from __future__ import annotations

from datetime import date, timedelta

from contracts.credit import SubjectKind
from ggzy.runtime.aggregates import now_ms
from ggzy.runtime.auth import Principal
from ggzy.runtime.errors import Forbidden, NotFound
from ggzy.runtime.timers import Timer
from services.credit.domain import records, repair
from services.credit.domain.records import account_id
from services.credit.domain.rules import ScoringModel
from services.credit.handlers.context import (
    RECORD_SWEEP,
    Context,
    Decide,
    expiry_ms,
    is_subject,
    now,
)

SWEEP_BATCH = 200  # accounts a sweep reads at once


def _expiring(model: ScoringModel, today: date) -> Decide:
    """The decision that ends the records of an account scored by ``model`` due by ``today``."""
    return lambda s: records.expire_records(s, model, today, now())


class Repair:
    """Records' periods and their repair by application."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # records' periods (有效期) ------------------------------------------------------------
    async def arm_record_sweep(self, day: date | None = None) -> None:
        """The day's sweep of records whose period ended (once a day, whichever replica;
        at start it is due at once, so days the service was down are caught up)."""
        day = day or date.today()
        await self.ctx.timers.schedule(f"{RECORD_SWEEP}:{day.isoformat()}", RECORD_SWEEP,
                                       now_ms(), {"day": day.isoformat()})

    async def on_record_sweep(self, timer: Timer) -> None:
        """Expire the records due by the timer's day, then arm the next day's sweep."""
        day = date.fromisoformat(timer.payload["day"])
        await self.expire_records(day)
        following = day + timedelta(days=1)
        await self.ctx.timers.schedule(f"{RECORD_SWEEP}:{following.isoformat()}", RECORD_SWEEP,
                                       expiry_ms(day.isoformat()), {"day": following.isoformat()})

    async def expire_records(self, today: date) -> int:
        """Every account's records whose period ended by ``today`` stop counting and the
        account is scored again (``CreditChanged``, reason ``record_expired``); the number of
        accounts re-scored. Idempotent: an account done before finds nothing due."""
        seen: set[str] = set()
        while due := await self.ctx.store.accounts_with_records_due(today.isoformat(),
                                                                    SWEEP_BATCH):
            if seen.issuperset(d["_id"] for d in due):
                break  # nothing changed them (not expected): never loop on them
            seen.update(d["_id"] for d in due)
            for doc in due:
                kind = SubjectKind(doc["subject_kind"])
                await self.ctx.apply(kind, doc["subject_id"],
                                     _expiring(self.ctx.rules.model_for(kind), today))
        return len(seen)

    # credit repair by application (信用修复申请) --------------------------------------------
    async def apply_for_repair(self, kind: SubjectKind, subject: str, record_id: str,
                               correction: str, who: Principal) -> None:
        """The subject's own application to repair one of its records."""
        if not is_subject(who, kind, subject):
            raise Forbidden("not_the_subject", "only the record's subject applies for its "
                            "repair (a user of the entity, or the expert)")
        model = self.ctx.rules.model_for(kind)
        await self._on_existing(kind, subject, lambda s: repair.apply_for_repair(
            s, model, record_id, correction=correction, by=who.subject, today=date.today(),
            now=now()))

    async def decide_repair(self, kind: SubjectKind, subject: str, record_id: str,
                            approve: bool, reason: str, who: Principal) -> None:
        """A supervisor approves (the record stops counting) or refuses an application."""
        model = self.ctx.rules.model_for(kind)
        await self._on_existing(kind, subject, lambda s: repair.decide_repair(
            s, model, record_id, approve=approve, reason=reason, by=who.subject, now=now()))

    async def _on_existing(self, kind: SubjectKind, subject: str, decide: Decide) -> None:
        """A decision on an account that must exist (none: no record to repair)."""
        try:
            await self.ctx.accounts.update(account_id(kind, subject), lambda s, v: decide(s))
        except NotFound as exc:
            if exc.code != "not_found":
                raise
            raise NotFound("record_not_found", f"{subject} has no credit record") from None
