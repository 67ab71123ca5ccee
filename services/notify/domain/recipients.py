"""Who a recipient is: an entity, an expert or a platform user, as one typed id.

A recipient id is ``entity:<USCC>`` (every user of the entity shares it),
``expert:<expert id>`` or ``user:<subject>`` (a supervisor or operator of the
platform). Notification ids are deterministic (sha256 of the source event id,
the recipient and the channel), so a redelivered event creates nothing twice.
"""

from __future__ import annotations

import hashlib
from typing import NewType

from contracts.notify import Channel

RecipientId = NewType("RecipientId", str)
NotificationId = NewType("NotificationId", str)
LaneId = NewType("LaneId", str)


def entity(uscc: str) -> RecipientId:
    """The recipient of an entity (tenderee, agency, bidder, supervising department)."""
    return RecipientId(f"entity:{uscc}")


def expert(expert_id: str) -> RecipientId:
    """The recipient of an evaluation expert."""
    return RecipientId(f"expert:{expert_id}")


def user(subject: str) -> RecipientId:
    """The recipient of a platform user (supervisor, operator) without an entity."""
    return RecipientId(f"user:{subject}")


def of_claims(subject: str, uscc: str | None, expert_id: str | None) -> RecipientId:
    """The recipient a token speaks for: its entity, else its expert, else its user."""
    if uscc:
        return entity(uscc)
    if expert_id:
        return expert(expert_id)
    return user(subject)


def notification_id(event_id: str, recipient: RecipientId, channel: Channel) -> NotificationId:
    """One id per (event, recipient, channel): the unique key of a delivery."""
    raw = f"{event_id}\x1f{recipient}\x1f{channel.value}".encode()
    return NotificationId(hashlib.sha256(raw).hexdigest())


def lane_id(recipient: RecipientId, channel: Channel) -> LaneId:
    """The ordered queue of one recipient on one channel."""
    return LaneId(f"{channel.value}|{recipient}")
