"""Announcement's collections: notices (aggregates), the feed's sequence, queries.

The feed never skips or repeats a notice under concurrent writers. Each notice
takes a publication number from one counter document in a single conditional
write that also records the number as pending; the notice is then written with
its number, and the number is released. Readers serve notices only up to the
watermark: below the lowest pending number (a pending number older than the
abandon limit — a writer that died — is skipped after that limit).
"""

from __future__ import annotations

import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.errors import Conflict

FEED = "feed"
ABANDON_MS = 60_000


class NoticeStore:
    """Sequence numbers and reads of notices."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.notices = db["notices"]
        self.counters = db["counters"]
        self.tenders = db["tenders"]

    async def setup(self) -> None:
        await self.notices.create_index("seq")
        await self.notices.create_index("tender_id")
        await self.counters.update_one({"_id": FEED}, {"$setOnInsert": {"seq": 0, "pending": {}}},
                                       upsert=True)

    async def remember_tender(self, tender_id: str, data: dict[str, Any]) -> None:
        """What notices of a tender need to know about it (from TenderPublished)."""
        await self.tenders.update_one({"_id": tender_id}, {"$set": data}, upsert=True)

    async def tender(self, tender_id: str) -> Doc | None:
        return await self.tenders.find_one({"_id": tender_id})

    async def allocate(self, attempts: int = 200) -> int:
        """A new publication number, recorded as pending in the same write."""
        for _ in range(attempts):
            doc = await self.counters.find_one({"_id": FEED}) or {"seq": 0}
            seq = int(doc["seq"]) + 1
            result = await self.counters.update_one(
                {"_id": FEED, "seq": seq - 1},
                {"$set": {"seq": seq, f"pending.{seq}": now_ms()}})
            if result.matched_count == 1:
                return seq
        raise Conflict("feed_busy", "could not number the notice; try again")

    async def release(self, seq: int) -> None:
        """The notice numbered ``seq`` is written: it may become visible."""
        await self.counters.update_one({"_id": FEED}, {"$unset": {f"pending.{seq}": ""}})

    async def watermark(self) -> int:
        """The highest number below which every notice is written."""
        doc = await self.counters.find_one({"_id": FEED}) or {"seq": 0, "pending": {}}
        limit = now_ms() - ABANDON_MS
        live = [int(s) for s, at in (doc.get("pending") or {}).items() if int(at) > limit]
        return min(live) - 1 if live else int(doc["seq"])

    async def feed(self, filters: dict[str, Any], *, before: int | None, after: int | None,
                   limit: int) -> tuple[list[Doc], int]:
        """Newest first below ``before``, or oldest first above ``after``; and the watermark."""
        mark = await self.watermark()
        query: dict[str, Any] = {**filters, "seq": {"$gt": after or 0, "$lte": mark}}
        if before is not None:
            query["seq"]["$lt"] = before
        order = 1 if after is not None else -1
        cursor = self.notices.find(query, {"outbox": 0, "processed": 0}).sort("seq", order)
        return await cursor.limit(limit).to_list(None), mark

    async def stats(self, filters: dict[str, Any]) -> list[Doc]:
        """Counts per (category, type), grouped on one key field: a compound group key
        is not supported by every MongoDB-compatible store."""
        pipeline = [{"$match": {**filters, "seq": {"$gt": 0}}},
                    {"$group": {"_id": "$stat_key", "count": {"$sum": 1}}}]
        cursor = await self.notices.aggregate(pipeline)
        return await cursor.to_list(None)


def text_filter(q: str) -> dict[str, Any]:
    """Case-insensitive search in titles and text (works on Chinese)."""
    pattern = re.escape(q)
    return {"$or": [{"title": {"$regex": pattern, "$options": "i"}},
                    {"text": {"$regex": pattern, "$options": "i"}}]}
