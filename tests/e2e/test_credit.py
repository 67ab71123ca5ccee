"""Credit end to end: the services as processes, driven through HTTP and topics only.

Restrictions recorded at credit reach bidding through EntityBanned /
ExpertBlacklisted / EntityReinstated (bidding's projection); bidding's events
(BidsOpened, BidFingerprintsExtracted, ExpertsDrawn, EvaluationCompleted,
ContractOverdue) become credit records, alerts and pending expert evaluations.
The rules are deploy/rules-demo.yaml (periods in seconds); it has no credit
section, so credit uses its own rules.yaml. Bidding has rule sets for
construction and procurement only, so procurement is the "other category".
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from contracts.topics import Stage, topic_name
from ggzy.testing.kafka import eventually, read_topic
from tests.e2e.conftest import Platform
from tests.e2e.test_tender_lifecycle import (
    _is,
    _open_with_keys,
    _parties,
    _publish,
    _submit_all,
    _tender_body,
)

A08 = "A08"  # 园林绿化工程: only this test's experts have it, so the draw pool is known
PRICES = [9_130_000_00, 8_471_000_00, 8_802_500_00, 9_613_000_00]


async def _supervisor(p: Platform) -> str:
    if "supervisor" not in p.tokens:
        _, p.tokens["supervisor"] = await p.entity("supervisor", name="示例市住房和建设局")
    return p.tokens["supervisor"]


def _restriction(kind: str, subject: str, start: date, end: date, no: str) -> dict[str, Any]:
    return {"subject_kind": kind, "subject_id": subject, "action": "参加投标/评标",
            "categories": ["construction"], "start": start.isoformat(),
            "end": end.isoformat(), "decision_no": no, "reason": "招标投标法实施条例第67条"}


async def _restrict(p: Platform, body: dict[str, Any]) -> str:
    status, out = await p.call("credit", "POST", "/v1/restrictions", await _supervisor(p), body)
    assert status == 201, out
    return str(out["restriction_id"])


async def _credit_event(p: Platform, name: str, **match: Any) -> dict[str, Any]:
    def hits(rs: list[Any]) -> list[dict[str, Any]]:
        return [r.json() for r in rs if r.headers.get("ce_type", "").endswith(f".{name}.v1")
                and all(r.json().get(k) == v for k, v in match.items())]
    records = await read_topic(p.kafka, topic_name(Stage.CREDIT, prefix=p.prefix),
                               lambda rs: bool(hits(rs)), within=30)
    return hits(records)[0]


async def test_a_construction_restriction_blocks_construction_bids_only_within_its_dates(
        platform: Platform) -> None:
    """BLACK_LIST: blocked exactly when the restriction covers the trade type, today is in
    [start, end] (end inclusive) and it is not revoked; a period that has ended is
    repaired by credit's expiry timer (信用修复, EntityReinstated)."""
    p = platform
    parties = await _parties(p, 2)
    (banned, b_token), (expired, e_token) = parties["bidders"]
    today = date.today()
    rid = await _restrict(p, _restriction("entity", banned, today, today, "深建罚〔2026〕101号"))
    await _restrict(p, _restriction("entity", expired, today - timedelta(days=30),
                                    today - timedelta(days=1), "深建罚〔2025〕102号"))
    construction, c_section = await _publish(p, parties, deadline_s=60)
    body = _tender_body(parties["tenderee"], deadline_s=60, category="procurement")
    body["sections"][0].update(estimated_price_fen=5_000_000_00, deposit_fen=10_000_00)
    status, out = await p.until_known(lambda: p.call("bidding", "POST", "/v1/tenders",
                                                     parties["t_token"], body))
    assert status == 201, out
    procurement, p_section = out["id"], out["sections"][0]

    async def refused() -> Any:
        status, out, _ = await p.submit(construction, c_section, banned, b_token, PRICES[0])
        return out if status == 403 else None
    out = await eventually(refused, within=30)  # end date = today: still blocked today
    assert out["error"]["code"] == "bidder_restricted"
    assert out["error"]["details"]["decision_no"] == "深建罚〔2026〕101号"
    status, out, _ = await p.submit(procurement, p_section, banned, b_token, PRICES[0])
    assert status == 201, out  # another trade type is not covered
    await _credit_event(p, "EntityReinstated", uscc=expired)  # the timer repaired it
    status, out, _ = await p.submit(construction, c_section, expired, e_token, PRICES[1])
    assert status == 201, out
    _, public = await p.call("credit", "GET", f"/v1/credit/{banned}")
    assert [r["decision_no"] for r in public["restrictions"]] == ["深建罚〔2026〕101号"]
    _, public = await p.call("credit", "GET", f"/v1/credit/{expired}")
    assert public["restrictions"] == []
    status, out = await p.call("credit", "POST", f"/v1/restrictions/{rid}/revocation",
                               await _supervisor(p), {"reason": "行政复议决定撤销"})
    assert status == 200, out

    async def accepted() -> Any:
        status, out, _ = await p.submit(construction, c_section, banned, b_token, PRICES[0])
        return out if status == 201 else None
    await eventually(accepted, within=30)  # revoked: no longer blocked


async def test_a_tender_feeds_credit_overdue_winner_revoked_bid_collusion_and_experts(
        platform: Platform) -> None:
    """One tender, five credit facts: a blacklisted expert is never drawn (条例71, 72);
    bids uploaded from one address raise an alert (条例40(二)), the address the platform
    saw, whatever their tools declared; a bid never decrypted is a
    revoked-bid record (20号令, 条例35); each committee expert's evaluation becomes pending;
    the winner not signing in time (法46, seconds in rules-demo) lowers its score."""
    p = platform
    experts = [await p.expert([A08]) for _ in range(6)]
    (barred, _), eligible = experts[0], dict(experts[1:])
    today = date.today()
    await _restrict(p, _restriction("expert", barred, today, today + timedelta(days=30),
                                    "深建专罚〔2026〕7号"))
    await _credit_event(p, "ExpertBlacklisted", expert_id=barred)
    parties = await _parties(p, 4)
    body = {**_tender_body(parties["tenderee"], deadline_s=12), "expert_mix": {A08: 5}}
    tender_id, section = await _publish(p, parties, body)
    prints: list[dict[str, Any] | None] = [  # each tool declares an address of its own
        {"file_digest": f"{n}" * 32, "upload_ip": f"192.0.2.{n}"} for n in range(len(PRICES))]
    seen = ["203.0.113.9" if n < 2 else f"198.51.100.{n}" for n in range(len(PRICES))]
    keys = await _submit_all(p, tender_id, section, parties["bidders"], PRICES, prints, seen)
    await _open_with_keys(p, tender_id, section, keys[:3])  # the fourth: 视为撤销
    _, committee = await p.call("bidding", "GET",
                                f"/v1/tenders/{tender_id}/sections/{section}/committee",
                                p.tokens["operator"])
    assert sorted(committee["committee"]) == sorted(eligible)  # the barred one never drawn
    _, opening = await p.call("bidding", "GET",
                              f"/v1/tenders/{tender_id}/sections/{section}/opening")
    sheets = [{"bid_id": ln["bid_id"], "points": 60, "compliant": True}
              for ln in opening["lines"] if ln["status"] == "valid"]
    for expert_id in committee["committee"]:
        status, out = await p.call("bidding", "POST",
                                   f"/v1/tenders/{tender_id}/sections/{section}/scores",
                                   eligible[expert_id], {"sheets": sheets})
        assert status == 200, out
    sup = await _supervisor(p)
    alerts = await _alerts(p, sup, tender_id)
    shared = [a for a in alerts if a["indicator"] == "same_upload_ip"]
    assert [sorted(a["bidders"]) for a in shared] == [sorted(u for u, _ in
                                                             parties["bidders"][:2])]
    assert "203.0.113.9" in json.dumps(shared[0]["evidence"])
    revoked = parties["bidders"][3][0]
    account = await _account(p, sup, revoked, "bid_revoked")
    assert account["score"] < 100
    await eventually(lambda: _is(p, tender_id, section, "contract_overdue"), within=60)
    winner = parties["bidders"][1][0]  # the lowest valid price (PRICES[1])
    account = await _account(p, sup, winner, "contract_overdue")
    assert account["score"] == 85 and account["level"] == "B"
    _, public = await p.call("credit", "GET", f"/v1/credit/{winner}")
    assert public["level"] == "B" and public["deposit_reduction_pct"] == 0

    async def pending() -> Any:
        _, body = await p.call("credit", "GET", f"/v1/expert-reviews?tender={tender_id}", sup)
        return body["items"] if len(body["items"]) == 5 else None
    reviews = await eventually(pending, within=30)
    assert sorted(r["expert_id"] for r in reviews) == sorted(eligible)


async def _alerts(p: Platform, token: str, tender_id: str) -> list[dict[str, Any]]:
    async def some() -> Any:
        _, body = await p.call("credit", "GET", f"/v1/alerts?tender={tender_id}", token)
        return body["items"] or None
    found: list[dict[str, Any]] = await eventually(some, within=30)
    return found


async def _account(p: Platform, token: str, uscc: str, kind: str) -> dict[str, Any]:
    async def has() -> Any:
        _, body = await p.call("credit", "GET", f"/v1/accounts/entity/{uscc}", token)
        kinds = [r["kind"] for r in body.get("records", {}).values()]
        return body if kind in kinds else None
    found: dict[str, Any] = await eventually(has, within=60)
    return found



A04 = "A04"  # 水利水电工程: only the next test's experts have it


async def test_the_draw_recuses_on_every_ground_of_article_12(platform: Platform) -> None:
    """评标委员会和评标方法暂行规定12 / 条例46: staff of a supervising department (二); an
    expert whose employer a party controls (三); an expert penalised before, though the
    penalty's period is over and credit has reinstated him (四, the rule
    expert_penalty_recusal) — none is drawn; one whose blacklisting was revoked is."""
    p = platform
    parties = await _parties(p, 3)
    department, _ = await p.entity("supervisor", name="示例市水务局")
    subsidiary, _ = await p.entity("bidder", name="示例城投园林有限公司",
                                   controlled_by=(parties["tenderee"],))
    staff, _ = await p.expert([A04], employer=department)
    tied, _ = await p.expert([A04], employer=subsidiary)
    penalised, _ = await p.expert([A04])
    revoked, _ = await p.expert([A04])
    clean = [(await p.expert([A04]))[0] for _ in range(4)]
    today = date.today()
    await _restrict(p, _restriction("expert", penalised, today - timedelta(days=60),
                                    today - timedelta(days=1), "深建专罚〔2025〕3号"))
    ended = await _credit_event(p, "ExpertReinstated", expert_id=penalised)
    assert ended["lifted_by"] == "expiry"
    rid = await _restrict(p, _restriction("expert", revoked, today, today + timedelta(days=30),
                                          "深建专罚〔2026〕8号"))
    status, out = await p.call("credit", "POST", f"/v1/restrictions/{rid}/revocation",
                               await _supervisor(p), {"reason": "行政复议决定撤销"})
    assert status == 200, out
    lifted = await _credit_event(p, "ExpertReinstated", expert_id=revoked)
    assert lifted["lifted_by"] == "revocation"
    body = {**_tender_body(parties["tenderee"], deadline_s=12), "expert_mix": {A04: 5}}
    tender_id, section = await _publish(p, parties, body)
    keys = await _submit_all(p, tender_id, section, parties["bidders"], PRICES[:3])
    await _open_with_keys(p, tender_id, section, keys)
    _, committee = await p.call("bidding", "GET",
                                f"/v1/tenders/{tender_id}/sections/{section}/committee",
                                p.tokens["operator"])
    assert sorted(committee["committee"]) == sorted([*clean, revoked])
    assert not {staff, tied, penalised} & set(committee["committee"])


A05 = "A05"  # 电力工程: only the next test's experts have it


async def test_a_supplier_penalised_within_three_years_is_disqualified_at_the_opening(
        platform: Platform) -> None:
    """政府采购法第22条(五) / 政府采购法实施条例第19条: no major violation in the 3 years before
    taking part (procurement's clean_record_years). A penalty whose period is over no longer
    blocks the bid, but the opening's qualification check disqualifies it (invalid_record);
    construction has no such look-back."""
    p = platform
    parties = await _parties(p, 4)
    penalised = parties["bidders"][0][0]
    today = date.today()
    await _restrict(p, {**_restriction("entity", penalised, today - timedelta(days=400),
                                       today - timedelta(days=1), "深财罚〔2025〕12号"),
                        "categories": ["procurement"]})
    ended = await _credit_event(p, "EntityReinstated", uscc=penalised)
    assert ended["lifted_by"] == "expiry"
    for _ in range(5):
        await p.expert([A05])
    body = {**_tender_body(parties["tenderee"], deadline_s=15, category="procurement"),
            "expert_mix": {A05: 5}}
    body["sections"][0].update(estimated_price_fen=5_000_000_00, deposit_fen=10_000_00)
    tender_id, section = await _publish(p, parties, body)
    keys = await _submit_all(p, tender_id, section, parties["bidders"], PRICES)
    await _open_with_keys(p, tender_id, section, keys)
    _, opening = await p.call("bidding", "GET",
                              f"/v1/tenders/{tender_id}/sections/{section}/opening")
    status = {ln["bidder_uscc"]: ln["status"] for ln in opening["lines"]}
    assert status.pop(penalised) == "invalid_record"
    assert set(status.values()) == {"valid"}
