"""The client's address: the socket peer, or behind trusted proxies the forwarded one.

``X-Forwarded-For`` is written by whoever sent the request, so it is believed only when
the socket peer is one of ``DOJO_TRUSTED_PROXIES``, and then read from the right: each
trusted proxy appends the address it received the request from, so the right-most entry
that is not itself a trusted proxy is the client. Entries to its left were written by
the client and may be anything.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

# Parsing addresses costs more than the rest of a request's checks together; a client sends
# many requests from one address (and one proxy chain), so the answers are kept per process,
# in memory only. Long header values (made up by a client, never a real chain) are not kept.
CACHE_SIZE = 16_384
CACHED_CHARS = 256

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of ``DOJO_TRUSTED_PROXIES`` (already checked by ``Settings.check``)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def parse_address(text: str) -> Address | None:
    """An address from ``1.2.3.4``, ``1.2.3.4:80``, ``::1`` or ``[::1]:80``; None if not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port; bare IPv6 has at least two colons
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client seen through a dual-stack socket is the same client as over IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def forwarded_client(peer: str, forwarded_for: Iterable[str], networks: tuple[Network, ...]) -> str:
    """The client behind ``peer``, given the ``X-Forwarded-For`` header values it sent."""
    current = parse_address(peer)
    client = str(current) if current is not None else peer
    if not _trusted(current, networks):
        return client
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            # A trusted proxy passed on something that is no address: stop at that proxy
            # rather than believe anything further left.
            return client
        client = str(address)
        if not _trusted(address, networks):
            return client
    return client


def client_address(request: Request, trusted: tuple[str, ...]) -> str:
    """The address of whoever sent ``request``, in canonical text form."""
    peer = request.client.host if request.client else ""
    hops = tuple(request.headers.getlist("x-forwarded-for"))
    if len(peer) + sum(len(h) for h in hops) > CACHED_CHARS:  # hostile: computed, not kept
        return forwarded_client(peer, hops, trusted_networks(trusted))
    return _cached_client(peer, hops, trusted)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached_client(peer: str, hops: tuple[str, ...], trusted: tuple[str, ...]) -> str:
    return forwarded_client(peer, hops, trusted_networks(trusted))
