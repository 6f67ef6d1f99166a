"""chalicelib.api.request_ip: X-Real-IP, then the first X-Forwarded-For, then the peer."""

from __future__ import annotations

import pytest

from chalicelib.api.request_ip import client_ip


@pytest.mark.parametrize(
    ("headers", "peer", "expected"),
    [
        ({"x-real-ip": "203.0.113.7", "x-forwarded-for": "198.51.100.1"}, "10.0.0.1", "203.0.113.7"),
        ({"x-forwarded-for": "198.51.100.1, 10.0.0.2"}, "10.0.0.1", "198.51.100.1"),
        ({"x-forwarded-for": " 2001:db8::1 ,10.0.0.2"}, None, "2001:db8::1"),
        ({}, "10.0.0.1", "10.0.0.1"),
        ({}, None, None),
        # Not an address: the next source is used, so no junk is stored.
        ({"x-real-ip": "<script>", "x-forwarded-for": "unknown, 1.2.3.4"}, "10.0.0.1", "10.0.0.1"),
        ({"x-real-ip": "", "x-forwarded-for": ""}, "10.0.0.9", "10.0.0.9"),
        ({"x-real-ip": "2001:DB8:0:0::1"}, None, "2001:db8::1"),
    ],
)
def test_client_ip(headers, peer, expected):
    assert client_ip(headers, peer) == expected
