"""Deliberately broken items, each paired with the dead-letter reason it must earn."""

from __future__ import annotations

import random
from typing import Any

HOUR_MS = 3_600_000

# Share of each reason among injected faults; duplicates and schema slips are the
# commonest in real beacon traffic (retries, stale scripts), clock skew is rarer.
REASONS = ("schema", "type", "size", "too_old", "too_new", "duplicate", "malformed")
_WEIGHTS = (0.35, 0.10, 0.05, 0.10, 0.10, 0.20, 0.10)

_UNKNOWN_TYPES = ("page_veiw", "hover", "purchase", "video_play", "PageView")
_MALFORMED: tuple[Any, ...] = (42, "page_view", None, [1, 2, 3], True, 3.14)


def pick_reason(rng: random.Random) -> str:
    """Draw the reason of the next fault."""
    return rng.choices(REASONS, _WEIGHTS)[0]


def _schema(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    broken = dict(event)
    variant = rng.randrange(7)
    if variant == 0:
        del broken[rng.choice(("ts", "url", "type"))]
    elif variant == 1:
        broken["ts"] = str(event["ts"])  # wrong type: epoch ms as a string
    elif variant == 2:
        broken["props"] = {**event["props"], "email": "not-allowed"}  # unknown prop key
    elif variant == 3:
        broken["type"], broken["props"] = "scroll", {"depth": round(1.2 + rng.random(), 3)}
    elif variant == 4:
        broken["type"] = "click"
        broken["props"] = {"x": 0.5, "y": -0.2, "viewport_w": 390, "viewport_h": 844}
    elif variant == 5:
        broken["event_id"] = rng.choice(("abc", "has space!", "x" * 65))
    else:
        broken["props"] = ["not", "an", "object"]
    return broken


def make_fault(
    rng: random.Random,
    reason: str,
    template: dict[str, Any],
    fresh_id: str,
    window: tuple[int, int],
) -> Any:
    """A broken item modelled on the valid ``template``; ``window`` = (start_ms, end_ms)."""
    if reason == "duplicate":
        return dict(template)
    if reason == "malformed":
        return rng.choice(_MALFORMED)
    event = {**template, "event_id": fresh_id}
    if reason == "schema":
        return _schema(rng, event)
    if reason == "type":
        event["type"], event["props"] = rng.choice(_UNKNOWN_TYPES), {}
    elif reason == "size":
        # Too long in its path: the collector drops queries, so a long query is no fault.
        event["url"] = f"{template['url'].rstrip('/')}/{'x' * (2049 + rng.randrange(500))}"
    elif reason == "too_old":
        # Older than 48 h even when received at the very start of the window.
        event["ts"] = window[0] - 50 * HOUR_MS - rng.randrange(24 * HOUR_MS)
    elif reason == "too_new":
        # Well beyond the 5 min skew even if delivery lags the schedule.
        event["ts"] = window[1] + HOUR_MS + rng.randrange(24 * HOUR_MS)
    else:
        raise ValueError(f"unknown fault reason {reason!r}")
    return event
