"""Which addresses a webhook may reach: the screen against server-side request forgery.

A job names its webhook URLs, and the notifications consumer POSTs to them from inside the
deployment's network. Addresses in ``settings.webhook_blocked_networks`` are refused. By
default these are the link-local ranges, where cloud metadata endpoints answer (EC2's
169.254.169.254 and fd00:ec2::254, ECS's 169.254.170.2), and 0.0.0.0/8. Operators who want
receivers on the public Internet only add their private ranges (10.0.0.0/8, …, 127.0.0.0/8).

A URL whose host is a literal address is refused when the job is submitted (400). A host name
is checked at each delivery against the address actually connected to, after the TCP connect
and before a byte of the request is sent, so a name re-pointed between a check and the connect
(DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from chalicelib.domain.errors import ValidationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Networks = tuple[Network, ...]


def parse_networks(texts: tuple[str, ...]) -> Networks:
    """``("169.254.0.0/16", "fd00:ec2::254")`` as networks (a bare address is a /32 or /128)."""
    networks = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a network ({exc})") from exc
    return tuple(networks)


def blocking_network(address: str, networks: Networks) -> Network | None:
    """The first of ``networks`` holding ``address`` (IPv4-mapped IPv6 counts as IPv4), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for network in networks:
        if ip.version == network.version and ip in network:
            return network
    return None


def refuse_blocked_literals(webhooks: dict[str, list[dict[str, object]]], networks: Networks) -> None:
    """400 for a hook whose URL names a blocked address outright (names are screened at delivery)."""
    for event, hooks in webhooks.items():
        for hook in hooks:
            host = urlsplit(str(hook["url"])).hostname or ""
            try:
                network = blocking_network(host, networks)
            except ValueError:
                continue  # a host name
            if network is not None:
                raise ValidationError(
                    f"webhooks.{event}[].url {hook['url']!r} points into the blocked network {network}",
                    field="webhooks",
                )
