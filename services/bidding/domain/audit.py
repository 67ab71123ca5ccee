"""Hash-chained audit trail of a tender's or a sale's decisions (监督留痕, 20号令).

Each entry holds the previous entry's hash; its own hash is SHA-256 over the
previous hash and the entry's canonical JSON. Anyone with the records can
re-compute the chain and find the first entry that was altered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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


# A bid's own operations (投标操作记录) ------------------------------------------------------
# 20号令: every operation is recorded with its time, operator and source address, and the
# record cannot be altered. A bid's submissions, resubmissions and withdrawal are chained
# in the bid itself (one write with the operation: nothing to read or contend for at the
# deadline), each bid's chain head is a leaf, and the close writes the section's leaves'
# root into the tender's trail. Before the deadline nobody can read them (who or how many
# have bid stays sealed).
SET_ASIDE_LATE = "set_aside_late"  # the platform's step on a bid written as bidding closed
REVEAL_KEY = "reveal_key"  # the bidder's decryption in the window (kept apart from the bid,
#                            store.record_reveal; chained on the bid's last operation)


def operation(bid: Mapping[str, Any] | None, *, at: str, actor: str, action: str,
              data: dict[str, Any], source: str | None) -> dict[str, Any]:
    """The fields to set on ``bid`` (None: a new bid) for its next operation: the chain
    (``ops``) with the entry appended, its head and length."""
    chain = list((bid or {}).get("ops") or [])
    chain.append(entry(chain, at=at, actor=actor, action=action, data=data, source=source))
    return {"ops": chain, "ops_head": chain[-1]["hash"], "ops_n": len(chain)}


def operations_leaf(bid_id: str, head: str, n: int) -> str:
    """One bid's operations as the close fixes them: its id, how many, the last hash."""
    return hashlib.sha256(f"{bid_id}|{int(n)}|{head}".encode()).hexdigest()


def operations_of(bids: list[dict[str, Any]]) -> dict[str, Any]:
    """A section's bids' operation chains at the close (``_id``, ``ops_head``, ``ops_n``;
    a bid from before chains counts with none): the leaves, sorted, and their root."""
    leaves = sorted(operations_leaf(b["_id"], str(b.get("ops_head") or ""),
                                    int(b.get("ops_n") or 0)) for b in bids)
    return {"bids": len(leaves), "ops": sum(int(b.get("ops_n") or 0) for b in bids),
            "root": sealed_root(leaves), "leaves": leaves}


def sealed_operations(bid_id: str, ops: list[dict[str, Any]],
                      leaves: set[str]) -> tuple[int, str] | None:
    """How many of a bid's operations the close fixed, and their leaf: the longest prefix
    of its chain whose leaf the close recorded; None when it recorded none (a bid written
    as bidding closed, set aside since)."""
    for k in range(len(ops), -1, -1):
        leaf = operations_leaf(bid_id, ops[k - 1]["hash"] if k else "", k)
        if leaf in leaves:
            return k, leaf
    return None


def operations_report(bids: list[dict[str, Any]], recorded: dict[str, Any] | None,
                      leaves: list[str] | None) -> dict[str, Any]:
    """Check a section's bids' operations against what the close fixed: each chain intact,
    the kept leaves those of the recorded root, every leaf some bid's, and nothing after
    the close but a bid's key revealed or the platform's setting aside of a late bid."""
    kept = set(leaves or [])
    found: set[str] = set()
    out = []
    for b in sorted(bids, key=lambda b: str(b["_id"])):
        ops = list(b.get("ops") or [])
        sealed = sealed_operations(b["_id"], ops, kept)
        k = 0
        if sealed is not None:
            k, leaf = sealed
            found.add(leaf)
        after = [o["action"] for o in ops[k:]]
        # after the close: the bidder's one reveal of a bid taken, or the platform's
        # setting aside of a bid written as bidding closed (``LATE``), and nothing else
        explained = not after or (b["status"] == "late" and after[-1] == SET_ASIDE_LATE) \
            or (after == [REVEAL_KEY] and b["status"] != "late")
        out.append({"bid_id": b["_id"], "bidder_uscc": b["bidder_uscc"], "status": b["status"],
                    "operations": ops, "intact": verify(ops) is None,
                    "sealed_operations": k, "after_close": after, "explained": explained})
    root_matches = recorded is not None and leaves is not None \
        and sealed_root(list(leaves)) == recorded.get("root")
    missing = len(kept - found)
    return {"recorded": recorded, "leaves_match_root": root_matches,
            "unaccounted_leaves": missing, "bids": out,
            "matches": root_matches and missing == 0
            and all(b["intact"] and b["explained"] for b in out)}
