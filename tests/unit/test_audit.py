"""The hash-chained audit trail (services/bidding/domain/audit.py) and the
`ggzy audit verify` command, which re-computes a chain fetched over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from ggzy.cli import main
from services.bidding.domain import audit, tender
from tests.unit.test_objections import CAL, CONSTRUCTION, DEADLINE, _state


def _chain(n: int) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = []
    for i in range(n):
        chain.append(audit.entry(chain, at=f"2026-12-01T10:0{i}:00+00:00", actor=f"user{i}",
                                 action="offer", data={"offer_no": i + 1},
                                 source="10.0.0.7" if i % 2 else None))
    return chain


def test_the_source_address_is_part_of_the_chain_20_order() -> None:
    """20号令: the operator's source address is recorded and cannot be altered unseen."""
    chain = _chain(4)
    assert audit.verify(chain) is None
    assert chain[1]["source"] == "10.0.0.7" and "source" not in chain[0]
    altered = [dict(e) for e in chain]
    altered[1]["source"] = "10.0.0.8"
    assert audit.verify(altered) == 2


class _Serve(BaseHTTPRequestHandler):
    body: ClassVar[dict[str, Any]] = {}
    operations: ClassVar[dict[str, Any]] = {}  # a section's bid operations, by path

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Bearer sup-token":
            self.send_response(401)
            payload = {"error": {"code": "token_missing", "message": "no token"}}
        else:
            self.send_response(200)
            payload = type(self).operations.get(self.path, type(self).body)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(payload).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, type[_Serve]]]:
    handler = type("Handler", (_Serve,), {"body": {}, "operations": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_the_command_recomputes_the_chain_and_trusts_no_verdict_of_the_service(
        served: tuple[str, type[_Serve]], capsys: pytest.CaptureFixture[str]) -> None:
    url, handler = served
    chain = _chain(3)
    args = ["audit", "verify", "tender", "T1", "--url", url, "--token", "sup-token"]
    handler.body = {"entries": chain, "broken_at": None}
    assert main(args) == 0
    assert "3 entries" in capsys.readouterr().out
    tampered = [dict(e) for e in chain]
    tampered[1]["data"] = {"offer_no": 99}
    handler.body = {"entries": tampered, "broken_at": None}  # the service claims it is fine
    assert main(args) == 1
    assert "BROKEN at entry 2" in capsys.readouterr().out
    rewritten: list[dict[str, Any]] = []  # re-hashed throughout: verifies, but not the head
    for e in tampered:
        rewritten.append(audit.entry(rewritten, at=e["at"], actor=e["actor"],
                                     action=e["action"], data=e["data"], source=e.get("source")))
    handler.body = {"entries": rewritten, "broken_at": None}
    assert main([*args, "--head", chain[1]["hash"]]) == 1
    assert "no longer in the chain" in capsys.readouterr().out
    assert main([*args[:-2], "--token", "wrong"]) == 2
    assert "HTTP 401 token_missing" in capsys.readouterr().err


def test_the_close_fixes_the_sealed_bids_in_the_chain_without_naming_bidders() -> None:
    """20号令: the deadline's bids as one root in the close's entry; any bid added, dropped
    or swapped after it changes the root; a bidder finds its leaf from its receipt."""
    bids = [{"_id": f"T:S:91{i:016d}", "digest": f"{i:064x}", "received_ms": 1000 + i}
            for i in range(4)]
    sealed = audit.sealed_of(bids)
    assert sealed["bids"] == 4
    assert sealed == audit.sealed_of(list(reversed(bids)))  # the order of receipt aside
    for other in (bids[:3], [*bids[:3], {**bids[3], "digest": "f" * 64}],
                  [*bids[:3], {**bids[3], "received_ms": 999}]):
        assert audit.sealed_of(other)["root"] != sealed["root"]
    leaf = audit.receipt_leaf(bids[0]["_id"], bids[0]["digest"], bids[0]["received_ms"])
    assert bids[0]["_id"] not in leaf and len(leaf) == 64
    state = {**_state(), "section_state": {"S1": {"status": "bidding"}}}
    change = tender.close(state, CONSTRUCTION, CAL, {"S1": 4},
                          DEADLINE + timedelta(seconds=2), sealed={"S1": sealed})
    entry = change.set["audit"][-1]
    assert entry["action"] == "close" and entry["data"]["sealed"] == {"S1": sealed}
    text = json.dumps(entry["data"])
    assert not any(b["_id"] in text or b["_id"][4:] in text for b in bids)  # nobody named


# A bid's own operations (投标操作记录, 20号令: time, operator, source address, unalterable)
def _bid(bid_id: str, *actions: str, status: str = "submitted") -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": bid_id, "bidder_uscc": bid_id.rsplit(":", 1)[1],
                           "status": status}
    for i, action in enumerate(actions):
        doc.update(audit.operation(doc, at=f"2026-12-01T09:0{i}:00+00:00",
                                   actor="platform" if action == audit.SET_ASIDE_LATE
                                   else "u-1", action=action, data={"digest": f"d{i}"},
                                   source=None if action == audit.SET_ASIDE_LATE
                                   else "203.0.113.9"))
    return doc


def _closed(bids: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    record = audit.operations_of(bids)
    return {k: record[k] for k in ("bids", "ops", "root")}, record["leaves"]


def test_each_bid_operation_is_chained_with_its_time_user_and_address() -> None:
    """20号令: a submission, resubmission and withdrawal each on record, in one chain."""
    bid = _bid("T:1:A", "submit", "resubmit", "withdraw", status="withdrawn")
    assert [o["action"] for o in bid["ops"]] == ["submit", "resubmit", "withdraw"]
    assert (bid["ops_n"], bid["ops_head"]) == (3, bid["ops"][-1]["hash"])
    assert {o["source"] for o in bid["ops"]} == {"203.0.113.9"}
    assert audit.verify(bid["ops"]) is None
    tampered = [dict(o) for o in bid["ops"]]
    tampered[0]["source"] = "198.51.100.1"
    assert audit.verify(tampered) == 1


def test_the_close_fixes_every_bids_operations_withdrawn_ones_too() -> None:
    bids = [_bid("T:1:A", "submit"), _bid("T:1:B", "submit", "withdraw", status="withdrawn"),
            _bid("T:1:C", "submit", "resubmit")]
    recorded, leaves = _closed(bids)
    assert (recorded["bids"], recorded["ops"]) == (3, 5)
    assert not any("T:1" in leaf for leaf in leaves)  # the leaves name nobody
    report = audit.operations_report(bids, recorded, leaves)
    assert report["matches"] and report["leaves_match_root"]
    assert [b["sealed_operations"] for b in report["bids"]] == [1, 2, 2]


def test_an_operation_dropped_or_added_after_the_close_is_found() -> None:
    bids = [_bid("T:1:A", "submit"), _bid("T:1:B", "submit", "withdraw", status="withdrawn")]
    recorded, leaves = _closed(bids)
    # B's withdrawal erased afterwards (its bid "submitted" again): B's chain no longer
    # ends where the close saw it, and the close's leaf for B is nobody's
    erased = _bid("T:1:B", "submit")
    report = audit.operations_report([bids[0], erased], recorded, leaves)
    assert not report["matches"] and report["unaccounted_leaves"] == 1
    # a bid slipped in after the close: operations the close never saw, not explained
    slipped = _bid("T:1:Z", "submit")
    report = audit.operations_report([*bids, slipped], recorded, leaves)
    assert not report["matches"]
    assert [b["after_close"] for b in report["bids"] if b["bid_id"] == "T:1:Z"] == [["submit"]]
    # a leaf list swapped for another: it no longer hashes to the chain's root
    report = audit.operations_report(bids, recorded, sorted([*leaves[:1], "0" * 64]))
    assert not report["matches"] and not report["leaves_match_root"]


def test_a_bid_written_as_bidding_closed_and_set_aside_is_explained() -> None:
    """A write that ended after the close's read (``confirm_taken``): the close did not see
    it, and the platform set it aside as late, on the bid's own record."""
    on_time = _bid("T:1:A", "submit")
    recorded, leaves = _closed([on_time])
    late = _bid("T:1:L", "submit", audit.SET_ASIDE_LATE, status="late")
    report = audit.operations_report([on_time, late], recorded, leaves)
    assert report["matches"], report
    [row] = [b for b in report["bids"] if b["bid_id"] == "T:1:L"]
    assert (row["sealed_operations"], row["after_close"]) == (0, ["submit", "set_aside_late"])
    assert row["operations"][-1]["actor"] == "platform" and "source" not in row["operations"][-1]


def test_a_key_revealed_after_the_close_is_on_the_bids_record_ling20() -> None:
    """20号令: the decryption is an operation too, with its time, user and address; kept in
    the reveal ledger, chained on the bid's last operation, so it cannot be altered or put
    on another bid. After the close only that, once, is explained on a bid taken."""
    bids = [_bid("T:1:A", "submit"), _bid("T:1:B", "submit", "resubmit")]
    recorded, leaves = _closed(bids)

    def revealed(bid: dict[str, Any]) -> dict[str, Any]:
        op = audit.entry(bid["ops"], at="2026-12-01T10:00:00+00:00", actor="u-1",
                         action=audit.REVEAL_KEY, data={}, source="203.0.113.9")
        return {**bid, "ops": [*bid["ops"], json.loads(json.dumps(op))]}  # as kept
    opened = [revealed(b) for b in bids]
    report = audit.operations_report(opened, recorded, leaves)
    assert report["matches"], report
    assert [b["after_close"] for b in report["bids"]] == [["reveal_key"], ["reveal_key"]]
    assert report["bids"][1]["operations"][-1]["n"] == 3
    # a reveal op moved onto another bid: its chain breaks
    moved = {**bids[0], "ops": [*bids[0]["ops"], opened[1]["ops"][-1]]}
    assert not audit.operations_report([moved, opened[1]], recorded, leaves)["matches"]
    # twice, or on a late bid, is not what a bidder's window allows
    twice = revealed(opened[0])
    assert not audit.operations_report([twice, opened[1]], recorded, leaves)["matches"]
    late = _bid("T:1:L", "submit", status="late")
    report = audit.operations_report([*opened, revealed(late)], recorded, leaves)
    assert not report["matches"]


def test_the_command_checks_each_sections_bid_operations_against_the_close(
        served: tuple[str, type[_Serve]], capsys: pytest.CaptureFixture[str]) -> None:
    """``ggzy audit verify tender`` re-computes the bids' operations against the root the
    close wrote into the chain, not the service's verdict on them."""
    url, handler = served
    bids = [_bid("T1:1:A", "submit"), _bid("T1:1:B", "submit", "withdraw", status="withdrawn")]
    recorded, leaves = _closed(bids)
    chain: list[dict[str, Any]] = []
    chain.append(audit.entry(chain, at="2026-12-01T10:00:00+00:00", actor="platform",
                             action="close", data={"sealed": {"1": {
                                 **audit.sealed_of([]), "operations": recorded}}}))
    handler.body = {"entries": chain, "broken_at": None}

    def served_ops(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"leaves": leaves, "matches": True,  # what the service says does not count
                "bids": [{"bid_id": b["_id"], "bidder_uscc": b["bidder_uscc"],
                          "status": b["status"], "operations": b["ops"]} for b in rows]}
    path = "/v1/tenders/T1/sections/1/operations"
    handler.operations = {path: served_ops(bids)}
    args = ["audit", "verify", "tender", "T1", "--url", url, "--token", "sup-token"]
    assert main(args) == 0
    assert "section 1: 2 bids, 3 operations" in capsys.readouterr().out
    handler.operations = {path: served_ops([bids[0], _bid("T1:1:B", "submit")])}  # erased
    assert main(args) == 1
    assert "BROKEN: section 1's bid operations" in capsys.readouterr().out
