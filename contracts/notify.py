"""Messages of the notify stage: delivery receipts and final delivery failures.

Internal only: they name the recipient (an entity's credit code, an expert id or a
platform user), which partners must not read; an expert's draw is secret.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from contracts.base import Event, register
from contracts.topics import Stage


class Channel(StrEnum):
    """How a notification reaches its recipient."""

    WEBHOOK = "webhook"  # signed HTTP POST to the recipient's endpoint
    EMAIL = "email"  # e-mail over SMTP
    INBOX = "inbox"  # the platform's in-app inbox (站内信), with live push


class _NotificationEvent(Event):
    stage: ClassVar[Stage] = Stage.NOTIFY
    notification_id: str = Field(description="sha256 of (source event id, recipient, channel).")
    source_event_id: str = Field(description="The event the notification is about (ce_id).")
    source_event_type: str = Field(description="Its CloudEvents type.")
    about: str = Field(description="What the notification says (its template), e.g. bid_received.")
    recipient: str = Field(description="entity:<USCC>, expert:<expert id> or user:<subject>.")
    channel: Channel = Field(description="Channel used.")
    attempts: int = Field(ge=1, description="Delivery attempts made.")

    def aggregate_id(self) -> str:
        return self.recipient


@register
class NotificationDelivered(_NotificationEvent):
    """A notification reached its recipient (the receipt)."""

    delivered_at: datetime = Field(description="When the channel accepted it.")


@register
class NotificationFailed(_NotificationEvent):
    """A notification could not be delivered after its bounded attempts (kept for operators)."""

    reason: str = Field(description="The last error, e.g. smtp_550 or http_503.")
    failed_at: datetime = Field(description="When it was given up.")
