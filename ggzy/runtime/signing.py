"""Signed outbound requests: how a receiver checks that a POST came from the platform.

Notify's webhooks and announcement's syndication to upper platforms sign alike. Every
such POST carries three headers:

- ``X-Ggzy-Timestamp``: Unix time in seconds when it was signed;
- ``X-Ggzy-Signature``: ``v1=`` followed by the lowercase hex HMAC-SHA256, keyed
  with the secret the recipient registered, over the bytes
  ``<timestamp> + "." + <raw request body>``;
- ``X-Ggzy-Notification-Id`` (a webhook) or ``X-Ggzy-Delivery-Id`` (a syndication
  batch): its id, the same on every retry, so a receiver deduplicates on it.

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
DELIVERY_ID = "X-Ggzy-Delivery-Id"
TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value of ``body`` signed at ``timestamp``."""
    return "v1=" + hmac.digest(secret.encode(), b"%d." % timestamp + body, "sha256").hex()


def headers(secret: str, timestamp: int, body: bytes, notification_id: str,
            id_header: str = NOTIFICATION_ID) -> dict[str, str]:
    """Every header of a signed request (its id under ``id_header``)."""
    return {TIMESTAMP: str(timestamp), SIGNATURE: sign(secret, timestamp, body),
            id_header: notification_id, "Content-Type": "application/json"}


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
