"""Credit's own collections: projections of registration and bidding facts, read models.

Projections are built from events, never from another service's database:
entities (registration; applied only when newer, like bidding's), tenders and
committees (bidding), the fingerprint parts of each opening, section outcomes
for cross-tender patterns, and the pending expert evaluations (专家评价).
Every write is an idempotent upsert keyed by the fact's own id.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import Doc

PENDING, RATED = "pending", "rated"


class CreditStore:
    """Projections and read models of the credit service."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.entities = db["entity_projection"]
        self.tenders = db["tender_projection"]
        self.committees = db["committees"]
        self.parts = db["fingerprint_parts"]
        self.outcomes = db["section_outcomes"]
        self.reviews = db["expert_reviews"]
        self.accounts = db["accounts"]
        self.alerts = db["alerts"]

    async def setup(self) -> None:
        """Indexes of the queries below."""
        await self.parts.create_index("section")
        await self.reviews.create_index("expert_id")
        await self.alerts.create_index("tender_id")
        await self.accounts.create_index("next_record_expiry")

    async def project_entity(self, uscc: str, version: int, data: dict[str, Any]) -> None:
        """Upsert an entity snapshot if it is newer than the one held (idempotent)."""
        with contextlib.suppress(DuplicateKeyError):  # a newer version is already held
            await self.entities.update_one({"_id": uscc, "version": {"$lt": version}},
                                           {"$set": {**data, "version": version}}, upsert=True)

    async def entities_by_id(self, usccs: list[str]) -> dict[str, Doc]:
        docs = await self.entities.find({"_id": {"$in": usccs}}).to_list(None)
        return {d["_id"]: d for d in docs}

    async def project_tender(self, tender_id: str, data: dict[str, Any]) -> None:
        await self.tenders.update_one({"_id": tender_id}, {"$set": data}, upsert=True)

    async def tender(self, tender_id: str) -> Doc | None:
        return await self.tenders.find_one({"_id": tender_id})

    async def project_objection(self, tender_id: str, objection_id: str,
                                fields: dict[str, Any]) -> None:
        """An objection to a tender's documents as bidding recorded it (filed, answered)."""
        sets = {f"objections.{objection_id}.{k}": v for k, v in fields.items()}
        await self.tenders.update_one({"_id": tender_id}, {"$set": sets}, upsert=True)

    async def project_committee(self, tender_id: str, section: str, experts: list[str],
                                category: str) -> None:
        await self.committees.update_one(
            {"_id": f"{tender_id}:{section}"},
            {"$set": {"tender_id": tender_id, "section_code": section, "experts": experts,
                      "category": category}}, upsert=True)

    async def committee(self, tender_id: str, section: str) -> Doc | None:
        return await self.committees.find_one({"_id": f"{tender_id}:{section}"})

    async def open_reviews(self, tender_id: str, section: str, experts: list[str],
                           category: str) -> None:
        """One pending evaluation per committee expert (created once)."""
        for expert in experts:
            await self.reviews.update_one(
                {"_id": f"{tender_id}:{section}:{expert}"},
                {"$setOnInsert": {"tender_id": tender_id, "section_code": section,
                                  "expert_id": expert, "category": category,
                                  "status": PENDING}}, upsert=True)

    async def review(self, review_id: str) -> Doc | None:
        return await self.reviews.find_one({"_id": review_id})

    async def reviews_of(self, query: dict[str, Any]) -> list[Doc]:
        return await self.reviews.find(query).sort("_id", 1).to_list(500)

    async def rate_review(self, review_id: str, rating: str, by: str, note: str) -> None:
        await self.reviews.update_one({"_id": review_id}, {"$set": {
            "status": RATED, "rating": rating, "rated_by": by, "note": note}})

    async def add_part(self, tender_id: str, section: str, part: int, parts: int,
                       category: str, columns: dict[str, list[Any]]) -> int:
        """Store one part of a section's fingerprints, as columns (one list per field);
        return how many parts are held."""
        sec = f"{tender_id}:{section}"
        await self.parts.update_one({"_id": f"{sec}:{part}"}, {"$setOnInsert": {
            "section": sec, "part": part, "parts": parts, "category": category,
            "columns": columns}}, upsert=True)
        return await self.parts.count_documents({"section": sec})

    async def section_parts(self, tender_id: str, section: str) -> list[Doc]:
        """A section's stored parts in order (a part stored before columns holds rows,
        ``fingerprints``)."""
        docs = await self.parts.find({"section": f"{tender_id}:{section}"}).to_list(None)
        return sorted(docs, key=lambda d: int(d["part"]))

    async def record_bidders(self, tender_id: str, section: str, category: str,
                             bidders: list[str]) -> None:
        await self.outcomes.update_one({"_id": f"{tender_id}:{section}"}, {"$set": {
            "tender_id": tender_id, "section_code": section, "category": category,
            "bidders": sorted(set(bidders))}}, upsert=True)

    async def record_winner(self, tender_id: str, section: str, winner: str) -> None:
        await self.outcomes.update_one({"_id": f"{tender_id}:{section}"}, {"$set": {
            "tender_id": tender_id, "section_code": section, "winner": winner}}, upsert=True)

    async def outcomes_of(self, category: str | None) -> list[Doc]:
        query: dict[str, Any] = {"category": category} if category else {}
        return [d for d in await self.outcomes.find(query).to_list(None) if d.get("bidders")]

    async def accounts_with_records_due(self, day: str, limit: int) -> list[Doc]:
        """Accounts holding a record whose period ends by ``day`` (ISO date), at most
        ``limit``: the subject of each."""
        return await self.accounts.find(
            {"next_record_expiry": {"$lte": day}}, {"subject_kind": 1, "subject_id": 1},
        ).sort("_id", 1).limit(limit).to_list(None)

    async def account_with_restriction(self, restriction_key: str) -> Doc | None:
        return await self.accounts.find_one(
            {f"restrictions.{restriction_key}": {"$exists": True}})

    async def alerts_of(self, query: dict[str, Any], limit: int) -> list[Doc]:
        return await self.alerts.find(query).sort("raised_at", -1).to_list(limit)
