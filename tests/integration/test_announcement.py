"""Announcement against the real broker and store: bidding's events in, notices out.

Bidding's events are published as bidding would (CloudEvents headers, key = tender id)
on the bidding topic of the test's prefix; notices are read back through the public
HTTP API and as NoticePublished on the partner topic.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from contracts.bidding import (
    Awarded,
    BidderLine,
    BidsOpened,
    BidSubmitted,
    Candidate,
    ContractSigned,
    EvaluationCompleted,
    ExpertsDrawn,
    Section,
    TenderFailed,
    TenderModified,
    TenderPublished,
)
from contracts.categories import Category
from contracts.envelope import Envelope
from contracts.topics import Audience, Stage, dead_letter_topic, retry_topic, topic_name
from ggzy.runtime.consumer import Incoming
from ggzy.runtime.service import Runtime
from ggzy.testing.data import entity_registration, new_uscc
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import Record, eventually, publish, read_topic
from ggzy.testing.services import Running, running
from services.announcement.handlers import Announcement
from services.announcement.main import build
from services.announcement.rules import load_rules
from services.announcement.store import NoticeStore
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration

PUBLICITY_S = 6  # 条例54 says 3 days (services/announcement/rules.yaml); seconds here
SECRET = ("ab" * 32, "EXP-0001", "c0mm1tment", "s33d" * 16)  # digest, expert id, draw


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service's rules with the publicity shortened to seconds (same articles)."""
    period = {"value": PUBLICITY_S, "unit": "seconds", "source": "招标投标法实施条例第54条"}
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    answer = {"value": 3, "unit": "days", "source": "招标投标法实施条例第54条"}
    rules = {"publicity": period, "objection_answer": answer}
    path.write_text(yaml.safe_dump({"construction": rules, "procurement": rules},
                                   allow_unicode=True))
    return path


@pytest.fixture(scope="module")
async def announcement(infra: Infra, registration: Registration,
                       rules_file: Path) -> AsyncIterator[Running]:
    settings = isolated_settings(infra, "announcement", rules_file=str(rules_file),
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, build) as svc:
        yield svc


class Bidding:
    """Plays the bidding service (its events) and the public (the HTTP API)."""

    def __init__(self, svc: Running, http: aiohttp.ClientSession) -> None:
        self.svc, self.http = svc, http
        self.prefix, self.kafka = svc.settings.topic_prefix, svc.settings.kafka_bootstrap

    async def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(self.svc.url + path, headers=headers) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, token: str | None, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(self.svc.url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def send(self, event: Any, env: Envelope | None = None,
                   category: Category = Category.CONSTRUCTION) -> Envelope:
        env = env or Envelope.new(type=event.type_name(), source="/ggzy/bidding",
                                  subject=event.tender_id, category=category)
        await publish(self.kafka, topic_name(Stage.BIDDING, category, prefix=self.prefix),
                      json.dumps(event.model_dump(mode="json")).encode(), event.tender_id,
                      env.headers())
        return env

    def topic(self, audience: Audience = Audience.INTERNAL,
              category: Category = Category.CONSTRUCTION) -> str:
        return topic_name(Stage.ANNOUNCEMENT, category, audience=audience, prefix=self.prefix)

    async def notices(self, query: str, n: int) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]] | None:
            _, body = await self.get(f"/v1/notices?{query}&limit=100")
            return body["items"] if len(body["items"]) >= n else None
        found: list[dict[str, Any]] = await eventually(enough, within=30)
        return found

    async def ended(self, notice_id: str) -> dict[str, Any]:
        """The PublicityPeriodEnded of a notice, from the internal topic."""
        def of(rs: list[Record]) -> list[Record]:
            return [r for r in rs if r.json().get("notice_id") == notice_id
                    and r.headers.get("ce_type", "").endswith("PublicityPeriodEnded.v1")]
        records = await read_topic(self.kafka, self.topic(), lambda rs: bool(of(rs)), within=30)
        [event] = of(records)
        return dict(event.json())


def tender(name: str = "示例学校教学楼工程", category: Category = Category.CONSTRUCTION,
           region: str = "440300", sections: int = 1,
           tenderee: str | None = None) -> TenderPublished:
    now = datetime.now(UTC)
    project = f"{now:%m%d}{uuid.uuid4().hex[:13].upper()}"
    tid = project + "001"
    return TenderPublished(
        tender_id=tid, project_code=project, project_name=name, category=category,
        region_code=region, tenderee_uscc=tenderee or new_uscc(), tenderee_name="示例市教育局",
        method="open_tender", evaluation="lowest_evaluated_price", state_funded=True,
        sections=[Section(section_code=f"{tid}{n:03d}", name=f"第{n}标段",
                          estimated_price_fen=10**9, deposit_fen=10**6)
                  for n in range(1, sections + 1)],
        issued_at=now, sale_start=now, sale_end=now + timedelta(days=5),
        bid_deadline=now + timedelta(days=20))


def evaluation(t: TenderPublished, bidder: str) -> EvaluationCompleted:
    return EvaluationCompleted(
        tender_id=t.tender_id, section_code=t.sections[0].section_code,
        method="lowest_evaluated_price", reported_at=datetime.now(UTC), candidates=[Candidate(
            rank=1, bid_id="b1", bidder_uscc=bidder, bidder_name="甲建设公司",
            price_fen=8_980_000_00, score="100")])


@pytest.fixture
async def bidding(announcement: Running) -> AsyncIterator[Bidding]:
    async with aiohttp.ClientSession() as http:
        yield Bidding(announcement, http)


async def _user(reg: Registration, kind: str) -> tuple[str, str]:
    uscc, name = new_uscc(), f"{kind}{uuid.uuid4().hex[:8]}"
    await reg.call("POST", "/v1/entities", reg.operator_token, entity_registration(
        uscc, kinds=(kind,)))
    await reg.call("POST", f"/v1/entities/{uscc}/users", reg.operator_token, {
        "username": name, "password": "password-123456", "roles": [kind]})
    return uscc, await reg.login(name, "password-123456")


@pytest.fixture(scope="module")
async def tokens(registration: Registration) -> dict[str, str]:
    """Two bidders', a tenderee's and a supervisor's tokens."""
    (bidder, bidder_token), (other, other_token), (tenderee, tenderee_token), \
        (_, supervisor_token) = [await _user(registration, kind) for kind in (
            "bidder", "bidder", "tenderee", "supervisor")]
    return {"bidder": bidder_token, "bidder_uscc": bidder, "other": other_token,
            "other_uscc": other, "tenderee": tenderee_token, "tenderee_uscc": tenderee,
            "supervisor": supervisor_token}


# notices from bidding's events ----------------------------------------------------------
async def test_every_public_step_of_a_tender_is_announced_and_nothing_confidential(
        bidding: Bidding) -> None:
    """法/条例 disclosure: tender, change, opening, candidates, result, contract, failure —
    never a bid before the opening (20号令) nor the committee before the award (法37)."""
    t = tender(sections=2)
    s1, s2 = (s.section_code for s in t.sections)
    winner = Candidate(rank=1, bid_id="b1", bidder_uscc=new_uscc(), bidder_name="甲建设公司",
                       price_fen=8_980_000_00, score="100")
    now = datetime.now(UTC)
    for event in (
        t, TenderModified(tender_id=t.tender_id, modification_id="m1", summary="补充技术规范",
                          affects_bids=True, modified_at=now, previous_deadline=now,
                          bid_deadline=now + timedelta(days=15), postponed_by_rule=True),
        BidSubmitted(tender_id=t.tender_id, section_code=s1, bid_id="b1", received_at=now,
                     bidder_uscc=winner.bidder_uscc, digest=SECRET[0]),
        BidsOpened(tender_id=t.tender_id, section_code=s1, opened_at=now, lines=[BidderLine(
            bid_id="b1", bidder_uscc=winner.bidder_uscc, bidder_name="甲建设公司",
            price_fen=8_980_000_00, status="valid")]),
        ExpertsDrawn(tender_id=t.tender_id, section_code=s1, expert_ids=[SECRET[1]],
                     commitment=SECRET[2]),
        EvaluationCompleted(tender_id=t.tender_id, section_code=s1, candidates=[winner],
                            method="lowest_evaluated_price", reported_at=now),
        Awarded(tender_id=t.tender_id, section_code=s1, winner=winner, awarded_at=now,
                contract_due=now + timedelta(days=30), committee=["王评委"],
                draw_seed=SECRET[3]),
        ContractSigned(tender_id=t.tender_id, section_code=s1, winner_uscc=winner.bidder_uscc,
                       price_fen=8_950_000_00, signed_at=now),
        TenderFailed(tender_id=t.tender_id, section_code=s2, reason="fewer_than_minimum_bids",
                     article="招标投标法实施条例第44条", valid_bids=2),
    ):
        await bidding.send(event)
    notices = await bidding.notices(f"tender={t.tender_id}", 7)
    kinds = ["tender", "modification", "opening", "candidates", "result", "contract", "failure"]
    assert sorted(n["notice_type"] for n in notices) == sorted(kinds)
    by = {n["notice_type"]: n for n in notices}
    assert by["opening"]["content"]["BID_OPEN_RECORDS"][0]["BID_PRICE"] == "8980000.00"
    assert by["contract"]["content"]["WIN_BIDDER_NAME"] == "甲建设公司"
    assert by["failure"]["content"]["LEGAL_BASIS"] == "招标投标法实施条例第44条"
    partner = await read_topic(bidding.kafka, bidding.topic(Audience.PARTNER), lambda rs: len(
        [r for r in rs if r.key == t.tender_id]) >= 8)
    ours = [r for r in partner if r.key == t.tender_id]
    mine = [r for r in ours if r.headers["ce_type"] == "ggzy.announcement.NoticePublished.v1"]
    assert sorted(r.json()["notice_type"] for r in mine) == sorted(kinds)
    # 更正公告 (87号令第27条; 法23): the modification corrects the tender notice, which
    # stays as published and lists it; partners get what changed
    [corrected] = [r.json() for r in ours
                   if r.headers["ce_type"] == "ggzy.announcement.NoticeCorrected.v1"]
    assert (corrected["notice_id"], corrected["correction_notice_id"]) == (
        by["tender"]["id"], by["modification"]["id"])
    assert {c["field"] for c in corrected["changes"]} == {"BID_DOC_REFER_END_TIME",
                                                          "BID_OPEN_TIME"}
    assert corrected["summary"] == "补充技术规范"
    assert by["modification"]["corrects"] == by["tender"]["id"]
    _, tender_notice = await bidding.get(f"/v1/notices/{by['tender']['id']}")
    assert tender_notice["corrected_by"] == [by["modification"]["id"]]
    assert tender_notice["content"] == by["tender"]["content"]  # as published
    assert len(ours) == 8
    published = json.dumps([notices, [r.json() for r in mine]], ensure_ascii=False)
    assert not any(secret in published for secret in SECRET)
    before_award = json.dumps([n for n in notices if n["notice_type"] != "result"],
                              ensure_ascii=False)
    assert "王评委" not in before_award and "王评委" in json.dumps(by["result"],
                                                                 ensure_ascii=False)


async def test_a_redelivered_event_creates_no_second_notice(bidding: Bidding) -> None:
    t = tender()
    env = await bidding.send(t)
    await bidding.notices(f"tender={t.tender_id}", 1)
    await bidding.send(t, env)  # the same event (same ce_id) delivered again
    opened = BidsOpened(tender_id=t.tender_id, section_code=t.sections[0].section_code,
                        opened_at=datetime.now(UTC), lines=[])
    await bidding.send(opened)  # a later event: once it is announced, the replay was handled
    await bidding.notices(f"tender={t.tender_id}&type=opening", 1)
    _, body = await bidding.get(f"/v1/notices?tender={t.tender_id}")
    assert sorted(n["notice_type"] for n in body["items"]) == ["opening", "tender"]
    records = await read_topic(bidding.kafka, bidding.topic(Audience.PARTNER), lambda rs: len(
        [r for r in rs if r.key == t.tender_id]) >= 2)
    assert sorted(r.json()["notice_type"] for r in records if r.key == t.tender_id) == [
        "opening", "tender"]


async def test_an_event_of_an_unknown_tender_is_dead_lettered_with_its_reason(
        bidding: Bidding) -> None:
    t = tender()
    await bidding.send(TenderFailed(tender_id=t.tender_id, section_code=t.sections[0]
                                    .section_code, reason="x", article="y", valid_bids=0))
    letters = await read_topic(bidding.kafka, dead_letter_topic(
        "announcement.bidding", prefix=bidding.prefix), lambda rs: any(
        r.key == t.tender_id for r in rs))
    [letter] = [r for r in letters if r.key == t.tender_id]
    assert letter.headers["dlq_reason"] == "unknown_tender"


async def test_a_dead_letter_replayed_once_its_cause_is_fixed_is_applied_once(
        bidding: Bidding) -> None:
    """The operator's path: ``ggzy deadletters list`` shows why a message was not
    processed; once the tender it needed has arrived, ``replay`` sends it to the group's
    retry topic (no other group sees it) and it is announced, once, even replayed again."""
    t = tender()
    failed = TenderFailed(tender_id=t.tender_id, section_code=t.sections[0].section_code,
                          reason="too_few_bids", article="招标投标法实施条例第44条", valid_bids=2)
    env = await bidding.send(failed)  # before its tender: unknown_tender
    group = "announcement.bidding"
    cli = [sys.executable, "-m", "ggzy", "deadletters"]
    where = ["--bootstrap", bidding.kafka, "--prefix", bidding.prefix]

    async def run(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            *cli, *args, group, *where, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return out.decode()

    async def listed() -> str | None:
        out = await run("list")
        return out if t.tender_id in out else None
    listing = await eventually(listed, within=30)
    [line] = [ln for ln in listing.splitlines() if f"key={t.tender_id}" in ln]
    assert "unknown_tender" in line and "TenderFailed" in line and "replayed" not in line
    ref = line.split()[0]
    await bidding.send(t)  # the cause is fixed: the tender is known
    await bidding.notices(f"tender={t.tender_id}&type=tender", 1)
    assert "replayed 1 dead letter(s)" in await run("replay", "--offset", ref)
    [notice] = await bidding.notices(f"tender={t.tender_id}&type=failure", 1)
    assert notice["content"]["FAILURE_REASON"] == "too_few_bids"
    [line] = [ln for ln in (await run("list")).splitlines() if f"key={t.tender_id}" in ln]
    assert "replayed=1" in line
    assert "replayed 0" in await run("replay", "--offset", ref)  # done already
    assert "replayed 1" in await run("replay", "--offset", ref, "--again")
    later = BidsOpened(tender_id=t.tender_id, section_code=t.sections[0].section_code,
                       opened_at=datetime.now(UTC), lines=[])
    await bidding.send(later)  # announced after the second replay was handled
    await bidding.notices(f"tender={t.tender_id}&type=opening", 1)
    _, body = await bidding.get(f"/v1/notices?tender={t.tender_id}&type=failure")
    assert len(body["items"]) == 1  # the same ce_id twice: one notice
    retried = await read_topic(bidding.kafka, retry_topic(group, prefix=bidding.prefix),
                               lambda rs: len([r for r in rs if r.key == t.tender_id]) >= 2)
    assert {r.headers["ce_id"] for r in retried if r.key == t.tender_id} == {env.id}
    assert all(not k.startswith("dlq_") for r in retried for k in r.headers)


# publicity periods and objections (条例54) ------------------------------------------------
async def test_publicity_ends_with_an_event_and_later_objections_are_refused(
        bidding: Bidding, tokens: dict[str, str]) -> None:
    """条例54: candidates publicised for the period; objections only within it."""
    t = tender()
    await bidding.send(t)
    await bidding.send(evaluation(t, tokens["bidder_uscc"]))
    [notice] = await bidding.notices(f"tender={t.tender_id}&type=candidates", 1)
    end = datetime.fromisoformat(notice["publicity_end"])
    assert datetime.fromisoformat(notice["content"]["PUBLICITY_END_TIME"]) == end
    assert end - datetime.fromisoformat(notice["published_at"]) == timedelta(seconds=PUBLICITY_S)
    ended = await bidding.ended(notice["id"])
    assert ended["objection_upheld"] is False
    assert ended["section_code"] == t.sections[0].section_code
    _, after = await bidding.get(f"/v1/notices/{notice['id']}")
    assert after["publicity_status"] == "ended"
    status, err = await bidding.post(f"/v1/notices/{notice['id']}/objections",
                                     tokens["bidder"], {"text": "逾期异议"})
    assert (status, err["error"]["code"]) == (422, "publicity_ended")


async def test_an_objection_upheld_by_the_tenderee_is_reported_at_its_end(
        bidding: Bidding, tokens: dict[str, str]) -> None:
    """条例54: the tenderee answers an objection to the result (not the supervisor, who
    handles complaints); an upheld one makes bidding re-evaluate instead of awarding."""
    t = tender(tenderee=tokens["tenderee_uscc"])
    await bidding.send(t)
    await bidding.send(evaluation(t, tokens["bidder_uscc"]))
    [notice] = await bidding.notices(f"tender={t.tender_id}&type=candidates", 1)
    path = f"/v1/notices/{notice['id']}/objections"
    assert (await bidding.post(path, None, {"text": "x"}))[0] == 401
    assert (await bidding.post(path, tokens["supervisor"], {"text": "x"}))[0] == 403
    status, objection = await bidding.post(path, tokens["bidder"], {"text": "第一名业绩造假"})
    assert status == 201 and objection["status"] == "pending", objection
    filed = await read_topic(bidding.kafka, bidding.topic(), lambda rs: any(
        r.headers.get("ce_type") == "ggzy.announcement.PublicityObjectionFiled.v1"
        and r.key == t.tender_id for r in rs))
    [event] = [r.json() for r in filed if r.key == t.tender_id
               and r.headers.get("ce_type", "").endswith("PublicityObjectionFiled.v1")]
    assert event["objector_uscc"] == tokens["bidder_uscc"]
    assert event["objection_id"] == objection["objection_id"]
    assert event["answerers"] == [tokens["tenderee_uscc"]]  # who must answer, named
    assert "第54条" in event["article"]
    decide = f"{path}/{objection['objection_id']}/decision"
    answer = {"upheld": True, "answer": "经核查业绩不实，重新评审"}
    for who in ("bidder", "supervisor"):  # neither answers an objection to a result
        assert (await bidding.post(decide, tokens[who], answer))[0] == 403
    status, err = await bidding.post(decide, tokens["tenderee"], {"upheld": True})
    assert (status, err["error"]["code"]) == (422, "invalid_request")  # an answer is given
    assert (await bidding.post(decide, tokens["tenderee"], answer))[0] == 200
    status, err = await bidding.post(decide, tokens["tenderee"], {**answer, "upheld": False})
    assert (status, err["error"]["code"]) == (409, "objection_decided")
    assert (await bidding.ended(notice["id"]))["objection_upheld"] is True
    _, mine = await bidding.get(path, tokens["bidder"])  # the objector reads the answer
    [seen] = mine["objections"]
    assert seen["answer"] == answer["answer"] and seen["late"] is False
    _, others = await bidding.get(path, tokens["other"])  # another bidder learns nothing
    assert others["objections"] == []


async def test_a_tender_remembered_before_its_owners_were_gets_them_from_its_notice(
        bidding: Bidding, tokens: dict[str, str]) -> None:
    """A tender announced before announcement kept its owners (tenderee, agency) has them
    read from its tender notice (TENDERER_CODE), so its tenderee can answer (条例54)."""
    t = tender(tenderee=tokens["tenderee_uscc"])
    await bidding.send(t)
    await bidding.notices(f"tender={t.tender_id}&type=tender", 1)
    tenders = bidding.svc.runtime.db["tenders"]
    await tenders.update_one({"_id": t.tender_id}, {"$unset": {"owners": ""}})  # as it was
    await bidding.send(evaluation(t, tokens["bidder_uscc"]))
    [notice] = await bidding.notices(f"tender={t.tender_id}&type=candidates", 1)
    path = f"/v1/notices/{notice['id']}/objections"
    status, objection = await bidding.post(path, tokens["bidder"], {"text": "第一名业绩造假"})
    assert status == 201, objection
    decide = f"{path}/{objection['objection_id']}/decision"
    answer = {"upheld": False, "answer": "经核查业绩属实"}
    assert (await bidding.post(decide, tokens["other"], answer))[0] == 403
    assert (await bidding.post(decide, tokens["tenderee"], answer))[0] == 200
    doc = await tenders.find_one({"_id": t.tender_id})
    assert doc is not None and doc["owners"] == [tokens["tenderee_uscc"]]  # kept from now on


async def test_a_pending_objection_holds_the_end_of_publicity_until_it_is_decided(
        bidding: Bidding, tokens: dict[str, str]) -> None:
    """条例54: before the answer to an objection, the tendering activities are paused."""
    t = tender(tenderee=tokens["tenderee_uscc"])
    await bidding.send(t)
    await bidding.send(evaluation(t, tokens["bidder_uscc"]))
    [notice] = await bidding.notices(f"tender={t.tender_id}&type=candidates", 1)
    path = f"/v1/notices/{notice['id']}/objections"
    status, objection = await bidding.post(path, tokens["bidder"], {"text": "评分计算错误"})
    assert status == 201, objection

    async def waiting() -> bool:
        _, body = await bidding.get(f"/v1/notices/{notice['id']}")
        return bool(body["publicity_status"] == "awaiting_decision")
    await eventually(waiting, within=30)
    quiet = await read_topic(bidding.kafka, bidding.topic(), lambda rs: False, within=1.5)
    assert not [r for r in quiet if r.json().get("notice_id") == notice["id"]
                and r.headers.get("ce_type", "").endswith("PublicityPeriodEnded.v1")]
    assert (await bidding.get(path))[0] == 401  # the objections are not public
    for reader in ("supervisor", "tenderee"):
        _, listed = await bidding.get(path, tokens[reader])
        [pending] = listed["objections"]
        assert pending["status"] == "pending" and pending["by"] == tokens["bidder_uscc"]
    filed = datetime.fromisoformat(pending["filed_at"])
    assert datetime.fromisoformat(pending["answer_due"]) == filed + timedelta(days=3)  # 条例54
    await bidding.post(f"{path}/{pending['objection_id']}/decision", tokens["tenderee"],
                       {"upheld": False, "answer": "评分无误"})
    assert (await bidding.ended(notice["id"]))["objection_upheld"] is False


# the public feed ------------------------------------------------------------------------
async def test_the_feed_never_skips_or_repeats_a_notice_under_concurrent_writers(
        bidding: Bidding, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers commit out of number order while a reader pages through the feed."""
    rt = Runtime(bidding.svc.settings)  # a second writer process on the same database
    writer = Announcement(notices=rt.aggregates("notices"), store=NoticeStore(rt.db),
                          timers=rt.timers, rules=load_rules())
    committed: list[int] = []
    create = writer.notices.create

    async def slow_create(nid: str, state: dict[str, Any], *args: Any) -> Any:
        await asyncio.sleep(random.uniform(0, 0.4))  # a slow commit after taking a number
        applied = await create(nid, state, *args)
        committed.append(int(state["seq"]))
        return applied

    monkeypatch.setattr(writer.notices, "create", slow_create)
    tag, n = uuid.uuid4().hex[:8], 40
    events = [tender(f"并发{tag}工程{i}") for i in range(n)]
    incoming = [Incoming(Envelope.new(type=e.type_name(), source="/ggzy/bidding",
                                      subject=e.tender_id), e, b"") for e in events]
    try:
        seen, _ = await asyncio.gather(
            _follow(bidding, f"q=并发{tag}", n),
            asyncio.gather(*(writer.on_bidding_event(m) for m in incoming)))
    finally:
        await rt.mongo.close()
    assert committed != sorted(committed)  # the hazard happened: commits out of order
    ids = [doc["id"] for doc in seen]
    assert len(ids) == len(set(ids)) == n
    assert [d["seq"] for d in seen] == sorted(d["seq"] for d in seen)
    paged = await _pages(bidding, f"q=并发{tag}", 6)
    assert len(paged) == len(set(paged)) == n and set(paged) == set(ids)


async def _follow(bidding: Bidding, query: str, n: int) -> list[dict[str, Any]]:
    """Follow the feed with after= while notices are written; everything seen, in order."""
    seen: list[dict[str, Any]] = []
    after, deadline = 0, asyncio.get_running_loop().time() + 60
    while len(seen) < n and asyncio.get_running_loop().time() < deadline:
        _, body = await bidding.get(f"/v1/notices?{query}&after={after}&limit=7")
        seen += body["items"]
        after = body["next_after"]
        await asyncio.sleep(0.02)
    return seen


async def _pages(bidding: Bidding, query: str, limit: int) -> list[str]:
    """Page newest first by cursor; the ids in the order served."""
    ids: list[str] = []
    cursor = ""
    while True:
        _, body = await bidding.get(f"/v1/notices?{query}&limit={limit}{cursor}")
        ids += [n["id"] for n in body["items"]]
        if body["next_cursor"] is None:
            return ids
        cursor = f"&cursor={body['next_cursor']}"


async def test_a_stalled_writer_neither_blocks_the_feed_nor_appears_twice(
        infra: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    """A number taken by a writer that dies or stalls is voided after a while; the writer,
    if it comes back, takes a new number, so its notice appears once."""
    rt = Runtime(isolated_settings(infra, "announcement"))
    store = NoticeStore(rt.db, abandon_ms=1500)
    app = Announcement(notices=rt.aggregates("notices"), store=store, timers=rt.timers,
                       rules=load_rules())
    try:
        await store.setup()
        stalled = await store.allocate()
        first, late = tender("先到工程"), tender("迟到工程")
        await app.on_bidding_event(Incoming(Envelope.new(
            type=first.type_name(), source="/ggzy/bidding", subject=first.tender_id), first, b""))
        docs, mark = await store.feed({}, before=None, after=0, limit=10)
        assert (docs, mark) == ([], stalled - 1)  # held behind the stalled number

        async def visible() -> list[Any]:
            return (await store.feed({}, before=None, after=0, limit=10))[0]
        assert [d["tender_id"] for d in await eventually(visible, within=10)] == [
            first.tender_id]
        numbers = iter([stalled])  # the stalled writer comes back with its old number
        allocate = store.allocate
        monkeypatch.setattr(store, "allocate", lambda: _next_or(numbers, allocate))
        await app.on_bidding_event(Incoming(Envelope.new(
            type=late.type_name(), source="/ggzy/bidding", subject=late.tender_id), late, b""))
        docs, _ = await store.feed({}, before=None, after=0, limit=10)
        assert [d["tender_id"] for d in docs] == [first.tender_id, late.tender_id]
        assert docs[1]["seq"] > docs[0]["seq"] > stalled
    finally:
        await rt.mongo.close()


async def _next_or(numbers: Any, allocate: Any) -> int:
    number = next(numbers, None)
    return int(number) if number is not None else int(await allocate())


async def test_search_finds_chinese_text_and_takes_the_query_literally(
        bidding: Bidding) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    t = tender(f"滨海新区综合管廊BIM{tag}工程")
    await bidding.send(t)
    await bidding.notices(f"tender={t.tender_id}", 1)
    for q in ("综合管廊", f"bim{tag.lower()}", "示例市教育局"):
        _, body = await bidding.get(f"/v1/notices?q={q}&tender={t.tender_id}")
        assert [n["tender_id"] for n in body["items"]] == [t.tender_id], q
    for q in ("综合.*管廊", "(", "[a-"):  # a regex in the query is text, not a pattern
        status, body = await bidding.get(f"/v1/notices?q={q}&tender={t.tender_id}")
        assert (status, body["items"]) == (200, []), q


async def test_filters_select_by_category_region_type_and_time(bidding: Bidding) -> None:
    tag = uuid.uuid4().hex[:8]
    works = tender(f"筛选{tag}道路工程", region="440304")
    goods = tender(f"筛选{tag}设备采购", Category.PROCUREMENT, region="110105")
    await bidding.send(works)
    await bidding.send(goods, category=Category.PROCUREMENT)
    await bidding.notices(f"q=筛选{tag}", 2)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    cases = {"category=procurement": [goods], "category=construction": [works],
             "region=440000": [works], "region=4403": [works], "region=110105": [goods],
             "type=tender": [goods, works], "type=contract": [],
             f"since={since.replace('+', '%2B')}": [goods, works],
             "until=2020-01-01": [], "since=2099-01-01T08:00": []}
    for query, expected in cases.items():
        status, body = await bidding.get(f"/v1/notices?q=筛选{tag}&{query}")
        assert status == 200, (query, body)
        assert sorted(n["tender_id"] for n in body["items"]) == sorted(
            e.tender_id for e in expected), query
    assert (await bidding.get(f"/v1/notices?q=筛选{tag}&category=procurement"))[1]["items"][0][
        "title"] == f"筛选{tag}设备采购采购公告"


async def test_bad_query_parameters_are_refused_with_a_machine_readable_code(
        bidding: Bidding) -> None:
    for bad in ("limit=0", "limit=201", "limit=x", "cursor=-1", "after=a", "cursor=5&after=1",
                "category=fishing", "type=rumour", "region=44030", "region=abcdef",
                "since=yesterday", "until=2026-13-01", "q=%20", f"q={'长' * 101}"):
        status, err = await bidding.get(f"/v1/notices?{bad}")
        assert (status, err["error"]["code"]) == (400, "invalid_parameter"), bad
        assert err["error"]["details"]["parameter"] in bad, bad
    status, err = await bidding.get("/v1/stats?category=fishing")
    assert (status, err["error"]["code"]) == (400, "invalid_parameter")


async def test_statistics_count_notices_by_category_and_type(bidding: Bidding) -> None:
    query = "/v1/stats?region=110000&category=procurement"  # 北京市, and every district
    _, before = await bidding.get(query)
    t = tender("统计用设备采购", Category.PROCUREMENT, region="110108")
    await bidding.send(t, category=Category.PROCUREMENT)
    await bidding.notices(f"tender={t.tender_id}", 1)
    status, after = await bidding.get(query)
    assert status == 200 and after["total"] == before["total"] + 1
    assert after["by_type"]["tender"] == before["by_type"].get("tender", 0) + 1
    assert after["by_category"] == {"procurement": after["total"]}
    assert {"category": "procurement", "type": "tender",
            "count": after["by_type"]["tender"]} in after["counts"]


async def test_a_notice_is_public_by_id_and_shows_public_fields_only(bidding: Bidding) -> None:
    t = tender()
    await bidding.send(t)
    [listed] = await bidding.notices(f"tender={t.tender_id}", 1)
    status, notice = await bidding.get(f"/v1/notices/{listed['id']}")
    assert status == 200 and notice == listed
    assert set(notice) <= {"id", "notice_id", "notice_type", "tender_id", "section_code",
                           "category", "region_code", "title", "content", "published_at",
                           "publicity_end", "seq", "publicity_status", "corrects",
                           "corrected_by"}
    assert notice["corrected_by"] == []  # not corrected (更正公告): nothing else is shown
    for missing in ("no-such-notice", "void:1"):
        status, err = await bidding.get(f"/v1/notices/{missing}")
        assert (status, err["error"]["code"]) == (404, "notice_not_found")


async def test_notices_are_exported_as_an_ocds_release_package_page_by_page(
        bidding: Bidding) -> None:
    """OCDS 1.1: each notice of a tender is one release of one contracting process."""
    t = tender("示例OCDS导出工程")
    await bidding.send(t)
    await bidding.send(evaluation(t, new_uscc()))
    await bidding.notices(f"tender={t.tender_id}", 2)
    status, pkg = await bidding.get(f"/v1/ocds/releases?tender={t.tender_id}&limit=1")
    assert status == 200 and pkg["version"] == "1.1"
    [first] = pkg["releases"]
    assert first["tag"] == ["tender"] and first["ocid"].endswith(t.tender_id)
    assert first["tender"]["title"] == "示例OCDS导出工程"
    path = pkg["links"]["next"].split(bidding.svc.url, 1)[1]
    status, page = await bidding.get(path)
    assert [r["tag"] for r in page["releases"]] == [["award"]]
    assert page["releases"][0]["awards"][0]["status"] == "pending"
    status, body = await bidding.get("/v1/ocds/releases?limit=0")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"
