"""Which dead letters a replay picks (``ggzy deadletters replay``), and what it resends."""

from __future__ import annotations

import pytest

from ggzy.runtime.deadletters import REPLAY_OF, DeadLetter, Letters, select


def _letter(offset: int, reason: str) -> DeadLetter:
    return DeadLetter(0, offset, b"T1", b"{}", (
        ("ce_id", f"id-{offset}".encode()), ("ce_type", b"ggzy.bidding.TenderFailed.v1"),
        ("dlq_reason", reason.encode()), ("dlq_topic", b"ggzy.internal.bidding.v1"),
        (REPLAY_OF, b"x:0:9")))


FOUND = Letters("announcement.bidding", "dlq", "retry",
                [_letter(0, "unknown_tender"), _letter(1, "invalid_data"),
                 _letter(2, "unknown_tender")], replays={"0:2": 1})


def test_named_letters_else_a_reason_else_all_and_not_twice_unless_again() -> None:
    assert [d.ref for d in select(FOUND, refs=["0:1"])] == ["0:1"]
    assert [d.ref for d in select(FOUND, reason="unknown_tender")] == ["0:0"]  # 0:2 was
    assert [d.ref for d in select(FOUND, reason="unknown_tender", again=True)] == ["0:0", "0:2"]
    assert [d.ref for d in select(FOUND)] == ["0:0", "0:1"]
    assert select(FOUND, refs=["0:2"]) == []
    assert [d.ref for d in select(FOUND, refs=["0:2"], again=True)] == ["0:2"]


def test_an_unknown_letter_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="no dead letter 0:7 on dlq"):
        select(FOUND, refs=["0:1", "0:7"])


def test_a_replay_carries_the_original_headers_only() -> None:
    headers = dict(FOUND.letters[0].original_headers())
    assert headers == {"ce_id": b"id-0", "ce_type": b"ggzy.bidding.TenderFailed.v1"}
