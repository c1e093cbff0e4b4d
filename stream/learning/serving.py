"""What the learning agents leave in Redis for the site's public API to serve.

Contract between the worker (writer) and the collector (reader): per visitor, the latest
top recommendations and personalisation segment, as JSON, expiring after two days (visitor
ids change daily anyway); and one site-wide popularity list for visitors with no history.
Reads never touch a model, so serving stays a single Redis round trip. What is read is
checked again: only items of the site (``stream.learning.items``) are served, whatever a writer (or
an older worker, or anyone who could write to Redis) left there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson
from redis.asyncio import Redis

from stream.learning.items import SITE_ITEMS, ItemPaths
from stream.models.keys import Keys

TTL_S: Final = 48 * 3600
REASONS: Final = ("popular right now", "matches your interests")
NEXT_AFTER: Final = "often next after "  # + the item the visitor is on


async def store_for_visitors(
    redis: Redis,
    keys: Keys,
    recommendations: Mapping[str, Sequence[Mapping[str, Any]]],
    segments: Mapping[str, Mapping[str, Any]],
    popular: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Write many visitors' recommendations and segments in one round trip."""
    if not recommendations and not segments and popular is None:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for visitor, items in recommendations.items():
            pipe.set(keys.recommendations(visitor), orjson.dumps(list(items)), ex=TTL_S)
        for visitor, segment in segments.items():
            pipe.set(keys.segment(visitor), orjson.dumps(dict(segment)), ex=TTL_S)
        if popular is not None:
            pipe.set(keys.popular, orjson.dumps(list(popular)))
        await pipe.execute()


async def recommendations_for(
    redis: Redis, keys: Keys, visitor: str, site_items: ItemPaths = SITE_ITEMS
) -> tuple[list[Any], str]:
    """A visitor's recommendations and where they came from (``personal`` or ``popular``)."""
    personal, popular = await redis.mget(keys.recommendations(visitor), keys.popular)
    mine = served(personal, site_items) if personal else []
    if mine:  # an empty list (all seen, or nothing servable) is no answer: popular is
        return mine, "personal"
    return (served(popular, site_items) if popular else []), "popular"


def served(raw: bytes | str, site_items: ItemPaths) -> list[dict[str, Any]]:
    """The stored list's entries that recommend an item of the site, for a good reason."""
    try:
        stored = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(stored, list):
        return []
    return [entry for entry in stored if _servable(entry, site_items)]


def _servable(entry: Any, site_items: ItemPaths) -> bool:
    if not isinstance(entry, dict) or entry.get("item") not in site_items:
        return False
    reason = entry.get("reason")
    if not isinstance(reason, str):
        return False
    after = reason[len(NEXT_AFTER) :] if reason.startswith(NEXT_AFTER) else None
    return reason in REASONS or after in site_items


async def segment_for(redis: Redis, keys: Keys, visitor: str) -> dict[str, Any] | None:
    """A visitor's personalisation segment, or None when the visitor is unknown."""
    raw = await redis.get(keys.segment(visitor))
    return orjson.loads(raw) if raw else None
