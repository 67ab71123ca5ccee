"""Suspensions a supervisor orders while handling a complaint, on the real store: the
longest one the rules allow ends by a durable timer (政府采购法57: 30 days, 2 s here),
and an award that fell due meanwhile is made when the tender resumes (条例62). A
decryption window or a contract period that was running stands still: its timer does
nothing while suspended, and a new one runs the time it had left from the resumption."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.categories import Category
from contracts.credit import TenderSuspensionLifted, TenderSuspensionOrdered
from ggzy.runtime.aggregates import Cause
from ggzy.runtime.auth import Principal, Role
from ggzy.runtime.errors import Conflict
from ggzy.runtime.timers import PENDING
from ggzy.testing.data import new_uscc
from ggzy.testing.infra import Infra
from services.bidding.domain import tender
from services.bidding.domain.rules import load
from services.bidding.handlers import Bidding
from services.bidding.handlers.context import CONTRACT_DUE, DECRYPT_END
from tests.integration.conftest import bidding_app

pytestmark = pytest.mark.integration
P = Category.PROCUREMENT
DEMO = Path(__file__).resolve().parents[2] / "deploy" / "rules-demo.yaml"


@pytest.fixture
async def bidding(infra: Infra) -> AsyncIterator[Bidding]:
    async with bidding_app(infra, load(DEMO), frozenset({P})) as app:
        yield app


async def _tender(app: Bidding, section_status: str) -> tuple[str, str]:
    tender_id = "2026" + uuid.uuid4().hex[:13].upper() + "001"
    section = f"{tender_id}001"
    deadline = datetime.now(UTC) - timedelta(days=1)
    winner = {"rank": 1, "bid_id": "b1", "bidder_uscc": new_uscc(), "bidder_name": "甲",
              "price_fen": 100, "score": "1"}
    await app.ctx.tenders.create(tender_id, {
        "tender_id": tender_id, "category": P.value, "method": "open_tender",
        "status": "closed", "tenderee_uscc": new_uscc(), "bid_deadline": deadline.isoformat(),
        "deadline_ms": tender.ms(deadline), "audit": [], "section_state": {section: {
            "status": section_status, "candidates": [winner], "winner": winner,
            "seed": "s" * 64, "committee": []}}}, [])
    return tender_id, section


def _ordered(tender_id: str, until: datetime | None) -> TenderSuspensionOrdered:
    return TenderSuspensionOrdered(
        complaint_id="CP-" + uuid.uuid4().hex[:8], tender_id=tender_id, category=P,
        complainant_uscc=new_uscc(), ordered_at=datetime.now(UTC), until=until,
        reason="需调查", article="政府采购法第57条")


async def test_the_longest_suspension_ends_by_its_timer_and_the_award_then_made(
        bidding: Bidding) -> None:
    tender_id, section = await _tender(bidding, "publicity")
    order = _ordered(tender_id, datetime.now(UTC) + timedelta(seconds=1))
    await bidding.objections.on_suspension_ordered(order, Cause(message_id="m1"))
    await bidding.objections.on_suspension_ordered(order, Cause(message_id="m1"))  # redelivered
    await bidding.award.on_publicity_ended(tender_id, section, False, Cause(message_id="m2"))
    state = await bidding.ctx.tender(tender_id)
    assert state["section_state"][section]["status"] == "publicity"  # the award waits
    assert [e["action"] for e in state["audit"]] == ["suspend", "award_deferred"]
    await asyncio.sleep(1.2)
    assert await bidding.ctx.timers.fire_due() == 1
    state = await bidding.ctx.tender(tender_id)
    assert "suspensions" not in state
    assert state["section_state"][section]["status"] == "awarded"
    assert [e["action"] for e in state["audit"]] == [
        "suspend", "award_deferred", "resume", "award"]
    assert state["audit"][2]["data"]["cause"] == "expired"


async def test_no_contract_until_the_suspension_is_lifted(bidding: Bidding) -> None:
    tender_id, section = await _tender(bidding, "awarded")
    order = _ordered(tender_id, None)
    await bidding.objections.on_suspension_ordered(order, Cause(message_id="m1"))
    with pytest.raises(Conflict) as refused:
        await bidding.ctx.tenders.update(tender_id, lambda s, v: tender.sign_contract(
            s, bidding.ctx.rules(s), section, 100, "t", datetime.now(UTC)))
    assert refused.value.code == "tender_suspended"
    lifted = TenderSuspensionLifted(complaint_id=order.complaint_id, tender_id=tender_id,
                                    category=P, complainant_uscc=order.complainant_uscc,
                                    lifted_at=datetime.now(UTC), cause="decided")
    before = (await bidding.ctx.tender(tender_id))["deadline_ms"]
    await bidding.objections.on_suspension_lifted(lifted, Cause(message_id="m3"))
    state = await bidding.ctx.tender(tender_id)
    assert "suspensions" not in state
    assert state["deadline_ms"] == before  # closed already: no deadline moves
    await bidding.ctx.tenders.update(tender_id, lambda s, v: tender.sign_contract(
        s, bidding.ctx.rules(s), section, 100, "t", datetime.now(UTC)))
    state = await bidding.ctx.tender(tender_id)
    assert state["section_state"][section]["status"] == "contracted"


@pytest.mark.parametrize(("status", "kind", "field"), [
    ("decrypting", DECRYPT_END, "decrypt_end_ms"), ("awarded", CONTRACT_DUE, "contract_due_ms")])
async def test_a_running_period_stands_still_while_suspended_tiaoli62(
        bidding: Bidding, status: str, kind: str, field: str) -> None:
    tender_id, section = await _tender(bidding, status)
    end = tender.ms(datetime.now(UTC)) + 800
    await bidding.ctx.tenders.update(tender_id, lambda s, v: tender.Change(
        set={f"section_state.{section}.{field}": end}))
    payload = {"tender_id": tender_id, "section": section}
    await bidding.ctx.timers.schedule(f"{kind}:{tender_id}:{section}", kind, end, payload)
    order = _ordered(tender_id, None)
    await bidding.objections.on_suspension_ordered(order, Cause(message_id="m1"))
    if status == "decrypting":  # no key is revealed meanwhile
        bidder = Principal("u", frozenset({Role.BIDDER}), new_uscc())
        with pytest.raises(Conflict) as refused:
            await bidding.opening.reveal_key(tender_id, section, bidder, "AAAA")
        assert refused.value.code == "tender_suspended"
    await asyncio.sleep(1.0)
    assert await bidding.ctx.timers.fire_due() == 1  # the period's end came while suspended
    state = await bidding.ctx.tender(tender_id)
    assert state["section_state"][section]["status"] == status  # ... and did nothing
    assert [e["action"] for e in state["audit"]] == ["suspend"]
    lifted = TenderSuspensionLifted(complaint_id=order.complaint_id, tender_id=tender_id,
                                    category=P, complainant_uscc=order.complainant_uscc,
                                    lifted_at=datetime.now(UTC), cause="decided")
    await bidding.objections.on_suspension_lifted(lifted, Cause(message_id="m2"))
    state = await bidding.ctx.tender(tender_id)
    moved = int(state["section_state"][section][field])
    assert moved >= tender.ms(lifted.lifted_at) + 700  # ~800 ms were left when it began
    pending = await bidding.ctx.timers.collection.find_one({"kind": kind, "state": PENDING})
    assert pending is not None and pending["due_ms"] == moved
    assert pending["payload"] == payload
