"""What bidding's route modules share: a section's path, its ids, who acts for the
tenderee."""

from __future__ import annotations

from aiohttp import web

from ggzy.runtime.auth import Role

SECTION = "/v1/tenders/{tender_id}/sections/{section}"
PARTY = (Role.TENDEREE, Role.AGENCY)


def ids(request: web.Request) -> tuple[str, str]:
    return request.match_info["tender_id"], request.match_info["section"]
