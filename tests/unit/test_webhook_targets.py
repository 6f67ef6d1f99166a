"""chalicelib.domain.webhook_targets: the networks no webhook may reach, and the 400 for a literal one."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.webhook_targets import blocking_network, parse_networks, refuse_blocked_literals
from chalicelib.settings import LOCAL_WEBHOOK_BLOCKED_NETWORKS, Settings

DEFAULT = parse_networks(Settings().webhook_blocked_networks)
LOCAL = parse_networks(LOCAL_WEBHOOK_BLOCKED_NETWORKS)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("169.254.169.254", "169.254.0.0/16"),  # EC2 instance metadata
        ("169.254.170.2", "169.254.0.0/16"),  # ECS task metadata
        ("fd00:ec2::254", "fd00:ec2::254/128"),
        ("fe80::1%eth0", "fe80::/10"),
        ("::ffff:169.254.169.254", "169.254.0.0/16"),  # IPv4-mapped
        ("0.0.0.0", "0.0.0.0/8"),
        ("93.184.216.34", None),
        ("93.184.216.35", None),
        ("10.1.2.3", "10.0.0.0/8"),  # private ranges and loopback: blocked by default (AWS)
        ("172.20.0.1", "172.16.0.0/12"),
        ("192.168.1.1", "192.168.0.0/16"),
        ("127.0.0.1", "127.0.0.0/8"),
        ("::1", "::1/128"),
        ("100.64.0.1", "100.64.0.0/10"),
        ("fd12::1", "fc00::/7"),
    ],
)
def test_the_default_screen_holds_the_metadata_endpoints(address: str, expected: str | None) -> None:
    network = blocking_network(address, DEFAULT)
    assert (str(network) if network else None) == expected


def _hooks(url: str) -> dict[str, list[dict[str, object]]]:
    return {"finishes": [{"url": url, "headers": {}, "retries": 0}]}


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "https://[fd00:ec2::254]/", "http://0.0.0.0:8080/"]
)
def test_a_literal_blocked_address_is_refused_when_the_job_is_submitted(url: str) -> None:
    with pytest.raises(ValidationError, match="blocked network") as raised:
        refuse_blocked_literals(_hooks(url), DEFAULT)
    assert raised.value.to_dict()["field"] == "webhooks"


@pytest.mark.parametrize("url", ["http://metadata.internal/", "https://example.com/hook", "http://93.184.216.34/"])
def test_names_and_other_addresses_pass_the_submission(url: str) -> None:
    refuse_blocked_literals(_hooks(url), DEFAULT)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://10.0.0.1/", "http://[::1]/"])
def test_the_local_screen_lets_loopback_and_private_receivers_through(url: str) -> None:
    refuse_blocked_literals(_hooks(url), LOCAL)
    with pytest.raises(ValidationError, match="blocked network"):
        refuse_blocked_literals(_hooks(url), DEFAULT)
    with pytest.raises(ValidationError, match="blocked network"):
        refuse_blocked_literals(_hooks("http://169.254.169.254/"), LOCAL)


def test_a_setting_that_is_not_a_network_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="SLIPWAY_WEBHOOK_BLOCKED_NETWORKS: 'nowhere'"):
        Settings(webhook_blocked_networks=("nowhere",))
    read = Settings.from_env({"SLIPWAY_WEBHOOK_BLOCKED_NETWORKS": "10.0.0.0/8, 192.168.0.0/16"})
    assert read.webhook_blocked_networks == ("10.0.0.0/8", "192.168.0.0/16")
