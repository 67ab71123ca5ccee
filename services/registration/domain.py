"""Registration rules: market entities, users, experts, partner systems. No I/O.

An entity is registered once by its unified social credit code and recognised
everywhere (国办发〔2015〕63号: 一地注册、全网共享); nothing here depends on the
entity's region, and no rule asks for a local branch or local re-registration
(20号令 forbids requiring sign-up to obtain tender documents).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from contracts.codes import CodeError, validate_region_code, validate_resident_id, validate_uscc
from contracts.registration import EntityKind, EntityRegistration, EntitySnapshot, ExpertSnapshot
from ggzy.runtime.auth import Role
from ggzy.runtime.errors import DomainError, Forbidden, Unauthorized

ENTITY_ROLES = {EntityKind.TENDEREE: Role.TENDEREE, EntityKind.AGENCY: Role.AGENCY,
                EntityKind.BIDDER: Role.BIDDER, EntityKind.SUPERVISOR: Role.SUPERVISOR}
UPDATABLE = ("name", "kinds", "legal_representative", "legal_representative_ref",
             "controlled_by", "region_code", "contacts", "qualifications", "status")


def code_error(exc: CodeError) -> DomainError:
    """A national-code validation failure as a specific refusal."""
    return DomainError(exc.code, str(exc))


def person_ref(resident_id: str) -> str:
    """A stable reference to a person (SHA-256 of the validated id number)."""
    return hashlib.sha256(resident_id.encode()).hexdigest()


def new_entity(reg: EntityRegistration) -> EntitySnapshot:
    """Validate a registration's codes and build the entity it registers."""
    try:
        uscc = validate_uscc(reg.uscc)
        controlled_by = [validate_uscc(c) for c in reg.controlled_by]
        region = validate_region_code(reg.region_code)
        legal_id = validate_resident_id(reg.legal_representative_id)
    except CodeError as exc:
        raise code_error(exc) from exc
    if uscc in controlled_by:
        raise DomainError("self_control", "an entity cannot be controlled by itself")
    return EntitySnapshot(
        uscc=uscc, name=reg.name, kinds=sorted(set(reg.kinds)),
        legal_representative=reg.legal_representative,
        legal_representative_ref=person_ref(legal_id), controlled_by=controlled_by,
        region_code=region, contacts=reg.contacts, qualifications=reg.qualifications,
    )


def apply_entity_patch(current: EntitySnapshot, patch: Mapping[str, Any]) -> tuple[
        EntitySnapshot, list[str]]:
    """The entity after a change, and which fields changed (the USCC never changes)."""
    data = current.model_dump(mode="json")
    fields = dict(patch)
    if "uscc" in fields and fields.pop("uscc") != current.uscc:
        raise DomainError("uscc_immutable", "the unified social credit code cannot change")
    if "legal_representative_id" in fields:
        try:
            fields["legal_representative_ref"] = person_ref(
                validate_resident_id(fields.pop("legal_representative_id")))
        except CodeError as exc:
            raise code_error(exc) from exc
    unknown = sorted(set(fields) - set(UPDATABLE))
    if unknown:
        raise DomainError("field_not_updatable", f"fields cannot be updated: {unknown}")
    try:
        updated = EntitySnapshot.model_validate({**data, **fields})
    except ValueError as exc:
        raise DomainError("invalid_entity", str(exc)) from exc
    after = updated.model_dump(mode="json")
    changed = [k for k in UPDATABLE if after[k] != data[k]]
    if not changed:
        raise DomainError("no_change", "the update changes nothing")
    return updated, changed


def history_entry(version: int, at: datetime, by: str, changed: list[str],
                  before: EntitySnapshot) -> dict[str, Any]:
    """One line of an entity's change history (变更记录)."""
    old = before.model_dump(mode="json")
    return {"version": version, "at": at, "by": by, "changed": changed,
            "before": {k: old[k] for k in changed}}


def roles_for(entity: EntitySnapshot, requested: list[Role]) -> frozenset[Role]:
    """Roles a user of ``entity`` may hold: only those its kinds allow."""
    allowed = {ENTITY_ROLES[k] for k in entity.kinds}
    refused = [r.value for r in requested if r not in allowed]
    if refused:
        raise Forbidden("role_not_allowed",
                        f"roles {refused} are not allowed for an entity of kinds "
                        f"{[k.value for k in entity.kinds]}")
    return frozenset(requested)


def expert_id_for(resident_id: str) -> str:
    """The platform id of an expert: derived from the person, so one person is one expert."""
    return "EXP-" + person_ref(resident_id)[:12].upper()


def new_expert(*, name: str, resident_id: str, specialties: list[str], employer_uscc: str | None,
               related_usccs: list[str], region_code: str, email: str,
               catalog: Mapping[str, str]) -> ExpertSnapshot:
    """Validate and build an expert of the pool (GB 11643 id, known specialties)."""
    try:
        rid = validate_resident_id(resident_id)
        employer = validate_uscc(employer_uscc) if employer_uscc else None
        related = [validate_uscc(u) for u in related_usccs]
        region = validate_region_code(region_code)
    except CodeError as exc:
        raise code_error(exc) from exc
    unknown = sorted(set(specialties) - set(catalog))
    if unknown or not specialties:
        raise DomainError("unknown_specialty", f"unknown specialties: {unknown or 'none given'}",
                          known=sorted(catalog))
    return ExpertSnapshot(expert_id=expert_id_for(rid), name=name, id_ref=person_ref(rid),
                          specialties=sorted(set(specialties)), employer_uscc=employer,
                          related_usccs=related, region_code=region, email=email)


def load_partner_key(pem: str) -> Ed25519PublicKey:
    """A partner's Ed25519 public key from PEM, or a specific refusal."""
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise DomainError("partner_key_invalid", f"public key is not valid PEM: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise DomainError("partner_key_type", "partner keys must be Ed25519")
    return key


def signed_bytes(event_id: str, event_type: str, value: bytes) -> bytes:
    """What a partner signs: ce_id, ce_type and the SHA-256 of the message value."""
    return f"{event_id}\n{event_type}\n{hashlib.sha256(value).hexdigest()}".encode()


def verify_partner_signature(key: Ed25519PublicKey, signature_b64: str | None,
                             payload: bytes) -> None:
    """Unauthorized unless ``signature_b64`` is the partner's signature of ``payload``."""
    if not signature_b64:
        raise Unauthorized("signature_missing", "partner messages must carry ce_signature")
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), payload)
    except (InvalidSignature, ValueError) as exc:
        raise Unauthorized("signature_invalid",
                           "ce_signature does not verify with the partner's key") from exc


def hash_password(password: str, salt: bytes | None = None) -> str:
    """scrypt hash of a password, as ``salt$hash`` in hex."""
    if len(password) < 10:
        raise DomainError("password_too_short", "passwords need at least 10 characters")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"{salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare)."""
    salt_hex, _, digest_hex = stored.partition("$")
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=2**14, r=8, p=1)
    return hmac.compare_digest(digest.hex(), digest_hex)
