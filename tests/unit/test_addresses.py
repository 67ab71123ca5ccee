"""The client address of a request, through the deployment's trusted proxies (20号令: an
operation's source address; 条例40(二): bids uploaded from one address)."""

from __future__ import annotations

import pytest

from ggzy.runtime.addresses import AddressError, client_address, networks
from services.bidding.handlers.bids import observed

LB = networks("10.0.0.0/8, 127.0.0.1")


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("10.1.2.3", "203.0.113.9", ()) == "10.1.2.3"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_address("10.1.2.3", "203.0.113.9", LB) == "203.0.113.9"


def test_a_client_cannot_pose_as_another_address() -> None:
    """What the client wrote sits left of what the proxies appended: it is ignored."""
    assert client_address("10.1.2.3", "198.51.100.7, 203.0.113.9", LB) == "203.0.113.9"
    assert client_address("10.1.2.3", "198.51.100.7, 203.0.113.9, 10.9.9.9", LB) \
        == "203.0.113.9"  # through two proxies of the deployment


def test_an_untrusted_peer_is_the_client_whatever_it_writes() -> None:
    assert client_address("203.0.113.50", "198.51.100.7", LB) == "203.0.113.50"


def test_a_malformed_hop_stops_the_walk_at_the_last_trusted_hop() -> None:
    assert client_address("10.1.2.3", "203.0.113.9, not-an-ip", LB) == "10.1.2.3"
    assert client_address("10.1.2.3", "", LB) == "10.1.2.3"


def test_ipv6_clients_and_proxies() -> None:
    v6 = networks("fd00::/8")
    assert client_address("fd00::1", "2001:db8::5", v6) == "2001:db8::5"


def test_a_bad_trusted_proxy_setting_is_refused_with_the_entry() -> None:
    with pytest.raises(AddressError, match=r"'10\.0\.0\.300'"):
        networks("10.0.0.0/8, 10.0.0.300")


def test_the_platform_records_the_upload_address_it_saw() -> None:
    """A declared upload IP costs nothing to fake: the seen one is what 条例40(二) compares;
    a different declared one stays as evidence."""
    assert observed({"upload_ip": "10.8.8.8", "file_digest": "d"}, "203.0.113.9") == {
        "upload_ip": "203.0.113.9", "declared_upload_ip": "10.8.8.8", "file_digest": "d"}
    assert observed({"upload_ip": "203.0.113.9"}, "203.0.113.9") == {
        "upload_ip": "203.0.113.9"}
    assert observed({}, "203.0.113.9") == {"upload_ip": "203.0.113.9"}
