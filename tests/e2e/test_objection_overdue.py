"""An objection left unanswered past its due time, on the platform as processes: bidding
finds it overdue by its durable timer (条例22: 3 days; 3 s in deploy/rules-demo.yaml) and
says so once (TenderObjectionOverdue); the tender stays suspended; credit records it
against the tenderee (条例77第2款); notify tells the objector it may complain (条例60) and
the supervisors. The answer, still given later, is taken, marked late, and resumes the
tender."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from ggzy.testing.kafka import eventually
from tests.e2e.conftest import Platform
from tests.e2e.test_tender_lifecycle import _events, _parties, _publish, _types


async def _inbox_kinds(p: Platform, token: str, tender_id: str) -> list[dict[str, Any]]:
    status, body = await p.call("notify", "GET", "/v1/me/inbox?limit=500", token)
    assert status == 200, body
    return [n for n in body["items"] if n["data"].get("tender_id") == tender_id]


async def test_an_unanswered_objection_is_overdue_once_recorded_and_told_tiaoli22_60(
        platform: Platform) -> None:
    p = platform
    _, s_token = await p.entity("supervisor", name="示例市住房和城乡建设局")
    parties = await _parties(p, 1)
    tender_id, _ = await _publish(p, parties, deadline_s=40)
    objector, o_token = parties["bidders"][0]
    status, filed = await p.until_known(lambda: p.call(
        "bidding", "POST", f"/v1/tenders/{tender_id}/objections", o_token,
        {"text": "资格条件设置不合理，排斥潜在投标人"}))
    assert status == 201, filed
    oid = filed["objection_id"]
    due = datetime.fromisoformat(filed["answer_due"])  # shown to the objector, with its rule
    assert filed["suspended"] is True and "第22条" in filed["answer_article"]
    assert "overdue_at" not in filed

    events = await _events(p, tender_id, lambda rs: "TenderObjectionOverdue" in _types(rs))
    [overdue] = [r.json() for r in events if ".TenderObjectionOverdue." in r.headers["ce_type"]]
    assert (overdue["objection_id"], overdue["objector_uscc"], overdue["answerer_uscc"]) == (
        oid, objector, parties["tenderee"])
    assert datetime.fromisoformat(overdue["answer_due"]) == due
    assert datetime.fromisoformat(overdue["overdue_at"]) >= due
    assert "第22条" in overdue["article"] and "第60条" in overdue["complaint_article"]
    assert overdue["suspended"] is True

    _, mine = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}/objections", o_token)
    [seen] = mine["objections"]
    assert seen["status"] == "pending" and seen["overdue_at"]
    _, public = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}")
    assert public["suspended_since"]  # still suspended: only the answer lifts it (条例22)

    async def recorded() -> Any:
        status, account = await p.call(
            "credit", "GET", f"/v1/accounts/entity/{parties['tenderee']}", s_token)
        found = [r for r in (account.get("records") or {}).values()
                 if r["kind"] == "objection_answer_late"] if status == 200 else []
        return found or None

    [record] = await eventually(recorded, within=30)
    assert record["source"] == "TenderObjectionOverdue"
    assert "第22条" in record["detail"]["article"] and record["detail"]["objection_id"] == oid
    assert "第77条" in record["article"]

    async def told(token: str, kind: str) -> Any:
        return [n for n in await _inbox_kinds(p, token, tender_id) if n["kind"] == kind] or None

    [to_objector] = await eventually(lambda: told(o_token, "objection_overdue"), within=30)
    assert "投诉" in to_objector["body"] and "第60条" in to_objector["body"]
    [to_supervisor] = await eventually(lambda: told(s_token, "objection_overdue_supervisor"),
                                       within=30)
    assert objector in to_supervisor["body"] and parties["tenderee"] in to_supervisor["body"]

    status, answered = await p.call(
        "bidding", "POST", f"/v1/tenders/{tender_id}/objections/{oid}/answer",
        parties["t_token"], {"answer": "经复核，资格条件已调整"})
    assert status == 200 and answered["suspended"] is False, answered  # taken, and resumes
    events = await _events(p, tender_id, lambda rs: "TenderObjectionAnswered" in _types(rs))
    [late] = [r.json() for r in events if ".TenderObjectionAnswered." in r.headers["ce_type"]]
    assert late["late"] is True
    await asyncio.sleep(2)  # the timer's lease and the relay: no second overdue comes
    events = await _events(p, tender_id, lambda rs: "TenderResumed" in _types(rs))
    assert _types(events).count("TenderObjectionOverdue") == 1
    _, account = await p.call("credit", "GET", f"/v1/accounts/entity/{parties['tenderee']}",
                              s_token)
    assert [r["kind"] for r in account["records"].values()].count(
        "objection_answer_late") == 1  # the late answer adds nothing: one lapse, one record
    _, trail = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}/audit",
                            p.tokens["operator"])
    actions = [e["action"] for e in trail["entries"]]
    assert actions.count("objection_overdue") == 1 and trail["broken_at"] is None
    assert actions.index("objection_overdue") < actions.index("answer_objection")
