"""Bidding's HTTP API: thin routes, one handler call each.

One module per stage of a tender, as the use cases (``services.bidding.handlers``):
publication (``tenders``), ``objections``, ``bids``, the ``opening`` and its committee,
the ``award`` and contract, and the ``audit`` views that show what the record proves;
``common`` holds what they share. Auctions and listings are ``auction_api``.
"""

from __future__ import annotations

from ggzy.runtime.http import Api
from ggzy.runtime.service import Runtime
from services.bidding.api.audit import audit_routes
from services.bidding.api.award import award_routes
from services.bidding.api.bids import bid_routes
from services.bidding.api.objections import objection_routes
from services.bidding.api.opening import opening_routes
from services.bidding.api.tenders import (
    SectionIn,
    TenderIn,
    public_view,
    schedule_of,
    schedule_view,
    tender_routes,
    to_event,
)
from services.bidding.handlers import Bidding


def routes(rt: Runtime, app: Bidding) -> Api:
    """Bidding's API: the routes of every stage of a tender."""
    api = Api("ggzy bidding")
    for add in (tender_routes, objection_routes, bid_routes, opening_routes, award_routes,
                audit_routes):
        add(api, rt, app)
    return api


__all__ = ["SectionIn", "TenderIn", "public_view", "routes", "schedule_of", "schedule_view",
           "to_event"]
