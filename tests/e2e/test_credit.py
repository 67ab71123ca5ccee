"""Credit end to end: the services as processes, driven through HTTP and topics only.

Restrictions recorded at credit reach bidding through EntityBanned /
ExpertBlacklisted / EntityReinstated (bidding's projection); bidding's events
(BidsOpened, BidFingerprintsExtracted, ExpertsDrawn, EvaluationCompleted,
ContractOverdue) become credit records, alerts and pending expert evaluations.
The rules are deploy/rules-demo.yaml (periods in seconds); it has no credit
section, so credit uses its own rules.yaml. A restriction recorded for
construction is checked against a sealed bid of procurement and an offer on a
land listing (39号令), the trade types it does not cover. Restrictions run by
calendar day in the services' local time: the end of one is seen by a platform of
its own whose processes' time zone (TZ) puts their midnight a minute after they
start (``near_midnight``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contracts.topics import Stage, topic_name
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import eventually, read_topic
from ggzy.testing.processes import ServiceProcess, service_env
from tests.e2e.conftest import OPERATOR, Platform, _settings
from tests.e2e.test_auction import WAN, _announce, _bidding_open, _body, _offer
from tests.e2e.test_tender_lifecycle import (
    _experts,
    _is,
    _open_with_keys,
    _parties,
    _publish,
    _reveal,
    _submit_all,
    _tender_body,
)

A08 = "A08"  # 园林绿化工程: only this test's experts have it, so the draw pool is known
A02, A03 = "A02", "A03"  # 市政公用工程, 公路工程: only the blacklisted expert has A02
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
    [start, end] (end inclusive) and it is not revoked: a construction restriction
    refuses the bidder's construction bid with its decision, not its procurement bid
    nor its offer on a land listing. A period already over when recorded is repaired by
    credit's expiry timer (信用修复, EntityReinstated); the transition of one that ends
    while in force is the next test's."""
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
    seller, s_token = await p.entity("tenderee", name="示例市自然资源和规划局")
    listing = await _announce(p, s_token, _body(seller, listing_s=6))
    await _bidding_open(p, listing)  # bidding knows the restriction: refused above
    status, out = await _offer(p, listing, b_token, 1000 * WAN)  # below the base: no sale
    assert status == 201 and out["paddle"] == 1, out  # land is not covered either
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
    """One tender, six credit facts: a blacklisted expert is never drawn (条例71, 72);
    bids uploaded from one address raise an alert (条例40(二)), the address the platform
    saw, whatever their tools declared; a file of one bidder's package in another's
    raises mixed_documents on the credit topic (相互混装, 条例40(五)), while a file of
    the tender documents in every package raises nothing (a part digest that is no
    SHA-256 is refused: 422); a bid never decrypted is a
    revoked-bid record (20号令, 条例35); each committee expert's evaluation becomes pending;
    the winner not signing in time (法46, seconds in rules-demo) lowers its score.

    The blacklisting is also checked where chance cannot hide a failure: a second tender
    wants one expert of A02, and the blacklisted one is the only A02 expert there is, so
    a draw that let him in would have to take him; it finds no eligible expert instead
    and the section waits for a draw (awaiting_draw) with no committee."""
    p = platform
    experts = [await p.expert([A08, A02])] + [await p.expert([A08]) for _ in range(5)]
    (barred, _), eligible = experts[0], dict(experts[1:])
    for _ in range(4):
        await p.expert([A03])
    today = date.today()
    await _restrict(p, _restriction("expert", barred, today, today + timedelta(days=30),
                                    "深建专罚〔2026〕7号"))
    await _credit_event(p, "ExpertBlacklisted", expert_id=barred)
    parties = await _parties(p, 4)
    form = {"name": "投标函格式.docx", "digest": _sha256("投标函格式"), "size_bytes": 24_576,
            "url": "https://files.example.cn/t/投标函格式.docx"}  # every package holds it
    body = {**_tender_body(parties["tenderee"], deadline_s=12), "expert_mix": {A08: 5},
            "documents": [form]}
    tender_id, section = await _publish(p, parties, body)
    only_barred = {**_tender_body(parties["tenderee"], deadline_s=25),
                   "expert_mix": {A02: 1, A03: 4}}
    solo_id, solo_section = await _publish(p, parties, only_barred)
    mixed = _sha256("施工组织设计")  # bidder 0's file, in bidder 2's package too
    prints: list[dict[str, Any] | None] = [  # each tool declares an address of its own
        {"file_digest": f"{n}" * 32, "upload_ip": f"192.0.2.{n}", "part_digests": [
            form["digest"], _sha256(f"商务标{n}"), *([mixed] if n in (0, 2) else [])]}
        for n in range(len(PRICES))]
    seen = ["203.0.113.9" if n < 2 else f"198.51.100.{n}" for n in range(len(PRICES))]
    (first, first_token), third = parties["bidders"][0], parties["bidders"][2][0]
    status, refused, _ = await p.submit(tender_id, section, first, first_token, PRICES[0],
                                        {"part_digests": [mixed.upper()]})
    assert (status, refused["error"]["code"]) == (422, "invalid_request"), refused
    assert "fingerprint.part_digests.0" in refused["error"]["message"]
    keys = await _submit_all(p, tender_id, section, parties["bidders"], PRICES, prints, seen)
    solo_keys = await _submit_all(p, solo_id, solo_section, parties["bidders"][:3], PRICES[:3])
    await _open_with_keys(p, tender_id, section, keys[:3])  # the fourth: 视为撤销
    _, committee = await p.call("bidding", "GET",
                                f"/v1/tenders/{tender_id}/sections/{section}/committee",
                                p.tokens["operator"])
    assert sorted(committee["committee"]) == sorted(eligible)  # the barred one never drawn
    await _opened_without_a_committee(p, solo_id, solo_section, solo_keys)
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
    raised = await _credit_event(p, "RiskAlertRaised", tender_id=tender_id,
                                 indicator="mixed_documents")
    assert (raised["article"], sorted(raised["bidders"])) == ("条例40(五)", sorted((first, third)))
    assert raised["evidence"]["digests"] == [mixed]  # not the tender documents' form
    mixing = [a["alert_id"] for a in await _alerts(p, sup, tender_id)  # all raised by now
              if a["indicator"] == "mixed_documents"]
    assert mixing == [raised["alert_id"]]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def _opened_without_a_committee(p: Platform, tender_id: str, section: str,
                                     keys: list[tuple[str, bytes]]) -> None:
    """The section opens (its keys revealed) and its draw finds too few eligible
    experts: it waits for a draw, with no committee."""
    await _reveal(p, tender_id, section, keys)

    async def opened() -> Any:
        _, t = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}")
        status = t["sections_status"][section]
        return status if status != "decrypting" else None
    assert await eventually(opened, within=30) == "awaiting_draw"
    _, committee = await p.call("bidding", "GET",
                                f"/v1/tenders/{tender_id}/sections/{section}/committee",
                                p.tokens["operator"])
    assert committee["committee"] == []
    _, opening = await p.call("bidding", "GET",
                              f"/v1/tenders/{tender_id}/sections/{section}/opening")
    assert [ln["status"] for ln in opening["lines"]] == ["valid"] * len(keys)


C01 = "C01"  # 工程咨询与设计: no expert has it, so the next tender opens without a draw


async def test_a_collusion_alert_reaches_the_supervisors_through_notify_and_no_bidder(
        platform: Platform) -> None:
    """条例40(二) at an opening → RiskAlertRaised → notify: a supervisor known to notify
    finds the alert in its inbox (risk_alert: the indicator, the bidders); neither the
    bidders it names, nor the other bidder, nor the tenderee hear anything of it, and
    notify's receipts of the alert name supervisors only."""
    p = platform
    sup, s_token = await p.entity("supervisor", name="示例市公共资源交易监督管理办公室")
    status, _ = await p.call("notify", "GET", "/v1/me/inbox", s_token)  # made known to notify
    assert status == 200
    parties = await _parties(p, 3)
    body = {**_tender_body(parties["tenderee"], deadline_s=10), "expert_mix": {C01: 5}}
    tender_id, section = await _publish(p, parties, body)
    seen = ["203.0.113.77", "203.0.113.77", "198.51.100.30"]
    keys = await _submit_all(p, tender_id, section, parties["bidders"], PRICES[:3], None, seen)
    await _opened_without_a_committee(p, tender_id, section, keys)
    pair = sorted(u for u, _ in parties["bidders"][:2])
    [alert] = [a for a in await _alerts(p, s_token, tender_id)
               if a["indicator"] == "same_upload_ip"]
    assert sorted(alert["bidders"]) == pair

    async def inboxed() -> Any:
        return [i for i in await _inbox(p, s_token, tender_id) if i["kind"] == "risk_alert"]
    [item] = await eventually(inboxed, within=30)
    assert item["data"]["indicator"] == "same_upload_ip" and item["data"]["article"]
    assert sorted(item["data"]["bidders"].split(", ")) == pair
    event_id = item["source_event_id"]
    receipts = await read_topic(p.kafka, topic_name(Stage.NOTIFY, prefix=p.prefix), lambda rs: any(
        r.json().get("source_event_id") == event_id and r.json()["recipient"] == f"entity:{sup}"
        for r in rs), within=30)
    await asyncio.sleep(1.0)  # a moment more, so that a delivery to a party would be seen
    named = {r.json()["recipient"] for r in receipts
             if r.json().get("source_event_id") == event_id}
    parties_of = {f"entity:{u}" for u in [parties["tenderee"],
                                          *(b for b, _ in parties["bidders"])]}
    assert f"entity:{sup}" in named and not named & parties_of
    for token in [parties["t_token"], *(t for _, t in parties["bidders"])]:
        items = await _inbox(p, token, tender_id)
        assert items, "each party hears of the tender itself"  # bid_received etc.
        assert "risk_alert" not in {i["kind"] for i in items}
        assert event_id not in {i["source_event_id"] for i in items}
        assert "same_upload_ip" not in json.dumps(items) and "203.0.113.77" not in json.dumps(
            items)


async def _inbox(p: Platform, token: str, tender_id: str) -> list[dict[str, Any]]:
    """The caller's notify inbox items about the tender."""
    status, body = await p.call("notify", "GET", "/v1/me/inbox?limit=500", token)
    assert status == 200, body
    return [i for i in body["items"] if i["data"].get("tender_id") == tender_id]


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



async def test_a_bid_a_platform_fault_kept_sealed_is_withdrawn_not_revoked_ling20_31(
        platform: Platform) -> None:
    """20号令第31条: 因投标人原因造成投标文件未解密的，视为撤销其投标文件；因投标人之外的原因
    造成投标文件未解密的，视为撤回其投标文件. The operator records, within the decryption
    window, that the platform kept one bidder from decrypting: at the opening that bid is
    withdrawn, with no credit record; another bid its bidder never decrypted is revoked,
    with one (条例35)."""
    p = platform
    await _experts(p)
    parties = await _parties(p, 5)
    # five bids and a refusal before the deadline: 15 s, so that on a loaded machine the
    # refusal still comes before the window opens
    tender_id, section = await _publish(p, parties, _tender_body(parties["tenderee"],
                                                                 deadline_s=15))
    prices = [*PRICES, 9_020_000_00]
    keys = await _submit_all(p, tender_id, section, parties["bidders"], prices)
    (faulted, _), (revoked, _) = parties["bidders"][3], parties["bidders"][4]
    faults = f"/v1/tenders/{tender_id}/sections/{section}/decrypt-faults"
    body = {"bidder_uscc": faulted, "cause": "platform", "note": "解密服务 10:05-10:09 故障"}
    status, out = await p.call("bidding", "POST", faults, p.tokens["operator"], body)
    assert status == 409 and out["error"]["code"] == "not_decrypting", out  # before the window
    # The window is 5 s (rules-demo): in it only what needs it, the fault recorded and the
    # three keys revealed; the refusals that do not depend on it come after the opening.
    await eventually(lambda: _is(p, tender_id, section, "decrypting"), within=30)
    status, out = await p.call("bidding", "POST", faults, p.tokens["operator"], body)
    assert status == 201 and out["counts_as"] == "withdrawn", out
    await _open_with_keys(p, tender_id, section, keys[:3])
    # who may record a fault (an operator or a supervisor, not the tenderee) and for whom
    # (a bidder whose bid the deadline received) are checked first, whatever the window
    status, out = await p.call("bidding", "POST", faults, parties["t_token"], body)
    assert status == 403, out
    status, out = await p.call("bidding", "POST", faults, p.tokens["operator"],
                               {**body, "bidder_uscc": parties["tenderee"]})
    assert status == 422 and out["error"]["code"] == "no_bid", out
    _, opening = await p.call("bidding", "GET",
                              f"/v1/tenders/{tender_id}/sections/{section}/opening")
    statuses = {ln["bidder_uscc"]: ln["status"] for ln in opening["lines"]}
    assert (statuses[faulted], statuses[revoked]) == ("withdrawn", "revoked"), statuses
    assert list(statuses.values()).count("valid") == 3
    sup = await _supervisor(p)
    await _account(p, sup, revoked, "bid_revoked")  # the same BidsOpened, applied
    _, account = await p.call("credit", "GET", f"/v1/accounts/entity/{faulted}", sup)
    assert "bid_revoked" not in [r["kind"] for r in account.get("records", {}).values()]
    _, trail = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}/audit",
                            p.tokens["operator"])
    [entry] = [e for e in trail["entries"] if e["action"] == "decrypt_fault"]
    assert entry["data"]["bidder_uscc"] == faulted and trail["broken_at"] is None
    status, out = await p.call("bidding", "POST", faults, p.tokens["operator"], body)
    assert status == 409 and out["error"]["code"] == "not_decrypting", out  # opened


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


# The end of a restriction as it happens: a platform whose midnight comes soon -------------
MIDNIGHT_LEAD_S = 75  # from the fixture's start to the processes' local midnight
MIDNIGHT_SERVICES = ("registration", "bidding", "credit")  # a bid and a restriction need these


def _posix_tz(east_s: int) -> str:
    """A POSIX TZ of ``east_s`` seconds east of UTC (POSIX counts westward: UTC+h is -h)."""
    sign = "-" if east_s >= 0 else "+"
    hours, rest = divmod(abs(east_s), 3600)
    return f"GGZ{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


@pytest.fixture
def near_midnight(infra: Infra, tmp_path: Path) -> Iterator[tuple[dict[str, ServiceProcess],
                                                                   datetime, timezone]]:
    """Registration, bidding and credit as processes (a prefix and databases of their own)
    in a time zone whose midnight is ``MIDNIGHT_LEAD_S`` after this fixture starts: the
    processes' clock is the real one, only their local calendar day ends soon. Yields
    the processes, that midnight (UTC) and the zone."""
    midnight = int(time.time()) + MIDNIGHT_LEAD_S
    east = -midnight % 86_400  # (midnight + east) is a whole number of days
    east -= 86_400 if east > 43_200 else 0
    zone = timezone(timedelta(seconds=east))
    prefix = "m" + uuid.uuid4().hex[:8]
    reg = _settings(infra, prefix, "registration")
    jwks = f"http://127.0.0.1:{reg.http_port}/.well-known/jwks.json"
    procs: dict[str, ServiceProcess] = {}
    try:
        for name in MIDNIGHT_SERVICES:
            settings = reg if name == "registration" else _settings(infra, prefix, name)
            env = {**service_env(settings, jwks_url=jwks,
                                 bootstrap_operator=f"{OPERATOR[0]}:{OPERATOR[1]}",
                                 trusted_proxies="127.0.0.1"), "TZ": _posix_tz(east)}
            procs[name] = ServiceProcess(name, env, tmp_path / f"{name}.log",
                                         settings.http_port).start()
        yield procs, datetime.fromtimestamp(midnight, UTC), zone
    finally:
        for proc in reversed(procs.values()):
            proc.stop()


async def test_a_restriction_blocks_to_the_end_of_its_last_day_then_its_timer_lifts_it(
        infra: Infra, near_midnight: tuple[dict[str, ServiceProcess], datetime, timezone]
) -> None:
    """BLACK_LIST: the end date is inclusive, so a restriction ending today blocks until
    the local midnight after it; there credit's expiry timer repairs it (信用修复:
    EntityReinstated, lifted by expiry, published at or after that midnight) and the
    same bid is accepted. Seen live: the services' day ends a minute after they start."""
    procs, midnight, zone = near_midnight
    async with aiohttp.ClientSession() as http:
        p = Platform(procs["registration"].env["GGZY_TOPIC_PREFIX"], infra.kafka_bootstrap,
                     {n: proc.url for n, proc in procs.items()}, http, procs=procs)
        p.tokens["operator"] = await p.login(*OPERATOR)
        parties = await _parties(p, 1)
        [(bidder, token)] = parties["bidders"]
        today = datetime.now(zone).date()  # the services' today
        left = (midnight - datetime.now(UTC)).total_seconds()
        assert left > 25, f"the services started too slowly: {left:.0f} s to their midnight"
        await _restrict(p, _restriction("entity", bidder, today - timedelta(days=10), today,
                                        "深建罚〔2026〕201号"))
        open_for = int((midnight - datetime.now(UTC)).total_seconds()) + 45
        tender_id, section = await _publish(p, parties, deadline_s=open_for)

        async def refused() -> Any:
            status, out, _ = await p.submit(tender_id, section, bidder, token, PRICES[0])
            return out if status == 403 else None
        out = await eventually(refused, within=10)
        assert out["error"]["code"] == "bidder_restricted"
        assert out["error"]["details"]["decision_no"] == "深建罚〔2026〕201号"
        await asyncio.sleep(max(0.0, (midnight - datetime.now(UTC)).total_seconds() - 4))
        status, out, _ = await p.submit(tender_id, section, bidder, token, PRICES[0])
        assert datetime.now(UTC) < midnight, "the last check came after midnight"
        assert status == 403 and out["error"]["code"] == "bidder_restricted", out  # its last day
        lifted = await _reinstated(p, bidder)
        assert lifted["lifted_by"] == "expiry"
        assert datetime.fromisoformat(lifted["ce_time"]) >= midnight  # not before the day ended
        status, out, _ = await p.submit(tender_id, section, bidder, token, PRICES[0])
        assert status == 201, out
        _, public = await p.call("credit", "GET", f"/v1/credit/{bidder}")
        assert public["restrictions"] == []


async def _reinstated(p: Platform, uscc: str) -> dict[str, Any]:
    """The EntityReinstated of ``uscc``, with its envelope's time (``ce_time``)."""
    def hits(rs: list[Any]) -> list[dict[str, Any]]:
        return [{**r.json(), "ce_time": r.headers["ce_time"]} for r in rs
                if r.headers.get("ce_type", "").endswith(".EntityReinstated.v1")
                and r.json().get("uscc") == uscc]
    records = await read_topic(p.kafka, topic_name(Stage.CREDIT, prefix=p.prefix),
                               lambda rs: bool(hits(rs)), within=30)
    found = hits(records)
    assert found, "no EntityReinstated after the restriction's end"
    return found[0]
