"""Bidding use cases: load, decide (domain), save with events (outbox), timers.

One module per stage of a tender after its publication, on the ports they share
(``context.Context``): publication, objections and suspensions, bids, the opening,
the committee and its evaluation, award and contract; ``parties`` checks who may
take part (also for auctions and listings).
"""

from __future__ import annotations

from services.bidding.handlers.award import Award
from services.bidding.handlers.bids import Bids
from services.bidding.handlers.committee import Committee
from services.bidding.handlers.context import (
    CONTRACT_DUE,
    DEADLINE,
    DECRYPT_END,
    OBJECTION_DUE,
    SUSPENSION_END,
    Context,
)
from services.bidding.handlers.objections import Objections
from services.bidding.handlers.opening import Opening
from services.bidding.handlers.parties import Parties
from services.bidding.handlers.publication import Publication


class Bidding:
    """The bidding application: tenders, sealed bids, opening, evaluation, award.

    Its use cases wired on one ``Context``, each timer's kind to the one that owns it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.parties = Parties(ctx.store)
        self.publication = Publication(ctx, self.parties)
        self.award = Award(ctx)
        self.objections = Objections(ctx, self.award)
        self.bids = Bids(ctx, self.parties)
        self.committee = Committee(ctx)
        self.opening = Opening(ctx, self.committee)
        ctx.timers.on(DEADLINE, self.opening.on_deadline)
        ctx.timers.on(DECRYPT_END, self.opening.on_decrypt_end)
        ctx.timers.on(CONTRACT_DUE, self.award.on_contract_due)
        ctx.timers.on(SUSPENSION_END, self.objections.on_suspension_end)
        ctx.timers.on(OBJECTION_DUE, self.objections.on_objection_due)


__all__ = ["Award", "Bidding", "Bids", "Committee", "Context", "Objections", "Opening",
           "Parties", "Publication"]
