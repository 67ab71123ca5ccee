"""Credit use cases: load, decide (domain), save with events (outbox), timers.

Accounts (``accounts``) and alerts (``alerts``) are aggregates: one conditional
write per decision with its events. Events consumed twice change nothing: the
envelope id is recorded with the effect (Cause) and records have deterministic ids.

One module per concern, on the ports they share (``context.Context``, with the one
write on an account they all make): accounts and their restrictions, records from
the platform's events, records' periods and their repair, expert reviews, collusion.
"""

from __future__ import annotations

from ggzy.runtime.aggregates import Aggregates
from ggzy.runtime.timers import Timers
from services.credit.domain.rules import CreditRules
from services.credit.handlers.accounts import Accounts, restriction_id
from services.credit.handlers.collusion import Collusion
from services.credit.handlers.context import EXPIRY, RECORD_SWEEP, Context, is_subject
from services.credit.handlers.records import RECORDED, RecordedEvent, Records, records_of
from services.credit.handlers.repair import Repair
from services.credit.handlers.reviews import Reviews
from services.credit.store import CreditStore


class Credit:
    """The credit application: accounts, restrictions, records, expert reviews, alerts.

    Its use cases wired on one ``Context``, each timer's kind to the one that owns it."""

    def __init__(self, *, accounts: Aggregates, alerts: Aggregates, store: CreditStore,
                 timers: Timers, rules: CreditRules) -> None:
        self.ctx = Context(accounts=accounts, alerts=alerts, store=store, timers=timers,
                           rules=rules)
        self.store = store
        self.accounts = Accounts(self.ctx)
        self.records = Records(self.ctx)
        self.repair = Repair(self.ctx)
        self.reviews = Reviews(self.ctx, self.accounts)
        self.collusion = Collusion(self.ctx)
        timers.on(EXPIRY, self.accounts.on_expiry)
        timers.on(RECORD_SWEEP, self.repair.on_record_sweep)


__all__ = ["EXPIRY", "RECORDED", "RECORD_SWEEP", "Accounts", "Collusion", "Context", "Credit",
           "RecordedEvent", "Records", "Repair", "Reviews", "is_subject", "records_of",
           "restriction_id"]
