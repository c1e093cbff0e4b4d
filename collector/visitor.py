"""Visitor ids: a keyed hash of (site, client address, user agent) under the daily salt."""

from __future__ import annotations

import hashlib

from starlette.requests import Request

from collector.proxies import client_address
from stream.settings import Settings

DIGEST_BYTES = 16


def keyed_hash(salt: str, *parts: str) -> str:
    """A 32-hex-char digest of ``parts`` under ``salt``: unlinkable once the salt is gone."""
    digest = hashlib.blake2b(key=bytes.fromhex(salt), digest_size=DIGEST_BYTES)
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass")
        # Length-prefixed so that ("a", "bc") and ("ab", "c") never hash alike.
        digest.update(len(raw).to_bytes(4, "big"))
        digest.update(raw)
    return digest.hexdigest()


def visitor_id(salt: str, site: str, ip: str, user_agent: str) -> str:
    """A 32-hex-char id, stable for one client within a UTC day and unlinkable across days."""
    return keyed_hash(salt, site, ip, user_agent)


def visitor_of(request: Request, settings: Settings, salt: str) -> str:
    """The visitor id of whoever sent ``request`` (behind trusted proxies, the forwarded client)."""
    address = client_address(request, settings.trusted_proxies)
    return visitor_id(salt, settings.site_id, address, request.headers.get("user-agent", ""))
