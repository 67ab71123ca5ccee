"""Bidding's own collections: local projections of other stages' facts, and bid queries.

Projections are built from events, never by reading another service's database:
entities and experts (registration), restrictions (credit). A projection applies
an event only when its version is newer than what it holds, so redelivery and
reordering within a partition change nothing.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.batching import Store
from ggzy.runtime.cache import TTLCache

SUBMITTED = "submitted"
# What a bid keeps of its bidder as seen at submission: what the opening reads out
# (the name) and checks (related bidders, 条例34).
BIDDER_FIELDS = ("name", "legal_representative_ref", "controlled_by")
# The difference allowed between the clocks of the replica that projected an entity and
# the one that took a bid (NTP keeps them within milliseconds).
CLOCK_SKEW_MS = 8_000
# What the opening reads of a bid: not its ciphertext (opened at the reveal) nor bookkeeping.
OPENING_FIELDS = {"ciphertext": 0, "nonce": 0, "outbox": 0, "processed": 0}
WITHDRAWN = "withdrawn"


class BiddingStore:
    """Projections and bid reads of the bidding service."""

    def __init__(self, db: AsyncDatabase[Doc], lag_s: float = 2.0,
                 store: Store | None = None) -> None:
        # Reads on the path of a bid are group-committed with concurrent ones (batching).
        self.store = store or Store(db.client)
        # Entities and restrictions are read on every bid; they change by events that
        # lag anyway, so a bid may see them up to ``lag_s`` later than their arrival.
        self.cached_entities: TTLCache[str, Doc] = TTLCache(lag_s)
        # An entity projected this long before a section's first bid is in every
        # snapshot of that section's bids (a bid's snapshot may be ``lag_s`` old).
        self.snapshot_margin_ms = int(lag_s * 1000) + CLOCK_SKEW_MS
        self.cached_restrictions: TTLCache[str, list[Doc]] = TTLCache(lag_s)
        self.cached_reductions: TTLCache[str, int] = TTLCache(lag_s)
        self.credit = db["credit_projection"]
        self.entities = db["entity_projection"]
        self.experts = db["expert_projection"]
        self.restrictions = db["restrictions"]
        self.bids = db["bids"]

    async def setup(self) -> None:
        """Indexes of the queries below."""
        await self.bids.create_index("tender_id")
        await self.entities.create_index("projected_ms")
        await self.restrictions.create_index("subject")

    async def project(self, kind: str, key: str, version: int, data: dict[str, Any]) -> None:
        """Upsert a snapshot if it is newer than the one held (idempotent)."""
        coll = self.entities if kind == "entity" else self.experts
        with contextlib.suppress(DuplicateKeyError):  # a newer version is already held
            await coll.update_one({"_id": key, "version": {"$lt": version}},
                                  {"$set": {**data, "version": version,
                                            "projected_ms": now_ms()}}, upsert=True)
        self.cached_entities.drop(key)  # this replica sees its own writes at once

    async def entity(self, uscc: str) -> Doc | None:
        """The entity as registration last told (``lag_s`` late at most); only a known
        entity is remembered, so one registered a moment ago is found at once."""
        found = self.cached_entities.get(uscc)
        if found is None:
            found = await self.store.find_one(self.entities, uscc)
            if found is not None:
                self.cached_entities.put(uscc, found)
        return found

    async def bidders_at_opening(self, bids: list[Doc]) -> dict[str, Doc]:
        """The bidders of ``bids`` as registration last told, for the opening record.

        A bid carries its bidder as seen at submission (``bidder``); only entities
        projected since the section's first bid (less a margin) are read again, so an
        opening of 10,000 bids reads the few that changed, not 10,000 entities.
        """
        out = {b["bidder_uscc"]: b["bidder"] for b in bids if b.get("bidder") is not None}
        missing = [b["bidder_uscc"] for b in bids if b.get("bidder") is None]
        fields = dict.fromkeys(BIDDER_FIELDS, 1)
        if out:
            since = min(int(b["received_ms"]) for b in bids) - self.snapshot_margin_ms
            changed = {"_id": {"$in": list(out)}, "projected_ms": {"$gte": since}}
            out.update({d["_id"]: d for d in await self.entities.find(changed, fields)
                        .to_list(None)})
        if missing:
            out.update({d["_id"]: d for d in await self.entities.find(
                {"_id": {"$in": missing}}, fields).to_list(None)})
        return out

    async def experts_all(self) -> list[Doc]:
        return await self.experts.find({}).to_list(None)

    async def expert_names(self, ids: list[str]) -> dict[str, str]:
        docs = await self.experts.find({"_id": {"$in": ids}}, {"name": 1}).to_list(None)
        return {d["_id"]: d["name"] for d in docs}

    async def project_credit(self, uscc: str, changed_ms: int, reduction_pct: int) -> None:
        """An entity's deposit reduction from credit (CreditChanged), if newer than held."""
        with contextlib.suppress(DuplicateKeyError):  # a newer change is already held
            await self.credit.update_one(
                {"_id": uscc, "changed_ms": {"$lt": changed_ms}},
                {"$set": {"changed_ms": changed_ms, "deposit_reduction_pct": reduction_pct}},
                upsert=True)
        self.cached_reductions.drop(uscc)

    async def deposit_reduction(self, uscc: str) -> int:
        """The bidder's deposit reduction in % (0 until credit has rated it)."""
        found = self.cached_reductions.get(uscc)
        if found is None:
            doc = await self.store.find_one(self.credit, uscc)
            found = int(doc["deposit_reduction_pct"]) if doc else 0
            self.cached_reductions.put(uscc, found)
        return found

    async def restrict(self, restriction_id: str, subject: str, data: dict[str, Any]) -> None:
        """Record a restriction (idempotent by its id)."""
        await self.restrictions.update_one(
            {"_id": restriction_id},
            {"$setOnInsert": {**data, "subject": subject, "revoked": 0}}, upsert=True)
        self.cached_restrictions.drop(subject)

    async def lift(self, restriction_id: str) -> None:
        doc = await self.restrictions.find_one_and_update({"_id": restriction_id},
                                                         {"$set": {"revoked": 1}})
        if doc is not None:
            self.cached_restrictions.drop(doc["subject"])

    async def restriction(self, subject: str, category: str, today: date) -> Doc | None:
        """The restriction that blocks ``subject`` for ``category`` today, if any."""
        day = today.isoformat()
        docs = self.cached_restrictions.get(subject)
        if docs is None:
            docs = await self.store.find_by(self.restrictions, "subject", subject, {"revoked": 0})
            self.cached_restrictions.put(subject, docs)
        return next((d for d in docs if category in d["categories"]
                     and d["start"] <= day <= d["end"]), None)

    async def restricted_subjects(self, category: str, today: date) -> set[str]:
        day = today.isoformat()
        docs = await self.restrictions.find({"revoked": 0}).to_list(None)
        return {d["subject"] for d in docs
                if category in d["categories"] and d["start"] <= day <= d["end"]}

    async def received(self, tender_id: str, deadline_ms: int) -> dict[str, list[Doc]]:
        """Bids received before the deadline, per section (with their deposits)."""
        docs = await self.bids.find({"tender_id": tender_id, "status": SUBMITTED},
                                    {"section_code": 1, "received_ms": 1, "bidder_uscc": 1,
                                     "deposit": 1}).to_list(None)
        out: dict[str, list[Doc]] = {}
        for d in docs:
            if int(d["received_ms"]) < deadline_ms:
                out.setdefault(d["section_code"], []).append(d)
        return out

    async def section_bids(self, tender_id: str, section_code: str) -> list[Doc]:
        docs = await self.bids.find({"tender_id": tender_id, "section_code": section_code,
                                     "status": SUBMITTED}, OPENING_FIELDS).to_list(None)
        return sorted(docs, key=lambda d: int(d["received_ms"]))


def bidder_snapshot(entity: Doc) -> Doc:
    """What a bid keeps of its bidder's entity (``BIDDER_FIELDS``)."""
    return {k: entity[k] for k in BIDDER_FIELDS if k in entity}
