"""Webhook signatures: how a receiver checks that a notification came from the platform.

Every webhook POST carries three headers:

- ``X-Ggzy-Timestamp``: Unix time in seconds when it was signed;
- ``X-Ggzy-Signature``: ``v1=`` followed by the lowercase hex HMAC-SHA256, keyed
  with the secret the recipient registered, over the bytes
  ``<timestamp> + "." + <raw request body>``;
- ``X-Ggzy-Notification-Id``: the notification's id (the same on every retry:
  a receiver deduplicates on it).

To verify: take the raw body as received (before any JSON parsing), compute
``hmac_sha256(secret, f"{timestamp}.".encode() + body)``, compare it with the
signature in constant time, and reject a timestamp more than five minutes away
from your clock (a replayed request). For example in Python::

    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, "sha256").hexdigest()
    ok = hmac.compare_digest("v1=" + expected, signature) and abs(time.time() - int(ts)) < 300
"""

from __future__ import annotations

import hmac

TIMESTAMP = "X-Ggzy-Timestamp"
SIGNATURE = "X-Ggzy-Signature"
NOTIFICATION_ID = "X-Ggzy-Notification-Id"
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value of ``body`` signed at ``timestamp``."""
    return "v1=" + hmac.digest(secret.encode(), b"%d." % timestamp + body, "sha256").hex()


def headers(secret: str, timestamp: int, body: bytes, notification_id: str) -> dict[str, str]:
    """Every header of a signed webhook request."""
    return {TIMESTAMP: str(timestamp), SIGNATURE: sign(secret, timestamp, body),
            NOTIFICATION_ID: notification_id, "Content-Type": "application/json"}


def verify(secret: str, timestamp: str, body: bytes, signature: str, now: int,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(now - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
