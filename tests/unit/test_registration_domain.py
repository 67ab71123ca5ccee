"""Registration rules (pure): entities, roles, experts, partner signatures, passwords."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.registration import EntityKind, EntityRegistration
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import DomainError, Forbidden, Unauthorized
from ggzy.testing.data import entity_registration, new_resident_id, new_uscc
from services.registration import domain

RNG = random.Random(7)


def registration(**overrides: object) -> EntityRegistration:
    return EntityRegistration.model_validate({**entity_registration(new_uscc(RNG)), **overrides})


def test_new_entity_keeps_a_reference_to_the_legal_representative_not_the_number() -> None:
    legal = new_resident_id(RNG)
    entity = domain.new_entity(registration(legal_representative_id=legal))
    assert entity.legal_representative_ref == domain.person_ref(legal)
    assert legal not in entity.model_dump_json()


def test_same_person_gives_the_same_reference_for_related_bidder_checks() -> None:
    """条例34: units with the same legal representative may not bid on one section."""
    legal = new_resident_id(RNG)
    a = domain.new_entity(registration(legal_representative_id=legal))
    b = domain.new_entity(registration(legal_representative_id=legal))
    assert a.uscc != b.uscc and a.legal_representative_ref == b.legal_representative_ref


def test_registration_does_not_depend_on_the_region() -> None:
    """国办发〔2015〕63号: no local registration or local branch may be demanded."""
    for region in ("110105", "540102", "650102"):
        assert domain.new_entity(registration(region_code=region)).region_code == region


def test_lower_case_code_is_normalised() -> None:
    uscc = new_uscc(RNG)
    assert domain.new_entity(registration(uscc=uscc.lower())).uscc == uscc


def test_entity_cannot_control_itself() -> None:
    uscc = new_uscc(RNG)
    with pytest.raises(DomainError) as err:
        domain.new_entity(registration(uscc=uscc, controlled_by=[uscc]))
    assert err.value.code == "self_control"


def test_patch_reports_changed_fields_and_refuses_a_new_code() -> None:
    entity = domain.new_entity(registration())
    updated, changed = domain.apply_entity_patch(entity, {"name": "新名称", "status": "active"})
    assert updated.name == "新名称" and changed == ["name"]
    with pytest.raises(DomainError) as err:
        domain.apply_entity_patch(entity, {"uscc": new_uscc(RNG)})
    assert err.value.code == "uscc_immutable"
    with pytest.raises(DomainError) as nothing:
        domain.apply_entity_patch(entity, {"name": entity.name})
    assert nothing.value.code == "no_change"


def test_user_roles_must_match_the_entity_kinds() -> None:
    entity = domain.new_entity(registration(kinds=[EntityKind.BIDDER, EntityKind.AGENCY]))
    assert domain.roles_for(entity, [Role.BIDDER]) == {Role.BIDDER}
    with pytest.raises(Forbidden):
        domain.roles_for(entity, [Role.OPERATOR])


def test_one_person_is_one_expert() -> None:
    rid = new_resident_id(RNG)
    catalog = {"A01": "房屋建筑工程"}
    kwargs = {"name": "王", "resident_id": rid, "specialties": ["A01"], "employer_uscc": None,
              "related_usccs": [], "region_code": "440300", "email": "", "catalog": catalog}
    first = domain.new_expert(**kwargs)  # type: ignore[arg-type]
    again = domain.new_expert(**kwargs)  # type: ignore[arg-type]
    assert first.expert_id == again.expert_id == domain.expert_id_for(rid)


def test_partner_signature_verifies_only_the_signed_bytes() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    public = domain.load_partner_key(pem)
    payload = domain.signed_bytes("id-1", "ggzy.registration.RegisterEntity.v1", b'{"a":1}')
    signature = base64.b64encode(key.sign(payload)).decode()
    domain.verify_partner_signature(public, signature, payload)
    tampered = domain.signed_bytes("id-1", "ggzy.registration.RegisterEntity.v1", b'{"a":2}')
    with pytest.raises(Unauthorized) as err:
        domain.verify_partner_signature(public, signature, tampered)
    assert err.value.code == "signature_invalid"
    with pytest.raises(Unauthorized) as missing:
        domain.verify_partner_signature(public, None, payload)
    assert missing.value.code == "signature_missing"


def test_partner_key_must_be_ed25519_pem() -> None:
    with pytest.raises(DomainError) as err:
        domain.load_partner_key("not a key")
    assert err.value.code == "partner_key_invalid"


def test_password_hash_checks_and_refuses_short_passwords() -> None:
    stored = domain.hash_password("correct horse battery")
    assert domain.check_password("correct horse battery", stored)
    assert not domain.check_password("wrong horse battery", stored)
    with pytest.raises(DomainError):
        domain.hash_password("short")
