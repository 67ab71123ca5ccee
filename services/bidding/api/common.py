"""What bidding's route modules share: a section's path, the ids in a request's path, who
acts for the tenderee, the statuses of an awarded section."""

from __future__ import annotations

from aiohttp import web

from ggzy.runtime.auth import Role

SECTION = "/v1/tenders/{tender_id}/sections/{section}"
PARTY = (Role.TENDEREE, Role.AGENCY)
AWARDED = ("awarded", "contracted", "contract_overdue")


def tender_id(request: web.Request) -> str:
    """The tender of the request's path."""
    return request.match_info["tender_id"]


def ids(request: web.Request) -> tuple[str, str]:
    """The tender and section of the request's path."""
    return tender_id(request), request.match_info["section"]
