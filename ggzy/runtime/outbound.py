"""Outbound HTTP to addresses that users give (webhooks, upper platforms): only public
targets unless a deployment allows private ones, and the exact bytes that are signed.

A URL someone registers must not make the platform call into its own network (SSRF):
an IP literal is checked when the URL is taken and again when it is called, and a name
at every connection (``PublicResolver``), so one that later resolves elsewhere (DNS
rebinding) is refused as well.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes a webhook receives (and that are signed): what ``json.dumps(payload,
    ensure_ascii=False, separators=(",", ":"))`` writes, by one encoder made once."""
    return _BODY.encode(payload).encode()


_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def is_public(address: str) -> bool:
    """Whether an IP address is a public internet address: not loopback, private,
    link-local (where cloud metadata services answer), multicast or reserved."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def forbidden_target(url: str) -> str | None:
    """Why a webhook URL may not be used when only public targets are allowed (its host
    is an IP literal that is not public, or a name of this host), or None."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is this host"
    try:
        return None if is_public(host) else f"{host} is not a public address"
    except ValueError:  # a name: checked again when it is resolved, at every connection
        return None


class PublicResolver(AbstractResolver):
    """Resolves target hosts to public addresses only, so a registered URL cannot make
    the platform call into its own network (SSRF). Checked at connection time, so a
    name that resolves elsewhere later (DNS rebinding) is refused as well."""

    def __init__(self) -> None:
        self.inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        public = [r for r in found if is_public(r["host"])]
        if not public:
            raise OSError(f"host {host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self.inner.close()


