"""chalicelib.domain.urls: the base of the answers' URLs, and which hosts are believed."""

from __future__ import annotations

import pytest

from chalicelib.domain.urls import host_trusted, is_host, request_base_url

CLOUDFRONT = ("*.cloudfront.net",)


@pytest.mark.parametrize("host", ["a.example", "localhost:10000", "127.0.0.1:8080", "[::1]:80", "x-1.y.z"])
def test_hosts(host: str) -> None:
    assert is_host(host)


@pytest.mark.parametrize(
    "text", ["", "a.example/path", 'a.example/"><script>', "x y", "ab..c", "-a.example", "user@a.example", "a:b:c"]
)
def test_not_hosts(text: str) -> None:
    assert not is_host(text)


def test_a_forwarded_host_is_believed_only_when_trusted() -> None:
    headers = {"host": "api.internal:9000", "x-forwarded-host": "attacker.example"}

    assert request_base_url(headers, None, "", ()) == "http://api.internal:9000"
    assert request_base_url(headers, None, "", CLOUDFRONT) == "http://api.internal:9000"
    assert request_base_url(headers, None, "", ("attacker.example",)) == "http://attacker.example"


def test_behind_the_front_door_the_viewer_host_is_used_without_the_stage() -> None:
    headers = {
        "host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "x-forwarded-host": "d111.cloudfront.net",
        "x-forwarded-proto": "https",
    }

    assert request_base_url(headers, "api", "", CLOUDFRONT) == "https://d111.cloudfront.net"
    direct = {"host": "abc123.execute-api.eu-west-1.amazonaws.com", "x-forwarded-proto": "https"}
    assert request_base_url(direct, "api", "", CLOUDFRONT) == "https://abc123.execute-api.eu-west-1.amazonaws.com/api"


def test_headers_that_are_not_hosts_or_schemes_are_ignored() -> None:
    headers = {"host": 'evil"><script>', "x-forwarded-host": "a/b", "x-forwarded-proto": "javascript"}

    assert request_base_url(headers, None, "", ("*",)) == "http://localhost"


def test_the_public_url_wins() -> None:
    headers = {"host": "h", "x-forwarded-host": "d1.cloudfront.net"}

    assert request_base_url(headers, None, "https://jobs.example.com/", CLOUDFRONT) == "https://jobs.example.com"


def test_a_wildcard_matches_subdomains_only() -> None:
    assert host_trusted("d1.cloudfront.net:443", CLOUDFRONT)
    assert not host_trusted("cloudfront.net", CLOUDFRONT)
    assert not host_trusted("d1.cloudfront.net.attacker.example", CLOUDFRONT)
