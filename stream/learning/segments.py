"""Behaviour segments: online k-means over session features, labelled in words from centroids.

A session's features are page-kind shares and squashed counts, all in [0, 1]
(``session_features``). A live session is assigned to its nearest centroid on demand; the
model learns once per session, when it closes (``SESSION_TIMEOUT_MS`` without a batch), so
a half-finished visit never drags a centroid. Labels follow the centroid's dominant share:
events -> "event seeker", resources -> "resource learner", blog -> "blog reader", home and
info pages (or few pages on a first visit) -> "newcomer"; anything mixed is an "explorer".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from stream.learning.learners import checkpoint, make_model, pop_idle, restore
from stream.learning.scoring import page_kind
from stream.metrics.visits import SESSION_TIMEOUT_MS

_AREA = {"events": "events", "event": "events", "resources": "resources",
         "resource": "resources", "blog": "blog", "post": "blog"}  # fmt: skip
SHARES = ("events", "resources", "blog", "home_info")
# Built once: every visitor keeps a features dict, and a checkpoint pickles a shared key once.
_SHARE_KEYS = tuple((area, f"{area}_share") for area in SHARES)
_SHARE_LABELS = {"events": "event seeker", "resources": "resource learner",
                 "blog": "blog reader", "home_info": "newcomer"}  # fmt: skip
BLOCKS = {
    "event seeker": ["upcoming_events", "register_cta", "event_reminders"],
    "resource learner": ["new_resources", "related_resources", "upcoming_events"],
    "blog reader": ["latest_posts", "newsletter_signup", "upcoming_events"],
    "newcomer": ["about_the_dojo", "how_it_works", "upcoming_events"],
    "explorer": ["upcoming_events", "popular_resources", "latest_posts"],
}
SEED_DISTANCE = 0.5  # features lie in [0, 1]: half a unit apart is another behaviour
MAX_VISITORS = 50_000  # visitor ids rotate daily; keep the personalisation map bounded


@dataclass(slots=True)
class _Session:
    visitor: str
    returning: bool
    last_seen: int
    pages: dict[str, int] = field(default_factory=dict)  # area -> page views
    downloads: int = 0
    forms: int = 0


def session_features(
    pages: dict[str, int], downloads: int, forms: int, returning: bool
) -> dict[str, float]:
    """Features of one session: page-area shares and counts squashed into [0, 1]."""
    total = sum(pages.values())
    x = {key: (pages.get(area, 0) / total if total else 0.0) for area, key in _SHARE_KEYS}
    x["pages"] = 1.0 - math.exp(-total / 4)  # 4 pages is "a fair visit": 0.63
    x["downloads"] = 1.0 - math.exp(-downloads)
    x["forms"] = 1.0 - math.exp(-forms)
    x["returning"] = float(returning)
    return x


def describe(centroid: dict[str, float]) -> str:
    """Words for a centroid: the dominant area's name, or newcomer / explorer."""
    shares = {area: centroid.get(f"{area}_share", 0.0) for area in SHARES}
    top = max(shares, key=lambda a: shares[a])
    few_pages = centroid.get("pages", 0.0) < 0.4 and centroid.get("returning", 0.0) < 0.5
    if shares[top] >= 0.4:
        return _SHARE_LABELS[top]
    return "newcomer" if few_pages else "explorer"


class Segments:
    """Online session segmentation and the content blocks it suggests."""

    def __init__(self, *, timeout_ms: int = SESSION_TIMEOUT_MS, seed: int = 42) -> None:
        self.timeout_ms = timeout_ms
        self.model = make_model("segments", seed)
        self.sizes: dict[int, int] = {}
        self._seeded = 0
        self._sessions: dict[str, _Session] = {}  # insertion order is idle order
        self._visitors: dict[str, dict[str, float]] = {}  # visitor -> latest session features

    def apply(self, batch: dict[str, Any], now_ms: int) -> None:
        """Fold one ``dojo.events`` batch into its session."""
        self.expire(now_ms)
        sid, vid = batch["session_id"], batch["visitor_id"]
        session = self._sessions.pop(sid, None)
        if session is None:
            session = _Session(vid, vid in self._visitors, now_ms)
        self._sessions[sid] = session
        session.last_seen = now_ms
        for event in batch["events"]:
            kind = event["type"]
            if kind == "page_view":
                area = _AREA.get(page_kind(event.get("url", "")), "home_info")
                session.pages[area] = session.pages.get(area, 0) + 1
            elif kind == "resource_download":
                session.downloads += 1
            elif kind == "form_start":
                session.forms += 1
        self._remember(vid, self._features(session))

    def _features(self, session: _Session) -> dict[str, float]:
        return session_features(session.pages, session.downloads, session.forms, session.returning)

    def _remember(self, visitor: str, x: dict[str, float]) -> None:
        self._visitors.pop(visitor, None)
        self._visitors[visitor] = x
        if len(self._visitors) > MAX_VISITORS:
            del self._visitors[next(iter(self._visitors))]

    def expire(self, now_ms: int) -> int:
        """Learn from sessions idle for ``timeout_ms`` and drop them; how many closed."""
        closed = pop_idle(self._sessions, now_ms, self.timeout_ms)
        for session in closed:
            x = self._features(session)
            if self._seed_centre(x):
                continue
            cluster = int(self.model.predict_one(x))
            self.sizes[cluster] = self.sizes.get(cluster, 0) + 1
            self.model.learn_one(x)
        return len(closed)

    def _seed_centre(self, x: dict[str, float]) -> bool:
        # river's KMeans starts from random centres, and on traffic this lumpy some never win
        # a session. Seeding each centre with the first session far from the seeds so far
        # (a streaming k-means++ in spirit) gives every behaviour its own centre.
        centres = self.model.centers
        if self._seeded >= len(centres):
            return False
        for i in range(self._seeded):
            if math.dist([x[k] for k in x], [centres[i][k] for k in x]) < SEED_DISTANCE:
                return False
        centre = centres[self._seeded]
        centre.clear()  # keeps river's default factory for features it has not seen
        centre.update(x)
        self.sizes[self._seeded] = self.sizes.get(self._seeded, 0) + 1
        self._seeded += 1
        return True

    def _assign(self, x: dict[str, float]) -> dict[str, Any]:
        cluster = int(self.model.predict_one(x))
        return {"segment": cluster, "label": describe(self.centroid(cluster))}

    def centroid(self, cluster: int) -> dict[str, float]:
        """The centre of ``cluster`` over the session features."""
        names = (*(f"{a}_share" for a in SHARES), "pages", "downloads", "forms", "returning")
        centre = self.model.centers[cluster]
        # Reading a river defaultdict would invent a random coordinate; read only what exists.
        return {name: round(float(centre[name]), 4) for name in names if name in centre}

    def segment(self, session_id: str) -> dict[str, Any] | None:
        """``{"segment", "label"}`` of a live session, or None when it is unknown."""
        session = self._sessions.get(session_id)
        return None if session is None else self._assign(self._features(session))

    def personalize(self, visitor_id: str) -> dict[str, Any]:
        """The visitor's segment and the content blocks to show them."""
        x = self._visitors.get(visitor_id)
        if x is None:
            return {"segment": None, "label": "newcomer", "blocks": list(BLOCKS["newcomer"])}
        found = self._assign(x)
        return {**found, "blocks": list(BLOCKS[found["label"]])}

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The ``segments`` channel payload."""
        out = []
        for cluster in sorted(self.sizes):
            centre = self.centroid(cluster)
            out.append({"id": cluster, "label": describe(centre),
                        "sessions": self.sizes[cluster], "centroid": centre})  # fmt: skip
        return {"segments": out}

    def to_bytes(self) -> bytes:
        """The whole state, for a checkpoint."""
        return checkpoint(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Segments:
        """Restore a checkpoint written by ``to_bytes``."""
        return restore(data, cls)
