"""The channels' adapters: webhook (aiohttp client, signed), e-mail (SMTP), inbox push.

E-mail goes through the standard library's ``smtplib`` in a worker thread: no
extra dependency, a mature client, and the blocking exchange stays off the event
loop. E-mail volume is small beside webhooks; a connection per message keeps
every attempt independent (a broken relay cannot poison a shared connection).
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import logging
import smtplib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiohttp
from aiohttp import web

from ggzy.runtime import signing
from ggzy.runtime.follow import Clients
from ggzy.runtime.outbound import PublicResolver, body_of, forbidden_target

log = logging.getLogger("ggzy.notify.channels")


class DeliveryError(Exception):
    """An attempt failed; ``reason`` is machine-readable (http_503, smtp_550, ...).

    ``endpoint_fault`` is False when only this recipient was refused (a mailbox the
    relay rejects): that says nothing about the relay, so its breaker is left alone."""

    def __init__(self, reason: str, detail: str = "", *, endpoint_fault: bool = True) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.endpoint_fault = endpoint_fault


class Webhooks:
    """POSTs signed JSON to recipients' endpoints (see ``ggzy.runtime.signing``).

    Only public targets are called unless ``allow_private`` (a local platform, tests)."""

    def __init__(self, timeout_s: float, allow_private: bool = False) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.allow_private = allow_private
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        resolver = None if self.allow_private else PublicResolver()
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=64, resolver=resolver)
        self.session = aiohttp.ClientSession(timeout=self.timeout, connector=connector)

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send(self, nid: str, target: dict[str, Any], payload: dict[str, Any]) -> None:
        """One attempt; a 2xx answer is a delivery, anything else a DeliveryError."""
        assert self.session is not None, "start the webhook channel first"
        body = body_of(payload)
        refused = None if self.allow_private else forbidden_target(target["url"])
        if refused is not None:  # an IP literal is not resolved: checked here
            raise DeliveryError("webhook_target_forbidden", refused)
        headers = signing.headers(target["secret"], int(time.time()), body, nid)
        try:
            async with self.session.post(target["url"], data=body, headers=headers) as resp:
                await resp.read()
                if not 200 <= resp.status < 300:
                    raise DeliveryError(f"http_{resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError("unreachable", repr(exc)) from exc


# Header lines up to RFC 5322's 998 characters: the ids (Message-ID, the notification id)
# stay on one line instead of being folded at 78, which some parsers read back with a space
_MAIL_POLICY = email.policy.default.clone(max_line_length=998)


class Mail:
    """Sends e-mail through one SMTP relay."""

    def __init__(self, host: str, port: int, sender: str, timeout_s: float) -> None:
        self.host, self.port, self.sender, self.timeout_s = host, port, sender, timeout_s

    @property
    def endpoint(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def send(self, nid: str, target: dict[str, Any], payload: dict[str, Any]) -> None:
        """One attempt: the relay accepted the message, or a DeliveryError."""
        message = self._message(nid, target["address"], payload)
        await asyncio.to_thread(self._send, message)

    def _message(self, nid: str, address: str, payload: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage(policy=_MAIL_POLICY)
        msg["From"], msg["To"], msg["Subject"] = self.sender, address, payload["title"]
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{nid}@ggzy>"  # the same on every retry: receivers deduplicate
        msg["X-Ggzy-Notification-Id"] = nid
        msg.set_content(payload["body"] + "\n")
        return msg

    def _send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            # 421 is the relay itself closing (RFC 5321 4.2.2), at RCPT as anywhere: its
            # breaker counts it; any other refusal is of this mailbox only
            raise DeliveryError(f"smtp_{codes[0] if codes else 'refused'}",
                                endpoint_fault=421 in codes) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp_{exc.smtp_code}", str(exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError("smtp_unreachable", repr(exc)) from exc


class InboxHub:
    """The WebSocket clients connected per recipient, for live push.

    A notification delivered here is pushed at once (``push``). One delivered by
    another replica reaches this replica's clients through its receipt
    (``NotificationDelivered`` on notify's topic, keyed by recipient), which every
    replica follows (``ggzy.runtime.follow``): the receipt names the notification,
    read from the inbox and pushed (``on_receipt``). Each is pushed once per
    replica: the ids pushed lately are remembered (bounded)."""

    def __init__(self, remember: int = 10_000) -> None:
        self.clients = Clients()
        self._pushed: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self.follow: Callable[[], Awaitable[None]] | None = None  # the receipts' follower

    async def joined(self, recipient: str, ws: web.WebSocketResponse) -> None:
        """A client connected: from now on it hears of every notification delivered to
        the recipient by any replica (the receipts are followed from the first client)."""
        if self.follow is not None:
            await self.follow()
        self.join(recipient, ws)

    def join(self, recipient: str, ws: web.WebSocketResponse) -> None:
        self.clients.join(recipient, ws)

    def leave(self, recipient: str, ws: web.WebSocketResponse) -> None:
        self.clients.leave(recipient, ws)

    async def push(self, recipient: str, message: dict[str, Any]) -> None:
        """Send to every live client of the recipient (the inbox keeps it anyway)."""
        if recipient not in self.clients or self._seen(str(message.get("id"))):
            return
        for ws in self.clients.of(recipient):
            try:
                await ws.send_json(message)
            except (ConnectionError, RuntimeError) as exc:
                log.info("inbox client gone", extra={"reason": repr(exc)})
                self.leave(recipient, ws)

    async def on_receipt(self, recipient: str, ce_type: str, value: bytes,
                         read: Callable[[str, str], Awaitable[dict[str, Any] | None]]
                         ) -> None:
        """A receipt on notify's topic: an inbox notification delivered by any replica is
        read (``read(recipient, id)``) and pushed here unless it was already."""
        if not ce_type.endswith(".NotificationDelivered.v1"):
            return
        receipt = json.loads(value)
        nid = str(receipt.get("notification_id"))
        if receipt.get("channel") != "inbox" or nid in self._pushed:
            return
        doc = await read(recipient, nid)
        if doc is not None:
            await self.push(recipient, {"type": "notification", "id": nid, **doc["payload"]})

    def _seen(self, nid: str) -> bool:
        if nid in self._pushed:
            return True
        self._pushed[nid] = None
        if len(self._pushed) > self._remember:
            self._pushed.popitem(last=False)
        return False

    async def close(self) -> None:
        await self.clients.close()
