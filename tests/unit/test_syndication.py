"""Syndication to upper platforms: its pure parts (backoff, batch ids, the operators' view)."""

from __future__ import annotations

from services.announcement.syndication import backoff_ms, delivery_id, view


def test_a_failing_upper_platform_backs_off_doubling_to_a_ceiling() -> None:
    assert [backoff_ms(n, 1000, 300_000) for n in (1, 2, 3, 9, 10, 60)] == [
        1000, 2000, 4000, 256_000, 300_000, 300_000]
    assert delivery_id("national", 10, 12) == "national:10-12"  # the same batch, the same id
    doc = {"_id": "national", "name": "n", "url": "https://x", "categories": ["land"],
           "cursor": 7, "delivered": 7, "failures": 2, "last_error": "http_503",
           "next_attempt_ms": 5, "secret": "s3cr3t"}
    shown = view(doc, 10)
    assert shown["lag"] == 3 and "secret" not in shown and "s3cr3t" not in str(shown)
    assert view(doc, 5)["lag"] == 0  # a watermark below the cursor: no negative lag
