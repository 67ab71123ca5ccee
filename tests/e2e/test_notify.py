"""Notify end to end: one full tender, and who hears what of it (services as processes).

Every party reads its own inbox through notify's API; the tenderee also receives its
notifications on a signed webhook served by this test on 127.0.0.1; the receipts on
notify's topic show that nobody else heard anything of the tender.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.topics import Stage, topic_name
from ggzy.runtime import signing
from ggzy.testing.kafka import eventually, read_topic
from tests.e2e.conftest import Platform
from tests.e2e.test_tender_lifecycle import (
    _events,
    _experts,
    _is,
    _open_with_keys,
    _parties,
    _publish,
    _submit_all,
    _tender_body,
)
from tests.integration.test_notify import Receiver

TENDER_STEPS = ["awarded", "bids_opened", "contract_signed", "evaluation_completed"]
OWNER = sorted(["tender_published", *TENDER_STEPS])
BIDDER = sorted(["bid_received", *TENDER_STEPS])
BIDDING_KINDS = {*OWNER, *BIDDER, "expert_drawn", "tender_modified", "tender_failed",
                 "bid_withdrawn", "contract_overdue"}


async def _inbox(p: Platform, token: str, tender_id: str) -> list[dict[str, Any]]:
    status, body = await p.call("notify", "GET", "/v1/me/inbox?limit=500", token)
    assert status == 200, body
    return [i for i in body["items"] if i["data"].get("tender_id") == tender_id]


async def _kinds_once(p: Platform, token: str, tender_id: str, expected: list[str]
                      ) -> list[dict[str, Any]]:
    """The party's notifications of the tender, once they are all there (then compared)."""
    async def arrived() -> list[dict[str, Any]] | None:
        items = await _inbox(p, token, tender_id)
        got = [i["kind"] for i in items if i["kind"] in BIDDING_KINDS]
        return items if len(got) >= len(expected) else None
    items: list[dict[str, Any]] = await eventually(arrived, within=60)
    assert sorted(i["kind"] for i in items if i["kind"] in BIDDING_KINDS) == expected
    return items


async def _run_tender(p: Platform, parties: dict[str, Any], keyword: str) -> tuple[str, str]:
    """Publication to contract, as test_tender_lifecycle drives it; returns tender, section."""
    body = _tender_body(parties["tenderee"])
    body["project_name"] = f"示例{keyword}教学楼新建工程"
    tender_id, section = await _publish(p, parties, body)
    bidders = parties["bidders"]
    keys = await _submit_all(p, tender_id, section, bidders,
                             [9_000_000_00 - n * 10_000_00 for n in range(len(bidders))])
    await _open_with_keys(p, tender_id, section, keys)
    await _score(p, tender_id, section)
    await eventually(lambda: _is(p, tender_id, section, "awarded"), within=60)
    status, body = await p.call("bidding", "POST",
                                f"/v1/tenders/{tender_id}/sections/{section}/contract",
                                parties["t_token"], {"price_fen": 8_980_000_00})
    assert status == 200, body
    return tender_id, section


async def _score(p: Platform, tender_id: str, section: str) -> None:
    _, opening = await p.call("bidding", "GET",
                              f"/v1/tenders/{tender_id}/sections/{section}/opening")
    experts = dict(json.loads(p.tokens["experts"]))
    sheets = [{"bid_id": line["bid_id"], "points": 60, "compliant": True}
              for line in opening["lines"] if line["status"] == "valid"]
    for expert_id in await _committee(p, tender_id, section):
        status, body = await p.call("bidding", "POST",
                                    f"/v1/tenders/{tender_id}/sections/{section}/scores",
                                    experts[expert_id], {"sheets": sheets})
        assert status == 200, body


async def _committee(p: Platform, tender_id: str, section: str) -> list[str]:
    _, body = await p.call("bidding", "GET",
                           f"/v1/tenders/{tender_id}/sections/{section}/committee",
                           p.tokens["operator"])
    members: list[str] = body["committee"]
    return members


async def test_a_full_tender_notifies_each_party_exactly_and_nobody_else(
        platform: Platform) -> None:
    p = platform
    await _experts(p)
    parties = await _parties(p, 3)
    keyword = "N" + uuid.uuid4().hex[:8].upper()
    _, s_token = parties["bidders"][0]
    status, _ = await p.call("notify", "POST", "/v1/me/subscriptions", s_token,
                             {"category": "construction", "regions": ["440000"],
                              "keywords": [keyword]})
    assert status == 201
    secret = "e2e-" + uuid.uuid4().hex
    async with Receiver() as hook:
        status, _ = await p.call("notify", "PUT", "/v1/me/webhook", parties["t_token"],
                                 {"url": hook.url, "secret": secret})
        assert status == 200
        tender_id, section = await _run_tender(p, parties, keyword)
        committee = await _committee(p, tender_id, section)
        seen = [await _kinds_once(p, parties["t_token"], tender_id, OWNER)]
        for _, token in parties["bidders"]:
            seen.append(await _kinds_once(p, token, tender_id, BIDDER))
        await eventually(lambda: len(hook.accepted) >= len(OWNER), within=30)
    await _experts_alone_hear_their_draw(p, tender_id, committee)
    shown = json.dumps(seen, ensure_ascii=False)
    assert not any(x in shown for x in committee) and "EXP-" not in shown
    _webhook_is_signed_and_complete(hook, secret)
    await _subscriber_hears_the_notices(p, s_token, keyword)
    await _nobody_else_heard(p, tender_id, parties, committee)


async def _experts_alone_hear_their_draw(p: Platform, tender_id: str,
                                         committee: list[str]) -> None:
    for expert_id, token in json.loads(p.tokens["experts"]):
        if expert_id in committee:
            [item] = await _kinds_once(p, token, tender_id, ["expert_drawn"])
            assert not any(x in json.dumps(item) for x in committee if x != expert_id)
        else:
            assert await _inbox(p, token, tender_id) == []


def _webhook_is_signed_and_complete(hook: Receiver, secret: str) -> None:
    kinds = sorted(json.loads(body)["kind"] for _, body in hook.accepted)
    assert kinds == OWNER
    for headers, body in hook.accepted:
        assert signing.verify(secret, headers[signing.TIMESTAMP], body,
                              headers[signing.SIGNATURE], int(time.time()))


async def _subscriber_hears_the_notices(p: Platform, token: str, keyword: str) -> None:
    async def notices() -> list[dict[str, Any]] | None:
        _, body = await p.call("notify", "GET", "/v1/me/inbox?limit=500", token)
        found = [i for i in body["items"] if i["kind"] == "notice_published"
                 and keyword in i["title"]]
        return found if len(found) >= 5 else None
    found = await eventually(notices, within=60)
    assert len({i["source_event_id"] for i in found}) == len(found) == 5


async def _nobody_else_heard(p: Platform, tender_id: str, parties: dict[str, Any],
                             committee: list[str]) -> None:
    """Every receipt of the tender's events names a party; each party's count is exact."""
    events = await _events(p, tender_id, lambda rs: any(
        r.headers["ce_type"].endswith("ContractSigned.v1") for r in rs))
    ids = {r.headers["ce_id"] for r in events}
    expected = Counter({f"entity:{parties['tenderee']}": 2 * len(OWNER)})  # inbox + webhook
    expected.update({f"entity:{b}": len(BIDDER) for b, _ in parties["bidders"]})
    expected.update({f"expert:{x}": 1 for x in committee})
    total = sum(expected.values())
    topic = topic_name(Stage.NOTIFY, prefix=p.prefix)
    records = await read_topic(p.kafka, topic, lambda rs: sum(
        r.json()["source_event_id"] in ids for r in rs) >= total, within=60)
    ours = [r.json() for r in records if r.json()["source_event_id"] in ids]
    assert all(r.headers["ce_type"].endswith("NotificationDelivered.v1") for r in records
               if r.json()["source_event_id"] in ids)
    assert Counter(r["recipient"] for r in ours) == expected


async def _pushed(ws: Any, kind: str, tender_id: str) -> dict[str, Any]:
    """The next notification of ``kind`` about the tender pushed on the socket."""
    deadline = time.monotonic() + 60
    while True:
        message = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
        if (message.get("type") == "notification" and message.get("kind") == kind
                and message["data"].get("tender_id") == tender_id):
            return dict(message)


async def test_a_partys_inbox_socket_hears_a_real_tender_step_live(platform: Platform) -> None:
    """Connected before the step, the tenderee's and a bidder's WebSocket clients each get
    their notification of it pushed as it happens: the same notification as in their
    inbox. The tenderee's hears nothing of the bid (who bid is secret before opening)."""
    p = platform
    parties = await _parties(p, 1)
    [(bidder, b_token)] = parties["bidders"]
    assert p.http is not None
    url = p.url("notify").replace("http", "ws", 1) + "/v1/me/inbox/live"
    async with p.http.ws_connect(f"{url}?token={parties['t_token']}") as owner, \
            p.http.ws_connect(f"{url}?token={b_token}") as bidding:
        for ws, who in ((owner, parties["tenderee"]), (bidding, bidder)):
            assert await ws.receive_json(timeout=10) == {"type": "ready",
                                                         "recipient": f"entity:{who}"}
        tender_id, section = await _publish(p, parties, deadline_s=30)
        published = await _pushed(owner, "tender_published", tender_id)
        await _submit_all(p, tender_id, section, [(bidder, b_token)], [8_800_000_00])
        received = await _pushed(bidding, "bid_received", tender_id)
        with pytest.raises(TimeoutError):  # the bid's notifications went out together
            while True:
                message = await owner.receive_json(timeout=1.5)
                assert message["data"].get("tender_id") != tender_id, message
    assert published["recipient"] == f"entity:{parties['tenderee']}"
    assert received["recipient"] == f"entity:{bidder}"
    assert received["data"]["section_code"] == section
    for token, pushed in ((parties["t_token"], published), (b_token, received)):
        [item] = [i for i in await _inbox(p, token, tender_id) if i["kind"] == pushed["kind"]]
        assert item["id"] == pushed["id"] == pushed["notification_id"]
        assert (item["title"], item["body"]) == (pushed["title"], pushed["body"])


async def test_whoever_obtained_the_documents_is_told_of_a_modification(
        platform: Platform) -> None:
    """法23: a clarification or modification reaches every recipient of the documents
    (招标文件收受人), who need not have bid yet. The files are public without sign-up, and
    who obtained them is told to nobody before the deadline (20号令); the documents are
    obtained within the sale period only (条例16)."""
    p = platform
    parties = await _parties(p, 2)
    (reader, r_token), (_, i_token) = parties["bidders"]
    body = _tender_body(parties["tenderee"], deadline_s=25)
    body["sale_end"] = (datetime.fromisoformat(body["sale_start"]) + timedelta(seconds=12)
                        ).isoformat()
    files = [{"name": "招标文件.pdf", "digest": hashlib.sha256(b"doc").hexdigest(),
              "size_bytes": 1_204_224, "url": "https://files.example.cn/t/招标文件.pdf"}]
    body["documents"] = files
    tender_id, _ = await _publish(p, parties, body)
    _, public = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}")  # no token
    assert public["documents"] == files and "obtained" not in public
    path = f"/v1/tenders/{tender_id}/documents/obtained"
    status, first = await p.call("bidding", "POST", path, r_token)
    assert status == 201 and first["documents"] == files, first
    status, again = await p.call("bidding", "POST", path, r_token)  # once: the same record
    assert status == 201 and again["obtained_at"] == first["obtained_at"]
    assert (await p.call("bidding", "POST", path, parties["t_token"]))[0] == 403
    _, public = await p.call("bidding", "GET", f"/v1/tenders/{tender_id}")
    assert "obtained" not in public and reader not in json.dumps(public)
    status, out = await p.call("bidding", "POST", f"/v1/tenders/{tender_id}/modifications",
                               parties["t_token"], {"summary": "工程量清单更正",
                                                    "affects_bids": True})
    assert status == 200, out
    deadline = datetime.fromisoformat(out["bid_deadline"])  # perhaps moved (法23)

    async def told() -> list[str] | None:
        kinds = sorted(i["kind"] for i in await _inbox(p, r_token, tender_id))
        return kinds if "tender_modified" in kinds else None
    assert await eventually(told, within=30) == ["documents_obtained", "tender_modified"]
    assert await _inbox(p, i_token, tender_id) == []  # neither bid nor obtained: not told
    [notice] = (await p.call("announcement", "GET",
                             f"/v1/notices?tender={tender_id}&type=tender"))[1]["items"]
    assert [d["DOC_SHA256"] for d in notice["content"]["TENDER_DOCUMENTS"]] == [
        files[0]["digest"]]

    status, out = await p.call("bidding", "GET", path, parties["t_token"])
    assert (status, out["error"]["code"]) == (409, "before_deadline"), out
    assert (await p.call("bidding", "GET", path, r_token))[0] == 403  # not the owner
    end = datetime.fromisoformat(body["sale_end"])
    await asyncio.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.5)
    status, out = await p.call("bidding", "POST", path, i_token)  # the sale is over
    assert (status, out["error"]["code"]) == (409, "sale_ended"), out
    await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)
    status, out = await p.call("bidding", "GET", path, parties["t_token"])  # after it
    assert status == 200 and out["recipients"] == [
        {"bidder_uscc": reader, "obtained_at": first["obtained_at"]}], out
