"""Credit against the real broker and store: restrictions, records from bidding's
events, collusion alerts at opening, expert evaluations, role checks, public query.

Bidding's and registration's events are published as those services would
(CloudEvents headers, key = aggregate id) on the topics of the test's prefix; what
credit decides is read back through its HTTP API and as events on its own topic.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from contracts.bidding import (
    Awarded,
    BidderLine,
    BidFingerprint,
    BidFingerprintsExtracted,
    BidsOpened,
    Candidate,
    ContractOverdue,
    EvaluationCompleted,
    ExpertsDrawn,
    Section,
    TenderPublished,
)
from contracts.categories import Category
from contracts.codes import USCC_CHARSET
from contracts.envelope import Envelope
from contracts.registration import EntityRegistered, EntitySnapshot
from contracts.topics import Stage, dead_letter_topic, topic_name
from ggzy.testing.data import entity_registration, new_uscc
from ggzy.testing.infra import Infra
from ggzy.testing.kafka import Record, eventually, publish, read_topic
from ggzy.testing.services import Running, running
from services.credit.domain.rules import RULES_FILE
from services.credit.main import build
from tests.conftest import isolated_settings
from tests.integration.conftest import Registration

C = Category.CONSTRUCTION
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def credit(infra: Infra, registration: Registration) -> AsyncIterator[Running]:
    settings = isolated_settings(infra, "credit",
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, build) as svc:
        yield svc


class Platform:
    """Plays bidding and registration (their events) and the users (the HTTP API)."""

    def __init__(self, svc: Running, http: aiohttp.ClientSession, tokens: dict[str, str]
                 ) -> None:
        self.svc, self.http, self.tokens = svc, http, tokens
        self.prefix, self.kafka = svc.settings.topic_prefix, svc.settings.kafka_bootstrap

    async def call(self, method: str, path: str, token: str | None = None,
                   body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.svc.url + path, json=body,
                                     headers=headers) as resp:
            return resp.status, await resp.json()

    async def sup(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return await self.call(method, path, self.tokens["supervisor"], body)

    async def send(self, event: Any, env: Envelope | None = None,
                   stage: Stage = Stage.BIDDING) -> Envelope:
        cat = C if stage in (Stage.BIDDING, Stage.ANNOUNCEMENT) else None
        env = env or Envelope.new(type=event.type_name(), source=f"/ggzy/{stage.value}",
                                  subject=event.aggregate_id(), category=cat)
        await publish(self.kafka, topic_name(stage, cat, prefix=self.prefix),
                      json.dumps(event.model_dump(mode="json")).encode(),
                      event.aggregate_id(), env.headers())
        return env

    async def credit_events(self, until: Any, within: float = 30) -> list[Record]:
        return await read_topic(self.kafka, topic_name(Stage.CREDIT, prefix=self.prefix),
                                until, within=within)

    async def account(self, uscc: str, until: Any) -> dict[str, Any]:
        async def check() -> Any:
            status, body = await self.sup("GET", f"/v1/accounts/entity/{uscc}")
            return body if status == 200 and until(body) else None
        found: dict[str, Any] = await eventually(check, within=30)
        return found


def of_type(records: list[Record], name: str, **match: Any) -> list[dict[str, Any]]:
    return [r.json() for r in records if r.headers.get("ce_type", "").endswith(f".{name}.v1")
            and all(r.json().get(k) == v for k, v in match.items())]


async def _user(reg: Registration, kind: str) -> tuple[str, str]:
    uscc, name = new_uscc(), f"{kind}{uuid.uuid4().hex[:8]}"
    await reg.call("POST", "/v1/entities", reg.operator_token,
                   entity_registration(uscc, kinds=(kind,)))
    await reg.call("POST", f"/v1/entities/{uscc}/users", reg.operator_token, {
        "username": name, "password": "password-123456", "roles": [kind]})
    return uscc, await reg.login(name, "password-123456")


@pytest.fixture(scope="module")
async def tokens(registration: Registration) -> dict[str, str]:
    (bidder_uscc, bidder), (tenderee_uscc, tenderee), (_, supervisor) = [
        await _user(registration, k) for k in ("bidder", "tenderee", "supervisor")]
    return {"bidder": bidder, "bidder_uscc": bidder_uscc, "tenderee": tenderee,
            "tenderee_uscc": tenderee_uscc, "supervisor": supervisor}


@pytest.fixture
async def p(credit: Running, tokens: dict[str, str]) -> AsyncIterator[Platform]:
    async with aiohttp.ClientSession() as http:
        yield Platform(credit, http, tokens)


def ids() -> tuple[str, str]:
    project = f"{datetime.now(UTC):%m%d}{uuid.uuid4().hex[:13].upper()}"
    return project + "001", project + "001001"


def restriction(uscc: str, start: date, end: date, **kw: Any) -> dict[str, Any]:
    return {"subject_kind": "entity", "subject_id": uscc, "action": "参加依法必须招标项目投标",
            "categories": ["construction"], "start": start.isoformat(), "end": end.isoformat(),
            "decision_no": kw.get("decision_no", f"深建罚〔2026〕{uuid.uuid4().hex[:4]}号"),
            "reason": "串通投标 (招标投标法实施条例第67条)"}


# restrictions --------------------------------------------------------------------------
async def test_a_recorded_restriction_is_published_as_entity_banned_and_revocation_reinstates(
        p: Platform) -> None:
    """BLACK_LIST (national data standard): restriction -> EntityBanned; revocation ->
    EntityReinstated, both on credit's topic for bidding's projection."""
    uscc, today = new_uscc(), date.today()
    status, body = await p.sup("POST", "/v1/restrictions",
                               restriction(uscc, today, today + timedelta(days=30)))
    assert status == 201, body
    rid = body["restriction_id"]
    again = await p.sup("POST", "/v1/restrictions", restriction(
        uscc, today, today + timedelta(days=30), decision_no=(await p.account(
            uscc, lambda a: a["restrictions"]))["restrictions"][rid]["decision_no"]))
    assert again[0] == 409 and again[1]["error"]["code"] == "restriction_exists"
    status, body = await p.sup("POST", f"/v1/restrictions/{rid}/revocation",
                               {"reason": "行政复议撤销"})
    assert status == 200, body
    events = await p.credit_events(lambda rs: of_type(rs, "EntityReinstated", uscc=uscc))
    [banned] = of_type(events, "EntityBanned", uscc=uscc)
    assert banned["restriction_id"] == rid and banned["categories"] == ["construction"]
    assert of_type(events, "EntityReinstated", uscc=uscc)[0]["restriction_id"] == rid
    status, body = await p.sup("POST", f"/v1/restrictions/{rid}/revocation", {"reason": "x"})
    assert status == 409 and body["error"]["code"] == "restriction_not_active"


async def test_a_restriction_on_a_basis_the_law_times_is_checked_first_tiaoli67(
        p: Platform) -> None:
    """条例67第2款 (取消其1年至2年内...投标资格): naming the basis, a ban of six months is
    refused with the range and nothing is recorded; one of a year is recorded with it."""
    uscc, year = new_uscc(), date.today().year + 1
    start, one_year = date(year, 1, 10), date(year + 1, 1, 9)
    short = {**restriction(uscc, start, date(year, 7, 9)), "basis": "bid_collusion"}
    status, body = await p.sup("POST", "/v1/restrictions", short)
    assert status == 422 and body["error"]["code"] == "restriction_period_out_of_range", body
    assert body["error"]["details"]["shortest_end"] == one_year.isoformat()
    assert "第67条" in body["error"]["details"]["article"]
    status, body = await p.sup("POST", "/v1/restrictions", {**short, "basis": "bid_bribery"})
    assert status == 422 and body["error"]["code"] == "unknown_basis", body
    status, body = await p.sup("GET", f"/v1/accounts/entity/{uscc}")
    assert status == 404 or not body.get("restrictions"), body  # nothing recorded
    status, body = await p.sup("POST", "/v1/restrictions",
                               {**short, "end": one_year.isoformat()})
    assert status == 201, body
    account = await p.account(uscc, lambda a: a["restrictions"])
    assert account["restrictions"][body["restriction_id"]]["basis"] == "bid_collusion"


async def test_a_restriction_past_its_end_date_is_repaired_by_its_expiry_timer(
        p: Platform) -> None:
    """信用修复: at the end of the period the entity is reinstated (a durable timer)."""
    uscc, today = new_uscc(), date.today()
    status, body = await p.sup("POST", "/v1/restrictions", restriction(
        uscc, today - timedelta(days=30), today - timedelta(days=1)))
    assert status == 201, body
    events = await p.credit_events(lambda rs: of_type(rs, "EntityReinstated", uscc=uscc))
    assert of_type(events, "EntityReinstated", uscc=uscc)[0]["restriction_id"] == \
        body["restriction_id"]
    _, public = await p.call("GET", f"/v1/credit/{uscc}")
    assert public["restrictions"] == []


async def test_a_restriction_ending_today_is_still_in_force_today(p: Platform) -> None:
    """The end date is inclusive: blocked exactly while today is within [start, end]."""
    uscc, today = new_uscc(), date.today()
    await p.sup("POST", "/v1/restrictions", restriction(uscc, today, today))
    _, public = await p.call("GET", f"/v1/credit/{uscc}")
    assert [r["end"] for r in public["restrictions"]] == [today.isoformat()]


# records from bidding's events -----------------------------------------------------------
async def test_a_redelivered_opening_record_creates_one_revoked_bid_record(p: Platform) -> None:
    """20号令 / 条例35: a bid that failed to decrypt counts as revoked (视为撤销) — one
    record however often the opening record is delivered."""
    tid, sec = ids()
    bad, good = new_uscc(), new_uscc()
    opened = BidsOpened(tender_id=tid, section_code=sec, opened_at=datetime.now(UTC), lines=[
        BidderLine(bid_id=f"{tid}:{sec}:{bad}", bidder_uscc=bad, bidder_name="乙公司",
                   price_fen=None, status="revoked"),
        BidderLine(bid_id=f"{tid}:{sec}:{good}", bidder_uscc=good, bidder_name="甲公司",
                   price_fen=100, status="valid")])
    env = await p.send(opened)
    await p.send(opened, env)
    account = await p.account(bad, lambda a: a["records"])
    events = await p.credit_events(lambda rs: of_type(rs, "CreditChanged", subject_id=bad))
    assert [r["kind"] for r in account["records"].values()] == ["bid_revoked"]
    assert len(of_type(events, "CreditChanged", subject_id=bad)) == 1
    assert not of_type(events, "CreditChanged", subject_id=good)


async def test_a_winner_not_signing_in_time_loses_score_and_level(p: Platform) -> None:
    """法46 (within 30 days) / 条例74: ContractOverdue -> a record, CreditChanged."""
    tid, sec = ids()
    winner = new_uscc()
    await p.send(ContractOverdue(tender_id=tid, section_code=sec, winner_uscc=winner,
                                 due=datetime.now(UTC)))
    events = await p.credit_events(lambda rs: of_type(rs, "CreditChanged", subject_id=winner))
    [changed] = of_type(events, "CreditChanged", subject_id=winner)
    assert changed["reason"] == "contract_overdue" and changed["score"] == 85
    assert (changed["previous_level"], changed["level"]) == ("A", "B")
    assert changed["deposit_reduction_pct"] == 0


@pytest.fixture(scope="module")
def province_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform-wide rules file as GGZY_RULES_FILE names one (deploy/rules-demo.yaml's
    categories and calendar) with a ``credit:`` section of a province's own: a late
    contract costs 5 points, not 15, and level A needs 95 and halves the deposit less."""
    raw = yaml.safe_load((ROOT / "deploy" / "rules-demo.yaml").read_text("utf-8"))
    assert "credit" not in raw  # the section below is the only credit model in it
    credit = yaml.safe_load(RULES_FILE.read_text("utf-8"))["credit"]
    credit["entity"]["deductions"]["contract_overdue"]["points"] = 5
    credit["entity"]["levels"][0].update(min=95, deposit_reduction_pct=30)
    path = tmp_path_factory.mktemp("rules") / "platform-rules.yaml"
    path.write_text(yaml.safe_dump({**raw, "credit": credit}, allow_unicode=True), "utf-8")
    return path


async def test_a_rules_files_credit_section_changes_weights_and_thresholds(
        infra: Infra, registration: Registration, province_rules: Path) -> None:
    """国办发〔2015〕63号 (provinces set their scoring models): credit started with a platform
    rules file scores from its ``credit:`` section, through the service's own loader —
    the late contract of the test above, 85 and level B by the service's rules.yaml, is
    95 and still A here, with the province's 30% deposit reduction."""
    settings = isolated_settings(infra, "credit", rules_file=str(province_rules),
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    async with running(settings, build) as svc, aiohttp.ClientSession() as http:
        other = Platform(svc, http, {})
        tid, sec = ids()
        winner = new_uscc()
        await other.send(ContractOverdue(tender_id=tid, section_code=sec, winner_uscc=winner,
                                         due=datetime.now(UTC)))
        events = await other.credit_events(
            lambda rs: of_type(rs, "CreditChanged", subject_id=winner), within=60)
        [changed] = of_type(events, "CreditChanged", subject_id=winner)
        assert changed["reason"] == "contract_overdue"
        assert (changed["score"], changed["previous_level"], changed["level"]) == (95, "A", "A")
        assert changed["deposit_reduction_pct"] == 30
        status, public = await other.call("GET", f"/v1/credit/{winner}")
        assert status == 200 and (public["level"], public["deposit_reduction_pct"]) == ("A", 30)


@pytest.fixture(scope="module")
def repair_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service's own rules with a late contract's record repairable at once."""
    rules = yaml.safe_load(RULES_FILE.read_text("utf-8"))
    rules["credit"]["entity"]["deductions"]["contract_overdue"]["repair_after_days"] = 0
    path = tmp_path_factory.mktemp("repair") / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    return path


async def test_a_record_is_repaired_on_its_subjects_application_and_a_supervisors_approval(
        infra: Infra, registration: Registration, tokens: dict[str, str],
        repair_rules: Path) -> None:
    """信用修复申请 (失信行为纠正后的信用信息修复管理办法, unverified): the subject reads its own
    record and applies (no one else may), one application at a time; approved, the record
    stops counting and the account is scored again (CreditChanged record_repaired)."""
    settings = isolated_settings(infra, "credit", rules_file=str(repair_rules),
                                 jwks_url=registration.svc.url + "/.well-known/jwks.json")
    uscc, own = await _user(registration, "bidder")
    async with running(settings, build) as svc, aiohttp.ClientSession() as http:
        other = Platform(svc, http, tokens)
        tid, sec = ids()
        await other.send(ContractOverdue(tender_id=tid, section_code=sec, winner_uscc=uscc,
                                         due=datetime.now(UTC)))
        await other.account(uscc, lambda a: a["records"])
        status, mine = await other.call("GET", f"/v1/accounts/entity/{uscc}", own)
        assert status == 200 and mine["score"] == 85
        [rid] = mine["records"]
        path = f"/v1/accounts/entity/{uscc}/records/{rid}/repair"
        body = {"correction": "已与招标人签订书面合同，整改完毕"}
        status, refused = await other.call("POST", path, tokens["bidder"], body)
        assert status == 403 and refused["error"]["code"] == "not_the_subject"
        status, _ = await other.call("GET", f"/v1/accounts/entity/{uscc}", tokens["bidder"])
        assert status == 403  # another entity's full record
        assert (await other.call("POST", path, own, body))[0] == 202
        status, pending = await other.call("POST", path, own, body)
        assert status == 409 and pending["error"]["code"] == "repair_pending"
        status, _ = await other.call("POST", path + "/decision", own,
                                     {"approve": True, "reason": "x"})
        assert status == 403  # a supervisor decides
        status, decided = await other.sup("POST", path + "/decision",
                                          {"approve": True, "reason": "整改到位"})
        assert status == 200 and decided == {"status": "approved"}
        events = await other.credit_events(lambda rs: of_type(
            rs, "CreditChanged", subject_id=uscc, reason="record_repaired"))
        [changed] = of_type(events, "CreditChanged", subject_id=uscc, reason="record_repaired")
        assert (changed["score"], changed["level"], changed["record_id"]) == (100, "A", rid)
        [told] = of_type(events, "CreditRepairDecided", subject_id=uscc)
        assert (told["approved"], told["record_kind"], told["reason"]) == (
            True, "contract_overdue", "整改到位")
        account = await other.account(uscc, lambda a: a["score"] == 100)
        assert account["records"][rid]["repaired"] == 1
        assert account["records"][rid]["repair"]["decided_by"]  # the supervisors see who
        status, mine = await other.call("GET", f"/v1/accounts/entity/{uscc}", own)
        assert mine["records"][rid]["repair"]["status"] == "approved" and mine["score"] == 100
        assert "decided_by" not in mine["records"][rid]["repair"]  # the subject does not
        assert mine["records"][rid]["detail"] == {"tender_id": tid, "section_code": sec,
                                                  "due": account["records"][rid]["detail"]["due"]}


async def test_an_application_for_repair_before_the_waiting_time_is_refused(
        p: Platform, registration: Registration) -> None:
    """By the service's rules a general record waits 90 days (the shortest publicity
    period, configurable): an application before is 409 repair_too_early with the day."""
    uscc, own = await _user(registration, "bidder")
    tid, sec = ids()
    await p.send(ContractOverdue(tender_id=tid, section_code=sec, winner_uscc=uscc,
                                 due=datetime.now(UTC)))
    account = await p.account(uscc, lambda a: a["records"])
    [rid] = account["records"]
    status, body = await p.call("POST", f"/v1/accounts/entity/{uscc}/records/{rid}/repair",
                                own, {"correction": "已整改"})
    assert status == 409 and body["error"]["code"] == "repair_too_early"
    assert body["error"]["details"]["earliest"] == (date.today() + timedelta(days=90)).isoformat()
    status, body = await p.call("POST", f"/v1/accounts/entity/{uscc}/records/nope/repair",
                                own, {"correction": "已整改"})
    assert status == 404 and body["error"]["code"] == "record_not_found"


async def test_records_fetched_together_apply_once_each_in_order_past_a_poison_record(
        p: Platform) -> None:
    """Several records of one bidder, a redelivered one and a record that is not JSON,
    published at once (a fetch hands them over together): each record once, the poison
    one dead-lettered with its reason, the others not held up by it."""
    winner = new_uscc()
    (t1, s1), (t2, s2), (t3, s3) = ids(), ids(), ids()
    first = ContractOverdue(tender_id=t1, section_code=s1, winner_uscc=winner,
                            due=datetime.now(UTC))
    second = ContractOverdue(tender_id=t2, section_code=s2, winner_uscc=winner,
                             due=datetime.now(UTC))
    opened = BidsOpened(tender_id=t3, section_code=s3, opened_at=datetime.now(UTC), lines=[
        BidderLine(bid_id=f"{t3}:{s3}:{winner}", bidder_uscc=winner, bidder_name="乙公司",
                   price_fen=None, status="revoked")])
    topic = topic_name(Stage.BIDDING, C, prefix=p.prefix)
    first_env = envelope(first)
    batch = [(first, first_env), (None, envelope(second)), (second, envelope(second)),
             (first, first_env), (opened, envelope(opened))]
    producer = AIOKafkaProducer(bootstrap_servers=p.kafka, acks="all")
    await producer.start()
    try:
        for event, env in batch:
            value = json.dumps(event.model_dump(mode="json")).encode() if event else b"{"
            await producer.send(topic, value, key=t1.encode(),  # one partition, in order
                                headers=[(k, v.encode()) for k, v in env.headers().items()])
    finally:
        await producer.stop()
    account = await p.account(winner, lambda a: len(a["records"]) >= 3)
    assert sorted(r["kind"] for r in account["records"].values()) == [
        "bid_revoked", "contract_overdue", "contract_overdue"]
    events = await p.credit_events(
        lambda rs: len(of_type(rs, "CreditChanged", subject_id=winner)) >= 3)
    assert [e["score"] for e in of_type(events, "CreditChanged", subject_id=winner)] == [
        85, 70, 65]
    letters = await read_topic(p.kafka, dead_letter_topic("credit.bidding", prefix=p.prefix),
                               lambda rs: any(r.key == t1 for r in rs))
    [letter] = [r for r in letters if r.key == t1]
    assert letter.headers["dlq_reason"] == "invalid_json"


def envelope(event: Any) -> Envelope:
    return Envelope.new(type=event.type_name(), source="/ggzy/bidding",
                        subject=event.aggregate_id(), category=C)


# collusion alerts at opening ----------------------------------------------------------------
def fp(uscc: str, price: int, **kw: Any) -> BidFingerprint:
    base = {"file_digest": uuid.uuid4().hex, "upload_ip": f"10.{price % 250}.0.{price % 7}",
            "upload_mac": "", "machine_serials": [uuid.uuid4().hex[:10]],
            "contact_person": f"联系人{uuid.uuid4().hex[:4]}", "agent": "",
            "project_manager": f"经理{uuid.uuid4().hex[:4]}", "deposit_account": ""}
    return BidFingerprint(bid_id=f"b-{uscc}", bidder_uscc=uscc, digest="ab" * 32,
                          price_fen=price, status="valid", **{**base, **kw})


HONEST = [9_130_000_00, 9_471_000_00, 9_802_500_00, 10_013_000_00]
PLANTED: dict[str, dict[str, Any]] = {
    "same_document": {"file_digest": "d41d8cd98f00b204e9800998ecf8427e"},
    "same_machine": {"machine_serials": ["BFEBFBFF000906EA"]},
    "same_upload_ip": {"upload_ip": "203.0.113.7"},
    "same_upload_mac": {"upload_mac": "00:1A:2B:3C:4D:5E"},
    "same_contact": {"contact_person": "王五"},
    "same_agent": {"agent": "深圳某咨询公司"},
    "same_project_manager": {"project_manager": "赵六"},
    "same_deposit_account": {"deposit_account": "4000 0231 0900 1234"},
    "mixed_documents": {"part_digests": [hashlib.sha256(b"technical-proposal").hexdigest()]},
}


async def _open_section(p: Platform, prints: list[BidFingerprint], parts: int = 1,
                        at: tuple[str, str] | None = None) -> tuple[str, str]:
    """Publish a section's fingerprints in ``parts`` (at the tender and section ``at``,
    else fresh ones), keyed by the tender as bidding publishes them."""
    tid, sec = at or ids()
    size = -(-len(prints) // parts)
    for n in range(parts):
        await p.send(BidFingerprintsExtracted(
            tender_id=tid, section_code=sec, part=n + 1, parts=parts,
            fingerprints=prints[n * size:(n + 1) * size], extracted_at=datetime.now(UTC)))
    return tid, sec


ALERT_WAIT_S = 90  # a loaded whole-suite run once took over 30 s to raise the first alert


async def _alerts(p: Platform, tid: str, n: int, section: str | None = None
                  ) -> list[dict[str, Any]]:
    """The tender's alerts (of ``section`` only, if named) once there are ``n``."""
    async def enough() -> Any:
        _, body = await p.sup("GET", f"/v1/alerts?tender={tid}")
        items = [a for a in body["items"] if section is None or a["section_code"] == section]
        return items if len(items) >= n else None
    found: list[dict[str, Any]] = await eventually(enough, within=ALERT_WAIT_S)
    return found


async def test_each_planted_indicator_raises_its_alert_and_an_honest_section_none(
        p: Platform) -> None:
    """条例40 (一)(二)(三)(五)(六), 87号令37: one alert per planted indicator, naming the
    two bidders that share it; prices without a pattern and distinct fingerprints raise
    nothing.

    The honest section raising nothing is only read once it is known to have been
    checked: credit kept its outcome (who bid, written when a complete section is
    checked) and a planted section sent after it under the same key (the same tender,
    so the same partition, handled in order) has raised its alert."""
    honest_tid, honest_sec = ids()
    honest = [new_uscc() for _ in HONEST]
    await _open_section(p, [fp(b, x) for b, x in zip(honest, HONEST, strict=True)], parts=2,
                        at=(honest_tid, honest_sec))
    after_sec = honest_tid + "002"  # the next section of the same tender
    after = [new_uscc() for _ in HONEST]
    await _open_section(p, [fp(b, x, **(PLANTED["same_agent"] if i < 2 else {}))
                            for i, (b, x) in enumerate(zip(after, HONEST, strict=True))],
                        at=(honest_tid, after_sec))
    planted: dict[str, tuple[str, list[str]]] = {}
    for indicator, shared in PLANTED.items():
        bidders = [new_uscc() for _ in HONEST]
        prints = [fp(b, x, **(shared if i < 2 else {}))
                  for i, (b, x) in enumerate(zip(bidders, HONEST, strict=True))]
        planted[indicator] = ((await _open_section(p, prints))[0], sorted(bidders[:2]))
    for indicator, (tid, pair) in planted.items():
        [alert] = await _alerts(p, tid, 1)
        assert (alert["indicator"], sorted(alert["bidders"])) == (indicator, pair)
        assert alert["article"] and alert["evidence"] and alert["status"] == "open"
    [later] = await _alerts(p, honest_tid, 1, section=after_sec)  # handled after the honest
    assert (later["indicator"], sorted(later["bidders"])) == ("same_agent", sorted(after[:2]))
    tids = {tid for tid, _ in planted.values()} | {honest_tid}
    events = await p.credit_events(lambda rs: tids <= {
        e["tender_id"] for e in of_type(rs, "RiskAlertRaised")}, within=ALERT_WAIT_S)
    raised = {e["tender_id"]: e["indicator"] for e in of_type(events, "RiskAlertRaised")}
    assert {raised[tid] for tid, _ in planted.values()} == set(PLANTED)
    outcome = await p.svc.runtime.db["section_outcomes"].find_one(
        {"_id": f"{honest_tid}:{honest_sec}"})
    assert outcome is not None and outcome["bidders"] == sorted(honest)  # both parts checked
    _, body = await p.sup("GET", f"/v1/alerts?tender={honest_tid}")
    assert [a["section_code"] for a in body["items"]] == [after_sec]  # none of the honest
    assert not [e for e in of_type(events, "RiskAlertRaised", tender_id=honest_tid)
                if e["section_code"] == honest_sec]


async def test_regular_prices_and_related_entities_raise_alerts(p: Platform) -> None:
    """条例40(四): equal differences; 条例34: the same legal representative."""
    a, b, c, d = (new_uscc() for _ in range(4))
    rep = "f" * 64
    for uscc in (a, b):
        snap = EntitySnapshot(uscc=uscc, name=f"{uscc}公司", kinds=["bidder"],
                              legal_representative="张三", legal_representative_ref=rep,
                              region_code="440300")
        await p.send(EntityRegistered(entity=snap, entity_version=1,
                                      registered_at=datetime.now(UTC)), stage=Stage.REGISTRATION)
    await eventually(lambda: _projected(p, [a, b]), within=30)
    prices = [9_000_000_00, 9_100_000_00, 9_200_000_00, 9_734_000_00]
    tid, _ = await _open_section(p, [fp(u, x) for u, x in zip((a, b, c, d), prices,
                                                               strict=True)])
    alerts = await _alerts(p, tid, 2)
    kinds = {x["indicator"]: sorted(x["bidders"]) for x in alerts}
    assert kinds["related_entities"] == sorted((a, b))
    assert set(kinds["price_pattern"]) >= {a, b, c}


async def test_a_section_begun_in_rows_is_checked_with_its_parts_kept_as_columns(
        p: Platform) -> None:
    """A part kept by the earlier layout (one document per bid) and the parts kept now
    as columns make one section: the shared document is found across them."""
    bidders = [new_uscc() for _ in HONEST]
    prints = [fp(b, x, **(PLANTED["same_document"] if i in (0, 3) else {}))
              for i, (b, x) in enumerate(zip(bidders, HONEST, strict=True))]
    tid, sec = ids()
    await p.svc.runtime.db["fingerprint_parts"].insert_one({
        "_id": f"{tid}:{sec}:1", "section": f"{tid}:{sec}", "part": 1, "parts": 2,
        "category": C.value, "fingerprints": [x.model_dump(mode="json") for x in prints[:2]]})
    await p.send(BidFingerprintsExtracted(tender_id=tid, section_code=sec, part=2, parts=2,
                                          fingerprints=prints[2:],
                                          extracted_at=datetime.now(UTC)))
    [alert] = await _alerts(p, tid, 1)
    assert (alert["indicator"], sorted(alert["bidders"])) == (
        "same_document", sorted([bidders[0], bidders[3]]))
    stored = await p.svc.runtime.db["fingerprint_parts"].find_one({"_id": f"{tid}:{sec}:2"})
    assert stored is not None and stored["columns"]["bid_id"] == [x.bid_id for x in prints[2:]]


async def test_bad_fingerprints_are_dead_lettered_with_their_reason(p: Platform) -> None:
    """A part whose fingerprint lacks its bidder is refused as consumed (invalid_data) and
    nothing of it kept; a section completed over a damaged stored part is dead-lettered
    with the part and field at fault, and raises nothing."""
    bad_tid, bad_sec = ids()
    event = BidFingerprintsExtracted(tender_id=bad_tid, section_code=bad_sec, part=1, parts=1,
                                     fingerprints=[fp(new_uscc(), HONEST[0])],
                                     extracted_at=datetime.now(UTC))
    value = event.model_dump(mode="json")
    del value["fingerprints"][0]["bidder_uscc"]
    await publish(p.kafka, topic_name(Stage.BIDDING, C, prefix=p.prefix),
                  json.dumps(value).encode(), bad_tid, envelope(event).headers())
    tid, sec = ids()
    await p.svc.runtime.db["fingerprint_parts"].insert_one({
        "_id": f"{tid}:{sec}:1", "section": f"{tid}:{sec}", "part": 1, "parts": 2,
        "category": C.value, "columns": {"bid_id": ["b-1"]}})
    prints = [fp(new_uscc(), x, **PLANTED["same_agent"]) for x in HONEST]
    await p.send(BidFingerprintsExtracted(tender_id=tid, section_code=sec, part=2, parts=2,
                                          fingerprints=prints, extracted_at=datetime.now(UTC)))
    letters = await read_topic(p.kafka, dead_letter_topic("credit.bidding", prefix=p.prefix),
                               lambda rs: {bad_tid, tid} <= {r.key for r in rs})
    reasons = {r.key: (r.headers["dlq_reason"], r.headers["dlq_detail"]) for r in letters
               if r.key in (bad_tid, tid)}
    assert reasons[bad_tid][0] == "invalid_data" and "bidder_uscc" in reasons[bad_tid][1]
    assert reasons[tid] == ("fingerprints_invalid", "part 1 has no column 'status'")
    db = p.svc.runtime.db
    assert await db["fingerprint_parts"].count_documents({"section": f"{bad_tid}:{bad_sec}"}) == 0
    _, body = await p.sup("GET", f"/v1/alerts?tender={tid}")
    assert body["items"] == []


async def _projected(p: Platform, usccs: list[str]) -> bool:
    db = p.svc.runtime.db
    return await db["entity_projection"].count_documents({"_id": {"$in": usccs}}) == len(usccs)


async def test_a_confirmed_serious_alert_records_collusion_and_bans_each_bidder(
        p: Platform) -> None:
    """条例67: serious collusion confirmed by a supervisor -> a ban of the rule's period."""
    a, b, c = (new_uscc() for _ in range(3))
    tid, _ = await _open_section(p, [fp(a, HONEST[0], agent="同一代理"),
                                     fp(b, HONEST[1], agent="同一代理"), fp(c, HONEST[2])])
    [alert] = await _alerts(p, tid, 1)
    url = f"/v1/alerts/{alert['alert_id']}/confirmation"
    status, body = await p.sup("POST", url, {"serious": True})
    assert status == 422 and body["error"]["code"] == "invalid_request"
    status, body = await p.sup("POST", url, {"serious": True, "decision_no": "深建罚〔2026〕88号"})
    assert status == 200 and body["status"] == "confirmed", body
    events = await p.credit_events(
        lambda rs: {e["uscc"] for e in of_type(rs, "EntityBanned")} >= {a, b})
    bans = [e for e in of_type(events, "EntityBanned") if e["uscc"] in (a, b)]
    assert {e["decision_no"] for e in bans} == {"深建罚〔2026〕88号"}
    assert all(e["categories"] == ["construction"] for e in bans)
    account = await p.account(a, lambda x: x["records"])
    assert [r["kind"] for r in account["records"].values()] == ["collusion_serious"]
    status, body = await p.sup("POST", f"/v1/alerts/{alert['alert_id']}/dismissal", {})
    assert status == 409 and body["error"]["code"] == "alert_decided"


async def test_rotation_across_tenders_is_shown_with_the_evidence(p: Platform) -> None:
    """Cross-tender pattern (条例39 约定中标人): the same group bids together and takes
    turns to win; the view shows who won each section, for supervisors only."""
    group = [new_uscc() for _ in range(3)]
    tenders, won = [], {}
    for n in range(3):
        tid, sec = await _open_section(p, [fp(u, HONEST[i]) for i, u in enumerate(group)])
        winner = group[n % 2]
        won[f"{tid}/{sec}"] = winner
        await p.send(Awarded(tender_id=tid, section_code=sec, winner=Candidate(
            rank=1, bid_id=f"b-{winner}", bidder_uscc=winner, bidder_name="x", price_fen=1,
            score="1"), awarded_at=datetime.now(UTC), contract_due=datetime.now(UTC),
            committee=[], draw_seed="s"))
        tenders.append(tid)

    async def found() -> Any:
        _, body = await p.sup("GET", "/v1/risk/rotation?category=construction")
        return [x for x in body["items"] if set(group) <= set(x["bidders"])
                and sum(x["winners"].values()) == 3]
    [pattern] = await eventually(found, within=30)
    assert pattern["bidders"] == sorted(group)
    assert sorted(pattern["tenders"]) == sorted(won)  # "tender/section", each of the three
    assert all(any(t in key for key in pattern["tenders"]) for t in tenders)
    assert pattern["winners"] == {group[0]: 2, group[1]: 1, group[2]: 0}
    assert pattern["evidence"] == {
        "sections": 3, "categories": ["construction"], "winner_by_section": won,
        "won_outside_group": 0, "not_awarded": 0, "distinct_winners": 2}
    status, body = await p.call("GET", "/v1/risk/rotation", p.tokens["bidder"])
    assert status == 403 and body["error"]["code"] == "role_required", body
    status, body = await p.call("GET", "/v1/risk/rotation")
    assert status == 401 and body["error"]["code"] == "token_missing", body


# experts -------------------------------------------------------------------------------------
async def test_an_expert_rated_bad_after_an_evaluation_is_blacklisted(p: Platform) -> None:
    """条例71, 72; 政采条例75: evaluations are rated; the rules' threshold bars the expert."""
    tid, sec = ids()
    experts = [f"EXP-{uuid.uuid4().hex[:12].upper()}" for _ in range(5)]
    await p.send(ExpertsDrawn(tender_id=tid, section_code=sec, expert_ids=experts,
                              commitment="c"))
    await p.send(EvaluationCompleted(tender_id=tid, section_code=sec, candidates=[],
                                     method="lowest_evaluated_price",
                                     reported_at=datetime.now(UTC)))

    async def pending() -> Any:
        _, body = await p.sup("GET", f"/v1/expert-reviews?tender={tid}&status=pending")
        return body["items"] if len(body["items"]) == 5 else None
    reviews = await eventually(pending, within=30)
    status, body = await p.call("POST", f"/v1/expert-reviews/{reviews[0]['_id']}/rating",
                                p.tokens["tenderee"], {"rating": "bad"})
    assert status == 403 and body["error"]["code"] == "not_your_tender"
    status, body = await p.sup("POST", f"/v1/expert-reviews/{reviews[0]['_id']}/rating",
                               {"rating": "bad", "note": "未按评标办法评审"})
    assert status == 200 and body["level"] == "D", body
    events = await p.credit_events(lambda rs: of_type(rs, "ExpertBlacklisted",
                                                      expert_id=reviews[0]["expert_id"]))
    assert of_type(events, "ExpertBlacklisted", expert_id=reviews[0]["expert_id"])
    status, body = await p.sup("POST", f"/v1/expert-reviews/{reviews[0]['_id']}/rating",
                               {"rating": "good"})
    assert status == 409 and body["error"]["code"] == "review_rated"


# access ----------------------------------------------------------------------------------------
async def test_mutating_calls_need_a_supervisor_token(p: Platform) -> None:
    """Every mutating call is authenticated and authorised by role (DESIGN: Security)."""
    body = restriction(new_uscc(), date.today(), date.today())
    status, out = await p.call("POST", "/v1/restrictions", None, body)
    assert status == 401 and out["error"]["code"] == "token_missing"
    status, out = await p.call("POST", "/v1/restrictions", p.tokens["bidder"], body)
    assert status == 403 and out["error"]["code"] == "role_required"
    status, out = await p.call("GET", "/v1/alerts", p.tokens["bidder"])
    assert status == 403
    status, out = await p.call("GET", f"/v1/accounts/entity/{new_uscc()}")
    assert status == 401
    other = new_uscc()  # another entity's full record is for supervisors only
    status, out = await p.call("GET", f"/v1/accounts/entity/{other}", p.tokens["bidder"])
    assert status == 403 and out["error"]["code"] == "role_required", out
    own = p.tokens["bidder_uscc"]
    status, out = await p.sup("GET", f"/v1/accounts/entity/{own}")
    assert status == 200 and out["subject_id"] == own and "version" in out, out
    status, mine = await p.call("GET", f"/v1/accounts/entity/{own}", p.tokens["bidder"])
    assert status == 200 and mine["subject_id"] == own and "version" not in mine, mine


def _wrong_check_char(uscc: str) -> str:
    """``uscc`` with another check character (position 18) of the code's charset."""
    return uscc[:17] + next(c for c in USCC_CHARSET if c != uscc[17])


async def test_bad_input_is_refused_with_a_code(p: Platform) -> None:
    """Each refusal names its rule: the body's schema, the credit code's (GB 32100-2015:
    I, O, S, V, Z are not code characters; position 18 is a check character), the
    expert id's form. Nothing is recorded."""
    today = date.today()
    cases = [
        ({**restriction(new_uscc(), today, today - timedelta(days=1))}, "invalid_request"),
        ({**restriction("91440300ABCDEFGHIJ", today, today)}, "uscc_charset"),
        ({**restriction(_wrong_check_char(new_uscc()), today, today)}, "uscc_check_char"),
        ({**restriction(new_uscc(), today, today), "categories": []}, "invalid_request"),
        ({**restriction(new_uscc(), today, today), "subject_kind": "expert"},
         "invalid_expert_id"),
    ]
    for body, code in cases:
        status, out = await p.sup("POST", "/v1/restrictions", body)
        assert (status, out["error"]["code"]) == (422, code), out


async def test_the_public_query_shows_level_and_restrictions_in_force_only(p: Platform) -> None:
    """信用信息公开: level and restrictions in force; the full record is for supervisors."""
    uscc, today = new_uscc(), date.today()
    await p.sup("POST", "/v1/restrictions", restriction(uscc, today, today + timedelta(days=9)))
    await p.sup("POST", "/v1/restrictions", restriction(uscc, today + timedelta(days=10),
                                                        today + timedelta(days=20)))
    status, public = await p.call("GET", f"/v1/credit/{uscc}")
    assert status == 200
    assert set(public) == {"uscc", "level", "deposit_reduction_pct", "restrictions"}
    [shown] = public["restrictions"]
    assert set(shown) == {"restriction_id", "action", "categories", "start", "end",
                          "decision_no"}
    assert "reason" not in json.dumps(public) and "records" not in public
    status, full = await p.sup("GET", f"/v1/accounts/entity/{uscc}")
    assert status == 200 and len(full["restrictions"]) == 2 and full["records"]
    assert "outbox" not in full and "processed" not in full


# complaints (投诉: 条例60, 61) ----------------------------------------------------------------
async def _published_tender(p: Platform, tenderee: str | None = None) -> str:
    """A construction tender as bidding publishes it; returns its id once credit knows it."""
    tid, sec = ids()
    now = datetime.now(UTC)
    await p.send(TenderPublished(
        tender_id=tid, project_code=tid[:17], project_name="示例教学楼新建工程",
        category=C, region_code="440300", tenderee_uscc=tenderee or p.tokens["tenderee_uscc"],
        tenderee_name="示例城投", method="open_tender", evaluation="lowest_evaluated_price",
        state_funded=True, sections=[Section(section_code=sec, name="一标段",
                                             estimated_price_fen=100, deposit_fen=1)],
        issued_at=now, sale_start=now, sale_end=now, bid_deadline=now + timedelta(days=20)))

    async def known() -> Any:
        return await p.svc.runtime.db["tender_projection"].find_one({"_id": tid})
    await eventually(known, within=30)
    return tid


def complaint(tid: str, **kw: Any) -> dict[str, Any]:
    today = date.today()
    return {"tender_id": tid, "matter": "evaluation_result", "known_on": today.isoformat(),
            "facts": f"第一中标候选人业绩造假，证据见附件 {uuid.uuid4().hex[:6]}",
            "objection": {"ref": "OBJ-1", "filed_on": (today - timedelta(days=2)).isoformat(),
                          "answered_on": today.isoformat()}, **kw}


async def test_a_complaint_needs_its_objection_first_and_its_time_and_is_filed_once(
        p: Platform) -> None:
    """条例60: within 10 days of knowing; about the evaluation result (条例54) only after an
    objection, whose wait for the answer is not counted. The same complaint again is the
    one filed; only supervisors and the complainant see it."""
    tid = await _published_tender(p)
    bidder = p.tokens["bidder"]
    status, body = await p.call("POST", "/v1/complaints", bidder,
                                complaint(tid, objection=None))
    assert status == 422 and body["error"]["code"] == "objection_first", body
    assert "第60条第2款" in body["error"]["details"]["rule"]
    today = date.today()
    late = complaint(tid, known_on=(today - timedelta(days=13)).isoformat(), objection={
        "ref": "OBJ-2", "filed_on": (today - timedelta(days=12)).isoformat(),
        "answered_on": (today - timedelta(days=10)).isoformat()})
    status, body = await p.call("POST", "/v1/complaints", bidder, late)
    # 13 days ago + 10 days + the objection's 2 days waiting = yesterday
    assert status == 422 and body["error"]["code"] == "complaint_too_late", body
    assert body["error"]["details"]["last_day"] == (today - timedelta(days=1)).isoformat()
    in_time = {**late, "objection": {**late["objection"],
                                     "answered_on": (today - timedelta(days=9)).isoformat()}}
    status, filed = await p.call("POST", "/v1/complaints", bidder, in_time)
    assert status == 201 and filed["status"] == "filed", filed
    assert filed["complainant_uscc"] == p.tokens["bidder_uscc"]
    status, again = await p.call("POST", "/v1/complaints", bidder, in_time)
    assert status == 200 and again == filed  # the one filed, without bookkeeping
    cid = filed["complaint_id"]
    events = await p.credit_events(lambda rs: of_type(rs, "ComplaintFiled", complaint_id=cid))
    [event] = of_type(events, "ComplaintFiled", complaint_id=cid)
    assert event["matter"] == "evaluation_result" and "facts" not in event
    assert event["article"].startswith("招标投标法实施条例第60条")
    status, body = await p.call("GET", f"/v1/complaints/{cid}", p.tokens["tenderee"])
    assert status == 404 and body["error"]["code"] == "complaint_not_found"
    status, body = await p.call("GET", f"/v1/complaints/{cid}", bidder)
    assert status == 200 and body["facts"] == in_time["facts"]
    status, body = await p.sup("GET", f"/v1/complaints?tender={tid}")
    assert status == 200 and [c["complaint_id"] for c in body["items"]] == [cid]
    status, body = await p.call("GET", f"/v1/complaints?tender={tid}", bidder)
    assert status == 403


async def test_an_upheld_complaint_is_a_credit_record_on_the_respondent(p: Platform) -> None:
    """条例61: accepted, then decided in writing; upheld against the named respondent, it
    adds a complaint_upheld record (rules.yaml) to the respondent's credit."""
    tid = await _published_tender(p)
    respondent = new_uscc()
    status, filed = await p.call("POST", "/v1/complaints", p.tokens["bidder"],
                                 complaint(tid, respondent_uscc=respondent))
    assert status == 201, filed
    cid = filed["complaint_id"]
    status, body = await p.sup("POST", f"/v1/complaints/{cid}/decision", {
        "upheld": True, "decision_no": "深建投诉〔2026〕1号", "reason": "业绩造假属实"})
    assert status == 409 and body["error"]["code"] == "complaint_not_accepted"
    status, body = await p.call("POST", f"/v1/complaints/{cid}/acceptance",
                                p.tokens["bidder"], {})
    assert status == 403
    status, body = await p.sup("POST", f"/v1/complaints/{cid}/acceptance", {})
    assert status == 200 and body["status"] == "accepted" and body["decision_due"], body
    decision = {"upheld": True, "decision_no": "深建投诉〔2026〕1号", "reason": "业绩造假属实"}
    status, body = await p.sup("POST", f"/v1/complaints/{cid}/decision", decision)
    assert status == 200 and body["status"] == "upheld", body
    status, body = await p.sup("POST", f"/v1/complaints/{cid}/decision", decision)
    assert status == 200  # the same decision again: nothing new
    status, body = await p.sup("POST", f"/v1/complaints/{cid}/decision",
                               {**decision, "upheld": False})
    assert status == 409 and body["error"]["code"] == "complaint_decided"
    account = await p.account(respondent, lambda x: x["records"])
    [record] = account["records"].values()
    assert record["kind"] == "complaint_upheld" and "第61条" in record["article"]
    assert account["score"] == 90
    events = await p.credit_events(
        lambda rs: of_type(rs, "ComplaintDecided", complaint_id=cid)
        and of_type(rs, "CreditChanged", subject_id=respondent))
    assert [e["outcome"] for e in of_type(events, "ComplaintDecided", complaint_id=cid)] \
        == ["upheld"]
    assert of_type(events, "ComplaintAccepted", complaint_id=cid)
    complainant = await p.account(p.tokens["bidder_uscc"], lambda x: True)
    assert not [r for r in complainant["records"].values() if r["kind"] == "false_complaint"]


async def test_a_complaint_dismissed_as_made_up_is_a_record_on_the_complainant(
        p: Platform) -> None:
    """条例61 third paragraph, 77: 捏造事实、伪造材料 -> dismissed, and a record on the
    complainant; a refusal needs its reason and ends the complaint."""
    tid = await _published_tender(p)
    complainant = p.tokens["bidder_uscc"]
    _, filed = await p.call("POST", "/v1/complaints", p.tokens["bidder"],
                            complaint(tid, matter="other", objection=None))
    cid = filed["complaint_id"]
    await p.sup("POST", f"/v1/complaints/{cid}/acceptance", {"reason": "材料齐全"})
    status, body = await p.sup("POST", f"/v1/complaints/{cid}/decision", {
        "upheld": False, "false_complaint": True, "decision_no": "深建投诉〔2026〕2号",
        "reason": "证明材料系伪造"})
    assert status == 200 and body["status"] == "dismissed" and body["false_complaint"]
    account = await p.account(complainant, lambda x: any(
        r["kind"] == "false_complaint" for r in x["records"].values()))
    [record] = [r for r in account["records"].values() if r["kind"] == "false_complaint"]
    assert record["detail"]["complaint_id"] == cid and "第77条" in record["article"]
    _, other = await p.call("POST", "/v1/complaints", p.tokens["bidder"],
                            complaint(tid, matter="other", objection=None))
    status, body = await p.sup("POST", f"/v1/complaints/{other['complaint_id']}/refusal", {})
    assert status == 422 and body["error"]["code"] == "invalid_request"
    status, body = await p.sup("POST", f"/v1/complaints/{other['complaint_id']}/refusal",
                               {"reason": "不属于本部门受理范围"})
    assert status == 200 and body["status"] == "refused"
    status, body = await p.sup("POST", f"/v1/complaints/{other['complaint_id']}/acceptance", {})
    assert status == 409 and body["error"]["code"] == "complaint_answered"


async def test_a_decisions_records_are_applied_once_and_an_unknown_kind_is_dead_lettered(
        p: Platform) -> None:
    """CreditRecordsDue (written with a decision) is applied to each account once, even
    delivered twice; a record kind the scoring model does not know goes to the
    dead-letter topic with the reason, and nothing of it is applied."""
    from contracts.credit import CreditRecordsDue, RecordDue, SubjectKind

    subject = new_uscc()
    due = CreditRecordsDue(decision_id="CP-TWICE", decided_at=datetime.now(UTC), records=[
        RecordDue(subject_kind=SubjectKind.ENTITY, subject_id=subject,
                  record_id="complaint:CP-TWICE", kind="complaint_upheld",
                  source="ComplaintDecided", detail={"complaint_id": "CP-TWICE"})])
    topic = topic_name(Stage.CREDIT, kind="records", prefix=p.prefix)
    env = Envelope.new(type=due.type_name(), source="/ggzy/credit", subject="CP-TWICE")
    body = json.dumps(due.model_dump(mode="json")).encode()
    for _ in range(2):  # a redelivery: the same envelope again
        await publish(p.kafka, topic, body, "CP-TWICE", env.headers())
    account = await p.account(subject, lambda x: x["records"])
    assert [r["kind"] for r in account["records"].values()] == ["complaint_upheld"]
    assert account["score"] == 90  # deducted once
    bad = due.model_copy(update={"decision_id": "CP-BAD", "records": [
        due.records[0].model_copy(update={"kind": "no_such_kind", "subject_id": new_uscc()})]})
    await publish(p.kafka, topic, json.dumps(bad.model_dump(mode="json")).encode(), "CP-BAD",
                  Envelope.new(type=due.type_name(), source="/ggzy/credit",
                               subject="CP-BAD").headers())
    letters = await read_topic(p.kafka, dead_letter_topic("credit.records", prefix=p.prefix),
                               lambda rs: any(r.key == "CP-BAD" for r in rs))
    [letter] = [r for r in letters if r.key == "CP-BAD"]
    assert letter.headers["dlq_reason"] == "unknown_record_kind"
    assert "no_such_kind" in letter.headers["dlq_detail"]
    status, body = await p.sup("GET", f"/v1/accounts/entity/{bad.records[0].subject_id}")
    assert status == 200 and body["records"] == {}  # nothing of it was applied


async def test_a_complaint_about_the_documents_follows_the_objection_the_platform_recorded(
        p: Platform) -> None:
    """条例60 second paragraph: a complaint about the documents (条例22) follows an objection;
    where bidding recorded the complainant's objection (TenderObjectionFiled / Answered),
    its dates count, not the ones declared, and no declaration is needed."""
    from contracts.bidding import TenderObjectionAnswered, TenderObjectionFiled

    tid = await _published_tender(p)
    bidder, complainant = p.tokens["bidder"], p.tokens["bidder_uscc"]
    status, body = await p.call("POST", "/v1/complaints", bidder,
                                complaint(tid, matter="tender_documents", objection=None))
    assert status == 422 and body["error"]["code"] == "objection_first", body
    now = datetime.now(UTC)
    await p.send(TenderObjectionFiled(
        tender_id=tid, objection_id="obj1", objector_uscc=complainant, text="排斥潜在投标人",
        filed_at=now - timedelta(days=2), answer_due=now + timedelta(days=1), suspends=True,
        article="实施条例第22条"))
    await p.send(TenderObjectionAnswered(
        tender_id=tid, objection_id="obj1", objector_uscc=complainant, answer="不予修改",
        answered_at=now, late=False, article="实施条例第22条"))

    async def recorded() -> Any:
        doc = await p.svc.runtime.db["tender_projection"].find_one({"_id": tid})
        return doc if doc and doc.get("objections", {}).get("obj1", {}).get(
            "answered_on") else None
    await eventually(recorded, within=30)
    status, filed = await p.call("POST", "/v1/complaints", bidder,
                                 complaint(tid, matter="tender_documents", objection=None))
    assert status == 201, filed  # the platform's record is the objection it follows
    assert filed["objection"]["ref"] == "obj1" and filed["objection"]["recorded"] is True
    assert filed["objection"]["filed_on"] == _local_day(now - timedelta(days=2))
    declared = {"ref": "paper", "filed_on": (date.today() - timedelta(days=30)).isoformat(),
                "answered_on": (date.today() - timedelta(days=29)).isoformat()}
    status, again = await p.call("POST", "/v1/complaints", bidder,
                                 complaint(tid, matter="tender_documents", objection=declared))
    assert status == 201 and again["objection"]["ref"] == "obj1", again  # not the declared
    assert filed["objection"]["answered_on"] == _local_day(now)


async def test_a_complaint_about_the_result_or_opening_follows_the_recorded_objection(
        p: Platform) -> None:
    """条例60 second paragraph with 条例54 and 44: a complaint about the evaluation result
    follows the complainant's objection to the publicised result, as announcement recorded
    it (PublicityObjectionFiled / Answered); one about the opening, the objection bidding
    recorded at the opening; an objection about another matter does not count."""
    from contracts.announcement import PublicityObjectionAnswered, PublicityObjectionFiled
    from contracts.bidding import TenderObjectionFiled

    tid = await _published_tender(p)
    bidder, complainant = p.tokens["bidder"], p.tokens["bidder_uscc"]
    now = datetime.now(UTC)
    await p.send(TenderObjectionFiled(  # to the documents: another matter
        tender_id=tid, objection_id="doc1", objector_uscc=complainant, text="排斥潜在投标人",
        filed_at=now - timedelta(days=20), answer_due=now, suspends=True,
        article="实施条例第22条"))
    common = {"notice_id": f"N-{tid}", "tender_id": tid, "objection_id": "res1",
              "objector_uscc": complainant, "article": "招标投标法实施条例第54条"}
    await p.send(PublicityObjectionFiled(**common, text="第一名业绩造假",
                                         filed_at=now - timedelta(days=3),
                                         answer_due=now), stage=Stage.ANNOUNCEMENT)

    async def projected(oid: str, field: str) -> Any:
        doc = await p.svc.runtime.db["tender_projection"].find_one({"_id": tid})
        return doc if doc and doc.get("objections", {}).get(oid, {}).get(field) else None
    await eventually(lambda: projected("res1", "filed_on"), within=30)
    await eventually(lambda: projected("doc1", "filed_on"), within=30)
    status, body = await p.call("POST", "/v1/complaints", bidder,  # not answered yet
                                complaint(tid, objection=None))
    assert status == 201 and body["objection"]["ref"] == "res1", body
    assert body["objection"]["answered_on"] is None and body["objection"]["recorded"] is True
    await p.send(PublicityObjectionAnswered(**common, upheld=False, answer="评审无误",
                                            answered_at=now, late=False),
                 stage=Stage.ANNOUNCEMENT)
    await eventually(lambda: projected("res1", "answered_on"), within=30)
    status, filed = await p.call("POST", "/v1/complaints", bidder, complaint(
        tid, objection=None, facts="第一中标候选人资格不符，附证据"))
    assert status == 201, filed
    assert filed["objection"] == {"ref": "res1", "filed_on": _local_day(now - timedelta(
        days=3)), "answered_on": _local_day(now), "due_on": None, "recorded": True}
    status, docs = await p.call("POST", "/v1/complaints", bidder, complaint(
        tid, matter="tender_documents", objection=None, facts="文件排斥潜在投标人，附证据"))
    assert status == 201 and docs["objection"]["ref"] == "doc1", docs  # each its own
    from contracts.bidding import ObjectionMatter  # and to the opening (条例44), bidding's
    status, body = await p.call("POST", "/v1/complaints", bidder, complaint(
        tid, matter="opening", objection=None, facts="唱标价格与投标文件不符"))
    assert status == 422 and body["error"]["code"] == "objection_first", body
    await p.send(TenderObjectionFiled(
        tender_id=tid, objection_id="open1", objector_uscc=complainant, text="唱标有误",
        filed_at=now, answer_due=now, suspends=False, article="实施条例第44条",
        matter=ObjectionMatter.OPENING, section_code=f"{tid}001"))
    await eventually(lambda: projected("open1", "filed_on"), within=30)
    status, opening = await p.call("POST", "/v1/complaints", bidder, complaint(
        tid, matter="opening", objection=None, facts="唱标价格与投标文件不符"))
    assert status == 201 and opening["objection"]["ref"] == "open1", opening


async def test_an_objection_answered_late_is_a_record_against_the_tenderee_once(
        p: Platform) -> None:
    """条例22, 54 (the answer within 3 days); 条例77第2款: a late answer, from bidding's or
    announcement's record, lowers the tenderee's score, once per objection; an answer in
    time records nothing."""
    from contracts.announcement import PublicityObjectionAnswered
    from contracts.bidding import TenderObjectionAnswered

    tenderee = new_uscc()
    tid = await _published_tender(p, tenderee)
    now = datetime.now(UTC)
    on_time = TenderObjectionAnswered(
        tender_id=tid, objection_id="o0", objector_uscc=new_uscc(), answer="已答复",
        answered_at=now, late=False, article="实施条例第22条")
    late = on_time.model_copy(update={"objection_id": "o1", "late": True})
    await p.send(on_time)
    env = await p.send(late)
    await p.send(late, env)  # redelivered
    await p.send(on_time.model_copy(update={"objection_id": "o2"}))  # after both, in order

    async def projected() -> Any:
        doc = await p.svc.runtime.db["tender_projection"].find_one({"_id": tid})
        return doc if doc and doc.get("objections", {}).get("o2") else None
    await eventually(projected, within=30)
    account = await p.account(tenderee, lambda a: a["records"])
    assert [r["kind"] for r in account["records"].values()] == ["objection_answer_late"]
    assert account["score"] == 95
    await p.send(PublicityObjectionAnswered(
        notice_id=f"N-{tid}", tender_id=tid, objection_id="r1", objector_uscc=new_uscc(),
        upheld=False, answer="评审无误", answered_at=now, late=True,
        article="招标投标法实施条例第54条"), stage=Stage.ANNOUNCEMENT)
    account = await p.account(tenderee, lambda a: len(a["records"]) == 2)
    assert sorted(r["detail"]["matter"] for r in account["records"].values()) == [
        "evaluation_result", "tender_documents"]
    assert account["score"] == 90
    events = await p.credit_events(lambda rs: len(of_type(rs, "CreditChanged",
                                                         subject_id=tenderee)) >= 2)
    assert [e["reason"] for e in of_type(events, "CreditChanged", subject_id=tenderee)] == [
        "objection_answer_late", "objection_answer_late"]


def _local_day(at: datetime) -> str:
    return at.astimezone().date().isoformat()



# records' periods: the last test of the module, since its sweep re-scores every account
# holding a record made today ------------------------------------------------------------
async def test_a_record_past_its_period_stops_counting_at_that_days_sweep(p: Platform) -> None:
    """失信行为纠正后的信用信息修复管理办法 (unverified; rules.yaml `days`): a general record
    (条例74: the contract not signed in time) counts one year; the day's sweep, a durable
    timer, then scores the account again without it, and the record stays, marked."""
    tid, sec = ids()
    winner = new_uscc()
    await p.send(ContractOverdue(tender_id=tid, section_code=sec, winner_uscc=winner,
                                 due=datetime.now(UTC)))
    account = await p.account(winner, lambda a: a["records"])
    [record] = account["records"].values()
    until = date.fromisoformat(record["until"])
    assert until == date.today() + timedelta(days=365) and account["score"] == 85
    assert account["next_record_expiry"] == record["until"]
    await p.svc.runtime.timers.schedule(f"record_sweep:{until}", "record_sweep", 0,
                                        {"day": until.isoformat()})  # that day's, due now
    events = await p.credit_events(lambda rs: of_type(rs, "CreditChanged", subject_id=winner,
                                                      reason="record_expired"))
    [changed] = of_type(events, "CreditChanged", subject_id=winner, reason="record_expired")
    assert (changed["score"], changed["level"], changed["previous_level"]) == (100, "A", "B")
    account = await p.account(winner, lambda a: "next_record_expiry" not in a)
    assert [r["expired"] for r in account["records"].values()] == [1]
    assert [r["kind"] for r in account["records"].values()] == ["contract_overdue"]
    assert len(of_type(events, "CreditChanged", subject_id=winner)) == 2  # recorded, expired
