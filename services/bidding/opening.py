"""The opening record (开标记录) of one section, from its extracted bids. Pure.

- a bid whose key was revealed and opened is valid, with its price;
- a bid never opened counts as revoked (视为撤销: the bidder's fault, 20号令);
- bids of related bidders — the same legal representative, or one controlling
  another or both controlled by one unit — are all invalid (条例34; 政采条例18);
- a bidder penalised within the category's look-back is disqualified
  (``invalid_record``: 政府采购法第22条(五), 政采条例19: no major violation in the 3 years
  before taking part).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.bidding import BidderLine, BidFingerprint, BidFingerprintsExtracted

FINGERPRINTS_PER_PART = 500  # keeps each event well under Kafka's 1 MB default


def related_groups(bidders: list[str], entities: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Bidders that share a legal representative or a control relation."""
    by_key: dict[str, set[str]] = defaultdict(set)
    for uscc in bidders:
        entity = entities.get(uscc, {})
        ref = entity.get("legal_representative_ref")
        if ref:
            by_key[f"legal:{ref}"].add(uscc)
        for controller in entity.get("controlled_by", []):
            by_key[f"control:{controller}"].add(uscc)
            if controller in bidders:
                by_key[f"control:{controller}"].add(controller)
    return {u for group in by_key.values() if len(group) > 1 for u in group}


def opening_lines(bids: Sequence[Mapping[str, Any]], entities: Mapping[str, Mapping[str, Any]],
                  deadline_ms: int, penalised: Collection[str] = (),
                  faults: Collection[str] = ()) -> list[BidderLine]:
    """Every bid received before the deadline, as read out at opening: a bid not
    decrypted is revoked (视为撤销), or withdrawn (视为撤回) where a fault not its bidder's
    was recorded (``faults``: 20号令第31条); a bidder with a penalty within the category's
    look-back (``penalised``: 政府采购法第22条(五)) is disqualified, and so is every
    bidder related to another (条例34)."""
    received = [b for b in bids if int(b["received_ms"]) < deadline_ms]
    opened = [b["bidder_uscc"] for b in received if b.get("opened")]
    related = related_groups(opened, entities)
    lines = []
    for b in received:
        uscc = b["bidder_uscc"]
        status = (("withdrawn" if uscc in faults else "revoked") if not b.get("opened")
                  else "invalid_record" if uscc in penalised
                  else "invalid_related" if uscc in related else "valid")
        lines.append(BidderLine(bid_id=b["_id"], bidder_uscc=uscc,
                                bidder_name=entities.get(uscc, {}).get("name", uscc),
                                price_fen=b.get("price_fen"), status=status))
    return lines


def revoked_bids(lines: Sequence[BidderLine]) -> frozenset[str]:
    """The bids revoked at the opening (视为撤销, the bidder's fault), whose deposits may be
    withheld (条例35); a withdrawn one (视为撤回: a fault not its bidder's, 20号令第31条)
    is not among them."""
    return frozenset(ln.bid_id for ln in lines if ln.status == "revoked")


def fingerprints(tender_id: str, code: str, bids: Sequence[Mapping[str, Any]],
                 lines: Sequence[BidderLine], at: datetime,
                 tender_files: Collection[str]) -> list[BidFingerprintsExtracted]:
    """The fingerprints of the extracted bids, in parts, for credit's check (条例40).

    A bid's parts that are files of the tender documents (``tender_files``: their
    digests) are left out here, where the tender's documents are known: every bidder
    downloads them and may include identical copies (forms to fill in), which is no
    sign of bids mixed into each other's packages (相互混装, 条例40(五)).
    """
    by_id = {b["_id"]: b for b in bids}
    prints = [BidFingerprint(bid_id=ln.bid_id, bidder_uscc=ln.bidder_uscc,
                             digest=by_id[ln.bid_id]["digest"], price_fen=ln.price_fen,
                             status=ln.status, **_own_parts(
                                 by_id[ln.bid_id].get("fingerprint", {}), tender_files))
              for ln in lines]
    chunks = [prints[i:i + FINGERPRINTS_PER_PART]
              for i in range(0, len(prints), FINGERPRINTS_PER_PART)] or [[]]
    return [BidFingerprintsExtracted(tender_id=tender_id, section_code=code, part=n,
                                     parts=len(chunks), fingerprints=chunk, extracted_at=at)
            for n, chunk in enumerate(chunks, 1)]


def _own_parts(fingerprint: Mapping[str, Any], tender_files: Collection[str]
               ) -> Mapping[str, Any]:
    """The fingerprint without the parts that are files of the tender documents."""
    parts = fingerprint.get("part_digests")
    if not parts or not tender_files:
        return fingerprint
    return {**fingerprint, "part_digests": [d for d in parts if d not in tender_files]}
