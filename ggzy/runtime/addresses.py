"""The address a request came from (20号令: every operation with its source address).

Behind a load balancer or reverse proxy the peer is the proxy; the client's address
is in ``X-Forwarded-For``, which the proxy appends to. Only proxies the deployment
names (``GGZY_TRUSTED_PROXIES``) are believed: the client's address is the last one
of the header that is not itself a trusted proxy, so a client cannot pose as another
address by writing the header itself (what it writes sits to the left of what the
trusted proxies appended). With no trusted proxy the peer's address is the client's.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network


class AddressError(ValueError):
    """A trusted-proxy setting that is not a list of addresses or networks."""


def networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` as networks; a specific error for a bad entry."""
    out = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            out.append(ip_network(part, strict=False))
        except ValueError as exc:
            raise AddressError(f"GGZY_TRUSTED_PROXIES: {part!r} is not an address or network"
                               ) from exc
    return tuple(out)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted: Sequence[Network]) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the
    right-most ``X-Forwarded-For`` hop that is not a trusted proxy (a hop that is not an
    address stops the walk: the chain is not one the proxies wrote)."""
    if peer is None or not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    hop = peer
    for part in reversed(forwarded_for.split(",")):
        candidate = part.strip()
        try:
            ip_address(candidate)
        except ValueError:
            return hop
        if not _trusted(candidate, trusted):
            return candidate
        hop = candidate
    return hop
