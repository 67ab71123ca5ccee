"""The pipeline's floor: the same work on the same libraries, with none of the platform.

Two processes, run by ``bench/pipeline.py --bare ...`` beside the platform's own
registration and projection, on the same broker and store in the same run:

- ``command``: an aiohttp server (uvloop) whose ``POST /v1/entities`` reads the JSON
  body, writes it as one document (PyMongo async) and hands it to an idempotent aiokafka
  producer (acks=all, linger 2 ms, as the platform's relay) before answering 201;
- ``bid`` (run by ``bench/bidding.py --bare``): a sealed bid's floor, ``PUT
  /v1/tenders/{t}/sections/{s}/bid``: the bidder's token checked by PyJWT (Ed25519, the
  key from the harness's key set), the ciphertext's digest checked, the bid written as one
  document and an event handed to the producer, a receipt signed (Ed25519) — without
  the tender's deadline and sections, the bidder's eligibility (entity, restrictions,
  deposit: one read on the platform), the fingerprint, the operation's record, the outbox;
- ``consumer``: an aiokafka consumer in a group, committing after processing, that
  writes each record's key as one document (``_id`` = key: a redelivery is a duplicate
  key, ignored) in batches of what one fetch returned.

What the platform does and the floor does not: validate the code and the body, check a
token and a role, build the CloudEvents envelope, keep the event in the entity's outbox
(one write) and clear it after the relay published it (a second write: the floor is a
dual write, which the platform must not be), record the consumed event id with its
effect, metrics, logs, dead letters. So the floor is a lower bound of the CPU the
platform's pipeline can cost on these libraries: what no code of ours can go under.

``BARE_WRITES`` chooses the command's store writes: ``one`` (an ``insert_one`` per
request, as a plain handler would) or ``many`` (the requests that arrive while a write
is in flight go together in one ``insert_many``: the platform's group commit, bare).

    BARE_ROLE=command|consumer BARE_PORT=8201 BARE_BOOTSTRAP=127.0.0.1:9092 \\
    BARE_MONGO=mongodb://127.0.0.1:27017 BARE_TOPIC=bench.bare.v1 BARE_WRITES=one|many \\
    BARE_DATABASE=ggzy_bare BARE_GROUP=bench.bare python -m bench.bare
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import jwt
import uvloop
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000
Doc = dict[str, Any]


class GroupCommit:
    """Documents queued while a write is in flight go in the next ``insert_many``."""

    def __init__(self, coll: AsyncCollection[Doc]) -> None:
        self.coll = coll
        self.queue: list[tuple[Doc, asyncio.Future[bool]]] = []
        self.writing = False

    async def insert(self, doc: Doc) -> bool:
        """True once written, False for a duplicate ``_id``."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.queue.append((doc, done))
        if not self.writing:
            self.writing = True
            asyncio.get_running_loop().create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue, []
                failed: dict[int, int] = {}
                try:
                    await self.coll.insert_many([d for d, _ in batch], ordered=False)
                except BulkWriteError as exc:
                    failed = {e["index"]: e["code"] for e in exc.details["writeErrors"]}
                except Exception as exc:  # the store is down: every request of the batch fails
                    for _, done in batch:
                        done.set_exception(exc)
                    continue
                for i, (_, done) in enumerate(batch):
                    if i in failed and failed[i] != DUPLICATE_KEY:
                        done.set_exception(RuntimeError(f"write error {failed[i]}"))
                    else:
                        done.set_result(i not in failed)
        finally:
            self.writing = False


async def ensure_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def command_app(env: dict[str, str]) -> web.Application:
    """``POST /v1/entities``: one document written, one record handed to the producer."""
    app = web.Application()
    topic = env["BARE_TOPIC"]

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await ensure_topic(env["BARE_BOOTSTRAP"], topic, int(env.get("BARE_PARTITIONS", "3")))
        mongo: AsyncMongoClient[Doc] = AsyncMongoClient(env["BARE_MONGO"])
        producer = AIOKafkaProducer(bootstrap_servers=env["BARE_BOOTSTRAP"],
                                    enable_idempotence=True, acks="all", linger_ms=2)
        await producer.start()
        app["write"] = writer(mongo[env["BARE_DATABASE"]]["entities"],
                              env.get("BARE_WRITES", ""))
        app["producer"] = producer
        yield
        await producer.stop()
        await mongo.close()

    async def register(request: web.Request) -> web.Response:
        body = await request.read()
        doc = json.loads(body)
        uscc = str(doc["uscc"])
        if not await request.app["write"]({"_id": uscc, "entity": doc}):
            return web.json_response({"code": "already_registered"}, status=409)
        await request.app["producer"].send(topic, body, key=uscc.encode())
        return web.json_response({"uscc": uscc}, status=201)

    app.cleanup_ctx.append(resources)
    app.router.add_post("/v1/entities", register)
    app.router.add_get("/readyz", _ready)
    return app


def bid_app(env: dict[str, str]) -> web.Application:
    """``PUT .../bid``: the token, the digest, one document, one record, a signed receipt."""
    app = web.Application()
    topic = env["BARE_TOPIC"]
    receipt_key = Ed25519PrivateKey.generate()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await ensure_topic(env["BARE_BOOTSTRAP"], topic, int(env.get("BARE_PARTITIONS", "3")))
        async with aiohttp.ClientSession() as http, http.get(env["BARE_JWKS"]) as resp:
            keys = (await resp.json())["keys"]
        mongo: AsyncMongoClient[Doc] = AsyncMongoClient(env["BARE_MONGO"])
        producer = AIOKafkaProducer(bootstrap_servers=env["BARE_BOOTSTRAP"],
                                    enable_idempotence=True, acks="all", linger_ms=2)
        await producer.start()
        app["key"] = jwt.PyJWK(keys[0]).key
        app["write"] = writer(mongo[env["BARE_DATABASE"]]["bids"], env.get("BARE_WRITES", ""))
        app["producer"] = producer
        yield
        await producer.stop()
        await mongo.close()

    async def submit(request: web.Request) -> web.Response:
        try:
            claims = jwt.decode(request.headers["Authorization"].removeprefix("Bearer "),
                                request.app["key"], algorithms=["EdDSA"], audience="ggzy",
                                issuer="ggzy-registration",
                                options={"require": ["exp", "sub", "iat"]})
        except (KeyError, jwt.InvalidTokenError):
            return web.json_response({"code": "token_invalid"}, status=401)
        body = json.loads(await request.read())
        ciphertext = base64.b64decode(body["ciphertext"], validate=True)
        if hashlib.sha256(ciphertext).hexdigest() != body["digest"]:
            return web.json_response({"code": "bid_digest_mismatch"}, status=422)
        tender_id, section, bidder = (request.match_info["tender_id"],
                                      request.match_info["section"], str(claims["uscc"]))
        at = time.time()
        doc = {"_id": f"{tender_id}:{section}:{bidder}", "ciphertext": body["ciphertext"],
               "nonce": body["nonce"], "digest": body["digest"], "received_ms": int(at * 1000),
               "fingerprint": body.get("fingerprint"), "deposit": body.get("deposit")}
        if not await request.app["write"](doc):
            return web.json_response({"code": "bid_exists"}, status=409)
        receipt = {"tender_id": tender_id, "section_code": section, "bidder_uscc": bidder,
                   "digest": body["digest"], "received_at": at}
        await request.app["producer"].send(topic, json.dumps(receipt).encode(),
                                           key=tender_id.encode())
        signature = receipt_key.sign(json.dumps(receipt, sort_keys=True).encode())
        return web.json_response({"receipt": receipt,
                                  "signature": base64.b64encode(signature).decode()},
                                 status=201)

    app.cleanup_ctx.append(resources)
    app.router.add_put("/v1/tenders/{tender_id}/sections/{section}/bid", submit)
    app.router.add_get("/readyz", _ready)
    return app


def writer(coll: AsyncCollection[Doc], mode: str) -> Callable[[Doc], Awaitable[bool]]:
    """The command's store writes: group commit (``many``) or one insert each."""
    return GroupCommit(coll).insert if mode == "many" else _insert_one(coll)


def _insert_one(coll: AsyncCollection[Doc]) -> Callable[[Doc], Awaitable[bool]]:
    async def insert(doc: Doc) -> bool:
        try:
            await coll.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True
    return insert


def consumer_app(env: dict[str, str]) -> web.Application:
    """Each fetched batch: one ``insert_many`` of the records' keys, then a commit."""
    app = web.Application()

    async def resources(app: web.Application) -> AsyncIterator[None]:
        mongo: AsyncMongoClient[Doc] = AsyncMongoClient(env["BARE_MONGO"])
        consumer = AIOKafkaConsumer(env["BARE_TOPIC"], bootstrap_servers=env["BARE_BOOTSTRAP"],
                                    group_id=env["BARE_GROUP"], enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        seen = mongo[env["BARE_DATABASE"]]["seen"]
        task = asyncio.get_running_loop().create_task(_consume(consumer, seen))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
        await mongo.close()

    app.cleanup_ctx.append(resources)
    app.router.add_get("/readyz", _ready)
    return app


async def _consume(consumer: AIOKafkaConsumer, seen: AsyncCollection[Doc]) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=500, max_records=500)
        at = int(time.time() * 1000)
        docs = [{"_id": r.key.decode(), "applied_at": at}
                for records in batches.values() for r in records if r.key is not None]
        if docs:
            try:
                await seen.insert_many(docs, ordered=False)
            except BulkWriteError as exc:  # a redelivery: its keys are there already
                if any(e["code"] != DUPLICATE_KEY for e in exc.details["writeErrors"]):
                    raise
        if batches:
            await consumer.commit()


async def _ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    env = dict(os.environ)
    apps = {"command": command_app, "bid": bid_app, "consumer": consumer_app}
    app = apps[env["BARE_ROLE"]](env)
    web.run_app(app, host="127.0.0.1", port=int(env["BARE_PORT"]), access_log=None,
                print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
