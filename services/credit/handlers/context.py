"""What credit's use cases share: their ports (the accounts and alerts aggregates, the
store, the timers, the rule book), the timers' kinds, the clock, and the one write
every one of them makes on an account (``apply``: opened at the base score on first
use, its restrictions' expiry timers armed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from contracts.credit import SubjectKind
from ggzy.runtime.aggregates import Aggregates, Applied, Cause, Change
from ggzy.runtime.auth import Principal
from ggzy.runtime.errors import Conflict, NotFound
from ggzy.runtime.timers import Timers
from services.credit.domain import records
from services.credit.domain.records import Record, account_id, key
from services.credit.domain.rules import CreditRules, ScoringModel
from services.credit.store import CreditStore

EXPIRY = "restriction_expiry"
RECORD_SWEEP = "record_sweep"  # once a day: records past their period stop counting
Decide = Callable[[Mapping[str, Any]], Change]


def now() -> datetime:
    return datetime.now(UTC)


def expiry_ms(end: str) -> int:
    """Local midnight after the last day of a restriction (the end date is inclusive)."""
    day = date.fromisoformat(end) + timedelta(days=1)
    return int(datetime.combine(day, time.min).timestamp() * 1000)


def arms_expiry(applied: Applied) -> bool:
    """After this outcome the account's restrictions get their expiry timers (a
    redelivery arms them again, in case the first attempt stopped short)."""
    return applied.duplicate or any(e.type.endswith(("Banned.v1", "Blacklisted.v1"))
                                    for e in applied.envelopes)


def recording(model: ScoringModel, rec: Record) -> Decide:
    """The decision that adds ``rec`` to an account scored by ``model``."""
    return lambda s: records.add_record(s, model, rec, now())


def is_subject(who: Principal, kind: SubjectKind, subject: str) -> bool:
    """The caller is the account's subject: a user of the entity, or the expert."""
    return (who.uscc == subject) if kind is SubjectKind.ENTITY else (who.expert_id == subject)


class Context:
    """The ports credit's use cases share (one per service, built by the composition
    root) and the decision on an account they all make through it."""

    def __init__(self, *, accounts: Aggregates, alerts: Aggregates, store: CreditStore,
                 timers: Timers, rules: CreditRules) -> None:
        self.accounts = accounts
        self.alerts = alerts
        self.store = store
        self.timers = timers
        self.rules = rules

    async def apply(self, kind: SubjectKind, subject: str, decide: Decide,
                    cause: Cause | None = None) -> Applied:
        """Decide on an account (opened at the base score on first use); arm expiry timers."""
        aid = account_id(kind, subject)
        try:
            applied = await self.accounts.update(aid, lambda s, v: decide(s), cause)
        except NotFound as exc:
            if exc.code != "not_found":
                raise
            applied = await self._open(kind, subject, decide, cause)
        if arms_expiry(applied):
            await self.arm_expiry(aid)
        return applied

    async def _open(self, kind: SubjectKind, subject: str, decide: Decide,
                    cause: Cause | None) -> Applied:
        """A first decision opens the account in one insert, with its events."""
        aid = account_id(kind, subject)
        fresh = records.new_account(kind, subject, self.rules.model_for(kind))
        change = decide(fresh)
        try:
            return await self.accounts.create(aid, records.opened_with(fresh, change),
                                              change.events, cause)
        except Conflict:  # a concurrent first use opened it: decide on what is there
            return await self.accounts.update(aid, lambda s, v: decide(s), cause)

    async def arm_expiry(self, aid: str) -> None:
        doc = await self.accounts.get(aid) or {}
        kind, subject = doc.get("subject_kind"), doc.get("subject_id")
        for rid, r in records.active_restrictions(doc):
            await self.timers.schedule(f"{EXPIRY}:{aid}:{key(rid)}", EXPIRY, expiry_ms(r["end"]),
                                       {"kind": kind, "subject": subject, "rid": rid})

    async def add_record(self, kind: SubjectKind, subject: str, rec: Record,
                         cause: Cause | None = None) -> Applied:
        """Add ``rec`` to the subject's account (``apply``; the record's id makes it once)."""
        return await self.apply(kind, subject, recording(self.rules.model_for(kind), rec),
                                cause)
