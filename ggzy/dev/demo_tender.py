"""The demo's second part: one construction tender from publication to contract and its
acceptance.

The local platform runs the bidding rules of ``deploy/rules-demo.yaml`` (the
real articles, periods in seconds) so the whole tender takes about a minute.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ggzy.cli import main
from ggzy.testing.client import PlatformClient
from ggzy.testing.kafka import eventually
from services.bidding.domain.draw import DrawRecord, replay


async def _status(c: PlatformClient, tender_id: str, section: str) -> str:
    _, t = await c.call("bidding", "GET", f"/v1/tenders/{tender_id}")
    return str(t["sections_status"][section])


async def _wait(c: PlatformClient, tender_id: str, section: str, status: str) -> None:
    print(f"  ... waiting for the section to be {status}")
    await eventually(lambda: _wait_once(c, tender_id, section, status), within=120)


async def _wait_once(c: PlatformClient, tender_id: str, section: str, status: str) -> bool:
    return await _status(c, tender_id, section) == status


def _show(label: str, data: Any) -> None:
    print(f"  {label}: {json.dumps(data, ensure_ascii=False)[:300]}")


async def run_tender(c: PlatformClient) -> None:
    """Drive a tender through every stage, printing what each party sees."""
    print("8. the expert pool, a tenderee and four bidders")
    experts = dict([await c.expert(["A01"]) for _ in range(5)] + [await c.expert(["E01"])])
    tenderee, t_token = await c.entity("tenderee", name="示例市教育局")
    bidders = [await c.entity("bidder", name=f"示例第{i + 1}建设有限公司") for i in range(4)]
    now = datetime.now(UTC)
    body = {"project_code": "2026" + now.strftime("%m%d%H%M%S") + "DEMO"[:3], "tender_no": 1,
            "project_name": "示例市第一中学教学楼新建工程", "category": "construction",
            "region_code": "440300", "tenderee_uscc": tenderee,
            "sections": [{"name": "施工总承包", "estimated_price_fen": 10_000_000_00,
                          "deposit_fen": 20_000_00}],
            "issued_at": now.isoformat(), "sale_start": now.isoformat(),
            "sale_end": (now + timedelta(seconds=3)).isoformat(),
            "bid_deadline": (now + timedelta(seconds=12)).isoformat(),
            "expert_mix": {"A01": 4, "E01": 1},
            "documents": [{"name": "招标文件.pdf", "size_bytes": 2_048_000,
                           "digest": hashlib.sha256(b"demo tender documents").hexdigest(),
                           "url": "https://files.ggzy.example.cn/demo/招标文件.pdf"}]}
    print("9. the tenderee publishes the tender (timeline checked against the rules)")
    status, out = await c.until_known(lambda: c.call("bidding", "POST", "/v1/tenders", t_token,
                                                     body))
    _show(f"POST /v1/tenders -> {status}", out)
    tender_id, section = out["id"], out["sections"][0]
    print("9a. a bidder records that it obtained the documents (public files, no sign-up):")
    print("    it will be told of every clarification (法23); nobody else learns it (20号令)")
    status, got = await c.call("bidding", "POST", f"/v1/tenders/{tender_id}/documents/obtained",
                               bidders[0][1])
    _show(f"POST .../documents/obtained -> {status}", got)
    print("9b. a bidder objects to the documents (条例22): the tender is suspended until the")
    print("    tenderee answers, then resumes with the bidders' time given back")
    status, filed = await c.call("bidding", "POST", f"/v1/tenders/{tender_id}/objections",
                                 bidders[3][1], {"text": "资格条件要求本地业绩，排斥潜在投标人"})
    _show(f"POST .../objections -> {status}", filed)
    status, answered = await c.call(
        "bidding", "POST", f"/v1/tenders/{tender_id}/objections/{filed['objection_id']}/answer",
        t_token, {"answer": "已删除本地业绩要求，详见澄清"})
    _show(f"POST .../answer -> {status}", answered)
    print("10. four bidders seal their bids and upload ciphertext only; each gets a receipt")
    print("    (the first two upload from the same address, the last two share a file of their")
    print("    packages: credit will see both at opening, 条例40)")
    keys = []
    for i, (uscc, token) in enumerate(bidders):
        parts = [hashlib.sha256(f"{uscc}:{n}".encode()).hexdigest() for n in range(3)]
        if i >= 2:  # one file mixed into both packages (相互混装, 条例40(五))
            parts[2] = hashlib.sha256(b"demo shared technical file").hexdigest()
        fingerprint = {"file_digest": f"demo-{uscc}", "upload_ip": "10.8.8.8" if i < 2
                       else f"10.9.9.{i}", "part_digests": parts}
        status, receipt, key = await c.until_known(lambda u=uscc, t=token, n=i, f=fingerprint:
                                                   c.submit(tender_id, section, u, t,
                                                            9_500_000_00 - n * 150_000_00, f))
        print(f"  {uscc}: {status} receipt digest {receipt['receipt']['digest'][:16]}...")
        keys.append((token, key))
    await _wait(c, tender_id, section, "decrypting")
    print("11. after the deadline three bidders reveal their keys; the fourth does not")
    for token, key in keys[:3]:
        status, body = await c.call("bidding", "POST",
                                    f"/v1/tenders/{tender_id}/sections/{section}/bid/key", token,
                                    {"key": base64.b64encode(key).decode()})
        _show(f"reveal -> {status}", body)
    await _wait(c, tender_id, section, "evaluating")
    _, opening = await c.call("bidding", "GET", f"/v1/tenders/{tender_id}/sections/{section}"
                              "/opening")
    for line in opening["lines"]:
        print(f"  opening record: {line['bidder_name']} {line['price_fen']} {line['status']}")
    print("11b. a bidder objects to the opening (条例44); the tenderee answers on the record")
    status, objection = await c.call(
        "bidding", "POST", f"/v1/tenders/{tender_id}/sections/{section}/opening/objections",
        bidders[1][1], {"text": "唱标价格与投标文件不一致"})
    _show(f"POST .../opening/objections -> {status}", objection)
    status, answer = await c.call(
        "bidding", "POST",
        f"/v1/tenders/{tender_id}/objections/{objection['objection_id']}/answer", t_token,
        {"answer": "经核对解密后的投标文件，唱标价格一致"})
    _show(f"POST .../answer -> {status}", answer)
    await _score(c, tender_id, section, experts, opening["lines"])
    await _award(c, tender_id, section, t_token)
    supervisor = await _credit(c, tender_id, bidders[3][0])
    if supervisor:
        await _complaint(c, tender_id, bidders[1][1], supervisor)
    await _notifications(c, t_token, bidders[0][1])


async def _score(c: PlatformClient, tender_id: str, section: str, experts: dict[str, str],
                 lines: list[dict[str, Any]]) -> None:
    print("12. the randomly drawn committee (secret until award) scores the valid bids")
    _, committee = await c.call("bidding", "GET", f"/v1/tenders/{tender_id}/sections/{section}"
                                "/committee", c.tokens["operator"])
    valid = [ln for ln in lines if ln["status"] == "valid"]
    for expert_id in committee["committee"]:
        sheets = [{"bid_id": ln["bid_id"], "points": 60, "compliant": True} for ln in valid]
        token = experts.get(expert_id) or await c.expert_login(expert_id)  # an earlier run's
        await c.call("bidding", "POST", f"/v1/tenders/{tender_id}/sections/{section}/scores",
                     token, {"sheets": sheets})
    await _wait(c, tender_id, section, "publicity")


async def _award(c: PlatformClient, tender_id: str, section: str, t_token: str) -> None:
    if "announcement" not in c.urls:
        print("  (the candidates' publicity is announcement's: not running, the demo stops)")
        return
    print("13. announcement publicises the candidates; when the period ends, bidding awards")
    await _wait(c, tender_id, section, "awarded")
    _, won = await c.call("bidding", "GET", f"/v1/tenders/{tender_id}/sections/{section}/award")
    price = won["winner"]["price_fen"]
    status, out = await c.call("bidding", "POST",
                               f"/v1/tenders/{tender_id}/sections/{section}/contract", t_token,
                               {"price_fen": price + 1})
    print(f"14. a contract off the winning bid's price is refused (条例57) -> {status} "
          f"{out['error']['code']}")
    status, _ = await c.call("bidding", "POST",
                             f"/v1/tenders/{tender_id}/sections/{section}/contract", t_token,
                             {"price_fen": price, "performance_bond_fen": price // 10})
    print(f"    at {won['winner']['bidder_name']}'s {price} fen with a bond of 10% (条例58) "
          f"-> {status}")
    standards = [{"standard": s, "met": True} for s in ("主体结构质量", "消防设施", "节能")]
    status, done = await c.call("bidding", "POST",
                                f"/v1/tenders/{tender_id}/sections/{section}/acceptance",
                                t_token, {"items": standards})
    print(f"    its acceptance (履约验收, 建设工程质量管理条例第16条), each standard met -> "
          f"{status} round {done.get('round')} passed={done.get('passed')}")
    _, draw = await c.call("bidding", "GET", f"/v1/tenders/{tender_id}/sections/{section}/draw")
    record = DrawRecord.of_doc(draw["record"])
    rerun = replay(draw["seed"], record)
    print(f"  the draw, re-run here from its published record: seed committed at publication "
          f"{hashlib.sha256(draw['seed'].encode()).hexdigest() == draw['commitment']}, "
          f"{len(record.eligible)} eligible, {len(record.excluded)} excluded, mixed with "
          f"{len(record.digests)} bids' digests -> the same committee: "
          f"{list(rerun) == draw['committee']}")
    _, trail = await c.call("bidding", "GET", f"/v1/tenders/{tender_id}/audit",
                            c.tokens["operator"])
    print(f"  audit trail: {[e['action'] for e in trail['entries']]}, "
          f"broken_at={trail['broken_at']}")
    print(f"  the same checked here, as `ggzy audit verify tender {tender_id}` does:")
    await asyncio.to_thread(main, ["audit", "verify", "tender", tender_id, "--url",
                                   c.urls["bidding"], "--token", c.tokens["operator"]])
    async def eight() -> list[dict[str, Any]] | None:  # with the suspension, the resumption
        _, body = await c.call("announcement", "GET",  # and the acceptance (履约信息)
                               f"/v1/notices?tender={tender_id}")
        return body["items"] if len(body["items"]) >= 8 else None

    print("15. the public notices of the tender (announcement's feed, newest first):")
    for notice in await eventually(eight, within=30):
        print(f"  notice: {notice['notice_type']:10} {notice['title']}")


async def _credit(c: PlatformClient, tender_id: str, revoked: str) -> str | None:
    """Credit's side of the tender; the supervisor's token (None without credit)."""
    if "credit" not in c.urls:
        return None
    print("16. credit: the bidder that never revealed its key has a record (视为撤销, 20号令)")
    _, supervisor = await c.entity("supervisor", name="示例市公共资源交易监督管理局")

    async def recorded() -> Any:
        status, body = await c.call("credit", "GET", f"/v1/accounts/entity/{revoked}",
                                    supervisor)
        return body if status == 200 and body.get("records") else None
    account = await eventually(recorded, within=30)
    kinds = [r.get("kind") for r in account["records"].values()]
    print(f"  full record (supervisors): score {account['score']}, level {account['level']}, "
          f"records {kinds}")
    _, public = await c.call("credit", "GET", f"/v1/credit/{revoked}")
    _show("public credit query (no token)", public)

    async def alerts() -> Any:
        _, body = await c.call("credit", "GET", f"/v1/alerts?tender={tender_id}", supervisor)
        return body.get("items") or None
    print("17. the supervisor sees the collusion alerts raised at opening (条例40):")
    for alert in await eventually(alerts, within=30):
        print(f"  alert {alert['indicator']} ({alert['article']}): {alert['bidders']} "
              f"{json.dumps(alert['evidence'], ensure_ascii=False)[:120]}")
    return supervisor


async def _complaint(c: PlatformClient, tender_id: str, bidder: str, supervisor: str) -> None:
    """A losing bidder complains about the evaluation result (投诉, 条例60); the supervisor
    accepts and decides it (条例61)."""
    print("17b. a losing bidder complains about the evaluation result to the supervisor")
    today = datetime.now(UTC).date()
    body: dict[str, Any] = {"tender_id": tender_id, "matter": "evaluation_result",
                            "known_on": today.isoformat(),
                            "facts": "第一中标候选人的项目经理同时在其他在建项目任职，请核查。"}
    status, out = await c.call("credit", "POST", "/v1/complaints", bidder, body)
    print(f"  without an objection first -> {status} {out.get('error', {}).get('code')}")
    body["objection"] = {"ref": "异议-1", "filed_on": today.isoformat(),
                         "answered_on": today.isoformat()}
    status, out = await c.call("credit", "POST", "/v1/complaints", bidder, body)
    print(f"  after its objection was answered -> {status} {out.get('complaint_id')}, "
          f"accept or refuse by {out.get('acceptance_due')}")
    path = f"/v1/complaints/{out.get('complaint_id')}"
    status, out = await c.call("credit", "POST", path + "/acceptance", supervisor, {})
    print(f"  the supervisor accepts it -> {status}, decision due {out.get('decision_due')}")
    status, out = await c.call("credit", "POST", path + "/decision", supervisor, {
        "upheld": False, "decision_no": "示监投诉〔2026〕1号",
        "reason": "经核查，该项目经理已办理变更，投诉不成立。"})
    print(f"  and decides it in writing -> {status} {out.get('status')}")


async def _notifications(c: PlatformClient, tenderee_token: str, bidder_token: str) -> None:
    if "notify" not in c.urls:
        return
    print("18. notify: what the tenderee and a bidder find in their inboxes")
    for who, token in (("tenderee", tenderee_token), ("bidder", bidder_token)):
        _, body = await c.call("notify", "GET", "/v1/me/inbox?limit=20", token)
        for item in reversed(body.get("items", [])):
            print(f"  {who}: {item.get('title')}")
