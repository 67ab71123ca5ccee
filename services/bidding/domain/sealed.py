"""Sealed electronic bids (电子投标文件加密, 20号令).

Scheme: the BIDDER encrypts its bid content (JSON with at least ``price_fen``)
with AES-256-GCM under a fresh 32-byte content key it keeps until opening; the
associated data binds the ciphertext to ``tender|section|bidder`` so it cannot
be replayed elsewhere. The platform stores only the ciphertext, the nonce and
``digest = sha256(ciphertext)``, and cannot read a price before the bidder
reveals the key at opening. Receipts are signed by the platform (Ed25519).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ggzy.runtime.errors import DomainError

KEY_BYTES, NONCE_BYTES = 32, 12
MIN_CIPHERTEXT = 16 + 2  # GCM tag plus the smallest JSON


@dataclass(frozen=True)
class SealedBid:
    """What the platform stores of a bid before opening."""

    ciphertext: bytes
    nonce: bytes
    digest: str


class DecryptionFailed(DomainError):
    """The revealed key does not open the bid (视为撤销 when the bidder is at fault)."""


def aad(tender_id: str, section_code: str, bidder_uscc: str) -> bytes:
    """The associated data that binds a bid to its tender, section and bidder."""
    return f"{tender_id}|{section_code}|{bidder_uscc}".encode()


def seal(content: dict[str, Any], key: bytes, *, tender_id: str, section_code: str,
         bidder_uscc: str) -> SealedBid:
    """Bidder side: encrypt a bid's content under the bidder's content key."""
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad(tender_id, section_code, bidder_uscc))
    return SealedBid(ciphertext, nonce, hashlib.sha256(ciphertext).hexdigest())


def new_key() -> bytes:
    """A fresh content key (bidder side)."""
    return AESGCM.generate_key(bit_length=256)


def receive(ciphertext_b64: str, nonce_b64: str, digest: str) -> SealedBid:
    """Platform side: accept an upload only if it is an encrypted, intact bid."""
    try:
        ciphertext = base64.b64decode(ciphertext_b64, validate=True)
        nonce = base64.b64decode(nonce_b64, validate=True)
    except ValueError as exc:
        raise DomainError("bid_encoding", "ciphertext and nonce must be base64") from exc
    refuse_unencrypted(ciphertext)
    if len(nonce) != NONCE_BYTES:
        raise DomainError("bid_nonce", f"the nonce must be {NONCE_BYTES} bytes")
    if hashlib.sha256(ciphertext).hexdigest() != digest.lower():
        raise DomainError("bid_digest_mismatch",
                          "the upload does not match its digest: the transfer is incomplete")
    return SealedBid(ciphertext, nonce, digest.lower())


def refuse_unencrypted(payload: bytes) -> None:
    """Refuse a bid that is plainly not encrypted (20号令: 未加密的投标文件应当拒收)."""
    if len(payload) < MIN_CIPHERTEXT:
        raise DomainError("bid_not_encrypted", "the bid is too short to be an encrypted file")
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return
    raise DomainError("bid_not_encrypted",
                      "the bid is readable JSON: encrypt it (AES-256-GCM) before upload")


def open_bid(sealed: SealedBid, key: bytes, *, tender_id: str, section_code: str,
             bidder_uscc: str) -> dict[str, Any]:
    """Platform side, at opening: decrypt with the revealed key and read the price."""
    if hashlib.sha256(sealed.ciphertext).hexdigest() != sealed.digest:
        raise DecryptionFailed("bid_tampered", "the stored ciphertext does not match its digest",
                               fault="platform")
    if len(key) != KEY_BYTES:
        raise DecryptionFailed("bid_key_invalid", "the content key must be 32 bytes",
                               fault="bidder")
    try:
        plaintext = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext,
                                        aad(tender_id, section_code, bidder_uscc))
    except InvalidTag as exc:
        raise DecryptionFailed("bid_key_wrong", "the key does not open this bid",
                               fault="bidder") from exc
    content: dict[str, Any] = json.loads(plaintext)
    price = content.get("price_fen")
    if not isinstance(price, int) or price < 0:
        raise DecryptionFailed("bid_price_missing", "the bid has no integer price_fen",
                               fault="bidder")
    return content


def canonical(receipt: dict[str, Any]) -> bytes:
    """The bytes a receipt signature covers."""
    return json.dumps(receipt, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign_receipt(key: Ed25519PrivateKey, receipt: dict[str, Any]) -> str:
    """The platform's signature of a receipt (base64)."""
    return base64.b64encode(key.sign(canonical(receipt))).decode()


def verify_receipt(key: Ed25519PublicKey, receipt: dict[str, Any], signature: str) -> bool:
    """Anyone with the platform's public key can check a receipt."""
    try:
        key.verify(base64.b64decode(signature), canonical(receipt))
    except (InvalidSignature, ValueError):
        return False
    return True
