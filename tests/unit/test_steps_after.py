"""steps._after: the document a conditional update leaves, computed in memory."""

from __future__ import annotations

import copy

from ggzy.runtime.steps import _after


def test_sets_and_unsets_apply_on_copies_and_leave_the_document_read_alone() -> None:
    doc = {"_id": "a", "version": 1, "records": {"r1": {"kind": "x"}},
           "outbox": {"e1": {"order": 1}}, "processed": {"m1": 5}, "deep": {"n": {"k": 1}}}
    before = copy.deepcopy(doc)
    out = _after(doc, {"$set": {"version": 2, "records.r2": {"kind": "y"}, "records.r1.at": 3,
                                "outbox.e2": {"order": 2}, "new.path": 1, "deep.n.j": 2},
                       "$unset": {"processed.m1": "", "outbox.e1": "", "absent.x": ""}})
    assert doc == before  # nothing the read returned was changed
    assert out == {"_id": "a", "version": 2,
                   "records": {"r1": {"kind": "x", "at": 3}, "r2": {"kind": "y"}},
                   "outbox": {"e2": {"order": 2}}, "processed": {}, "new": {"path": 1},
                   "deep": {"n": {"k": 1, "j": 2}}}
    assert out["records"] is not doc["records"] and out["deep"]["n"] is not doc["deep"]["n"]


def test_a_relayed_copy_leaves_the_outbox_entries_out_and_applies_the_rest() -> None:
    doc = {"_id": "a", "version": 1, "records": {}, "outbox": {}, "processed": {"m1": 5}}
    update = {"$set": {"version": 2, "records.r1": {"kind": "x"}, "outbox.e1": {"order": 2},
                       "outbox_pending": 1, "processed.m2": 6},
              "$unset": {"processed.m1": ""}}
    full = _after(doc, update)
    relayed = _after(doc, update, relayed=True)
    assert full["outbox"] == {"e1": {"order": 2}}
    assert relayed == {**full, "outbox": {}}
    assert relayed["outbox"] is doc["outbox"] and doc["outbox"] == {}
