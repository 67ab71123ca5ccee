"""The opening record (开标记录) of one section, from its extracted bids. Pure.

- a bid whose key was revealed and opened is valid, with its price;
- a bid never opened counts as revoked (视为撤销: the bidder's fault, 20号令);
- bids of related bidders — the same legal representative, or one controlling
  another or both controlled by one unit — are all invalid (条例34; 政采条例18).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from contracts.bidding import BidderLine


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
                  deadline_ms: int) -> list[BidderLine]:
    """Every bid received before the deadline, as read out at opening."""
    received = [b for b in bids if int(b["received_ms"]) < deadline_ms]
    opened = [b["bidder_uscc"] for b in received if b.get("opened")]
    related = related_groups(opened, entities)
    lines = []
    for b in received:
        uscc = b["bidder_uscc"]
        status = ("invalid_related" if uscc in related else "valid") if b.get("opened") \
            else "revoked"
        lines.append(BidderLine(bid_id=b["_id"], bidder_uscc=uscc,
                                bidder_name=entities.get(uscc, {}).get("name", uscc),
                                price_fen=b.get("price_fen"), status=status))
    return lines
