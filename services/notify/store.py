"""Notify's own collections: recipients and their channels, subscriptions, and the
projections it needs (a tender's parties from bidding; default e-mail addresses and
supervising departments from registration).

Projections apply an event only when its version is newer than the one held, so a
redelivery or a replay changes nothing. Queries use one indexed field each.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.batching import Store
from ggzy.runtime.cache import TTLCache
from ggzy.runtime.errors import NotFound
from services.notify.domain.recipients import RecipientId
from services.notify.domain.routing import Interest, Parties

ANY = "*"  # a subscription's category when it takes every category


class NotifyStore:
    """Recipients, subscriptions and projections of the notify service."""

    def __init__(self, db: AsyncDatabase[Doc], store: Store | None = None,
                 cache_s: float = 2.0) -> None:
        self.store = store
        self._cache: TTLCache[str, Doc] = TTLCache(cache_s, 100_000)
        self._reading: dict[str, asyncio.Future[Doc]] = {}
        self.recipients = db["recipients"]
        self.subscriptions = db["subscriptions"]
        self.tenders = db["tenders"]

    async def setup(self) -> None:
        """Indexes of the queries below."""
        await self.recipients.create_index("supervisor")
        await self.subscriptions.create_index("recipient")
        await self.subscriptions.create_index("category")

    # a tender's parties (projection of bidding's events) ------------------------------
    async def remember_tender(self, tender_id: str, tenderee: str, agency: str | None) -> None:
        await self.tenders.update_one({"_id": tender_id}, {"$set": {
            "tenderee": tenderee, "agency": agency}}, upsert=True)

    async def add_bidder(self, tender_id: str, uscc: str) -> None:
        await self.tenders.update_one({"_id": tender_id}, {"$set": {f"bidders.{uscc}": 1}},
                                      upsert=True)

    async def parties(self, tender_id: str) -> Parties:
        doc = await self.tenders.find_one({"_id": tender_id}) or {}
        return Parties(doc.get("tenderee"), doc.get("agency"),
                       frozenset((doc.get("bidders") or {}).keys()))

    # recipients ---------------------------------------------------------------------
    async def project(self, rid: RecipientId, version: int, emails: list[str],
                      supervisor: bool) -> None:
        """Registration's facts about a recipient, if newer than those held."""
        sets: Doc = {"reg_version": version, "default_emails": emails}
        if supervisor:
            sets["supervisor"] = 1
        with contextlib.suppress(DuplicateKeyError):  # a newer version is already held
            await self.recipients.update_one({"_id": rid, "reg_version": {"$lt": version}},
                                             {"$set": sets}, upsert=True)
        self._cache.drop(rid)

    async def note_supervisor(self, rid: RecipientId) -> None:
        """A platform user with the supervisor role made itself known: it hears alerts."""
        await self.recipients.update_one({"_id": rid}, {"$set": {"supervisor": 1}}, upsert=True)
        self._cache.drop(rid)

    async def supervisors(self) -> list[RecipientId]:
        docs = await self.recipients.find({"supervisor": 1}, {"_id": 1}).to_list(None)
        return [RecipientId(d["_id"]) for d in docs]

    async def recipient(self, rid: RecipientId) -> Doc:
        return await self.recipients.find_one({"_id": rid}) or {"_id": rid}

    async def recipients_by_id(self, ids: Iterable[RecipientId]) -> dict[str, Doc]:
        """The recipients' documents (channels, language), as of at most ``cache_s`` ago:
        read by id through the group-commit store (one ``$in`` find shared with the other
        events handled at the same time), one read per recipient at a time. A change
        made through this replica applies at once, one made through another within
        ``cache_s``."""
        out: dict[str, Doc] = {}
        missing: list[RecipientId] = []
        for rid in dict.fromkeys(ids):
            doc = self._cache.get(rid)
            if doc is None:
                missing.append(rid)
            elif doc:
                out[rid] = doc
        if missing:
            for rid, doc in zip(missing, await asyncio.gather(
                    *(self._read(rid) for rid in missing)), strict=True):
                if doc:
                    out[rid] = doc
        return out

    async def _read(self, rid: RecipientId) -> Doc:
        reading = self._reading.get(rid)
        if reading is None:
            reading = self._reading[rid] = asyncio.ensure_future(self._fetch(rid))
            reading.add_done_callback(lambda _: self._reading.pop(rid, None))
        return await asyncio.shield(reading)

    async def _fetch(self, rid: RecipientId) -> Doc:
        if self.store is None:
            doc = await self.recipients.find_one({"_id": rid})
        else:
            doc = await self.store.find_one(self.recipients, rid)
        self._cache.put(rid, doc or {})  # {}: none yet (the route's defaults apply)
        return doc or {}

    async def configure(self, rid: RecipientId, sets: Doc, unset: Iterable[str] = ()) -> Doc:
        """Change a recipient's own settings (channels, language)."""
        update: dict[str, Any] = {"$set": sets} if sets else {}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        await self.recipients.update_one({"_id": rid}, update, upsert=True)
        self._cache.drop(rid)
        return await self.recipient(rid)

    # subscriptions (精准订阅) ----------------------------------------------------------
    async def subscribe(self, rid: RecipientId, category: str | None, regions: list[str],
                        keywords: list[str]) -> Doc:
        doc: Doc = {"_id": uuid.uuid4().hex[:16], "recipient": rid, "category": category or ANY,
                    "regions": regions, "keywords": keywords, "created_ms": now_ms()}
        await self.subscriptions.insert_one(doc)
        return doc

    async def subscriptions_of(self, rid: RecipientId) -> list[Doc]:
        docs = await self.subscriptions.find({"recipient": rid}).to_list(None)
        return sorted(docs, key=lambda d: int(d["created_ms"]))

    async def unsubscribe(self, rid: RecipientId, sid: str) -> None:
        result = await self.subscriptions.delete_one({"_id": sid, "recipient": rid})
        if result.deleted_count != 1:
            raise NotFound("subscription_not_found", f"you have no subscription {sid}")

    async def interests(self, category: str) -> list[Interest]:
        """The subscriptions that may match a notice of ``category``."""
        docs = await self.subscriptions.find({"category": {"$in": [category, ANY]}}).to_list(None)
        return [Interest(RecipientId(d["recipient"]),
                         None if d["category"] == ANY else d["category"],
                         tuple(d.get("regions") or ()), tuple(d.get("keywords") or ()))
                for d in docs]
