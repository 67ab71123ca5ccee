"""Idempotent consumption and dead letters, through registration's partner commands."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.envelope import Envelope
from contracts.registration import RegisterEntity
from contracts.topics import Audience, Stage, dead_letter_topic, topic_name
from ggzy.testing.data import entity_registration, new_uscc
from ggzy.testing.kafka import Record, eventually, publish, read_topic
from tests.integration.conftest import Registration


async def _partner(reg: Registration) -> tuple[str, Ed25519PrivateKey]:
    operator = new_uscc()
    await reg.call("POST", "/v1/entities", reg.operator_token,
                   entity_registration(operator, kinds=("agency",)))
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    partner_id = f"p-{operator[-8:].lower()}"
    status, body = await reg.call("POST", "/v1/partners", reg.operator_token, {
        "partner_id": partner_id, "name": "示例交易系统", "operator_uscc": operator,
        "public_key_pem": pem, "categories": ["construction"]})
    assert status == 201, body
    return partner_id, key


def _command(partner: str, key: Ed25519PrivateKey, uscc: str,
             env: Envelope | None = None) -> tuple[bytes, dict[str, str]]:
    cmd = RegisterEntity.model_validate({"registration": entity_registration(uscc)})
    value = json.dumps(cmd.model_dump(mode="json"), ensure_ascii=False).encode()
    env = env or Envelope.new(type=RegisterEntity.type_name(), source=f"/p/{partner}",
                              subject=uscc)
    signed = f"{env.id}\n{env.type}\n{hashlib.sha256(value).hexdigest()}".encode()
    return value, {**env.headers(), "ce_partnerid": partner,
                   "ce_signature": base64.b64encode(key.sign(signed)).decode()}


def _topics(reg: Registration) -> tuple[str, str, str]:
    prefix = reg.svc.settings.topic_prefix
    return (topic_name(Stage.REGISTRATION, audience=Audience.PARTNER, kind="commands",
                       prefix=prefix),
            topic_name(Stage.REGISTRATION, prefix=prefix),
            dead_letter_topic("registration.partner-commands", prefix=prefix))


async def _entity_exists(reg: Registration, uscc: str) -> bool:
    return (await reg.call("GET", f"/v1/entities/{uscc}"))[0] == 200


async def test_duplicated_delivery_of_a_command_has_no_second_effect(
        registration: Registration) -> None:
    partner, key = await _partner(registration)
    commands, events, _ = _topics(registration)
    uscc = new_uscc()
    value, headers = _command(partner, key, uscc)
    for _ in range(3):  # the same message (same ce_id) delivered three times
        await publish(registration.bootstrap, commands, value, uscc, headers)
    await eventually(lambda: _entity_exists(registration, uscc))
    # a later, distinct event from the same flow proves the duplicates were consumed
    marker = new_uscc()
    marker_value, marker_headers = _command(partner, key, marker)
    await publish(registration.bootstrap, commands, marker_value, marker, marker_headers)
    records = await read_topic(registration.bootstrap, events,
                               lambda rs: any(r.key == marker for r in rs))
    registered = [r for r in records if r.key == uscc]
    assert len(registered) == 1
    assert registered[0].headers["ce_causationid"] == headers["ce_id"]


async def test_poison_messages_go_to_the_dead_letter_topic_with_their_reason(
        registration: Registration) -> None:
    partner, key = await _partner(registration)
    commands, _, dead = _topics(registration)
    good = new_uscc()
    good_value, good_headers = _command(partner, key, good)
    bad_sig_value, bad_sig_headers = _command(partner, key, new_uscc())
    bad_sig_headers["ce_signature"] = base64.b64encode(b"x" * 64).decode()
    env = Envelope.new(type=RegisterEntity.type_name(), source="/p", subject="X")
    poison: list[tuple[bytes, dict[str, str]]] = [
        (b"\xff not json", {**env.headers(), "ce_partnerid": partner}),
        (b'{"registration": {"uscc": 1}}', {**env.headers(), "ce_partnerid": partner}),
        (b"{}", {"ce_type": "only-a-type"}),
        (bad_sig_value, bad_sig_headers),
        _command(partner, key, "91440300MA5FXXXXX0"),  # signed, but an invalid code
    ]
    for value, headers in poison:
        await publish(registration.bootstrap, commands, value, "k", headers)
    await publish(registration.bootstrap, commands, good_value, good, good_headers)
    # the partition is not blocked: the good command after the poison is applied
    await eventually(lambda: _entity_exists(registration, good))
    letters = await read_topic(registration.bootstrap, dead, lambda rs: len(rs) >= 5)
    reasons = sorted(r.headers["dlq_reason"] for r in letters)
    assert len(reasons) == 5
    code_reason = next(r for r in reasons if r.startswith("uscc_"))  # which check failed
    assert sorted(set(reasons) - {code_reason}) == [
        "envelope_missing", "invalid_data", "invalid_json", "signature_invalid"]
    sample: Record = next(r for r in letters if r.headers["dlq_reason"] == "invalid_json")
    assert sample.value == b"\xff not json"  # the original message is kept
    assert sample.headers["dlq_topic"] == commands
    assert sample.headers["dlq_group"].endswith("registration.partner-commands")


async def test_unknown_partner_is_dead_lettered(registration: Registration) -> None:
    _, key = await _partner(registration)
    commands, _, dead = _topics(registration)
    uscc = new_uscc()
    value, headers = _command("no-such-partner", key, uscc)
    await publish(registration.bootstrap, commands, value, uscc, headers)
    letters = await read_topic(registration.bootstrap, dead,
                               lambda rs: any(r.key == uscc for r in rs))
    [letter] = [r for r in letters if r.key == uscc]
    assert letter.headers["dlq_reason"] == "partner_unknown"
    assert not await _entity_exists(registration, uscc)
