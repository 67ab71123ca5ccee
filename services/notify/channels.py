"""The channels' adapters: webhook (aiohttp client, signed), e-mail (SMTP), inbox push.

E-mail goes through the standard library's ``smtplib`` in a worker thread: no
extra dependency, a mature client, and the blocking exchange stays off the event
loop. E-mail volume is small beside webhooks; a connection per message keeps
every attempt independent (a broken relay cannot poison a shared connection).
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
from collections import defaultdict
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiohttp
from aiohttp import web

from services.notify.domain import signing

log = logging.getLogger("ggzy.notify.channels")


class DeliveryError(Exception):
    """An attempt failed; ``reason`` is machine-readable (http_503, smtp_550, ...).

    ``endpoint_fault`` is False when only this recipient was refused (a mailbox the
    relay rejects): that says nothing about the relay, so its breaker is left alone."""

    def __init__(self, reason: str, detail: str = "", *, endpoint_fault: bool = True) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.endpoint_fault = endpoint_fault


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes a webhook receives (and that are signed)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class Webhooks:
    """POSTs signed JSON to recipients' endpoints (see ``domain.signing``)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=64)
        self.session = aiohttp.ClientSession(timeout=self.timeout, connector=connector)

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def send(self, nid: str, target: dict[str, Any], payload: dict[str, Any]) -> None:
        """One attempt; a 2xx answer is a delivery, anything else a DeliveryError."""
        assert self.session is not None, "start the webhook channel first"
        body = body_of(payload)
        headers = signing.headers(target["secret"], int(time.time()), body, nid)
        try:
            async with self.session.post(target["url"], data=body, headers=headers) as resp:
                await resp.read()
                if not 200 <= resp.status < 300:
                    raise DeliveryError(f"http_{resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError("unreachable", repr(exc)) from exc


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
        msg = EmailMessage()
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
            raise DeliveryError(f"smtp_{codes[0] if codes else 'refused'}",
                                endpoint_fault=False) from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp_{exc.smtp_code}", str(exc.smtp_error)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError("smtp_unreachable", repr(exc)) from exc


class InboxHub:
    """The WebSocket clients connected per recipient, for live push (this replica's)."""

    def __init__(self) -> None:
        self.clients: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)

    def join(self, recipient: str, ws: web.WebSocketResponse) -> None:
        self.clients[recipient].add(ws)

    def leave(self, recipient: str, ws: web.WebSocketResponse) -> None:
        self.clients[recipient].discard(ws)
        if not self.clients[recipient]:
            del self.clients[recipient]

    async def push(self, recipient: str, message: dict[str, Any]) -> None:
        """Send to every live client of the recipient (the inbox keeps it anyway)."""
        for ws in list(self.clients.get(recipient, ())):
            try:
                await ws.send_json(message)
            except (ConnectionError, RuntimeError) as exc:
                log.info("inbox client gone", extra={"reason": repr(exc)})
                self.leave(recipient, ws)

    async def close(self) -> None:
        for sockets in list(self.clients.values()):
            for ws in list(sockets):
                await ws.close()
