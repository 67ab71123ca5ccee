"""Group commit: concurrent single-document operations reach the store together.

A round trip through PyMongo costs the service a few hundred microseconds of CPU
whatever it carries; one ``bulkWrite`` of 20 writes costs about as much as two.
So the runtime never sends a lone write while others are waiting: every
single-document write (an aggregate's insert or conditional update) and every
read by ``_id`` is queued here, and one flusher per kind sends what has queued
while the previous round trip was in flight, as

- one client-level ``bulkWrite`` (MongoDB 8.0's command, ``ordered: false``,
  verbose results, so each write learns its own outcome: a duplicate key, or
  how many documents its filter matched), and
- one ``find`` with ``_id: {$in: [...]}`` per collection and projection.

Nothing about a write's meaning changes: each stays a single-document atomic
write with its own filter, and its caller gets its own result or error. At low
load a batch holds one operation, which goes out as a plain ``insert``/``update``
/``find`` at once (no waiting for company); at high load batches grow by
themselves (group commit), without a timer. A store without ``bulkWrite``
(MongoDB before 8.0) gets the same operations one by one, concurrently.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient, InsertOne, UpdateMany, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ClientBulkWriteException, DuplicateKeyError, OperationFailure

Doc = dict[str, Any]
BULK_WRITE_WIRE_VERSION = 25  # MongoDB 8.0: the client-level bulkWrite command
MAX_BATCH = 500  # operations per round trip (well under the store's message limit)


@dataclass(slots=True)
class _Op:
    coll: AsyncCollection[Doc]
    future: asyncio.Future[Any]
    document: Doc | None = None  # an insert
    filter: Doc | None = None  # an update
    update: Doc | None = None
    many: bool = False  # an update of every document the filter matches
    doc_id: Any = None  # a read: by _id, or of every document whose ``field`` is doc_id
    projection: Doc | None = None
    field: str = "_id"
    where: Doc | None = None  # more conditions of a read by field


@dataclass
class _Queue:
    """Operations waiting for the flusher, which runs while any are queued."""

    flush: Callable[[list[_Op]], Awaitable[None]]
    kind: str
    observe: Callable[[str, int], None] | None = None
    ops: list[_Op] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    batches: int = 0
    operations: int = 0

    def put(self, op: _Op) -> asyncio.Future[Any]:
        self.ops.append(op)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return op.future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let what is queued in this same turn join
            while self.ops:
                batch = self.ops[:MAX_BATCH]
                del self.ops[:MAX_BATCH]
                self.batches += 1
                self.operations += len(batch)
                if self.observe is not None:
                    self.observe(self.kind, len(batch))
                try:
                    await self.flush(batch)
                except BaseException as exc:
                    for op in batch:
                        if not op.future.done():
                            op.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self.task = None


class Store:
    """The service's store access for single-document operations, group-committed."""

    def __init__(self, client: AsyncMongoClient[Doc],
                 observe: Callable[[str, int], None] | None = None) -> None:
        self.client = client
        self.bulk_write_supported = False
        self._writes = _Queue(self._flush_writes, "write", observe)
        self._reads = _Queue(self._flush_reads, "read", observe)

    async def start(self) -> None:
        """Learn whether the server runs the client-level bulkWrite (MongoDB >= 8.0)."""
        hello = await self.client.admin.command("hello")
        self.bulk_write_supported = int(hello.get("maxWireVersion", 0)) >= BULK_WRITE_WIRE_VERSION

    @property
    def stats(self) -> dict[str, int]:
        """Round trips and operations so far, per kind (for metrics and benchmarks)."""
        return {"write_batches": self._writes.batches, "writes": self._writes.operations,
                "read_batches": self._reads.batches, "reads": self._reads.operations}

    def _future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    def insert_soon(self, coll: AsyncCollection[Doc], document: Doc) -> asyncio.Future[None]:
        """Queue an insert; its future fails with DuplicateKeyError if the ``_id`` exists."""
        return self._writes.put(_Op(coll, self._future(), document=document))

    def update_soon(self, coll: AsyncCollection[Doc], filt: Doc, update: Doc
                    ) -> asyncio.Future[int]:
        """Queue an update of the one document ``filt`` matches; its future: how many did."""
        return self._writes.put(_Op(coll, self._future(), filter=filt, update=update))

    def update_many_soon(self, coll: AsyncCollection[Doc], filt: Doc, update: Doc
                         ) -> asyncio.Future[int]:
        """Queue an update of every document ``filt`` matches (each one atomically, not
        all together); its future: how many matched."""
        return self._writes.put(_Op(coll, self._future(), filter=filt, update=update,
                                    many=True))

    def find_soon(self, coll: AsyncCollection[Doc], doc_id: Any,
                  projection: Doc | None = None) -> asyncio.Future[Doc | None]:
        """Queue a read by ``_id``; its future: the document (with ``projection``) or None."""
        return self._reads.put(_Op(coll, self._future(), doc_id=doc_id, projection=projection))

    async def insert_one(self, coll: AsyncCollection[Doc], document: Doc) -> None:
        """Insert one document; DuplicateKeyError if its ``_id`` (or a unique key) exists."""
        await self.insert_soon(coll, document)

    async def update_one(self, coll: AsyncCollection[Doc], filt: Doc, update: Doc) -> int:
        """Apply ``update`` to the one document ``filt`` matches; return how many matched."""
        return await self.update_soon(coll, filt, update)

    async def find_one(self, coll: AsyncCollection[Doc], doc_id: Any,
                       projection: Doc | None = None) -> Doc | None:
        """The document with ``_id`` ``doc_id`` (with ``projection``), or None."""
        return await self.find_soon(coll, doc_id, projection)

    async def find_by(self, coll: AsyncCollection[Doc], field: str, value: Any,
                      where: Doc | None = None) -> list[Doc]:
        """Every document whose ``field`` equals ``value`` (and that matches ``where``)."""
        return await self.find_by_soon(coll, field, value, where)

    def find_by_soon(self, coll: AsyncCollection[Doc], field: str, value: Any,
                     where: Doc | None = None) -> asyncio.Future[list[Doc]]:
        """``find_by`` queued at once: reads queued in one turn share a round trip."""
        return self._reads.put(_Op(coll, self._future(), doc_id=value, field=field,
                                   where=where))

    # writes --------------------------------------------------------------------
    async def _flush_writes(self, batch: list[_Op]) -> None:
        if len(batch) == 1 or not self.bulk_write_supported:
            await asyncio.gather(*(self._write_alone(op) for op in batch))
            return
        models = [_model(op) for op in batch]
        errors: dict[int, Doc] = {}
        try:
            result = await self.client.bulk_write(models, ordered=False, verbose_results=True)
        except ClientBulkWriteException as exc:
            reported: list[Any] = list(exc.write_errors or [])  # dicts, whatever the stubs say
            errors = {int(e["idx"]): e for e in reported}
            partial = exc.partial_result
            if partial is None:
                for index, op in enumerate(batch):
                    op.future.set_exception(_write_error(errors.get(index), exc))
                return
            result = partial
        inserted = result.insert_results
        updated = result.update_results
        for index, op in enumerate(batch):
            if index in errors:
                op.future.set_exception(_write_error(errors[index], None))
            elif op.document is not None and index in inserted:
                op.future.set_result(None)
            elif op.document is None and index in updated:
                op.future.set_result(updated[index].matched_count)
            else:  # the server said nothing about it (a top-level error part way)
                op.future.set_exception(OperationFailure(
                    "the store did not report this write's outcome", 0))

    async def _write_alone(self, op: _Op) -> None:
        try:
            if op.document is not None:
                await op.coll.insert_one(op.document)
                op.future.set_result(None)
            else:
                assert op.filter is not None and op.update is not None
                update = op.coll.update_many if op.many else op.coll.update_one
                result = await update(op.filter, op.update)
                op.future.set_result(result.matched_count)
        except Exception as exc:
            op.future.set_exception(exc)

    # reads ---------------------------------------------------------------------
    async def _flush_reads(self, batch: list[_Op]) -> None:
        groups: dict[tuple[str, str, str, str], list[_Op]] = {}
        for op in batch:
            key = (op.coll.full_name, op.field, _text(op.projection), _text(op.where))
            groups.setdefault(key, []).append(op)
        await asyncio.gather(*(self._read_group(ops) for ops in groups.values()))

    async def _read_group(self, ops: list[_Op]) -> None:
        """One find for reads of one collection, field, projection and conditions."""
        first = ops[0]
        by_id = first.field == "_id"
        try:
            if by_id and len(ops) == 1:
                first.future.set_result(await first.coll.find_one({"_id": first.doc_id},
                                                                  first.projection))
                return
            values = list({_hashable(op.doc_id): op.doc_id for op in ops}.values())
            condition: Any = values[0] if len(values) == 1 else {"$in": values}
            # Raw documents, decoded again for each further reader of one document, so
            # every reader gets its own copy to change (cheaper than a deep copy).
            options = first.coll.codec_options
            raw = first.coll.with_options(codec_options=options.with_options(
                document_class=RawBSONDocument))
            docs = await raw.find({**(first.where or {}), first.field: condition},
                                  first.projection).to_list(None)
        except Exception as exc:
            for op in ops:
                op.future.set_exception(exc)
            return
        found: dict[Any, list[tuple[bytes, Doc]]] = {}
        for d in docs:
            decoded: Doc = bson.decode(d.raw, options)
            found.setdefault(_hashable(decoded[first.field]), []).append((d.raw, decoded))
        handed: set[Any] = set()
        for op in ops:
            key = _hashable(op.doc_id)
            pairs = found.get(key, [])
            copies = [bson.decode(data, options) if key in handed else doc for data, doc in pairs]
            handed.add(key)
            op.future.set_result((copies[0] if copies else None) if by_id else copies)


async def settled(futures: list[asyncio.Future[Any]]) -> list[Any]:
    """Each future's result, or its exception, in order (as ``asyncio.gather`` with
    ``return_exceptions=True``), awaited one after the other: the operations of one
    round trip settle together, so once the first is done the others mostly are, and
    no callback is added per future. Cancelling the caller leaves the futures alone."""
    out: list[Any] = []
    for future in futures:
        if not future.done():
            await asyncio.wait((future,))
        if future.cancelled():
            out.append(asyncio.CancelledError())
        else:
            exc = future.exception()
            out.append(future.result() if exc is None else exc)
    return out


def _model(op: _Op) -> InsertOne[Doc] | UpdateOne | UpdateMany:
    if op.document is not None:
        return InsertOne(op.document, namespace=op.coll.full_name)
    assert op.filter is not None and op.update is not None
    if op.many:
        return UpdateMany(op.filter, op.update, namespace=op.coll.full_name)
    return UpdateOne(op.filter, op.update, namespace=op.coll.full_name)


def _write_error(error: Doc | None, cause: Exception | None) -> Exception:
    if error is None:
        return cause or OperationFailure("bulk write failed", 0)
    code = int(error.get("code", 0))
    message = str(error.get("errmsg", "write failed"))
    if code == 11000:
        return DuplicateKeyError(message, code, error)
    return OperationFailure(message, code, error)


def _text(spec: Doc | None) -> str:
    """A projection or condition as a grouping key (most reads have none)."""
    return "" if spec is None else json.dumps(spec, sort_keys=True, default=str)


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int) else repr(value)
