"""Notify's SMTP client against a real SMTP server (aiosmtpd on 127.0.0.1): which refusals
are the relay's (its circuit breaker counts them) and which only the mailbox's."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ggzy.testing.services import free_port
from services.notify.channels import DeliveryError, Mail

NID = "f" * 64  # a notification id: 64 hex digits, as notify makes them


class RcptRelay:
    """Accepts the connection and MAIL, answers ``reply`` to RCPT (or accepts it)."""

    def __init__(self) -> None:
        self.reply: str | None = None
        self.received: list[bytes] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.reply is not None:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[RcptRelay]:
    r = RcptRelay()
    r.controller.start()
    yield r
    r.controller.stop()


def _mail(relay: RcptRelay) -> Mail:
    return Mail("127.0.0.1", relay.port, "noreply@ggzy.example", timeout_s=5)


PAYLOAD = {"title": "信用变更通知", "body": "您的信用等级已变更。"}


@pytest.mark.parametrize(("reply", "relay_fault"), [
    ("421 4.3.2 Service not available, closing transmission channel", True),
    ("550 5.1.1 No such user", False),
    ("452 4.2.2 Mailbox full", False)])
async def test_a_refused_recipient_is_the_relays_fault_only_when_it_closes(
        relay: RcptRelay, reply: str, relay_fault: bool) -> None:
    """RFC 5321 4.2.2: 421 is the service closing, whatever the command; a 5xx or other
    4xx at RCPT speaks of this mailbox, so the relay's breaker is left alone."""
    relay.reply = reply
    with pytest.raises(DeliveryError) as failed:
        await _mail(relay).send(NID, {"address": "a@example.cn"}, PAYLOAD)
    assert failed.value.reason == f"smtp_{reply[:3]}"
    assert failed.value.endpoint_fault is relay_fault
    assert relay.received == []


async def test_the_ids_go_out_on_one_header_line(relay: RcptRelay) -> None:
    await _mail(relay).send(NID, {"address": "a@example.cn"}, PAYLOAD)
    [raw] = relay.received
    assert f"X-Ggzy-Notification-Id: {NID}\r\n".encode() in raw  # not folded at 78
    message = message_from_bytes(raw, policy=policy.default)
    assert message["Message-ID"] == f"<{NID}@ggzy>"
    assert message["Subject"] == "信用变更通知"
