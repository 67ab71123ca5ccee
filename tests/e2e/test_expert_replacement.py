"""Replacing committee members who cannot go on, through public HTTP APIs and Kafka only
(条例48: 评标委员会成员有回避事由、擅离职守或者因健康等原因不能继续评标的，应当及时更换。
被更换的评标委员会成员作出的评审结论无效，由更换后的评标委员会成员重新进行评审; 87号令
第49条). A member who scored declares a recusal cause itself, the operator replaces an
absent one; each seat is drawn again, verifiably; the void sheets do not count; the new
members score and the award follows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from contracts.categories import Category
from ggzy.testing.kafka import eventually
from services.bidding.domain import audit
from services.bidding.domain.draw import DrawRecord, replay
from tests.e2e.conftest import Platform
from tests.e2e.test_credit import _opened_without_a_committee
from tests.e2e.test_tender_lifecycle import (
    _end_publicity,
    _events,
    _experts,
    _is,
    _open_with_keys,
    _parties,
    _publish,
    _section_status,
    _submit_all,
    _tender_body,
    _types,
)

PRICES = [100_000_00, 120_000_00, 150_000_00]
POINTS = {100_000_00: 40, 120_000_00: 70, 150_000_00: 50}  # the sitting members' points
SKEWED = {100_000_00: 100, 120_000_00: 0, 150_000_00: 100}  # the recused member's: void


async def _the_close_fixed_the_sealed_bids(p: Platform, tender_id: str, base: str,
                                           receipts: list[dict[str, Any]]) -> None:
    """20号令: the bids the deadline had are fixed in the audit trail's close entry (their
    count and root, nobody named); each bidder finds its own receipt's leaf."""
    status, sealed = await p.call("bidding", "GET", f"{base}/sealed")
    assert status == 200, sealed
    assert sealed["matches"] is True and sealed["recorded"]["bids"] == sealed["bids"] == 3
    assert audit.sealed_root(sealed["leaves"]) == sealed["recorded"]["root"]
    for receipt in receipts:
        bid_id = f"{receipt['tender_id']}:{receipt['section_code']}:{receipt['bidder_uscc']}"
        received_ms = int(datetime.fromisoformat(receipt["received_at"]).timestamp() * 1000)
        assert audit.receipt_leaf(bid_id, receipt["digest"], received_ms) in sealed["leaves"]
        assert receipt["bidder_uscc"] not in json.dumps(sealed)
    _, trail = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}/audit",
                            p.tokens["operator"])
    [close] = [e for e in trail["entries"] if e["action"] == "close"]
    assert close["n"] == sealed["audit_entry"]
    assert close["data"]["sealed"][receipts[0]["section_code"]] == sealed["recorded"]


async def _inbox(p: Platform, token: str, tender_id: str, kind: str) -> Any:
    _, inbox = await p.call("notify", "GET", "/v1/me/inbox?limit=500", token)
    return [i for i in inbox["items"] if i["kind"] == kind
            and i["data"].get("tender_id") == tender_id] or None


async def test_replaced_members_are_drawn_again_verifiably_and_their_scores_are_void_tiaoli48(
        platform: Platform) -> None:
    p = platform
    await _experts(p)
    experts = dict(json.loads(p.tokens["experts"]))
    parties = await _parties(p, 3)
    body = _tender_body(parties["tenderee"], category="procurement",
                        evaluation="comprehensive_scoring")
    body["sections"][0].update(estimated_price_fen=5_000_000_00, deposit_fen=10_000_00)
    tender_id, section = await _publish(p, parties, body)
    base = f"/v1/tenders/{tender_id}/sections/{section}"
    keys, receipts = [], []
    for (uscc, token), price in zip(parties["bidders"], PRICES, strict=True):
        status, out, key = await p.until_known(
            lambda u=uscc, t=token, x=price: p.submit(tender_id, section, u, t, x))
        assert status == 201, out
        keys.append((token, key))
        receipts.append(out["receipt"])
    status, out = await p.call("bidding", "GET", f"{base}/sealed")
    assert status == 409 and out["error"]["code"] == "not_closed", out  # nobody learns
    await _open_with_keys(p, tender_id, section, keys)
    await _the_close_fixed_the_sealed_bids(p, tender_id, base, receipts)
    _, opening = await p.call("bidding", "GET", f"{base}/opening")
    _, committee = await p.call("bidding", "GET", f"{base}/committee", p.tokens["operator"])
    drawn = list(committee["committee"])
    recused, absent = drawn[0], drawn[1]

    def sheets(points: dict[int, int]) -> dict[str, Any]:
        return {"sheets": [{"bid_id": ln["bid_id"], "points": points[ln["price_fen"]],
                            "compliant": True} for ln in opening["lines"]]}

    status, out = await p.call("bidding", "POST", f"{base}/scores", experts[recused],
                               sheets(SKEWED))
    assert status == 200, out
    replace = f"{base}/committee/replacements"
    # nobody else may replace a member: not the tenderee (it never learns who sits), not
    # another expert; a member replaces itself only for a recusal cause or its health
    for token in (parties["t_token"], experts[absent]):
        status, out = await p.call("bidding", "POST", replace, token,
                                   {"expert_id": recused, "reason": "recusal"})
        assert status == 403, out
    status, out = await p.call("bidding", "POST", replace, experts[recused],
                               {"expert_id": recused, "reason": "absent"})
    assert status == 422 and out["error"]["code"] == "reason_not_own", out
    status, out = await p.call("bidding", "POST", replace, experts[recused],
                               {"expert_id": recused, "reason": "bored"})
    assert status == 422, out

    status, first = await p.call("bidding", "POST", replace, experts[recused],
                                 {"expert_id": recused, "reason": "recusal",
                                  "note": "与投标人存在利害关系"})
    assert status == 201 and first == {"round": 1, "voided_sheets": True, "committee": 5}, first
    status, out = await p.call("bidding", "POST", f"{base}/scores", experts[recused],
                               sheets(POINTS))
    assert status == 422 and out["error"]["code"] == "not_on_committee", out
    status, out = await p.call("bidding", "POST", replace, experts[recused],
                               {"expert_id": recused, "reason": "recusal"})
    assert status == 422 and out["error"]["code"] == "not_on_committee", out  # once only
    status, second = await p.call("bidding", "POST", replace, p.tokens["operator"],
                                  {"expert_id": absent, "reason": "absent"})
    assert status == 201 and second["round"] == 2 and second["voided_sheets"] is False, second
    status, out = await p.call("bidding", "POST", replace, p.tokens["operator"],
                               {"expert_id": "EXP-NOT-SITTING", "reason": "absent"})
    assert status == 422 and out["error"]["code"] == "not_on_committee", out

    _, now_sitting = await p.call("bidding", "GET", f"{base}/committee", p.tokens["operator"])
    sitting = now_sitting["committee"]
    assert second["expert_id"] in sitting and recused not in sitting and absent not in sitting
    assert [x for x in sitting if x in drawn] == drawn[2:]  # the others keep their seats
    events = await _events(p, tender_id, lambda rs: _types(rs).count("ExpertReplaced") == 2,
                           Category.PROCUREMENT)
    replaced = [r.json() for r in events if ".ExpertReplaced." in r.headers["ce_type"]]
    assert [(e["round"], e["replaced_expert_id"], e["reason"], e["voided_sheets"])
            for e in replaced] == [(1, recused, "recusal", True), (2, absent, "absent", False)]
    assert replaced[-1]["expert_ids"] == sitting and "87号令) 第49条" in replaced[0]["article"]
    new_one = replaced[0]["expert_id"]

    # the member drawn in place is told its seat and schedule; the one out, its release
    [seat] = await eventually(lambda: _inbox(p, experts[new_one], tender_id,
                                             "expert_replacement_drawn"), within=60)
    assert "重新进行评审" in seat["body"] and recused not in json.dumps(seat)
    [released] = await eventually(lambda: _inbox(p, experts[recused], tender_id,
                                                 "expert_released"), within=60)
    assert "回避" in released["body"] and "无效" in released["body"]
    # the member the platform replaced as absent (擅离职守, 条例71(二)) gets a credit record;
    # the one that declared its own recusal, as 条例48 asks, does not
    _, sup = await p.entity("supervisor", name="示例市财政局政府采购监督管理处")

    async def recorded(expert_id: str) -> Any:
        _, account = await p.call("credit", "GET", f"/v1/accounts/expert/{expert_id}", sup)
        kinds = [r["kind"] for r in (account.get("records") or {}).values()]
        return account if "evaluation_absent" in kinds else None
    account = await eventually(lambda: recorded(absent), within=60)
    [record] = [r for r in account["records"].values() if r["kind"] == "evaluation_absent"]
    assert "第71条" in record["article"] and record["detail"]["tender_id"] == tender_id
    assert account["score"] <= 90  # 10 points (rules.yaml, configurable)
    assert await recorded(recused) is None

    for expert_id in sitting:
        status, out = await p.call("bidding", "POST", f"{base}/scores", experts[expert_id],
                                   sheets(POINTS))
        assert status == 200, out
    events = await _events(p, tender_id, lambda rs: "EvaluationCompleted" in _types(rs),
                           Category.PROCUREMENT)
    report = next(r.json() for r in events if "EvaluationCompleted" in r.headers["ce_type"])
    # the sitting members' points alone (the void sheet would have put 150k first):
    # 120k: 25.00 + 70 = 95.00; 100k: 30 + 40 = 70.00; 150k: 20 + 50 = 70.00
    assert [(c["price_fen"], c["score"]) for c in report["candidates"]] == [
        (120_000_00, "95.00"), (100_000_00, "70.00"), (150_000_00, "70.00")]

    async def publicised() -> bool:  # (its 3 s may be over by now: then it is awarded)
        return await _section_status(p, tender_id, section) in ("publicity", "awarded")
    await eventually(publicised, within=30)
    await _end_publicity(p, tender_id, section)
    await eventually(lambda: _is(p, tender_id, section, "awarded"), within=60)
    _, draw = await p.call("bidding", "GET", f"{base}/draw")
    assert draw["committee"] == sitting and draw["drawn"] == drawn  # first as drawn
    assert draw["verified"] is True
    assert replay(draw["seed"], DrawRecord.of_doc(draw["record"])) == tuple(drawn)
    rounds = draw["replacements"]
    assert [(r["round"], r["expert_id"], r["by"], r["verified"]) for r in rounds] == [
        (1, recused, new_one, True), (2, absent, second["expert_id"], True)]
    for r in rounds:  # anyone re-runs each replacement's draw from its record
        record = DrawRecord.of_doc(r["record"])
        assert replay(draw["seed"], record) == (r["by"],)
        assert r["expert_id"] in record.already
    _, trail = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}/audit",
                            p.tokens["operator"])
    actions = [e["action"] for e in trail["entries"]]
    assert actions.count("replace_expert") == 2 and trail["broken_at"] is None
    assert actions.index("replace_expert") < actions.index("report")


A06 = "A06"  # 通信工程: no expert has it until the next test registers five


async def test_a_section_left_awaiting_its_draw_is_drawn_once_the_pool_allows_fa37(
        platform: Platform) -> None:
    """法37 / 条例46: a section whose opening found too few eligible experts waits for its
    committee (awaiting_draw); the operator draws it again once experts of the specialty
    are in the pool, on the seed committed at publication; the draw is audited and
    announced (ExpertsDrawn), and the members drawn score."""
    p = platform
    parties = await _parties(p, 3)
    body = {**_tender_body(parties["tenderee"], deadline_s=10), "expert_mix": {A06: 5}}
    tender_id, section = await _publish(p, parties, body)
    keys = await _submit_all(p, tender_id, section, parties["bidders"], PRICES)
    await _opened_without_a_committee(p, tender_id, section, keys)
    redraw = f"/v1/tenders/{tender_id}/sections/{section}/committee"
    status, out = await p.call("bidding", "POST", redraw, parties["t_token"])
    assert status == 403, out  # the tenderee never draws nor learns its committee
    status, out = await p.call("bidding", "POST", redraw, p.tokens["operator"])
    assert status == 422 and out["error"]["code"] == "not_enough_experts", out
    assert out["error"]["details"]["specialty"] == A06, out
    experts = dict([await p.expert([A06]) for _ in range(5)])

    async def drawn() -> Any:
        status, out = await p.call("bidding", "POST", redraw, p.tokens["operator"])
        return out if status == 201 else None  # until bidding knows the new experts
    assert await eventually(drawn, within=30) == {"status": "evaluating", "committee": 5}
    status, out = await p.call("bidding", "POST", redraw, p.tokens["operator"])
    assert status == 409 and out["error"]["code"] == "not_awaiting_draw", out
    _, committee = await p.call("bidding", "GET", redraw, p.tokens["operator"])
    assert sorted(committee["committee"]) == sorted(experts)
    events = await _events(p, tender_id, lambda rs: "ExpertsDrawn" in _types(rs))
    [announced] = [r.json() for r in events if ".ExpertsDrawn." in r.headers["ce_type"]]
    assert sorted(announced["expert_ids"]) == sorted(experts)
    _, trail = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}/audit",
                            p.tokens["operator"])
    [entry] = [e for e in trail["entries"] if e["action"] == "draw"]
    assert entry["data"]["status"] == "evaluating" and trail["broken_at"] is None
    _, opening = await p.call("bidding", "GET",
                              f"/v1/tenders/{tender_id}/sections/{section}/opening")
    sheets = [{"bid_id": ln["bid_id"], "points": 60, "compliant": True}
              for ln in opening["lines"]]
    expert_id = committee["committee"][0]
    status, out = await p.call("bidding", "POST",
                               f"/v1/tenders/{tender_id}/sections/{section}/scores",
                               experts[expert_id], {"sheets": sheets})
    assert status == 200, out
