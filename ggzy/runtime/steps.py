"""Many decisions at once: one read batch, one decision loop, one write batch.

``apply_many`` applies a list of steps (one decision on one aggregate each, with
its cause) as ``Aggregates.update`` and ``create`` apply one: each write stays a
single-document conditional write with its incoming id, its version and its
outbox, but the reads of a round go to the store together, the decisions run in
one loop and the writes go together, with no coroutine per step. The steps of
one aggregate are applied in the order given, one per round; after one of them
fails, the aggregate's later steps are not tried (they fail alike).

An aggregate this replica wrote last is written on its cached copy without a
read (``Aggregates.cache_size``): the write is conditional on the cached version
and on nothing pending in its outbox, so if another writer (or replica) changed
the document, or the relay has not cleared it yet, the write matches nothing
and the step is read and decided again in the next round.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.errors import DuplicateKeyError

from ggzy.runtime.aggregates import (
    EPOCH,
    IDLE,
    Aggregates,
    Applied,
    Cause,
    Change,
    Doc,
    Write,
    state_of,
)
from ggzy.runtime.batching import settled
from ggzy.runtime.errors import Conflict, DomainError, NotFound

_OUTBOX_ENTRY = "outbox."  # the dotted paths of an outbox's entries
ATTEMPTS = 20  # rounds before a step that keeps conflicting gives up (as update's)


@dataclass(frozen=True, slots=True)
class Step:
    """One decision on one aggregate. ``new``: the state of an aggregate this decision
    opens when it does not exist yet (None: it must exist)."""

    aggregate_id: str
    decide: Callable[[Doc], Change]
    cause: Cause
    new: Callable[[], Doc] | None = None


Outcome = Applied | Exception


async def apply_many(aggs: Aggregates, steps: list[Step]) -> list[Outcome]:
    """Apply every step; each one's outcome (Applied, or the error that stopped it)."""
    outcomes: list[Outcome | None] = [None] * len(steps)
    waiting = list(range(len(steps)))
    for _ in range(ATTEMPTS):
        if not waiting:
            break
        ahead: set[str] = set()
        now: list[int] = []
        later: list[int] = []
        for i in waiting:
            aid = steps[i].aggregate_id
            (later if aid in ahead else now).append(i)
            ahead.add(aid)
        again = await _round(aggs, steps, now, outcomes)
        failed = {steps[i].aggregate_id: outcomes[i] for i in now
                  if isinstance(outcomes[i], Exception)
                  and not isinstance(outcomes[i], DomainError)}
        for i in later:  # an aggregate's later steps do not overtake one that failed
            if steps[i].aggregate_id in failed:
                outcomes[i] = failed[steps[i].aggregate_id]
        waiting = sorted(again + [i for i in later if outcomes[i] is None])
    for i in waiting:
        outcomes[i] = Conflict("concurrent_update",
                               f"{steps[i].aggregate_id} changed concurrently; try again")
    return [o if o is not None else Conflict("not_applied", "step not applied")
            for o in outcomes]


async def _round(aggs: Aggregates, steps: list[Step], now: list[int],
                 outcomes: list[Outcome | None]) -> list[int]:
    """One step per aggregate: read (unless cached), decide, write. Returns the steps to
    try again (a write that did not match, an insert that found the aggregate)."""
    store, coll = aggs.store, aggs.collection
    docs: dict[int, tuple[Doc | None, bool]] = {}
    reads: dict[int, asyncio.Future[Doc | None]] = {}
    for i in now:
        copy = aggs.cache.pop(steps[i].aggregate_id, None)
        if copy is not None:
            docs[i] = (copy, True)
        else:
            reads[i] = store.find_soon(coll, steps[i].aggregate_id)
    if reads:
        found = await settled(list(reads.values()))
        for i, doc in zip(reads, found, strict=True):
            if isinstance(doc, BaseException):
                outcomes[i] = doc if isinstance(doc, Exception) else Exception(repr(doc))
            else:
                docs[i] = (doc, False)
    pending: list[tuple[int, Doc, Write, asyncio.Future[Any]]] = []
    for i, (doc, cached) in docs.items():
        try:
            planned = _plan(aggs, steps[i], doc, cached)
        except Exception as exc:
            outcomes[i] = exc
            continue
        if isinstance(planned, Applied):
            outcomes[i] = planned
            continue
        written, write = planned
        future = store.insert_soon(coll, written) if doc is None \
            else store.update_soon(coll, write.filter, write.update)
        pending.append((i, doc or written, write, future))
    if not pending:
        return []
    results = await settled([p[3] for p in pending])
    again: list[int] = []
    for (i, doc, write, _), result in zip(pending, results, strict=True):
        inserted = not write.filter
        if isinstance(result, DuplicateKeyError) and inserted:
            again.append(i)  # opened meanwhile: read it and decide again
        elif isinstance(result, BaseException):
            outcomes[i] = result if isinstance(result, Exception) else Exception(repr(result))
        elif inserted or result == 1:
            outcomes[i] = aggs.written(write)
            _remember(aggs, doc if inserted else _after(doc, write.update, relayed=True))
        else:
            again.append(i)  # the aggregate moved on (or its cached copy was stale)
    return again


def _plan(aggs: Aggregates, step: Step, doc: Doc | None, cached: bool
          ) -> Applied | tuple[Doc, Write]:
    """The step's write on ``doc`` (an insert when it is None), or its outcome already
    (a duplicate)."""
    cause = step.cause
    if doc is None:
        if step.new is None:
            raise NotFound("not_found", f"{step.aggregate_id} does not exist")
        state = step.new()
        change = step.decide(state)
        return aggs.prepare_new(step.aggregate_id, _after(state, {"$set": change.set}),
                                change.events, cause)
    if cause.message_id and cause.message_id in doc.get("processed", {}):
        return Applied(version=int(doc["version"]), duplicate=True)
    change = step.decide(state_of(doc))
    return doc, aggs.prepare(doc, change, cause, cached=cached)


def _after(doc: Doc, update: Doc, *, relayed: bool = False) -> Doc:
    """``doc`` with ``update``'s ``$set`` and ``$unset`` applied (dotted paths into
    nested documents), copying what it changes (each nested document once).
    ``relayed``: the outbox's entries are left out (``_remember`` empties it anyway)."""
    out = dict(doc)
    copied: set[int] = set()  # the nested documents of ``out`` that are its own copies
    for path, value in update.get("$set", {}).items():
        if "." in path:
            if relayed and path.startswith(_OUTBOX_ENTRY):
                continue
            node, leaf = _parent(out, path, copied)
            node[leaf] = value
        else:
            out[path] = value
    for path in update.get("$unset", {}):
        if _present(out, path):  # as the store: nothing to remove, nothing changes
            node, leaf = _parent(out, path, copied)
            node.pop(leaf, None)
    return out


def _present(doc: Doc, path: str) -> bool:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _parent(doc: Doc, path: str, copied: set[int]) -> tuple[Doc, str]:
    *parents, leaf = path.split(".")
    node = doc
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
            copied.add(id(child))
        elif id(child) not in copied:
            child = node[part] = dict(child)
            copied.add(id(child))
        node = child
    return node, leaf


def _remember(aggs: Aggregates, doc: Doc) -> None:
    """Cache ``doc`` as it will be once its relay has cleared its outbox. The copy is
    shallow: a cached document is never changed in place (a decision reads its state and
    returns a Change; ``_after`` copies what a write changes), so its nested documents may
    be shared with the write that produced them."""
    if aggs.cache_size <= 0:
        return
    relayed = {**doc, "outbox": {}, "outbox_pending": IDLE, "relay_lease": EPOCH,
               "relay_owner": None}
    cache = aggs.cache
    cache.pop(doc["_id"], None)
    cache[doc["_id"]] = relayed
    while len(cache) > aggs.cache_size:
        del cache[next(iter(cache))]
