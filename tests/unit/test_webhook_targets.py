"""Which webhook targets are public (pure): no loopback, private, link-local or reserved
address, and no name of this host."""

from __future__ import annotations

import pytest

from ggzy.runtime.outbound import forbidden_target, is_public


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.8", "172.16.5.4", "192.168.1.1",
                                     "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1",
                                     "fc00::1", "fe80::1%eth0", "224.0.0.1"])
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "114.114.114.114"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(address)


def test_forbidden_targets_say_why() -> None:
    assert forbidden_target("http://127.0.0.1:8080/h") == "127.0.0.1 is not a public address"
    assert forbidden_target("http://LOCALHOST./h") == "localhost is this host"
    assert forbidden_target("http://api.localhost/h") == "api.localhost is this host"
    assert forbidden_target("https://[::1]/h") == "::1 is not a public address"
    assert forbidden_target("https://hooks.example.com/h") is None  # checked at resolution
    assert forbidden_target("https://8.8.8.8/h") is None
