"""Visitor ids: a keyed hash of (site, ip, user agent) under the daily salt."""

from __future__ import annotations

import hashlib

DIGEST_BYTES = 16


def visitor_id(salt: str, site: str, ip: str, user_agent: str) -> str:
    """A 32-hex-char id, stable for one client within a UTC day and unlinkable across days."""
    digest = hashlib.blake2b(key=bytes.fromhex(salt), digest_size=DIGEST_BYTES)
    for part in (site, ip, user_agent):
        raw = part.encode("utf-8", "surrogatepass")
        # Length-prefixed so that ("a", "bc") and ("ab", "c") never hash alike.
        digest.update(len(raw).to_bytes(4, "big"))
        digest.update(raw)
    return digest.hexdigest()
