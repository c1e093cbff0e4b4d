"""What a session looks like to the learners: the kind of page, the engagement score.

Pure and stateless; ``engagement`` scores sessions with them and ``segments`` describes
visitors by the kinds of page they read. The score is documented in docs/topics.md
(``dojo.scores.engagement``).
"""

from __future__ import annotations

import math

SCORE_WEIGHTS = {
    "pages": 0.35, "dwell_min": 0.25, "max_scroll": 1.0, "form_starts": 0.8,
    "form_submits": 1.5, "downloads": 1.2, "returning": 0.5, "goals": 2.0,
}  # fmt: skip
_SCORE_SCALE = 3.0


def page_kind(url: str) -> str:
    """The kind of a site path: home, events, event, resources, resource, blog, post or other."""
    parts = [p for p in url.split("?", 1)[0].split("/") if p]
    if not parts:
        return "home"
    if parts[0] in ("events", "resources", "blog") and len(parts) == 1:
        return parts[0]
    singular = {"events": "event", "resources": "resource", "blog": "post"}
    return singular.get(parts[0], "other")


# The Dojo tab's content areas (as ``area_of`` a URL); "info" is every other kind of page.
_AREA_OF_KIND = {"events": "events", "event": "events", "resources": "resources",
                 "resource": "resources", "blog": "blog", "post": "blog"}  # fmt: skip


def content_area(kind: str) -> str:
    """The content area of a page kind (``page_kind``): events, resources, blog or info."""
    return _AREA_OF_KIND.get(kind, "info")


def engagement_score(counts: dict[str, float]) -> float:
    """The documented 0-100 squashed weighted sum of engagement counts."""
    z = sum(w * counts.get(name, 0.0) for name, w in SCORE_WEIGHTS.items())
    return round(100.0 * (1.0 - math.exp(-max(z, 0.0) / _SCORE_SCALE)), 2)
