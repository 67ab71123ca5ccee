"""Sealed electronic bids (20号令) and the opening record (条例34)."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ggzy.runtime.errors import DomainError
from ggzy.testing.data import new_uscc
from services.bidding.domain import sealed
from services.bidding.opening import opening_lines

IDS = {"tender_id": "T", "section_code": "S", "bidder_uscc": "B"}


def _upload(bid: sealed.SealedBid) -> tuple[str, str, str]:
    return (base64.b64encode(bid.ciphertext).decode(), base64.b64encode(bid.nonce).decode(),
            bid.digest)


def test_platform_opens_a_bid_only_with_the_bidders_key() -> None:
    key = sealed.new_key()
    bid = sealed.seal({"price_fen": 123_45}, key, **IDS)
    stored = sealed.receive(*_upload(bid))
    assert b"12345" not in stored.ciphertext  # nothing readable before opening
    assert sealed.open_bid(stored, key, **IDS)["price_fen"] == 123_45
    with pytest.raises(sealed.DecryptionFailed) as wrong:
        sealed.open_bid(stored, sealed.new_key(), **IDS)
    assert wrong.value.code == "bid_key_wrong" and wrong.value.details["fault"] == "bidder"


def test_a_bid_cannot_be_moved_to_another_bidder_or_section() -> None:
    key = sealed.new_key()
    bid = sealed.seal({"price_fen": 1}, key, **IDS)
    with pytest.raises(sealed.DecryptionFailed):
        sealed.open_bid(bid, key, tender_id="T", section_code="S", bidder_uscc="OTHER")


def test_tampered_ciphertext_is_detected_as_the_platforms_fault() -> None:
    key = sealed.new_key()
    bid = sealed.seal({"price_fen": 1}, key, **IDS)
    flipped = bytes([bid.ciphertext[-1] ^ 0x01])  # always a change (0x00 may be the byte)
    tampered = sealed.SealedBid(bid.ciphertext[:-1] + flipped, bid.nonce, bid.digest)
    with pytest.raises(sealed.DecryptionFailed) as err:
        sealed.open_bid(tampered, key, **IDS)
    assert err.value.details["fault"] == "platform"


def test_unencrypted_or_incomplete_uploads_are_refused() -> None:
    """20号令: an unencrypted bid is refused; an unfinished transfer is not a bid."""
    plain = base64.b64encode(b'{"price_fen": 100000, "schedule": 300}').decode()
    nonce = base64.b64encode(b"0" * 12).decode()
    import hashlib

    digest = hashlib.sha256(base64.b64decode(plain)).hexdigest()
    with pytest.raises(DomainError) as err:
        sealed.receive(plain, nonce, digest)
    assert err.value.code == "bid_not_encrypted"
    bid = sealed.seal({"price_fen": 1}, sealed.new_key(), **IDS)
    ct, n, d = _upload(bid)
    with pytest.raises(DomainError) as partial:
        sealed.receive(base64.b64encode(bid.ciphertext[:-4]).decode(), n, d)
    assert partial.value.code == "bid_digest_mismatch"
    assert sealed.receive(ct, n, d).digest == d


def test_receipt_signature_verifies_and_fails_on_any_change() -> None:
    key = Ed25519PrivateKey.generate()
    receipt = {"tender_id": "T", "digest": "ab", "received_at": "2026-11-24T10:00:00+00:00"}
    signature = sealed.sign_receipt(key, receipt)
    assert sealed.verify_receipt(key.public_key(), receipt, signature)
    assert not sealed.verify_receipt(key.public_key(), {**receipt, "digest": "ac"}, signature)


def test_related_bidders_are_all_invalid_and_unopened_bids_are_revoked() -> None:
    """条例34: same legal representative or a control relation; 20号令: 视为撤销."""
    rng = random.Random(34)
    u = {name: new_uscc(rng) for name in ("U1", "U2", "U3", "U4", "U5", "U8", "U9")}
    bids = [{"_id": f"b{i}", "bidder_uscc": u[n], "received_ms": 1, "opened": 1,
             "price_fen": 10} for i, n in enumerate(["U1", "U2", "U3", "U4", "U5"])]
    bids.append({"_id": "b9", "bidder_uscc": u["U9"], "received_ms": 1})
    bids.append({"_id": "late", "bidder_uscc": u["U8"], "received_ms": 99, "opened": 1})
    entities = {u["U1"]: {"legal_representative_ref": "same"},
                u["U2"]: {"legal_representative_ref": "same"},
                u["U3"]: {"controlled_by": [u["U4"]]}, u["U4"]: {},
                u["U5"]: {"name": "诚信公司"}}
    lines = {line.bidder_uscc: line.status for line in opening_lines(bids, entities, 50)}
    assert lines == {u["U1"]: "invalid_related", u["U2"]: "invalid_related",
                     u["U3"]: "invalid_related", u["U4"]: "invalid_related",
                     u["U5"]: "valid", u["U9"]: "revoked"}
    # 政府采购法第22条(五): a bidder penalised within the look-back is disqualified; a bid
    # never decrypted stays revoked, whoever made it
    lines = {line.bidder_uscc: line.status
             for line in opening_lines(bids, entities, 50, {u["U5"], u["U1"], u["U9"]})}
    assert lines == {u["U1"]: "invalid_record", u["U2"]: "invalid_related",
                     u["U3"]: "invalid_related", u["U4"]: "invalid_related",
                     u["U5"]: "invalid_record", u["U9"]: "revoked"}
