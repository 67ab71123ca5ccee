"""Hash-chained audit trail of a tender's or a sale's decisions (监督留痕, 20号令).

Each entry holds the previous entry's hash; its own hash is SHA-256 over the
previous hash and the entry's canonical JSON. Anyone with the records can
re-compute the chain and find the first entry that was altered.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def _digest(prev: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev + canonical).encode()).hexdigest()


def entry(chain: list[dict[str, Any]], *, at: str, actor: str, action: str,
          data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """The next entry of ``chain`` (not yet appended). ``source`` is the address a
    person's request came from (20号令: every operation with its time, operator and
    source address); the platform's own steps (timers, events) have none."""
    prev = chain[-1]["hash"] if chain else GENESIS
    body = {"n": len(chain) + 1, "at": at, "actor": actor, "action": action, "data": data,
            "prev": prev}
    if source is not None:
        body["source"] = source
    return {**body, "hash": _digest(prev, body)}


def appended(state: dict[str, Any], *, at: str, actor: str, action: str,
             data: dict[str, Any], source: str | None = None) -> list[dict[str, Any]]:
    """``state``'s audit trail with the next entry appended (for the same write)."""
    chain = list(state.get("audit", []))
    chain.append(entry(chain, at=at, actor=actor, action=action, data=data, source=source))
    return chain


def verify(chain: list[dict[str, Any]]) -> int | None:
    """None when the chain is intact, else the number of the first bad entry."""
    prev = GENESIS
    for item in chain:
        body = {k: v for k, v in item.items() if k != "hash"}
        if item.get("prev") != prev or _digest(prev, body) != item.get("hash"):
            return int(item.get("n", 0))
        prev = item["hash"]
    return None


def receipt_leaf(bid_id: str, digest: str, received_ms: int) -> str:
    """One sealed bid as the trail fixes it at the deadline: SHA-256 over its id, its
    ciphertext's digest and its time of receipt, all of which its bidder holds in its
    signed receipt. The leaf names nobody to whoever does not hold the receipt."""
    return hashlib.sha256(f"{bid_id}|{digest}|{int(received_ms)}".encode()).hexdigest()


def sealed_root(leaves: list[str]) -> str:
    """The section's sealed bids at the deadline in one hash (their leaves sorted), written
    into the chain by the close (20号令: 投标截止时间前...; every operation on record): no
    bid can be added, dropped or swapped after the deadline without breaking it, and each
    bidder can find its own leaf among the published ones."""
    return hashlib.sha256("\n".join(sorted(leaves)).encode()).hexdigest()


def sealed_of(bids: list[dict[str, Any]]) -> dict[str, Any]:
    """A section's count and root from its received bids (``_id``, ``digest``,
    ``received_ms``)."""
    leaves = [receipt_leaf(b["_id"], b["digest"], b["received_ms"]) for b in bids]
    return {"bids": len(leaves), "root": sealed_root(leaves)}
