"""Messages of the notify stage: queued deliveries, receipts and final failures.

Internal only: they name the recipient (an entity's credit code, an expert id or a
platform user), which partners must not read; an expert's draw is secret.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from contracts.base import Event, Message, register
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


@register
class NotificationQueued(Message):
    """A notification owed to one recipient on one channel, queued on its lane.

    Notify's own queue (``kind`` deliveries): keyed by the lane (recipient and
    channel), so one lane's notifications stay in one partition, in order, and one
    replica at a time delivers them. It never carries a webhook's secret: the
    delivering replica reads the recipient's current one.
    """

    stage: ClassVar[Stage] = Stage.NOTIFY
    kind: ClassVar[str] = "deliveries"
    notification_id: str = Field(description="sha256 of (source event id, recipient, channel).")
    lane: str = Field(description="The ordered queue of the recipient on the channel.")
    recipient: str = Field(description="entity:<USCC>, expert:<expert id> or user:<subject>.")
    channel: Channel = Field(description="Channel to deliver on.")
    about: str = Field(description="What the notification says (its template).")
    endpoint: str = Field(description="What a circuit breaker guards: the URL, the SMTP relay.")
    target: dict[str, str] = Field(description="Where to: the webhook URL or the e-mail address.")
    payload: dict[str, Any] = Field(description="What the recipient receives (rendered text).")
    source_event_id: str = Field(description="The event the notification is about (ce_id).")
    source_event_type: str = Field(description="Its CloudEvents type.")
    queued_ms: int = Field(ge=0, description="When it was queued (epoch milliseconds).")
    first: bool = Field(default=False, description=(
        "Queued by the first handling of its event (the fan-out's inbox write for the "
        "recipient was new): no earlier copy of it was queued. False when the event was "
        "handled before, or unknown."))

    def aggregate_id(self) -> str:
        return self.lane
