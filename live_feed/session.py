"""Admin sessions: a signed, expiring cookie holding a random id; Redis knows the live ones.

The cookie never holds the admin token: it holds ``{"sid", "exp"}`` signed with a key
derived from the token (``itsdangerous``), so it cannot be forged or stretched, and every
session ends when the token changes. Redis keeps one key per open session (a hash of its
id, expiring with it); signing out deletes it, so a copied cookie dies with the sign-out.
Redis errors reach the caller: without Redis nobody can be let in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from itsdangerous import BadSignature, URLSafeSerializer
from redis.asyncio import Redis

from stream.models.keys import Keys
from stream.settings import Secret

COOKIE = "dojo_session"
TTL_S = 12 * 3600
MAX_COOKIE_CHARS = 512  # ours are ~130; anything longer is not worth verifying
_KEY_LABEL = b"dojo-pulse admin session v1"


class Sessions:
    """Opens, checks and revokes admin sessions."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        token: Secret,
        *,
        ttl_s: int = TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl_s = ttl_s
        self.clock = clock
        key = hmac.new(token.reveal().encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
        self._serializer = URLSafeSerializer(key, salt="session")

    async def open(self) -> str:
        """Start a session; returns the cookie value."""
        sid = secrets.token_urlsafe(32)
        await self.redis.set(self._key(sid), b"1", ex=self.ttl_s)
        return self._serializer.dumps({"sid": sid, "exp": int(self.clock()) + self.ttl_s})

    async def valid(self, cookie: str) -> bool:
        """True if ``cookie`` is ours, unexpired and not signed out."""
        sid = self._sid(cookie)
        return sid is not None and bool(await self.redis.exists(self._key(sid)))

    async def close(self, cookie: str) -> None:
        """Sign the session out (nothing to do for a cookie that is not a live one)."""
        sid = self._sid(cookie)
        if sid is not None:
            await self.redis.delete(self._key(sid))

    def _sid(self, cookie: str) -> str | None:
        if len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            body = self._serializer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(body, dict):
            return None
        sid, exp = body.get("sid"), body.get("exp")
        if not isinstance(sid, str) or not isinstance(exp, int) or exp <= self.clock():
            return None
        return sid

    def _key(self, sid: str) -> str:
        # A hash, so that reading Redis does not hand out session ids.
        return self.keys.session(hashlib.sha256(sid.encode("utf-8")).hexdigest())
