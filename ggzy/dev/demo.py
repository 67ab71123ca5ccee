"""``ggzy demo``: a short walk through the running local platform.

Registers a tenderee and a bidder over HTTP as the platform operator, adds a
user and logs in as that user, changes the bidder's data, connects a partner
system that registers a third entity through a signed Kafka command, and shows
the events that came out on the registration topic; then runs one tender from
publication through sealed bids, opening, draw and evaluation to the award and
contract (ggzy/dev/demo_tender.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.envelope import Envelope
from contracts.registration import RegisterEntity
from contracts.topics import Audience, Stage, topic_name
from ggzy.dev.demo_tender import run_tender
from ggzy.dev.stack import OPERATOR, _load
from ggzy.testing.client import PlatformClient
from ggzy.testing.data import entity_registration, new_uscc
from ggzy.testing.kafka import eventually, publish, read_topic

REG = "http://127.0.0.1:8101"


async def _call(s: aiohttp.ClientSession, method: str, path: str, token: str | None = None,
                body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with s.request(method, REG + path, json=body, headers=headers) as resp:
        data = await resp.json()
        print(f"  {method} {path} -> {resp.status}")
        if resp.status >= 400:
            print(f"    {json.dumps(data, ensure_ascii=False)}")
        return data


async def run(root: Path) -> int:
    """Drive the demo; return a process exit code."""
    state = _load(root)
    if not state.get("kafka"):
        print("the platform is not running: run `ggzy dev up` first")
        return 1
    bootstrap = state["kafka"]["bootstrap"]
    user, password = OPERATOR.split(":")
    async with aiohttp.ClientSession() as s:
        print("1. the platform operator logs in")
        op = (await _call(s, "POST", "/v1/tokens", body={"username": user,
                                                         "password": password}))["access_token"]
        print("2. registers a tenderee and a bidder once, by unified social credit code")
        tenderee, bidder = new_uscc(), new_uscc()
        await _call(s, "POST", "/v1/entities", op, entity_registration(
            tenderee, name="深圳市示例城市建设投资有限公司", kinds=("tenderee",)))
        await _call(s, "POST", "/v1/entities", op, entity_registration(bidder))
        print("3. a second registration of the same code is refused with the existing id")
        await _call(s, "POST", "/v1/entities", op, entity_registration(bidder))
        print("4. a bad code is refused with what is wrong")
        await _call(s, "POST", "/v1/entities", op, entity_registration(bidder[:-1] + "0"
                                                                      if bidder[-1] != "0"
                                                                      else bidder[:-1] + "1"))
        print("5. the bidder gets a user, logs in, and changes its contact")
        await _call(s, "POST", f"/v1/entities/{bidder}/users", op,
                    {"username": f"bid-{bidder[-6:]}", "password": "bidder-password-1",
                     "roles": ["bidder"]})
        tok = (await _call(s, "POST", "/v1/tokens", body={
            "username": f"bid-{bidder[-6:]}", "password": "bidder-password-1"}))["access_token"]
        await _call(s, "PATCH", f"/v1/entities/{bidder}", tok,
                    {"contacts": [{"name": "王五", "phone": "13800000000"}]})
        third = await _partner_registers(s, op, tenderee, bootstrap)
        await eventually(lambda: _exists(s, third), within=30)
        await _show_events(bootstrap, {tenderee, bidder, third})
        urls = {name: proc["url"] for name, proc in state["services"].items()}
        client = PlatformClient("", bootstrap, urls, s, {"operator": op},
                                random.Random())  # fresh codes: the demo can run again
        if "bidding" in urls:
            await run_tender(client)
    return 0


async def _partner_registers(s: aiohttp.ClientSession, op: str, operator_uscc: str,
                             bootstrap: str) -> str:
    print("6. a partner trading system is connected and registers an entity over Kafka")
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    partner = f"city-{operator_uscc[-6:].lower()}"
    await _call(s, "POST", "/v1/partners", op, {
        "partner_id": partner, "name": "示例市公共资源交易系统", "operator_uscc": operator_uscc,
        "public_key_pem": pem, "categories": ["construction"]})
    uscc = new_uscc()
    command = RegisterEntity.model_validate({"registration": entity_registration(
        uscc, name="示例监理咨询有限公司")})
    value = json.dumps(command.model_dump(mode="json"), ensure_ascii=False).encode()
    env = Envelope.new(type=RegisterEntity.type_name(), source=f"/partners/{partner}",
                       subject=uscc)
    signed = f"{env.id}\n{env.type}\n{hashlib.sha256(value).hexdigest()}".encode()
    headers = {**env.headers(), "ce_partnerid": partner,
               "ce_signature": base64.b64encode(key.sign(signed)).decode()}
    topic = topic_name(Stage.REGISTRATION, audience=Audience.PARTNER, kind="commands")
    await publish(bootstrap, topic, value, key=uscc, headers=headers)
    print(f"  published signed RegisterEntity for {uscc} on {topic}")
    return uscc


async def _exists(s: aiohttp.ClientSession, uscc: str) -> bool:
    async with s.get(f"{REG}/v1/entities/{uscc}") as resp:
        return resp.status == 200


async def _show_events(bootstrap: str, keys: set[str]) -> None:
    topic = topic_name(Stage.REGISTRATION)
    print(f"7. events on {topic}:")

    def done(records: list[Any]) -> bool:
        return len([r for r in records if r.key in keys]) >= 4

    for r in await read_topic(bootstrap, topic, done, within=30):
        if r.key in keys:
            data = r.json()
            entity = data.get("entity", {})
            print(f"  {r.headers['ce_type']:45} key={r.key} {entity.get('name', '')}"
                  f" v{data.get('entity_version')}")
