"""Bidding's own collections: local projections of other stages' facts, and bid queries.

Projections are built from events, never by reading another service's database:
entities and experts (registration), restrictions (credit). A projection applies
an event only when its version is newer than what it holds, so redelivery and
reordering within a partition change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import zlib
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
OPENING_FIELDS = {"ciphertext": 0, "nonce": 0, "outbox": 0, "processed": 0, "ops": 0}
# What a section's dossier keeps of each bid received by the deadline (the opening record,
# the related-bidder check, the fingerprints for credit, the deposits).
DOSSIER_FIELDS = ("section_code", "bidder_uscc", "received_ms", "digest", "fingerprint",
                  "deposit", "bidder")
DOSSIER_PART = 1000  # bids per dossier document (~0.6 MB, far under the 16 MB limit)
# Restrictions in force are few (a ban list): while there are at most this many, a bid
# checks its bidder against the whole list, read once per ``lag_s``, not one read a bid.
RESTRICTION_LIST_MAX = 1000
RESTRICTION_LIST_RETRY_S = 60.0  # after a longer list: per-bidder reads this long
REVEAL_BUCKETS = 16  # documents a section's revealed keys are spread over
WITHDRAWN = "withdrawn"
LATE = "late"  # received before the deadline, written after the opening read the bids
LISTED = "in force"  # the restriction list's one cache key


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
        # Every restriction in force, by subject (None while there are too many to list).
        self.restriction_list: TTLCache[str, dict[str, list[Doc]]] = TTLCache(lag_s)
        self._listing: asyncio.Future[list[Doc]] | None = None
        self._list_generation = 0  # a restriction recorded or lifted here since a read
        self._list_unused_until = 0.0
        self.credit = db["credit_projection"]
        self.entities = db["entity_projection"]
        self.experts = db["expert_projection"]
        self.restrictions = db["restrictions"]
        self.bids = db["bids"]
        self.dossiers = db["opening_dossiers"]
        self.draws = db["draws"]  # each section's draw record, for anyone to re-run it
        self.reveals = db["reveals"]
        self.reveal_ops = db["reveal_operations"]
        self.operations = db["bid_operations"]  # each section's operation leaves at the close
        self.projects = db["projects"]  # a project code's tenderee and region (项目代码)

    async def setup(self) -> None:
        """Indexes of the queries below."""
        await self.bids.create_index("tender_id")
        await self.entities.create_index("projected_ms")
        await self.dossiers.create_index("tender_id")
        await self.reveals.create_index("tender_id")
        await self.reveal_ops.create_index("tender_id")
        await self.restrictions.create_index("subject")
        await self.restrictions.create_index("revoked")

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
        missing = {b["bidder_uscc"] for b in bids if b.get("bidder") is None}
        again = sorted(missing)
        if out:  # which entities were projected since: their ids by the projected_ms index
            since = min(int(b["received_ms"]) for b in bids) - self.snapshot_margin_ms
            projected = await self.entities.find({"projected_ms": {"$gte": since}},
                                                 {"_id": 1}).to_list(None)
            # (not ``_id $in`` the section's 10,000 bidders with projected_ms: the store
            # looks up every one of them to find the few that changed)
            again += sorted({d["_id"] for d in projected if d["_id"] in out} - missing)
        if again:
            out.update({d["_id"]: d for d in await self.entities.find(
                {"_id": {"$in": again}}, dict.fromkeys(BIDDER_FIELDS, 1)).to_list(None)})
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

    async def claim_project(self, code: str, data: dict[str, Any]) -> Doc:
        """The project record of ``code``: the one kept, or ``data`` when it is the first
        (a project code names one project, 项目代码: its tenderee and region from its
        first tender on)."""
        with contextlib.suppress(DuplicateKeyError):  # two first tenders at once: one wins
            await self.projects.update_one({"_id": code}, {"$setOnInsert": data}, upsert=True)
        doc: Doc | None = await self.projects.find_one({"_id": code})
        assert doc is not None  # upserted above or by the one that won
        return doc

    async def restrict(self, restriction_id: str, subject: str, data: dict[str, Any]) -> None:
        """Record a restriction (idempotent by its id)."""
        await self.restrictions.update_one(
            {"_id": restriction_id},
            {"$setOnInsert": {**data, "subject": subject, "revoked": 0}}, upsert=True)
        self._restrictions_changed(subject)

    async def lift(self, restriction_id: str, ended: bool = False) -> None:
        """A restriction stops blocking; ``ended``: its period ran out (the penalty stays
        on record, 暂行规定12(四)), else it was revoked."""
        doc = await self.restrictions.find_one_and_update(
            {"_id": restriction_id}, {"$set": {"revoked": 1, "ended": int(ended)}})
        if doc is not None:
            self._restrictions_changed(doc["subject"])

    def _restrictions_changed(self, subject: str) -> None:
        """This replica sees its own restriction writes at once."""
        self.cached_restrictions.drop(subject)
        self.restriction_list.drop(LISTED)
        self._list_generation += 1
        self._listing = None

    async def bidder_facts(self, uscc: str, category: str, today: date,
                           with_reduction: bool = True) -> tuple[Doc | None, Doc | None, int]:
        """What a bid checks of its bidder: its entity as registration last told (None if
        unknown), the restriction that blocks it for ``category`` today (if any) and its
        deposit reduction in % (0 until credit has rated it, or when not ``with_reduction``:
        not read); each ``lag_s`` late at most. What the caches cannot answer is read in
        one round trip, not three."""
        entity = self.cached_entities.get(uscc)
        docs = self._restrictions_cached(uscc)
        reduction = self.cached_reductions.get(uscc) if with_reduction else 0
        reads: list[asyncio.Future[Any]] = []
        if entity is None:
            reads.append(self.store.find_soon(self.entities, uscc))
        listed = docs is None and self._list_unused_until <= time.monotonic()
        if listed:  # shared by the bids waiting on it: one leaving must not cancel it
            reads.append(asyncio.shield(self._list_soon()))
        elif docs is None:
            reads.append(self.store.find_by_soon(self.restrictions, "subject", uscc,
                                                 {"revoked": 0}))
        if reduction is None:
            reads.append(self.store.find_soon(self.credit, uscc))
        answers = iter(await asyncio.gather(*reads))
        if entity is None:
            entity = next(answers)
            if entity is not None:
                self.cached_entities.put(uscc, entity)
        if docs is None:
            docs = next(answers)
            if listed:
                docs = [d for d in docs if d["subject"] == uscc]
            else:
                self.cached_restrictions.put(uscc, docs)
        if reduction is None:
            doc = next(answers)
            reduction = int(doc["deposit_reduction_pct"]) if doc else 0
            self.cached_reductions.put(uscc, reduction)
        return entity, _blocking(docs, category, today), reduction

    def _restrictions_cached(self, uscc: str) -> list[Doc] | None:
        listed = self.restriction_list.get(LISTED)
        if listed is not None:
            return listed.get(uscc, [])
        return self.cached_restrictions.get(uscc)

    def _list_soon(self) -> asyncio.Future[list[Doc]]:
        """Every restriction in force, read once for the bids waiting on it; kept by
        subject for ``lag_s`` unless a restriction changed here meanwhile, or unless
        there are more than ``RESTRICTION_LIST_MAX`` (then bids read their own)."""
        if self._listing is not None:
            return self._listing
        listing = self._listing = self.store.find_by_soon(self.restrictions, "revoked", 0)
        generation = self._list_generation

        def listed(done: asyncio.Future[list[Doc]]) -> None:
            if self._listing is done:
                self._listing = None
            if done.cancelled() or done.exception() is not None \
                    or generation != self._list_generation:
                return
            docs = done.result()
            if len(docs) > RESTRICTION_LIST_MAX:
                self._list_unused_until = time.monotonic() + RESTRICTION_LIST_RETRY_S
                return
            by_subject: dict[str, list[Doc]] = {}
            for d in docs:
                by_subject.setdefault(d["subject"], []).append(d)
            self.restriction_list.put(LISTED, by_subject)

        listing.add_done_callback(listed)
        return listing

    async def expert_bars(self, category: str, today: date) -> tuple[set[str], set[str]]:
        """The subjects restricted for ``category`` today, and those with a penalty on
        record (``_a_penalty``: 暂行规定12(四))."""
        docs = await self.restrictions.find(ON_RECORD).to_list(None)
        return ({d["subject"] for d in docs if not d["revoked"] and _blocking([d], category,
                                                                               today)},
                {d["subject"] for d in docs if _a_penalty(d, until=today)})

    async def penalised_since(self, subjects: list[str], since: date) -> set[str]:
        """Those of ``subjects`` with a penalty on record that started on or after
        ``since`` (政府采购法第22条(五))."""
        docs = await self.restrictions.find({"subject": {"$in": subjects}, **ON_RECORD},
                                            {"subject": 1, "start": 1, "penalty": 1}
                                            ).to_list(None)
        return {d["subject"] for d in docs if _a_penalty(d, since=since)}

    async def entities_of(self, usccs: list[str]) -> dict[str, Doc]:
        """The kinds and controllers of these entities as registration last told."""
        docs = await self.entities.find({"_id": {"$in": usccs}},
                                        {"kinds": 1, "controlled_by": 1}).to_list(None)
        return {d["_id"]: d for d in docs}

    async def received(self, tender_id: str, deadline_ms: int) -> dict[str, list[Doc]]:
        """Bids received before the deadline, per section (what a dossier keeps of them)."""
        return (await self.at_close(tender_id, deadline_ms))[0]

    async def at_close(self, tender_id: str, deadline_ms: int
                       ) -> tuple[dict[str, list[Doc]], dict[str, list[Doc]]]:
        """In one read: the bids received before the deadline per section, and every bid
        of the tender (withdrawn ones too) with its operations' head, per section."""
        docs = await self.bids.find({"tender_id": tender_id}, dict.fromkeys(
            (*DOSSIER_FIELDS, "status", "ops_head", "ops_n"), 1)).to_list(None)
        received: dict[str, list[Doc]] = {}
        every: dict[str, list[Doc]] = {}
        for d in docs:
            every.setdefault(d["section_code"], []).append(
                {k: d.get(k) for k in ("_id", "ops_head", "ops_n")})
            if d.get("status") == SUBMITTED and int(d["received_ms"]) < deadline_ms:
                received.setdefault(d["section_code"], []).append(
                    {k: v for k, v in d.items() if k not in ("status", "ops_head", "ops_n")})
        return received, every

    async def keep_operations(self, tender_id: str, code: str, record: Doc) -> Doc:
        """A section's bids' operation leaves as the close fixes them (``audit.operations_of``;
        first write wins, so a close decided again uses the same leaves): the count of bids
        and operations and the root kept."""
        key = f"{tender_id}:{code}"
        with contextlib.suppress(DuplicateKeyError):
            await self.operations.insert_one({
                "_id": key, "tender_id": tender_id, "section_code": code,
                **{k: record[k] for k in ("bids", "ops", "root")},
                "leaves": json.dumps(record["leaves"], separators=(",", ":"))})
        kept = await self.operations.find_one({"_id": key}, {"_id": 0, "bids": 1, "ops": 1,
                                                             "root": 1})
        assert kept is not None
        return dict(kept)

    async def kept_operations(self, tender_id: str, code: str) -> list[str] | None:
        kept = await self.operations.find_one({"_id": f"{tender_id}:{code}"}, {"leaves": 1})
        return None if kept is None else list(json.loads(kept["leaves"]))

    async def bid_operations(self, tender_id: str, code: str) -> list[Doc]:
        """A section's bids with their operations, none of their content: a revealed
        key's operation (``record_reveal``, chained on the bid's last one) at the end of
        its bid's chain."""
        section = {"tender_id": tender_id, "section_code": code}
        bids, reveals = await asyncio.gather(
            self.bids.find(section, {"bidder_uscc": 1, "status": 1, "ops": 1}).to_list(None),
            self.reveal_ops.find(section, {"op": 1}).to_list(None))
        ops = {str(r["_id"]): json.loads(r["op"]) for r in reveals}
        for b in bids:
            op = ops.get(f"{tender_id}:{code}:{b['bidder_uscc']}")
            if op is not None:
                b["ops"] = [*(b.get("ops") or []), op]
        return list(bids)

    # the opening dossier: a section's bids as they stand at the deadline -----------------
    async def write_dossier(self, tender_id: str, code: str, bids: list[Doc]) -> None:
        """Keep a section's bids as received by the deadline, and make room for its
        revealed keys, before its decryption window opens.

        After the deadline a bid no longer changes (late bids, withdrawals and
        resubmissions are refused); only its key is revealed, and reveals are kept
        apart (``record_reveal``). So the opening reads a few dossier and reveal
        documents instead of every bid: 10,000 bid documents cost the embedded store
        about 0.8 s to read. Rewriting a dossier (a timer fired again) changes nothing.
        """
        ordered = sorted(bids, key=lambda b: (int(b["received_ms"]), b["_id"]))
        parts = [ordered[i:i + DOSSIER_PART] for i in range(0, len(ordered), DOSSIER_PART)]
        for n, part in enumerate(parts or [[]], 1):
            part_id = f"{tender_id}:{code}:{n}"  # in the replacement too: nx-27017 needs it
            await self.dossiers.replace_one(
                {"_id": part_id},
                {"_id": part_id, "tender_id": tender_id, "section_code": code, "part": n,
                 "parts": max(len(parts), 1),
                 # one JSON text, not 1,000 sub-documents: a third of the embedded store's
                 # time to read it back (as the outbox keeps its events)
                 "bids": json.dumps(part, ensure_ascii=False, separators=(",", ":"))},
                upsert=True)
        for k in range(REVEAL_BUCKETS):
            await self.reveals.update_one(
                {"_id": f"{tender_id}:{code}:{k}"},
                {"$setOnInsert": {"tender_id": tender_id, "section_code": code, "keys": {}}},
                upsert=True)

    async def keep_draw(self, tender_id: str, code: str, record: Doc, *,
                        round_no: int = 0) -> None:
        """A section's draw record (``draw.DrawRecord``), kept apart from the tender (its
        pool can be long): the same draw again writes the same record. A replacement's
        (条例48) is kept by its round."""
        key = f"{tender_id}:{code}" + (f":r{round_no}" if round_no else "")
        # the id in the document too: nx-27017's upserting replace does not take it from
        # the filter (it makes an ObjectId), MongoDB's does; both keep the one given
        await self.draws.replace_one({"_id": key}, {**record, "_id": key}, upsert=True)

    async def draw_record(self, tender_id: str, code: str, round_no: int = 0) -> Doc | None:
        key = f"{tender_id}:{code}" + (f":r{round_no}" if round_no else "")
        return await self.draws.find_one({"_id": key}, {"_id": 0})

    async def dossier(self, tender_id: str, code: str) -> list[Doc] | None:
        """The section's bids from its dossier, with the revealed keys' prices merged in
        (``opened``, ``price_fen``, as the opening reads them); None if it has no whole
        dossier (closed before dossiers existed)."""
        section = {"tender_id": tender_id, "section_code": code}
        docs, buckets = await asyncio.gather(  # (the ledger is read even if it is not used)
            self.dossiers.find(section).to_list(None),
            self.reveals.find(section, {"keys": 1}).to_list(None))
        if not docs or {d["part"] for d in docs} != set(range(1, int(docs[0]["parts"]) + 1)):
            return None
        revealed: Doc = {}
        for bucket in buckets:
            revealed.update(bucket.get("keys", {}))
        bids = [b for d in sorted(docs, key=lambda d: int(d["part"]))
                for b in json.loads(d["bids"])]
        for b in bids:
            entry = revealed.get(b["bidder_uscc"])
            if entry is not None:
                b.update(opened=1, price_fen=reveal_price(entry))
        return bids

    async def record_reveal(self, tender_id: str, code: str, bidder: str, key_b64: str,
                            price_fen: int, op: Doc | None = None) -> bool:
        """Keep a bidder's revealed key and its price in the section's reveal ledger
        (commutative: a repeated reveal of the same key writes the same), and the reveal's
        operation (``op``: who, when, from where; 20号令) in a document of its own, the
        first only (its id is the bid's: a retried reveal adds nothing). Both share one
        round trip. False when the section has no ledger (closed before ledgers existed).

        The operation is not in the ledger: a ledger document holds a sixteenth of the
        section's bidders, and the embedded store rewrites it whole at every reveal, so
        ~250 characters more per entry cost a reveal ~300 µs (bench, session 17)."""
        bucket = zlib.crc32(bidder.encode()) % REVEAL_BUCKETS
        ledger = self.store.update_soon(
            self.reveals, {"_id": f"{tender_id}:{code}:{bucket}"},
            {"$set": {f"keys.{bidder}": reveal_entry(key_b64, price_fen)}})
        kept = None if op is None else self.store.insert_soon(self.reveal_ops, {
            "_id": f"{tender_id}:{code}:{bidder}", "tender_id": tender_id,
            "section_code": code, "op": json.dumps(op, ensure_ascii=False,
                                                   separators=(",", ":"))})
        matched = await ledger
        if kept is not None:
            with contextlib.suppress(DuplicateKeyError):  # revealed before: the first stands
                await kept
        return matched == 1

    async def section_bids(self, tender_id: str, section_code: str) -> list[Doc]:
        docs = await self.bids.find({"tender_id": tender_id, "section_code": section_code,
                                     "status": SUBMITTED}, OPENING_FIELDS).to_list(None)
        return sorted(docs, key=lambda d: int(d["received_ms"]))


# Restrictions on record: in force, or lifted because their period ran out (the penalty
# stays); not those revoked (set aside: they never stood).
ON_RECORD: Doc = {"$or": [{"revoked": 0}, {"ended": 1}]}


def _a_penalty(doc: Doc, *, since: date | None = None, until: date | None = None) -> bool:
    """Whether a restriction ``ON_RECORD`` is a penalty that started within [since, until]:
    a supervisor's decision or a serious case's ban, not a credit level's ban (told apart
    since ``penalty``; before, each counts)."""
    start = doc["start"]
    return doc.get("penalty") is not False and (since is None or start >= since.isoformat()) \
        and (until is None or start <= until.isoformat())


def reveal_entry(key_b64: str, price_fen: int) -> str:
    """A bidder's entry in a reveal ledger: its price and its key as one text
    (``"<price_fen>:<key in base64>"``; base64 has no colon). Not a sub-document of two
    fields: the embedded store walks every sub-document of a ledger in Python when it
    reads it, 10,000 of them at an opening."""
    return f"{int(price_fen)}:{key_b64}"


def reveal_price(entry: str | Doc) -> int:
    """The price of a reveal ledger's entry (``reveal_entry``, or the sub-document
    ``{"key", "price_fen"}`` that ledgers of sections opened before kept)."""
    if isinstance(entry, str):
        return int(entry.split(":", 1)[0])
    return int(entry["price_fen"])


def _blocking(restrictions: list[Doc], category: str, today: date) -> Doc | None:
    """The first of ``restrictions`` that covers ``category`` today."""
    day = today.isoformat()
    return next((d for d in restrictions if category in d["categories"]
                 and d["start"] <= day <= d["end"]), None)


def bidder_snapshot(entity: Doc) -> Doc:
    """What a bid keeps of its bidder's entity (``BIDDER_FIELDS``)."""
    return {k: entity[k] for k in BIDDER_FIELDS if k in entity}
