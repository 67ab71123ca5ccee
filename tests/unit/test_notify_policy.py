"""Delivery policy: backoff with jitter, the circuit breaker, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import random

from ggzy.runtime import signing
from services.notify.domain.policy import CLOSED, HALF_OPEN, OPEN, Breaker, RetryPolicy


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_ms=100, max_ms=1000, jitter=0)
    rng = random.Random(1)
    assert [policy.delay_ms(n, rng) for n in range(1, 7)] == [100, 200, 400, 800, 1000, 1000]


def test_jitter_keeps_each_delay_within_its_share() -> None:
    policy = RetryPolicy(base_ms=1000, max_ms=60_000, jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay_ms(3, rng) for _ in range(500)]
    assert min(delays) >= 2000 and max(delays) <= 4000
    assert len(set(delays)) > 100  # spread, not one value


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.exhausted(2) and policy.exhausted(3)


def test_the_breaker_opens_after_consecutive_failures_only() -> None:
    b = Breaker(threshold=3, cooldown_ms=1000)
    b.failed(0)
    b.failed(1)
    b.succeeded()  # a success in between resets the count
    b.failed(2)
    b.failed(3)
    assert b.state == CLOSED and b.allow(4)
    b.failed(5)
    assert b.state == OPEN and not b.allow(6) and b.retry_at(6) == 1005


def test_after_the_cool_down_one_trial_goes_through() -> None:
    b = Breaker(threshold=1, cooldown_ms=1000)
    b.failed(0)
    assert not b.allow(999)
    assert b.allow(1000) and b.state == HALF_OPEN
    assert not b.allow(1001)  # only one trial at a time


def test_a_failed_trial_opens_again_and_a_good_one_closes() -> None:
    b = Breaker(threshold=1, cooldown_ms=1000)
    b.failed(0)
    assert b.allow(1000)
    b.failed(1000)
    assert b.state == OPEN and not b.allow(1500) and b.allow(2000)
    b.succeeded()
    assert b.state == CLOSED and b.allow(2001)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"kind":"bid_received"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.sign("k" * 16, 1700000000, body) == "v1=" + expected


def test_a_receiver_accepts_a_fresh_signature_and_rejects_tampering() -> None:
    body, secret = b'{"a":1}', "s" * 20
    headers = signing.headers(secret, 1000, body, "nid")
    sig = headers[signing.SIGNATURE]
    assert headers[signing.NOTIFICATION_ID] == "nid"
    assert signing.verify(secret, "1000", body, sig, now=1100)
    assert not signing.verify(secret, "1000", b'{"a":2}', sig, now=1100)
    assert not signing.verify("t" * 20, "1000", body, sig, now=1100)
    assert not signing.verify(secret, "1001", body, sig, now=1100)
    assert not signing.verify(secret, "1000", body, sig, now=1000 + 301)  # a replay
    assert not signing.verify(secret, "soon", body, sig, now=1000)
