"""Who may take part: registered parties, eligible bidders (registration's and credit's
projections), and a project code's owner; for tenders and for auctions and listings."""

from __future__ import annotations

from datetime import date

from contracts.categories import Category
from ggzy.runtime.aggregates import Doc
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import DomainError, Forbidden
from services.bidding.domain import tender
from services.bidding.store import BiddingStore


class Parties:
    """The parties of a tender or a sale, checked against the projections."""

    def __init__(self, store: BiddingStore) -> None:
        self.store = store

    async def check_party(self, uscc: str, kind: str) -> Doc:
        """The party's entity, if registered (registration's projection) as ``kind``."""
        return _registered_as(await self.store.entity(uscc), uscc, kind)

    async def claim_project(self, code: str, *, owner: str, region: str, name: str,
                            first_id: str) -> None:
        """Record a project code's owner and region at its first tender or sale, or check a
        later one against them (项目代码: one project, one tenderee, one region)."""
        tender.check_project(await self.store.claim_project(code, tender.project_record(
            owner=owner, region=region, name=name, first_id=first_id)),
            code=code, owner=owner, region=region)

    async def eligible_bidder(self, who: Principal, category: Category,
                              with_reduction: bool = True) -> tuple[str, Doc, int]:
        """The caller's credit code, entity and deposit reduction (%; 0 unless
        ``with_reduction``), if it is a registered bidder not restricted for the category
        (credit's projection); also for auctions and listings (竞买人)."""
        if not who.has(Role.BIDDER) or not who.uscc:
            raise Forbidden("role_required", "bids are submitted by a bidder's user")
        entity, reduction = await self.eligible(who.uscc, category, with_reduction)
        return who.uscc, entity, reduction

    async def eligible(self, uscc: str, category: Category,
                       with_reduction: bool = False) -> tuple[Doc, int]:
        """``uscc``'s entity and deposit reduction, if it is a registered bidder not
        restricted for the category (also the named buyer of a sale by agreement)."""
        found, banned, reduction = await self.store.bidder_facts(
            uscc, category.value, date.today(), with_reduction)
        entity = _registered_as(found, uscc, "bidder")
        if banned is not None:
            raise Forbidden("bidder_restricted", f"{uscc} is restricted from "
                            f"{category.value} until {banned['end']}: {banned['reason']}",
                            decision_no=banned["decision_no"], until=banned["end"])
        return entity, reduction


def _registered_as(entity: Doc | None, uscc: str, kind: str) -> Doc:
    """The entity, if registered (registration's projection) as ``kind``."""
    if entity is None:
        raise DomainError("party_not_registered", f"{uscc} is not a registered entity")
    if kind not in entity.get("kinds", []):
        raise DomainError("party_wrong_kind", f"{uscc} is not registered as a {kind}")
    return entity
