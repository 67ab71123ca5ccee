"""An objection's answer due time as a durable timer, on the real store, with two
replicas of bidding and a restart: the overdue is found once (one TenderObjectionOverdue
in the outbox, one audit entry) however many times or places its timer fires; the tender
stays suspended (条例22); the answer given afterwards is taken, marked late, and resumes.
The answer is due in 3 s here (deploy/rules-demo.yaml; 3 days in the law)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts.categories import Category
from ggzy.runtime.aggregates import Aggregates, Doc
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.timers import DONE, PENDING, Timers
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from services.bidding.domain import tender
from services.bidding.domain.rules import load
from services.bidding.handlers import Bidding, Context
from services.bidding.handlers.context import OBJECTION_DUE
from services.bidding.store import BiddingStore

pytestmark = pytest.mark.integration
C = Category.CONSTRUCTION
DEMO = Path(__file__).resolve().parents[2] / "deploy" / "rules-demo.yaml"


@pytest.fixture
async def replicas(infra: Infra) -> AsyncIterator[tuple[Bidding, Bidding, Any]]:
    """Two replicas of bidding on one database (each its own timers loop), and a
    function that starts a third: the service restarted."""
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = mongo["t" + uuid.uuid4().hex[:10] + "_bidding"]

    def replica() -> Bidding:
        def aggregates(name: str) -> Aggregates:
            return Aggregates(db[name], source="/ggzy/bidding", topic_prefix="t",
                              on_queued=lambda: None)
        return Bidding(Context(tenders=aggregates("tenders"), bids=aggregates("bids"),
                               store=BiddingStore(db), timers=Timers(db["timers"], lease_s=0.5),
                               categories=frozenset({C}), book=load(DEMO)))
    try:
        yield replica(), replica(), replica
    finally:
        await mongo.drop_database(db.name)
        await mongo.close()


async def _tender(app: Bidding) -> tuple[str, str]:
    """An open construction tender, its deadline a minute away; its tenderee."""
    tender_id = "2026" + uuid.uuid4().hex[:13].upper() + "001"
    deadline = datetime.now(UTC) + timedelta(minutes=1)
    tenderee = new_uscc()
    await app.ctx.tenders.create(tender_id, {
        "tender_id": tender_id, "category": C.value, "method": "open_tender",
        "status": "open", "tenderee_uscc": tenderee, "bid_deadline": deadline.isoformat(),
        "deadline_ms": tender.ms(deadline), "sale_end": datetime.now(UTC).isoformat(),
        "audit": [], "section_state": {f"{tender_id}001": {"status": "bidding"}}}, [])
    return tender_id, tenderee


def _overdue_in_outbox(doc: Doc) -> list[dict[str, Any]]:
    return [json.loads(e["value"]) for e in (doc.get("outbox") or {}).values()
            if ".TenderObjectionOverdue." in e["headers"]["ce_type"]]


async def test_the_overdue_is_found_once_across_replicas_and_a_restart_tiaoli22(
        replicas: tuple[Bidding, Bidding, Any]) -> None:
    one, two, restart = replicas
    tender_id, tenderee = await _tender(one)
    objector = new_uscc()
    await one.ctx.store.entities.insert_one({"_id": objector, "uscc": objector,
                                         "kinds": ["bidder"]})
    who = Principal("u1", frozenset({Role.BIDDER}), objector)
    filed = await one.objections.object_to_documents(tender_id, "资格条件排斥潜在投标人", who)
    oid, due = filed["objection_id"], datetime.fromisoformat(filed["answer_due"])
    assert filed["suspended"] and "第22条" in filed["answer_article"]
    timer = await one.ctx.timers.collection.find_one({"kind": OBJECTION_DUE})
    assert timer is not None and timer["due_ms"] == tender.ms(due)  # the objection's own
    assert timer["payload"] == {"tender_id": tender_id, "objection_id": oid}

    assert await one.ctx.timers.fire_due() == 0  # not due yet
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.1)
    fired = await asyncio.gather(one.ctx.timers.fire_due(), two.ctx.timers.fire_due())
    assert sorted(fired) == [0, 1]  # one replica claims it
    raw = await one.ctx.tenders.collection.find_one({"_id": tender_id})
    assert raw is not None
    [event] = _overdue_in_outbox(raw)
    assert (event["objection_id"], event["objector_uscc"], event["answerer_uscc"]) == (
        oid, objector, tenderee)
    assert datetime.fromisoformat(event["answer_due"]) == due and event["suspended"] is True
    assert "第22条" in event["article"] and "第60条" in event["complaint_article"]

    # a crash after the effect, before the timer was marked done: it fires again after a
    # restart, and finds the overdue recorded
    await one.ctx.timers.collection.update_one({"_id": timer["_id"]}, {"$set": {
        "state": PENDING, "lease_ms": 0}})
    again = restart()
    assert await again.ctx.timers.fire_due() == 1
    raw = await one.ctx.tenders.collection.find_one({"_id": tender_id})
    assert raw is not None and len(_overdue_in_outbox(raw)) == 1
    state = await one.ctx.tender(tender_id)
    assert [e["action"] for e in state["audit"]] == ["object", "objection_overdue"]
    assert state["audit"][-1]["actor"] == "platform"
    assert list(state["suspensions"]) == [f"objection-{oid}"]  # still suspended (条例22)
    done = await one.ctx.timers.collection.find_one({"_id": timer["_id"]})
    assert done is not None and done["state"] == DONE

    [mine] = await one.objections.objections_of(tender_id, who)  # the objector sees it overdue
    assert mine["status"] == "pending" and mine["overdue_at"]
    assert mine["answer_due"] == due.isoformat()

    owner = Principal("t1", frozenset({Role.TENDEREE}), tenderee)
    answered = await two.objections.answer_objection(tender_id, oid, "经复核，资格条件已调整",
                                                     owner)
    assert answered["suspended"] is False  # a late answer is still taken, and resumes
    state = await one.ctx.tender(tender_id)
    assert bool(state["objections"][oid]["late"])  # (the embedded store gives 1)
    assert "suspensions" not in state
