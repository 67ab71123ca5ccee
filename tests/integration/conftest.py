"""A registration service shared by the integration tests of this folder."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from contracts.categories import Category
from ggzy.runtime.aggregates import Aggregates, Doc
from ggzy.runtime.timers import Timers
from ggzy.testing.infra import Infra
from ggzy.testing.services import Running, running
from services.bidding.domain.rules import RuleBook
from services.bidding.handlers import Bidding, Context
from services.bidding.store import BiddingStore
from services.registration.main import build
from tests.conftest import isolated_settings

OPERATOR = ("op", "operator-password-1")


@dataclass
class Registration:
    """The running registration service and an operator's token."""

    svc: Running
    http: aiohttp.ClientSession
    operator_token: str

    @property
    def bootstrap(self) -> str:
        return self.svc.settings.kafka_bootstrap

    async def call(self, method: str, path: str, token: str | None = None,
                   body: object = None) -> tuple[int, dict[str, object]]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.svc.url + path, json=body,
                                     headers=headers) as resp:
            return resp.status, await resp.json()

    async def login(self, username: str, password: str) -> str:
        status, body = await self.call("POST", "/v1/tokens",
                                       body={"username": username, "password": password})
        assert status == 200, body
        return str(body["access_token"])


@pytest.fixture(scope="session")
async def registration(infra: Infra) -> AsyncIterator[Registration]:
    settings = isolated_settings(infra, "registration",
                                 bootstrap_operator=f"{OPERATOR[0]}:{OPERATOR[1]}")
    async with running(settings, build) as svc, aiohttp.ClientSession() as http:
        reg = Registration(svc, http, "")
        reg.operator_token = await reg.login(*OPERATOR)
        yield reg


@contextlib.asynccontextmanager
async def bidding_app(infra: Infra, book: RuleBook, categories: frozenset[Category],
                      **kw: Any) -> AsyncIterator[Bidding]:
    """Bidding's use cases on a database of their own in the real store (no HTTP, no
    relay: events stay in the outbox), dropped afterwards."""
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = mongo["t" + uuid.uuid4().hex[:10] + "_bidding"]

    def aggregates(name: str) -> Aggregates:
        return Aggregates(db[name], source="/ggzy/bidding", topic_prefix="t",
                          on_queued=lambda: None)
    try:
        yield Bidding(Context(tenders=aggregates("tenders"), bids=aggregates("bids"),
                              store=BiddingStore(db), timers=Timers(db["timers"]),
                              categories=categories, book=book, **kw))
    finally:
        await mongo.drop_database(db.name)
        await mongo.close()

