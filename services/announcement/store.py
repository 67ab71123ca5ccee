"""Announcement's collections: notices (aggregates), tender facts, the feed's numbering.

The public feed never skips or repeats a notice, whatever the concurrency:
- a writer takes a publication number (``seq``) and records it as *pending* in the
  same conditional write on the counter document (compare-and-set on ``seq``);
- it inserts the notice with that number (``seq`` has a unique index), then releases
  the number;
- readers serve notices only up to the *watermark*: one below the lowest pending
  number, else the last number given out. Every number at or below it belongs to a
  written notice or is void, and no notice can take it any more;
- a number pending longer than ``abandon_ms`` (its writer died or stalls) is voided: a
  reader inserts a placeholder holding that number, which the unique index makes final.
  A writer that was only slow then fails on the index and takes a new number, so its
  notice still appears exactly once, above the watermark.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.announcement import NoticePublished, NoticeType
from contracts.categories import Category
from ggzy.runtime.aggregates import Doc, now_ms
from ggzy.runtime.errors import Conflict
from services.announcement.domain import TenderFacts

FEED = "feed"
NOTICE, VOID = "notice", "void"  # the ``record`` of a document in the notices collection
ABANDON_MS = 10_000
PUBLIC = (*NoticePublished.model_fields, "seq", "publicity_status", "corrects")


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A notice as anyone may read it: only the fields of the published notice, and the
    later notices that corrected it (更正公告), in publication order."""
    out = {"id": doc["_id"], **{k: doc[k] for k in PUBLIC if k in doc}}
    corrections = doc.get("corrections") or {}
    out["corrected_by"] = sorted(corrections, key=lambda nid: int(corrections[nid]))
    return out


class NoticeStore:
    """Publication numbers, the public feed and statistics, and the tender facts."""

    def __init__(self, db: AsyncDatabase[Doc], *, abandon_ms: int = ABANDON_MS) -> None:
        self.notices = db["notices"]
        self.counters = db["counters"]
        self.tenders = db["tenders"]
        self.abandon_ms = abandon_ms

    async def setup(self) -> None:
        """Indexes, and the counter of publication numbers."""
        await self.notices.create_index("seq", unique=True)
        await self.notices.create_index("tender_id")
        await self.counters.update_one({"_id": FEED}, {"$setOnInsert": {"seq": 0, "pending": {}}},
                                       upsert=True)

    # tender facts (a projection of bidding's events) ----------------------------------
    async def remember_tender(self, tender_id: str, project_name: str, category: Category,
                              region_code: str, owners: tuple[str, ...] = ()) -> None:
        """What the notices of a tender need to know about it (from TenderPublished): also
        its owners (tenderee, agency), who answer objections to its results (条例54)."""
        await self.tenders.update_one({"_id": tender_id}, {"$set": {
            "project_name": project_name, "category": category.value,
            "region_code": region_code, "owners": list(owners)}}, upsert=True)

    async def remember_winner(self, tender_id: str, section: str, name: str, code: str) -> None:
        """The winner of a section (from Awarded), named again in the contract notice."""
        await self.tenders.update_one({"_id": tender_id}, {"$set": {
            f"winners.{section}": {"name": name, "code": code}}}, upsert=True)

    async def facts(self, tender_id: str) -> TenderFacts | None:
        doc = await self.tenders.find_one({"_id": tender_id})
        if doc is None or "category" not in doc:
            return None
        owners = doc.get("owners")
        if owners is None:  # remembered before owners were: its tender notice names them
            owners = await self._owners_from_notice(tender_id)
        return TenderFacts(doc["project_name"], Category(doc["category"]), doc["region_code"],
                           doc.get("winners") or {}, frozenset(owners),
                           owners[0] if owners else None)

    async def _owners_from_notice(self, tender_id: str) -> list[str]:
        """The tenderee and agency its tender notice names (TENDERER_CODE,
        TENDER_AGENCY_CODE), kept in the tender's facts from now on."""
        notice = await self.notices.find_one(
            {"tender_id": tender_id, "record": NOTICE, "notice_type": "tender"}, {"content": 1})
        if notice is None:
            return []
        content = notice.get("content") or {}
        owners = [u for u in (content.get("TENDERER_CODE"), content.get("TENDER_AGENCY_CODE"))
                  if u]
        await self.tenders.update_one({"_id": tender_id, "owners": {"$exists": False}},
                                      {"$set": {"owners": owners}})
        return owners

    async def notice_of(self, tender_id: str, notice_type: NoticeType) -> str | None:
        """The id of the tender's first notice of ``notice_type`` (its tender notice)."""
        doc = await self.notices.find_one(
            {"tender_id": tender_id, "record": NOTICE, "notice_type": notice_type.value},
            {"_id": 1}, sort=[("seq", 1)])
        return None if doc is None else str(doc["_id"])

    async def link_correction(self, corrected: str, correction: str, published_ms: int) -> None:
        """The corrected notice lists the notice that corrects it, with its publication
        time (the same again changes nothing): its content stays as published."""
        await self.notices.update_one({"_id": corrected},
                                      {"$set": {f"corrections.{correction}": published_ms}})

    # publication numbers ------------------------------------------------------------
    async def allocate(self, attempts: int = 500) -> int:
        """A new publication number, recorded as pending in the same write."""
        for attempt in range(attempts):
            doc = await self.counters.find_one({"_id": FEED}) or {"seq": 0}
            seq = int(doc["seq"]) + 1
            result = await self.counters.update_one(
                {"_id": FEED, "seq": seq - 1}, {"$set": {"seq": seq, f"pending.{seq}": now_ms()}})
            if result.matched_count == 1:
                return seq
            await asyncio.sleep(random.uniform(0, 0.001 * min(attempt, 20)))  # back off
        raise Conflict("feed_busy", "could not number the notice; try again")

    async def release(self, seq: int) -> None:
        """The writer of ``seq`` is done (written, or given up): it no longer holds the feed."""
        await self.counters.update_one({"_id": FEED}, {"$unset": {f"pending.{seq}": ""}})

    async def watermark(self) -> int:
        """The highest number at or below which every number is written or void."""
        doc = await self.counters.find_one({"_id": FEED}) or {"seq": 0, "pending": {}}
        pending = {int(s): int(at) for s, at in (doc.get("pending") or {}).items()}
        limit = now_ms() - self.abandon_ms
        for seq in sorted(s for s, at in pending.items() if at <= limit):
            await self._void(seq)
        live = [s for s, at in pending.items() if at > limit]
        return min(live) - 1 if live else int(doc["seq"])

    async def _void(self, seq: int) -> None:
        """Make an abandoned number final: a notice holds it, or no notice ever will."""
        with contextlib.suppress(DuplicateKeyError):  # a notice has it, or a reader voided it
            await self.notices.insert_one({"_id": f"{VOID}:{seq}", "record": VOID, "seq": seq,
                                           "voided_ms": now_ms()})
        await self.release(seq)

    # reads -------------------------------------------------------------------------
    async def feed(self, filters: Mapping[str, Any], *, before: int | None, after: int | None,
                   limit: int) -> tuple[list[Doc], int]:
        """Newest first below ``before``, or oldest first above ``after``; and the watermark."""
        mark = await self.watermark()
        seq: dict[str, int] = {"$gt": after or 0, "$lte": mark}
        if before is not None:
            seq["$lt"] = before
        query = {**filters, "record": NOTICE, "seq": seq}
        order = 1 if after is not None else -1
        cursor = self.notices.find(query, {"outbox": 0, "processed": 0}).sort("seq", order)
        return await cursor.limit(limit).to_list(None), mark

    async def stats(self, filters: Mapping[str, Any]) -> list[Doc]:
        """Counts per (category, type), grouped on one key field: a compound group key
        is not supported by every MongoDB-compatible store."""
        pipeline = [{"$match": {**filters, "record": NOTICE}},
                    {"$group": {"_id": "$stat_key", "count": {"$sum": 1}}}]
        cursor = await self.notices.aggregate(pipeline)
        return await cursor.to_list(None)


def text_filter(q: str) -> dict[str, Any]:
    """Case-insensitive search in titles and text (works on Chinese); input is escaped."""
    pattern = re.escape(q)
    return {"$or": [{"title": {"$regex": pattern, "$options": "i"}},
                    {"text": {"$regex": pattern, "$options": "i"}}]}


def region_filter(region: str) -> dict[str, Any]:
    """A region and every region under it (GB/T 2260: trailing zero pairs mark the level,
    440000 is a province, 440300 a city in it, 440304 a district of the city)."""
    prefix = region
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    if len(prefix) == 6:
        return {"region_code": prefix}
    return {"region_code": {"$regex": "^" + re.escape(prefix)}}
